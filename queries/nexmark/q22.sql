-- Nexmark q22, get URL directories: every bid with the first three directories of its URL
-- (https://www.nexmark.com/dir1/dir2/dir3/item.htm?query=1) as columns.

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE SINK q22 AS
  SELECT auction, bidder, price, channel,
         split_part(url, '/', 4) AS dir1,
         split_part(url, '/', 5) AS dir2,
         split_part(url, '/', 6) AS dir3
  FROM bid
  WITH (connector = 'blackhole');

-- The sink keeps nothing. For `tidal run` to print something, count the bids that went through
-- (tidal bench and the tests run the script only up to the statement creating the query).
CREATE MATERIALIZED VIEW bids_seen AS SELECT count(*) AS bids, max(date_time) AS last_bid FROM bid;
SELECT * FROM bids_seen;
