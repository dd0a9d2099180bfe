-- Nexmark q12, processing-time windows: bids per bidder in 10-second tumbling windows of
-- processing (wall-clock) time, as Flink writes it with PROCTIME(). tidal has event time only,
-- so creating the view fails with "not supported: PROCTIME(): processing-time attributes".

CREATE SOURCE bid (bidder BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE VIEW bid_with_proctime AS SELECT bidder, date_time, PROCTIME() AS p_time FROM bid;

CREATE MATERIALIZED VIEW q12 AS
  SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
  FROM TUMBLE(bid_with_proctime, p_time, INTERVAL '10' SECOND)
  GROUP BY bidder, window_start, window_end;

SELECT * FROM q12 ORDER BY bid_count DESC, bidder LIMIT 10;
