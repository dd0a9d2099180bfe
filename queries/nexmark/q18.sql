-- Nexmark q18, find last bid: the latest bid of each (bidder, auction) pair (deduplication,
-- keeping the newest; extra breaks ties between bids of the same millisecond so that the
-- answer is deterministic).

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, channel VARCHAR, url VARCHAR,
    date_time TIMESTAMP(3), extra VARCHAR,
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q18 AS
  SELECT auction, bidder, price, channel, url, date_time, extra
  FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY bidder, auction
                                 ORDER BY date_time DESC, extra DESC) AS rank_number
    FROM bid
  ) AS ranked
  WHERE rank_number <= 1;

SELECT auction, bidder, price, channel, date_time FROM q18 ORDER BY date_time DESC, auction, bidder LIMIT 10;
