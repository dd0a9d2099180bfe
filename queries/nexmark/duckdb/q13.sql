SELECT b.auction, b.bidder, b.price, b.date_time, s.value
FROM bid AS b, side_input AS s
WHERE b.auction % 10000 = s.key
