WITH winners AS (
  SELECT a.id, a.seller, b.price AS final, b.date_time,
         row_number() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time) AS rank
  FROM auction AS a, bid AS b
  WHERE a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
),
recent AS (
  SELECT seller, final,
         row_number() OVER (PARTITION BY seller ORDER BY date_time DESC, id DESC) AS rn
  FROM winners WHERE rank = 1
)
SELECT seller, avg(final) AS avg_final, count(*) AS auctions
FROM recent WHERE rn <= 10 GROUP BY seller
