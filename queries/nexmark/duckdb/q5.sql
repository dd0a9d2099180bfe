-- HOP(2 s, 10 s): every event is in the 5 windows starting at its 2-second slot and the 4
-- slots before it.
WITH windows AS (
  SELECT auction, t - t % 2000000 - i * 2000000 AS ws
  FROM (SELECT auction, epoch_us(date_time) AS t FROM bid), range(5) AS r(i)
),
counts AS (
  SELECT auction, count(*) AS num, ws FROM windows GROUP BY auction, ws
),
maxima AS (
  SELECT ws, max(num) AS maxn FROM counts GROUP BY ws
)
SELECT c.auction, c.num, make_timestamp(c.ws) AS starttime,
       make_timestamp(c.ws + 10000000) AS endtime
FROM counts AS c JOIN maxima AS m ON c.ws = m.ws AND c.num = m.maxn
