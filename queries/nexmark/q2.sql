-- Nexmark q2, selection: the bids on auctions whose id is a multiple of 123.

CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE SINK q2 AS
  SELECT auction, price FROM bid WHERE auction % 123 = 0
  WITH (connector = 'blackhole');

-- The sink keeps nothing. For `tidal run` to print something, count the bids that went through
-- (tidal bench and the tests run the script only up to the statement creating the query).
CREATE MATERIALIZED VIEW bids_seen AS SELECT count(*) AS bids, max(date_time) AS last_bid FROM bid;
SELECT * FROM bids_seen;
