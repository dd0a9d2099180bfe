-- Nexmark q7, highest bid: the bids whose price equals the highest price of their 10-second
-- tumbling window.

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q7 AS
  SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
  FROM bid AS b
  JOIN (
    SELECT max(price) AS maxprice, window_end AS date_time
    FROM TUMBLE(bid, date_time, INTERVAL '10' SECOND)
    GROUP BY window_start, window_end
  ) AS b1
  ON b.price = b1.maxprice
  WHERE b.date_time BETWEEN b1.date_time - INTERVAL '10' SECOND AND b1.date_time;

SELECT auction, price, bidder, date_time FROM q7 ORDER BY date_time, auction LIMIT 10;
