WITH winning AS (
  SELECT a.id, a.category, max(b.price) AS final
  FROM auction AS a, bid AS b
  WHERE a.id = b.auction AND b.date_time >= a.date_time AND b.date_time <= a.expires
  GROUP BY a.id, a.category
)
SELECT category, avg(final) AS avg_final FROM winning GROUP BY category
