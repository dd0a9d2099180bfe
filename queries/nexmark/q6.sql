-- Nexmark q6, average selling price by seller: for each seller, the average winning price of
-- its last 10 auctions. Group-top-1 formulation (as RisingWave's q6-group-top1): the winning
-- bid of each auction (highest price within its lifetime), then each seller's 10 most recent
-- auctions by the winning bid's time, averaged.

CREATE SOURCE auction (id BIGINT, seller BIGINT, date_time TIMESTAMP(3), expires TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'auction', events = '100000', retain = 'false');

CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q6 AS
  SELECT seller, avg(final) AS avg_final, count(*) AS auctions
  FROM (
    SELECT seller, final,
           ROW_NUMBER() OVER (PARTITION BY seller ORDER BY date_time DESC, id DESC) AS rn
    FROM (
      SELECT a.id, a.seller, b.price AS final, b.date_time,
             ROW_NUMBER() OVER (PARTITION BY a.id ORDER BY b.price DESC, b.date_time) AS rank
      FROM auction AS a JOIN bid AS b
        ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
    ) AS winners
    WHERE rank = 1
  ) AS recent
  WHERE rn <= 10
  GROUP BY seller;

SELECT * FROM q6 ORDER BY auctions DESC, seller LIMIT 10;
