-- TUMBLE(10 s): window end = the start of the event's 10-second slot + 10 s.
WITH maxima AS (
  SELECT max(price) AS maxprice, make_timestamp(t - t % 10000000 + 10000000) AS window_end
  FROM (SELECT price, epoch_us(date_time) AS t FROM bid)
  GROUP BY t - t % 10000000
)
SELECT b.auction, b.price, b.bidder, b.date_time, b.extra
FROM bid AS b, maxima AS m
WHERE b.price = m.maxprice
  AND b.date_time >= m.window_end - INTERVAL 10 SECOND AND b.date_time <= m.window_end
