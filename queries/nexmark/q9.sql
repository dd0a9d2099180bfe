-- Nexmark q9, winning bids: every auction with its winning bid, the highest bid placed during
-- its lifetime (the earliest one on equal prices; bidder and extra break remaining ties so the
-- answer is deterministic).

CREATE SOURCE auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
    date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'auction', events = '100000', retain = 'false');

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q9 AS
  SELECT id, item_name, description, initial_bid, reserve, date_time, expires, seller, category,
         extra, auction, bidder, price, bid_date_time, bid_extra
  FROM (
    SELECT a.id, a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires,
           a.seller, a.category, a.extra,
           b.auction, b.bidder, b.price, b.date_time AS bid_date_time, b.extra AS bid_extra,
           ROW_NUMBER() OVER (PARTITION BY a.id
                              ORDER BY b.price DESC, b.date_time, b.bidder, b.extra) AS rownum
    FROM auction AS a JOIN bid AS b
      ON a.id = b.auction AND b.date_time BETWEEN a.date_time AND a.expires
  ) AS ranked
  WHERE rownum <= 1;

SELECT id, seller, category, bidder, price, bid_date_time FROM q9 ORDER BY id LIMIT 10;
