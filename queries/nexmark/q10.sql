-- Nexmark q10, log to file system: every bid with its date and hour:minute as partition
-- columns (Flink writes them to a partitioned file system sink; this sink discards them).

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE SINK q10 AS
  SELECT auction, bidder, price, date_time, extra,
         to_char(date_time, 'YYYY-MM-DD') AS dt, to_char(date_time, 'HH24:MI') AS hm
  FROM bid
  WITH (connector = 'blackhole');

-- The sink keeps nothing. For `tidal run` to print something, count the bids that went through
-- (tidal bench and the tests run the script only up to the statement creating the query).
CREATE MATERIALIZED VIEW bids_seen AS SELECT count(*) AS bids, max(date_time) AS last_bid FROM bid;
SELECT * FROM bids_seen;
