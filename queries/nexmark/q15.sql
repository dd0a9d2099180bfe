-- Nexmark q15, bidding statistics report: per day, the number of bids, of distinct bidders and
-- of distinct auctions, overall and in three price bands (below 10k, 10k to 1M, from 1M).

CREATE SOURCE bid (auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'bid', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q15 AS
  SELECT to_char(date_time, 'YYYY-MM-DD') AS day,
         count(*) AS total_bids,
         count(*) FILTER (WHERE price < 10000) AS rank1_bids,
         count(*) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bids,
         count(*) FILTER (WHERE price >= 1000000) AS rank3_bids,
         count(DISTINCT bidder) AS total_bidders,
         count(DISTINCT bidder) FILTER (WHERE price < 10000) AS rank1_bidders,
         count(DISTINCT bidder) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_bidders,
         count(DISTINCT bidder) FILTER (WHERE price >= 1000000) AS rank3_bidders,
         count(DISTINCT auction) AS total_auctions,
         count(DISTINCT auction) FILTER (WHERE price < 10000) AS rank1_auctions,
         count(DISTINCT auction) FILTER (WHERE price >= 10000 AND price < 1000000) AS rank2_auctions,
         count(DISTINCT auction) FILTER (WHERE price >= 1000000) AS rank3_auctions
  FROM bid
  GROUP BY to_char(date_time, 'YYYY-MM-DD');

SELECT * FROM q15 ORDER BY day;
