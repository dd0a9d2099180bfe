-- tidal demo: tables, a file source, materialized views kept up to date as data changes.
-- Run it:  tidal run queries/demo.sql      (or with --batch to compute everything on DuckDB alone)

CREATE TABLE orders (id BIGINT, customer VARCHAR, amount DECIMAL(10,2), qty INTEGER, ts TIMESTAMP);

CREATE SOURCE clicks (user_id BIGINT, url VARCHAR, ts TIMESTAMP,
                     WATERMARK FOR ts AS ts - INTERVAL '30' SECOND)
  WITH (connector = 'file', path = 'data/clicks/', format = 'csv', late_table = 'late_clicks');

CREATE TABLE customers (name VARCHAR, user_id BIGINT, city VARCHAR);

-- Revenue per customer: an incrementally maintained aggregate.
CREATE MATERIALIZED VIEW revenue AS
  SELECT customer, count(*) AS n, sum(amount) AS total FROM orders GROUP BY customer;

-- Clicks joined to customers, counted per city.
CREATE MATERIALIZED VIEW clicks_per_city AS
  SELECT c.city, count(*) AS clicks, count(DISTINCT k.url) AS pages
  FROM clicks k JOIN customers c ON k.user_id = c.user_id
  GROUP BY c.city;

-- Clicks per minute, each minute shown once it is final (event time, watermark 30 s behind).
CREATE MATERIALIZED VIEW clicks_per_minute AS
  SELECT window_start, window_end, count(*) AS clicks
  FROM TUMBLE(clicks, ts, INTERVAL '1' MINUTE)
  GROUP BY window_start, window_end
  EMIT ON WINDOW CLOSE;

-- The two biggest orders (a TopN view).
CREATE MATERIALIZED VIEW top_orders AS
  SELECT id, customer, amount FROM orders ORDER BY amount DESC LIMIT 2;

INSERT INTO customers VALUES ('ann', 1, 'Lisbon'), ('bob', 2, 'Oslo'), ('cy', 3, 'Lisbon');
INSERT INTO orders VALUES
  (1, 'ann', 10.50, 2, '2026-01-01 10:00:00'),
  (2, 'bob', 30.00, 1, '2026-01-01 10:05:00'),
  (3, 'ann', 7.25, 3, '2026-01-01 10:07:00');

SELECT * FROM revenue ORDER BY total DESC;

UPDATE orders SET amount = 12 WHERE id = 1;
DELETE FROM orders WHERE id = 2;

SELECT * FROM revenue ORDER BY total DESC;
SELECT * FROM top_orders ORDER BY amount DESC;
SELECT * FROM clicks_per_city ORDER BY city;
SELECT * FROM clicks_per_minute ORDER BY window_start;
SHOW WATERMARKS;

EXPLAIN clicks_per_city;
