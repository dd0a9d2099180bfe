WITH p AS (
  SELECT DISTINCT id, name, epoch_us(date_time) - epoch_us(date_time) % 10000000 AS ws FROM person
),
a AS (
  SELECT DISTINCT seller, epoch_us(date_time) - epoch_us(date_time) % 10000000 AS ws FROM auction
)
SELECT p.id, p.name, make_timestamp(p.ws) AS starttime
FROM p, a
WHERE p.id = a.seller AND p.ws = a.ws
