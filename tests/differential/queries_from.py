"""Differential queries of set-returning functions in FROM and of LATERAL joins (the corpus:
queries.py). Each FROM call runs over every row of the table before it, so inserts, updates and
deletes of that table change its output; LATERAL subqueries are decorrelated into joins."""

from __future__ import annotations

from .queries import Helper, q

FROM_FUNCTIONS = [
    q(
        "srf_constant_joined",
        "SELECT t1.k, g.i FROM t1 JOIN generate_series(1, 3) AS g(i) ON g.i = t1.v",
    ),
    q(
        "srf_constant_left_of_table",
        "SELECT g.i, t3.x FROM generate_series(0, 4) AS g(i) LEFT JOIN t3 ON t3.k = g.i",
        tables="t3",
    ),
    q("srf_over_rows", "SELECT k, v, s FROM t1, generate_series(1, t1.v) AS s"),
    q(
        "srf_ordinality_over_rows",
        "SELECT t1.k, u.x, u.n FROM t1 CROSS JOIN LATERAL "
        "unnest(ARRAY[t1.g, upper(t1.g), NULL]) WITH ORDINALITY AS u(x, n)",
        duckdb="SELECT t1.k, u.x, u.n FROM t1 CROSS JOIN LATERAL "
        "unnest([t1.g, upper(t1.g), NULL]) WITH ORDINALITY AS u(x, n)",
    ),
    q(
        "srf_left_join_lateral",
        "SELECT t1.k, t1.v, s.i, s.n FROM t1 LEFT JOIN LATERAL generate_series(1, t1.v) "
        "WITH ORDINALITY AS s(i, n) ON true",
    ),
    q(
        "srf_range_grouped",
        "SELECT r % 2 AS p, count(*) AS c, sum(t3.x) AS sx FROM t3, range(t3.x) AS r "
        "GROUP BY r % 2",
        tables="t3",
    ),
    q(
        "srf_in_subquery",
        "SELECT s.k, s.i FROM (SELECT t1.k, g.i FROM t1, generate_series(t1.v, 3) AS g(i)) "
        "AS s WHERE s.i > 1",
    ),
    q(
        "srf_in_plain_view",
        "SELECT k, count(*) AS c, max(i) AS top FROM series GROUP BY k",
        tables="t3",
        helpers=(
            Helper(
                "series",
                "SELECT t3.k, i FROM t3, generate_series(0, t3.x) AS g(i)",
                materialized=False,
            ),
        ),
    ),
]

LATERAL_SUBQUERIES = [
    q(
        "lateral_flattened",
        "SELECT t1.k, s.name, s.wv FROM t1, LATERAL (SELECT t2.name, t2.w + t1.v AS wv "
        "FROM t2 WHERE t2.k = t1.k AND t2.w > t1.v) AS s",
        tables="t1 t2",
    ),
    q(
        "lateral_left_flattened",
        "SELECT t1.k, t1.g, s.x, s.gk, s.one FROM t1 LEFT JOIN LATERAL (SELECT t3.x, "
        "t1.g || t3.g AS gk, 1 AS one FROM t3 WHERE t3.k = t1.k) AS s ON true",
        tables="t1 t3",
    ),
    q(
        "lateral_aggregate",
        "SELECT t1.k, t1.v, s.n, s.total FROM t1, LATERAL (SELECT count(*) AS n, "
        "sum(t2.w) AS total FROM t2 WHERE t2.k = t1.k) AS s",
        tables="t1 t2",
    ),
    q(
        "lateral_aggregate_grouped",
        "SELECT t1.k, s.name, s.n FROM t1 LEFT JOIN LATERAL (SELECT t2.name, count(*) AS n "
        "FROM t2 WHERE t2.k = t1.k GROUP BY t2.name) AS s ON true",
        tables="t1 t2",
    ),
    q(
        "lateral_aggregate_expression",
        "SELECT t1.k, t1.v, s.top FROM t1 CROSS JOIN LATERAL (SELECT max(t3.x) AS top "
        "FROM t3 WHERE t3.k = t1.v + 1 AND t3.x > 0) AS s",
        tables="t1 t3",
    ),
    q(
        "lateral_top_per_key",
        "SELECT t1.k, s.name, s.w FROM t1 LEFT JOIN LATERAL (SELECT t2.name, t2.w FROM t2 "
        "WHERE t2.k = t1.k ORDER BY t2.w DESC, t2.name LIMIT 2 OFFSET 1) AS s ON true",
        tables="t1 t2",
    ),
]
