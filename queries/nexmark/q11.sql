-- Nexmark q11, user sessions: how many bids each bidder made in each of its sessions (a session
-- ends after 10 seconds without a bid from that bidder).

CREATE SOURCE bid (bidder BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q11 AS
  SELECT bidder, count(*) AS bid_count, window_start AS starttime, window_end AS endtime
  FROM SESSION(bid PARTITION BY bidder, date_time, INTERVAL '10' SECOND)
  GROUP BY bidder, window_start, window_end;

SELECT * FROM q11 ORDER BY bid_count DESC, bidder, starttime LIMIT 10;
