-- The three Nexmark streams with every column, and no query: `tidal bench nexmark --query
-- generator` runs these sources alone to measure the generator (the query scripts declare only
-- the columns they read, and the connector generates only those).

CREATE SOURCE person (id BIGINT, name VARCHAR, email_address VARCHAR, credit_card VARCHAR,
    city VARCHAR, state VARCHAR, date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'person', events = '100000', retain = 'false');

CREATE SOURCE auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT,
    reserve BIGINT, date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT,
    category BIGINT, extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'auction', events = '100000', retain = 'false');

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

-- For `tidal run` to show something: how many events of each kind were generated.
CREATE MATERIALIZED VIEW events AS
  SELECT 'person' AS kind, count(*) AS n, max(date_time) AS last FROM person
  UNION ALL SELECT 'auction', count(*), max(date_time) FROM auction
  UNION ALL SELECT 'bid', count(*), max(date_time) FROM bid;

SELECT * FROM events ORDER BY n;
