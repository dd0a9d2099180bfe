-- Nexmark q5, hot items: in every 10-second window sliding by 2 seconds, the auctions with the
-- most bids (all of them when several tie), with their bid count.

CREATE SOURCE bid (auction BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q5 AS
  SELECT auction_bids.auction, auction_bids.num, auction_bids.starttime, auction_bids.endtime
  FROM (
    SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
    FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
    GROUP BY auction, window_start, window_end
  ) AS auction_bids
  JOIN (
    SELECT max(count_bids.num) AS maxn, count_bids.starttime, count_bids.endtime
    FROM (
      SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
      FROM HOP(bid, date_time, INTERVAL '2' SECOND, INTERVAL '10' SECOND)
      GROUP BY auction, window_start, window_end
    ) AS count_bids
    GROUP BY count_bids.starttime, count_bids.endtime
  ) AS max_bids
  ON auction_bids.starttime = max_bids.starttime AND auction_bids.endtime = max_bids.endtime
     AND auction_bids.num >= max_bids.maxn;

SELECT * FROM q5 ORDER BY starttime DESC, auction LIMIT 10;
