-- Nexmark q4, average price per category: the winning (highest) bid of each auction, counting
-- only bids placed during the auction's lifetime, averaged per category.

CREATE SOURCE auction (id BIGINT, category BIGINT, date_time TIMESTAMP(3), expires TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'auction', events = '100000', retain = 'false');

CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q4 AS
  SELECT q.category, avg(q.final) AS avg_final
  FROM (
    SELECT max(b.price) AS final, a.category
    FROM auction AS a JOIN bid AS b
      ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
    GROUP BY a.id, a.category
  ) AS q
  GROUP BY q.category;

SELECT * FROM q4 ORDER BY category;
