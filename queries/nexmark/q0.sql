-- Nexmark q0, pass-through: every bid, unchanged. What it costs to move events through tidal
-- with no computation at all; the rows go to a sink that discards them.
-- Each source declares only the columns its query reads: the nexmark connector generates only
-- those (docs/connectors.md).

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE SINK q0 AS
  SELECT auction, bidder, price, date_time, extra FROM bid
  WITH (connector = 'blackhole');

-- The sink keeps nothing. For `tidal run` to print something, count the bids that went through
-- (tidal bench and the tests run the script only up to the statement creating the query).
CREATE MATERIALIZED VIEW bids_seen AS SELECT count(*) AS bids, max(date_time) AS last_bid FROM bid;
SELECT * FROM bids_seen;
