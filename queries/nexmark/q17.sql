-- Nexmark q17, auction statistics report: per auction and day, the number of bids overall and
-- in three price bands, and the lowest, highest, average and total price.

CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q17 AS
  SELECT auction,
         to_char(date_time, 'YYYY-MM-DD') AS day,
         count(*) AS total_bids,
         count(*) FILTER (WHERE price < 10000) AS rank1_bids,
         count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
         count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
         min(price) AS min_price,
         max(price) AS max_price,
         avg(price) AS avg_price,
         sum(price) AS sum_price
  FROM bid
  GROUP BY auction, to_char(date_time, 'YYYY-MM-DD');

SELECT * FROM q17 ORDER BY total_bids DESC, auction LIMIT 10;
