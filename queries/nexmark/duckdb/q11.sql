-- Sessions by gaps and islands: a bid opens a session when it comes 10 s or more after the
-- bidder's previous bid; the session ends 10 s after its last bid.
WITH marked AS (
  SELECT bidder, date_time,
         CASE WHEN date_time - lag(date_time) OVER (PARTITION BY bidder ORDER BY date_time)
                   < INTERVAL 10 SECOND THEN 0 ELSE 1 END AS opens
  FROM bid
),
numbered AS (
  SELECT bidder, date_time,
         sum(opens) OVER (PARTITION BY bidder ORDER BY date_time
                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session
  FROM marked
)
SELECT bidder, count(*) AS bid_count, min(date_time) AS starttime,
       max(date_time) + INTERVAL 10 SECOND AS endtime
FROM numbered GROUP BY bidder, session
