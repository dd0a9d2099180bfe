-- Nexmark q8, monitor new users: the people who registered and opened an auction within the
-- same 10-second tumbling window (a window join of two windowed streams).

CREATE SOURCE person (id BIGINT, name VARCHAR, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'person', events = '100000', retain = 'false');

CREATE SOURCE auction (seller BIGINT, date_time TIMESTAMP(3),
    WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND)
  WITH (connector = 'nexmark', kind = 'auction', events = '100000', retain = 'false');

CREATE MATERIALIZED VIEW q8 AS
  SELECT p.id, p.name, p.starttime
  FROM (
    SELECT id, name, window_start AS starttime, window_end AS endtime
    FROM TUMBLE(person, date_time, INTERVAL '10' SECOND)
    GROUP BY id, name, window_start, window_end
  ) AS p
  JOIN (
    SELECT seller, window_start AS starttime, window_end AS endtime
    FROM TUMBLE(auction, date_time, INTERVAL '10' SECOND)
    GROUP BY seller, window_start, window_end
  ) AS a
  ON p.id = a.seller AND p.starttime = a.starttime AND p.endtime = a.endtime;

SELECT * FROM q8 ORDER BY starttime, id LIMIT 10;
