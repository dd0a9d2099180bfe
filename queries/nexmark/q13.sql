-- Nexmark q13, bounded side input join: every bid with the value of a side table row keyed by
-- the bid's auction id modulo 10,000. Flink joins a file FOR SYSTEM_TIME AS OF the bid's
-- processing time; here the side table is a bounded datagen source (keys 0..9999, read whole
-- before the stream starts) and the join is a regular one.

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE SOURCE side_input (key BIGINT, value VARCHAR)
  WITH (connector = 'datagen', "number-of-rows" = '10000',
        "fields.key.kind" = 'sequence', "fields.key.start" = '0', "fields.key.end" = '9999',
        "fields.value.kind" = 'sequence', "fields.value.start" = '0', "fields.value.end" = '9999');

CREATE MATERIALIZED VIEW q13 AS
  SELECT b.auction, b.bidder, b.price, b.date_time, s.value
  FROM bid AS b JOIN side_input AS s ON b.auction % 10000 = s.key;

SELECT * FROM q13 ORDER BY date_time, auction, bidder, price LIMIT 10;
