-- Nexmark q19, auction TopN: the 10 highest bids of each auction (earlier bids first on equal
-- prices, then bidder and extra, so that the answer is deterministic).

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q19 AS
  SELECT *
  FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY auction
                                 ORDER BY price DESC, date_time, bidder, extra) AS rank_number
    FROM bid
  ) AS ranked
  WHERE rank_number <= 10;

SELECT auction, rank_number, price, bidder, date_time FROM q19 ORDER BY auction, rank_number LIMIT 10;
