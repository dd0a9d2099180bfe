-- Nexmark q20, expand bid with auction: every bid joined with its auction, for auctions in
-- category 10 (a regular join: both sides are kept, unbounded).

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE SOURCE auction (id BIGINT, item_name VARCHAR, description VARCHAR, initial_bid BIGINT, reserve BIGINT,
    date_time TIMESTAMP(3), expires TIMESTAMP(3), seller BIGINT, category BIGINT, extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'auction', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q20 AS
  SELECT b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra,
         a.item_name, a.description, a.initial_bid, a.reserve, a.date_time AS auction_date_time,
         a.expires, a.seller, a.category, a.extra AS auction_extra
  FROM bid AS b JOIN auction AS a ON b.auction = a.id
  WHERE a.category = 10;

SELECT auction, bidder, price, date_time, seller, category FROM q20 ORDER BY date_time, auction, bidder, price LIMIT 10;
