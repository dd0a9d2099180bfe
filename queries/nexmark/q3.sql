-- Nexmark q3, local item suggestion: who sells in category 10 from Oregon, Idaho or California
-- (name, city, state) and the ids of those auctions. An unbounded join of auctions and people.

CREATE SOURCE auction (id BIGINT, seller BIGINT, category BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'auction', events = '100000', retain = 'false');

CREATE SOURCE person (id BIGINT, name VARCHAR, city VARCHAR, state VARCHAR, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'person', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q3 AS
  SELECT p.name, p.city, p.state, a.id
  FROM auction AS a JOIN person AS p ON a.seller = p.id
  WHERE a.category = 10 AND (p.state = 'OR' OR p.state = 'ID' OR p.state = 'CA');

SELECT * FROM q3 ORDER BY id LIMIT 10;
