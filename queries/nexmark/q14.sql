-- Nexmark q14, calculation: bids with a euro price between 1M and 50M, labelled by time of day
-- (dayTime 8-18 h, nightTime up to 6 h and from 20 h, otherTime else), with the number of
-- 'c' characters in their extra field counted by a SQL function.

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE FUNCTION count_char(s VARCHAR, c VARCHAR) RETURNS BIGINT
  LANGUAGE SQL RETURN length(s) - length(replace(s, c, ''));

CREATE SINK q14 AS
  SELECT auction, bidder, 0.908 * price AS price,
         CASE
           WHEN hour(date_time) >= 8 AND hour(date_time) <= 18 THEN 'dayTime'
           WHEN hour(date_time) <= 6 OR hour(date_time) >= 20 THEN 'nightTime'
           ELSE 'otherTime'
         END AS bid_time_type,
         date_time, extra, count_char(extra, 'c') AS c_counts
  FROM bid
  WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000
  WITH (connector = 'blackhole');

-- The sink keeps nothing. For `tidal run` to print something, count the bids that went through
-- (tidal bench and the tests run the script only up to the statement creating the query).
CREATE MATERIALIZED VIEW bids_seen AS SELECT count(*) AS bids, max(date_time) AS last_bid FROM bid;
SELECT * FROM bids_seen;
