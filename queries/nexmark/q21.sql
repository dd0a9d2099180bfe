-- Nexmark q21, add channel id: bids on a named channel (Apple, Google, Facebook, Baidu: ids 0-3)
-- or whose URL carries a channel_id, with that id. regexp_extract returns '' (not NULL, as in
-- Flink) when the pattern does not match, so "has a channel id" is written <> ''.

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE SINK q21 AS
  SELECT auction, bidder, price, channel,
         CASE
           WHEN lower(channel) = 'apple' THEN '0'
           WHEN lower(channel) = 'google' THEN '1'
           WHEN lower(channel) = 'facebook' THEN '2'
           WHEN lower(channel) = 'baidu' THEN '3'
           ELSE regexp_extract(url, '(&|^)channel_id=([^&]*)', 2)
         END AS channel_id
  FROM bid
  WHERE regexp_extract(url, '(&|^)channel_id=([^&]*)', 2) <> ''
     OR lower(channel) IN ('apple', 'google', 'facebook', 'baidu')
  WITH (connector = 'blackhole');

-- The sink keeps nothing. For `tidal run` to print something, count the bids that went through
-- (tidal bench and the tests run the script only up to the statement creating the query).
CREATE MATERIALIZED VIEW bids_seen AS SELECT count(*) AS bids, max(date_time) AS last_bid FROM bid;
SELECT * FROM bids_seen;
