"""The corpus of view queries the differential tests maintain incrementally (tables: schema.py).

Each entry is a view's SQL, the tables it reads, and whether its floating-point results may
differ from DuckDB's in the last bits (sums of doubles depend on the order of addition). A
query that reads other views names them as ``helpers``, created first (materialized or not).

Every query is deterministic in SQL: ROW_NUMBER, LIMIT and ROWS frames order by every column
of the table, so only fully identical rows tie, and which of those comes first changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

# Every column of t1, the order that makes t1's rows totally ordered (up to identical rows).
ALL_T1 = "k, g, v, d, m, ts, b"


@dataclass(frozen=True)
class Helper:
    """A view a query's view reads."""

    name: str
    sql: str
    materialized: bool = True


@dataclass(frozen=True)
class Query:
    name: str
    sql: str
    tables: tuple[str, ...]
    approx: bool = False
    helpers: tuple[Helper, ...] = ()
    materialized: bool = True
    special_floats: bool = False  # t1.d also takes NaN, -0.0 and the infinities
    # The reference's spelling where DuckDB lacks the syntax or departs from PostgreSQL, which
    # tidal follows (SIMILAR TO, CORRESPONDING, set-returning functions in a select list).
    duckdb: str | None = None


def q(
    name: str,
    sql: str,
    tables: str = "t1",
    approx: bool = False,
    helpers: tuple[Helper, ...] = (),
    materialized: bool = True,
    special_floats: bool = False,
    duckdb: str | None = None,
) -> Query:
    return Query(
        name,
        " ".join(sql.split()),
        tuple(tables.split()),
        approx,
        helpers,
        materialized,
        special_floats,
        duckdb,
    )


SCALARS = [
    q(
        "arithmetic",
        "SELECT k, v + 1 AS a, v - k AS b, v * 2 AS c, v / 2 AS q, v % 3 AS r, "
        "-v AS neg, k * v - 1 AS e FROM t1",
    ),
    q(
        "division_guarded",
        "SELECT k, 100 / NULLIF(v, 0) AS q, 7 % NULLIF(v, 0) AS r, d * 2 AS d2, "
        "d / 4 AS d4, m * 2 AS m2, m + 1 AS m1, m / 4 AS m4 FROM t1",
    ),
    q(
        "case",
        "SELECT k, CASE WHEN v > 2 THEN 'big' WHEN v > 0 THEN 'small' ELSE 'other' END AS c, "
        "CASE g WHEN 'a' THEN 1 WHEN 'b' THEN 2 END AS cg, "
        "CASE WHEN b THEN d ELSE -d END AS cd, CASE WHEN m > 1 THEN m END AS cm FROM t1",
    ),
    q(
        "cast_coalesce_nullif",
        "SELECT CAST(v AS VARCHAR) AS vs, CAST(d AS INTEGER) AS di, "
        "CAST(m AS DOUBLE) AS md, CAST(k AS DOUBLE) / 4 AS kd, CAST(v AS DECIMAL(10,2)) AS vm, "
        "COALESCE(v, k, -1) AS c, NULLIF(g, 'a') AS n, COALESCE(g, 'none') AS gg, "
        "CAST(ts AS DATE) AS day, CAST(b AS INTEGER) AS bi FROM t1",
    ),
    q(
        "strings",
        "SELECT upper(g) AS u, lower(g) AS l, length(g) AS n, substring(g, 1, 1) AS s, "
        "concat(g, '-', k) AS c, g || '!' AS p, replace(g, 'a', 'A') AS r, trim(g) AS t, "
        "left(g, 2) AS lf, g || k AS gk FROM t1",
    ),
    q(
        "similar_to",
        "SELECT k, g SIMILAR TO '(a|b)%' AS ab, g SIMILAR TO '_' AS one, "
        "g NOT SIMILAR TO '%[ B]%' AS no_b FROM t1",
        duckdb="SELECT k, regexp_full_match(g, '(?:a|b).*') AS ab, "
        "regexp_full_match(g, '(?s).') AS one, NOT regexp_full_match(g, '(?s).*[ B].*') AS no_b "
        "FROM t1",
    ),
    q(
        "set_returning",
        "SELECT k, generate_series(1, v) AS s, unnest(ARRAY[g, upper(g)]) AS u FROM t1",
        duckdb="SELECT k, unnest(generate_series(1, v)) AS s, unnest([g, upper(g)]) AS u FROM t1",
    ),
    q(
        "set_returning_after_aggregate",
        "SELECT g, count(*) AS n, generate_series(1, count(*)) AS i FROM t1 GROUP BY g",
        duckdb="SELECT g, count(*) AS n, unnest(generate_series(1, count(*))) AS i FROM t1 "
        "GROUP BY g",
    ),
    q(
        "like",
        "SELECT k, g LIKE 'a%' AS la, g NOT LIKE '%b%' AS nb, g ILIKE '%B%' AS ib, "
        "upper(trim(g)) = 'B' AS isb FROM t1",
    ),
    q(
        "datetime",
        "SELECT k, date_trunc('day', ts) AS day, date_trunc('month', ts) AS mon, "
        "extract(hour FROM ts) AS h, extract(year FROM ts) AS y, "
        "ts + INTERVAL '1 day' AS next_day, "
        "ts - INTERVAL '2 hours' AS earlier, date_trunc('hour', ts) + INTERVAL '30 minutes' AS hh "
        "FROM t1",
    ),
    q(
        "comparisons",
        "SELECT k, v BETWEEN 0 AND 2 AS bt, v NOT BETWEEN 1 AND 3 AS nbt, "
        "k IN (1, 3) AS i, g NOT IN ('a', 'b') AS ni, v IS NULL AS vn, g IS NOT NULL AS gn, "
        "d >= 0.25 AS dge, m < 2.25 AS mlt, ts > TIMESTAMP '2024-01-15 00:00:00' AS late, "
        "v <> k AS ne, d = v AS mixed FROM t1",
    ),
    q(
        "boolean_nulls",
        "SELECT k, b AND v > 1 AS a, b OR v > 1 AS o, NOT b AS n, "
        "(b AND g = 'a') OR v IS NULL AS x, b IS TRUE AS t, b IS NOT FALSE AS nf, "
        "b IS DISTINCT FROM (v > 0) AS dist FROM t1",
    ),
    q(
        "math_functions",
        "SELECT k, abs(v) AS a, round(d, 1) AS r, greatest(v, k) AS gr, "
        "least(v, 1) AS le, sign(v) AS s, floor(d) AS fl, ceil(m) AS ce FROM t1",
    ),
    q("where_simple", "SELECT k, g, v FROM t1 WHERE v > 0 AND (g = 'a' OR g IS NULL)"),
    q("where_null_logic", "SELECT * FROM t1 WHERE NOT (v > 1) OR b"),
    q("where_in_between", "SELECT k, d, m FROM t1 WHERE k IN (0, 2, 4) AND d BETWEEN -1 AND 10"),
    q(
        "where_expressions",
        "SELECT g, ts FROM t1 WHERE extract(day FROM ts) = 1 OR upper(g) LIKE 'A%' OR m * 2 > 5",
    ),
]

AGGREGATES = [
    q(
        "group_basic",
        "SELECT g, count(*) AS n, count(v) AS nv, sum(v) AS s, min(v) AS mn, "
        "max(v) AS mx FROM t1 GROUP BY g",
    ),
    q(
        "group_avg_sum_types",
        "SELECT g, avg(v) AS av, sum(d) AS sd, avg(d) AS ad, sum(m) AS sm, "
        "avg(m) AS am FROM t1 GROUP BY g",
        approx=True,
    ),
    q(
        "count_distinct",
        "SELECT k, count(DISTINCT g) AS ng, count(DISTINCT v) AS nv, "
        "sum(DISTINCT v) AS sv FROM t1 GROUP BY k",
    ),
    q(
        "count_distinct_shared",  # calls on one column share their pairs (Nexmark q16)
        "SELECT g, count(DISTINCT k) AS a, count(DISTINCT k) FILTER (WHERE b) AS bk, "
        "count(DISTINCT k) FILTER (WHERE v > 0) AS pk, count(DISTINCT v) AS nv, count(*) AS n "
        "FROM t1 GROUP BY g",
    ),
    q(
        "filter_clause",
        "SELECT g, count(*) FILTER (WHERE v > 0) AS pos, "
        "sum(v) FILTER (WHERE b) AS sb, max(d) FILTER (WHERE k < 3) AS md, "
        "count(DISTINCT k) FILTER (WHERE NOT b) AS nk FROM t1 GROUP BY g",
    ),
    q(
        "bool_aggregates",
        "SELECT g, bool_and(b) AS ba, bool_or(b) AS bo, bool_or(v > 2) AS big FROM t1 GROUP BY g",
    ),
    q(
        "stddev",
        "SELECT g, stddev(d) AS sd, stddev_pop(v) AS sp, variance(v) AS var, "
        "stddev_samp(m) AS sm FROM t1 GROUP BY g",
        approx=True,
    ),
    q(
        "group_expressions",
        "SELECT v % 2 AS parity, upper(g) AS ug, count(*) AS n, sum(k) AS s "
        "FROM t1 GROUP BY v % 2, upper(g)",
    ),
    q(
        "having",
        "SELECT g, count(*) AS n, sum(v) AS s FROM t1 GROUP BY g "
        "HAVING count(*) > 1 AND sum(v) > 0",
    ),
    q("having_not_selected", "SELECT k FROM t1 GROUP BY k HAVING max(d) > 0.2 OR min(g) = 'a'"),
    q(
        "group_by_time",
        "SELECT date_trunc('month', ts) AS mon, count(*) AS n, min(ts) AS first, "
        "max(m) AS mm FROM t1 GROUP BY 1",
    ),
    q(
        "global_aggregate",
        "SELECT count(*) AS n, count(v) AS nv, sum(v) AS s, avg(d) AS ad, "
        "min(g) AS mg, max(ts) AS mt FROM t1",
        approx=True,
    ),
    q(
        "global_over_empty",
        "SELECT count(*) AS n, sum(v) AS s, max(d) AS md, bool_and(b) AS ba, "
        "count(DISTINCT g) AS ng FROM t1 WHERE v > 100",
    ),
    q(
        "global_sometimes_empty",
        "SELECT count(*) AS n, sum(v) AS s, sum(m) AS sm, min(k) AS mk FROM t1 WHERE g = 'a'",
    ),
    q(
        "group_multi_key",
        "SELECT g, b, count(*) AS n, sum(m) AS sm, min(d) AS md FROM t1 GROUP BY g, b",
    ),
    q(
        "aggregate_of_expressions",
        "SELECT k, sum(v * 2 + 1) AS s, max(CASE WHEN b THEN d END) AS mx, "
        "count(DISTINCT upper(g)) AS cu FROM t1 GROUP BY k",
    ),
    q(
        "expressions_of_aggregates",
        "SELECT g, sum(v) * 2 + count(*) AS x, max(v) - min(v) AS spread, "
        "CASE WHEN count(*) > 2 THEN 'many' ELSE 'few' END AS c FROM t1 GROUP BY g",
    ),
    q(
        "bigint_aggregates",
        "SELECT name, sum(w) AS s, avg(w) AS a, count(*) AS n, max(w) AS mx FROM t2 GROUP BY name",
        tables="t2",
    ),
    q("group_without_aggregates", "SELECT g, b FROM t1 GROUP BY g, b"),
    q("global_having", "SELECT count(*) AS n, sum(v) AS s FROM t1 HAVING count(*) > 2"),
    q(
        "aggregate_of_aggregate",
        "SELECT avg(s) AS a, max(n) AS mx, count(*) AS groups FROM "
        "(SELECT g, sum(v) AS s, count(*) AS n FROM t1 GROUP BY g) AS per_group",
        approx=True,
    ),
]

JOINS = [
    q(
        "inner_join",
        "SELECT t1.k, t1.g, t2.name, t2.w FROM t1 JOIN t2 ON t1.k = t2.k",
        tables="t1 t2",
    ),
    q(
        "left_join",
        "SELECT t1.k, t1.v, t2.name FROM t1 LEFT JOIN t2 ON t1.k = t2.k",
        tables="t1 t2",
    ),
    q(
        "right_join",
        "SELECT t1.v, t2.k, t2.name FROM t1 RIGHT JOIN t2 ON t1.k = t2.k",
        tables="t1 t2",
    ),
    q(
        "full_join",
        "SELECT t1.k AS k1, t2.k AS k2, t1.g, t2.w FROM t1 FULL OUTER JOIN t2 ON t1.k = t2.k",
        tables="t1 t2",
    ),
    q(
        "inner_join_non_equi",
        "SELECT t1.k, t1.v, t2.w FROM t1 JOIN t2 ON t1.k = t2.k AND t1.v < t2.w",
        tables="t1 t2",
    ),
    q(
        "left_join_non_equi",
        "SELECT t1.k, t1.v, t2.w FROM t1 LEFT JOIN t2 ON t1.k = t2.k AND t2.w > 0",
        tables="t1 t2",
    ),
    q(
        "full_join_non_equi",
        "SELECT t1.k, t1.v, t2.k AS k2, t2.w FROM t1 FULL JOIN t2 ON t1.k = t2.k AND t1.v <= t2.w",
        tables="t1 t2",
    ),
    q(
        "comma_join",
        "SELECT a.k, a.g, b.name FROM t1 a, t2 b WHERE a.k = b.k AND b.w <> 0",
        tables="t1 t2",
    ),
    q("join_using", "SELECT k, g, name FROM t1 JOIN t2 USING (k)", tables="t1 t2"),
    q("full_join_using", "SELECT k, v, w FROM t1 FULL JOIN t2 USING (k)", tables="t1 t2"),
    q(
        "join_using_qualified",
        "SELECT k, t1.k AS k1, t2.k AS k2, t2.* FROM t1 FULL JOIN t2 USING (k)",
        tables="t1 t2",
    ),
    q("natural_join", "SELECT * FROM t1 NATURAL JOIN t3", tables="t1 t3"),
    q("natural_right_join", "SELECT * FROM t3 NATURAL RIGHT JOIN t1", tables="t1 t3"),
    q(
        "three_way_join",
        "SELECT t1.k, t2.name, t3.x FROM t1 JOIN t2 ON t1.k = t2.k "
        "JOIN t3 ON t3.k = t1.k AND t3.g = t1.g",
        tables="t1 t2 t3",
    ),
    q(
        "three_way_left_join",
        "SELECT t1.k, t1.g, t2.name, t3.x FROM t1 LEFT JOIN t2 ON t1.k = t2.k "
        "LEFT JOIN t3 ON t1.g = t3.g",
        tables="t1 t2 t3",
    ),
    q(
        "self_join",
        "SELECT a.k, a.v AS v1, b.v AS v2 FROM t1 a JOIN t1 b ON a.g = b.g AND a.v < b.v",
    ),
    q(
        "join_then_aggregate",
        "SELECT t2.name, count(*) AS n, sum(t1.v) AS s FROM t1 "
        "JOIN t2 ON t1.k = t2.k GROUP BY t2.name",
        tables="t1 t2",
    ),
    q(
        "left_join_then_count",
        "SELECT t1.g, count(t2.k) AS matched, count(*) AS n FROM t1 "
        "LEFT JOIN t2 ON t1.k = t2.k GROUP BY t1.g",
        tables="t1 t2",
    ),
    q("theta_join", "SELECT t2.name, t3.x FROM t2 JOIN t3 ON t2.w > t3.x", tables="t2 t3"),
    q(
        "join_on_expression",
        "SELECT t1.k, t2.name FROM t1 JOIN t2 ON t1.k + 1 = t2.k",
        tables="t1 t2",
    ),
    q(
        "cross_join",
        "SELECT t2.name, t3.g FROM t2 CROSS JOIN t3 WHERE t2.k IS NULL OR t3.x = 1",
        tables="t2 t3",
    ),
    q(
        "join_mixed_key_types",
        "SELECT t1.k, t1.v, t2.w, t3.x FROM t1 JOIN t2 ON t1.v = t2.w JOIN t3 ON t1.d = t3.x",
        tables="t1 t2 t3",
    ),
    q(
        "outer_join_mixed_key_types",
        "SELECT t1.m, t2.w FROM t1 FULL JOIN t2 ON t1.m = t2.w",
        tables="t1 t2",
    ),
]

SET_OPERATIONS = [
    q("union_all", "SELECT k, g FROM t1 UNION ALL SELECT k, name FROM t2", tables="t1 t2"),
    q("union", "SELECT k FROM t1 UNION SELECT k FROM t2", tables="t1 t2"),
    q("intersect", "SELECT k, g FROM t1 INTERSECT SELECT k, g FROM t3", tables="t1 t3"),
    q("except", "SELECT k, g FROM t1 EXCEPT SELECT k, g FROM t3", tables="t1 t3"),
    q("intersect_all", "SELECT k FROM t1 INTERSECT ALL SELECT k FROM t2", tables="t1 t2"),
    q("except_all", "SELECT k FROM t1 EXCEPT ALL SELECT k FROM t2", tables="t1 t2"),
    q(
        "union_all_by_name",
        "SELECT k, g, v FROM t1 UNION ALL BY NAME SELECT x AS v, k, name FROM t3 JOIN t2 USING (k)",
        tables="t1 t2 t3",
    ),
    q("union_by_name", "SELECT g, k FROM t1 UNION BY NAME SELECT k, g FROM t3", tables="t1 t3"),
    q(
        "corresponding",
        "SELECT k, g, v FROM t1 INTERSECT ALL CORRESPONDING SELECT x AS v, k, g FROM t3",
        tables="t1 t3",
        duckdb="SELECT k, g, v FROM t1 INTERSECT ALL SELECT k, g, x AS v FROM t3",
    ),
    q(
        "corresponding_by",
        "SELECT k, g, v FROM t1 UNION CORRESPONDING BY (g, k) SELECT x AS v, k, g FROM t3",
        tables="t1 t3",
        duckdb="SELECT g, k FROM t1 UNION SELECT g, k FROM t3",
    ),
    q("distinct", "SELECT DISTINCT g, b FROM t1"),
    q("distinct_expression", "SELECT DISTINCT v % 3 AS r, d > 0 AS pos FROM t1"),
    q(
        "set_ops_mixed_types",
        "SELECT d FROM t1 EXCEPT SELECT x FROM t3 UNION "
        "SELECT v FROM t1 INTERSECT SELECT w FROM t2",
        tables="t1 t2 t3",
    ),
    q(
        "union_all_widening",
        "SELECT v FROM t1 UNION ALL SELECT w FROM t2 UNION ALL SELECT x FROM t3",
        tables="t1 t2 t3",
    ),
]

SUBQUERIES = [
    q(
        "subquery_in_from",
        "SELECT s.g, s.total * 2 AS dbl FROM (SELECT g, sum(v) AS total FROM t1 "
        "GROUP BY g) AS s WHERE s.total > 1",
    ),
    q(
        "ctes",
        "WITH big AS (SELECT k, v FROM t1 WHERE v > 1), named AS (SELECT k, name FROM t2) "
        "SELECT big.k, big.v, named.name FROM big JOIN named ON big.k = named.k",
        tables="t1 t2",
    ),
    q(
        "in_subquery",
        "SELECT k, g FROM t1 WHERE k IN (SELECT k FROM t2 WHERE w > 0)",
        tables="t1 t2",
    ),
    q("not_in_subquery", "SELECT k, g FROM t1 WHERE k NOT IN (SELECT k FROM t2)", tables="t1 t2"),
    q(
        "not_in_nullable_probe",
        "SELECT v, g FROM t1 WHERE v NOT IN (SELECT x FROM t3 WHERE x > 0)",
        tables="t1 t3",
    ),
    q(
        "in_mixed_types",
        "SELECT k, d FROM t1 WHERE d IN (SELECT x FROM t3) AND v IN (SELECT w FROM t2)",
        tables="t1 t2 t3",
    ),
    q(
        "in_correlated",
        "SELECT k, g, v FROM t1 WHERE v IN (SELECT x FROM t3 WHERE t3.g = t1.g)",
        tables="t1 t3",
    ),
    q(
        "exists_correlated",
        "SELECT k, g FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.k AND t2.w > t1.v)",
        tables="t1 t2",
    ),
    q(
        "not_exists_correlated",
        "SELECT k, v FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t2 WHERE t2.k = t1.k)",
        tables="t1 t2",
    ),
    q(
        "not_in_correlated",
        "SELECT k, v FROM t1 WHERE v NOT IN (SELECT x FROM t3 WHERE t3.k = t1.k)",
        tables="t1 t3",
    ),
    q(
        "not_exists_uncorrelated",
        "SELECT k, g FROM t1 WHERE NOT EXISTS (SELECT 1 FROM t3 WHERE x > 2)",
        tables="t1 t3",
    ),
    q(
        "exists_uncorrelated",
        "SELECT k FROM t1 WHERE EXISTS (SELECT 1 FROM t2 WHERE w > 5)",
        tables="t1 t2",
    ),
    q("scalar_uncorrelated", "SELECT k, v, (SELECT max(w) FROM t2) AS mw FROM t1", tables="t1 t2"),
    q(
        "scalar_uncorrelated_in_where",
        "SELECT k, v FROM t1 WHERE v > (SELECT avg(x) FROM t3)",
        tables="t1 t3",
    ),
    q(
        "scalar_correlated_count",
        "SELECT k, v, (SELECT count(*) FROM t2 WHERE t2.k = t1.k) AS n FROM t1",
        tables="t1 t2",
    ),
    q(
        "scalar_correlated_in_where",
        "SELECT k, v FROM t1 WHERE v >= (SELECT max(x) FROM t3 WHERE t3.k = t1.k)",
        tables="t1 t3",
    ),
    q(
        "scalar_correlated_sum",
        "SELECT name, (SELECT sum(v) FROM t1 WHERE t1.k = t2.k) AS s FROM t2",
        tables="t1 t2",
    ),
]

ORDERED = [
    q("top_n", f"SELECT k, g, v FROM t1 ORDER BY v DESC, {ALL_T1} LIMIT 3"),
    q(
        "top_n_offset",
        "SELECT k, v FROM t1 ORDER BY k NULLS FIRST, v, g, d, m, ts, b LIMIT 4 OFFSET 2",
    ),
    q(
        "top_n_of_aggregate",
        "SELECT g, sum(v) AS s FROM t1 GROUP BY g ORDER BY s DESC NULLS LAST, g LIMIT 2",
    ),
    q("order_by_without_limit", "SELECT k, v FROM t1 ORDER BY v DESC"),
    q(
        "row_number_dedup",
        "SELECT k, g, v FROM (SELECT k, g, v, ROW_NUMBER() OVER "
        f"(PARTITION BY k ORDER BY v DESC, {ALL_T1}) AS rn FROM t1) AS x WHERE rn = 1",
    ),
    q(
        "rank_top_per_group",
        "SELECT * FROM (SELECT g, k, v, RANK() OVER (PARTITION BY g "
        "ORDER BY v DESC) AS r FROM t1) AS x WHERE r <= 2",
    ),
    q("dense_rank", "SELECT g, v, DENSE_RANK() OVER (PARTITION BY g ORDER BY v) AS dr FROM t1"),
    q(
        "partition_aggregates",
        "SELECT k, g, v, sum(v) OVER (PARTITION BY g) AS gs, "
        "count(*) OVER (PARTITION BY g) AS gn, max(d) OVER (PARTITION BY g) AS gm FROM t1",
    ),
    q(
        "running_sum",
        "SELECT k, g, v, sum(v) OVER (PARTITION BY g ORDER BY "
        f"{ALL_T1} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM t1",
    ),
    q(
        "range_frame_peers",
        "SELECT g, k, sum(v) OVER (PARTITION BY g ORDER BY k) AS r, "
        "count(*) OVER (PARTITION BY g ORDER BY k) AS c FROM t1",
    ),
    q("window_whole_input", "SELECT k, v, v - avg(v) OVER () AS dev FROM t1", approx=True),
    q(
        "lag_lead",
        f"SELECT g, v, lag(v) OVER (PARTITION BY g ORDER BY {ALL_T1}) AS prev, "
        f"lead(k) OVER (PARTITION BY g ORDER BY {ALL_T1}) AS next FROM t1",
    ),
    q(
        "sliding_frame",
        f"SELECT k, g, d, first_value(v) OVER (PARTITION BY g ORDER BY {ALL_T1}) "
        f"AS fv, avg(d) OVER (PARTITION BY k ORDER BY {ALL_T1} ROWS BETWEEN 1 PRECEDING AND "
        "1 FOLLOWING) AS sliding FROM t1",
        approx=True,
    ),
    q(
        "windows_with_different_partitions",
        "SELECT k, g, v, sum(v) OVER (PARTITION BY g) AS by_g, "
        "count(v) OVER (PARTITION BY k) AS by_k, ROW_NUMBER() OVER (ORDER BY "
        f"{ALL_T1}) AS overall FROM t1",
    ),
    q(
        "window_over_aggregate",
        "SELECT g, sum(v) AS s, RANK() OVER (ORDER BY sum(v) DESC) AS r FROM t1 GROUP BY g",
    ),
    q(
        "named_windows",
        "SELECT k, g, v, rank() OVER w AS r, sum(v) OVER (w ORDER BY v) AS running, "
        "count(*) OVER byg AS n, max(v) OVER last2 AS m2 FROM t1 "
        f"WINDOW byg AS (PARTITION BY g), w AS (byg), last2 AS (byg ORDER BY {ALL_T1} "
        "ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
    ),
]

VIEWS_ON_VIEWS = [
    q(
        "materialized_on_materialized",
        "SELECT g, max(s) AS top, count(*) AS n FROM base GROUP BY g",
        helpers=(Helper("base", "SELECT g, k, sum(v) AS s FROM t1 GROUP BY g, k"),),
    ),
    q(
        "plain_on_materialized",
        "SELECT name, count(*) AS n, sum(v) AS s FROM joined GROUP BY name",
        tables="t1 t2",
        materialized=False,
        helpers=(Helper("joined", "SELECT t1.v, t2.name FROM t1 JOIN t2 ON t1.k = t2.k"),),
    ),
    q(
        "materialized_on_plain",
        "SELECT g, sum(v2) AS s, count(*) AS n FROM doubled GROUP BY g",
        helpers=(
            Helper(
                "doubled",
                "SELECT k, g, v * 2 AS v2 FROM t1 WHERE b IS NOT FALSE",
                materialized=False,
            ),
        ),
    ),
    q(
        "materialized_chain_join",
        "SELECT t2.name, per_k.n FROM t2 LEFT JOIN per_k ON t2.k = per_k.k",
        tables="t1 t2",
        helpers=(Helper("per_k", "SELECT k, count(*) AS n FROM t1 GROUP BY k"),),
    ),
]

# NaN equals NaN and sorts above +Infinity; -0.0 equals 0.0 (one group, one join key).
SPECIAL_FLOATS = [
    q(
        "special_float_predicates",
        "SELECT k, d, d > 1 AS gt, d = d AS self_equal, d < 0 AS neg, "
        "d BETWEEN -1 AND 1 AS small, d <> 0 AS nonzero, d >= v AS ge_v, "
        "CASE WHEN d <= 2.5 THEN 'low' ELSE 'high' END AS band FROM t1 WHERE d IS NOT NULL",
        special_floats=True,
    ),
    q("special_float_filter", "SELECT k, d FROM t1 WHERE d > 2 OR d = 0", special_floats=True),
    q(
        "special_float_groups",
        "SELECT d, count(*) AS n, sum(v) AS s FROM t1 GROUP BY d",
        special_floats=True,
    ),
    q("special_float_distinct", "SELECT DISTINCT d FROM t1", special_floats=True),
    q(
        "special_float_sums",
        "SELECT g, sum(d) AS s, avg(d) AS a, count(d) AS n FROM t1 GROUP BY g",
        approx=True,
        special_floats=True,
    ),
    q(
        "special_float_global_sum",
        "SELECT sum(d) AS s, avg(d) AS a FROM t1",
        approx=True,
        special_floats=True,
    ),
    q(
        "special_float_min_max",
        "SELECT g, min(d) AS mn, max(d) AS mx FROM t1 GROUP BY g",
        special_floats=True,
    ),
    q(
        "special_float_join",
        "SELECT a.k, b.k AS k2, a.d FROM t1 a JOIN t1 b ON a.d = b.d",
        special_floats=True,
    ),
    q(
        "special_float_top_n",
        f"SELECT k, d FROM t1 ORDER BY d DESC, {ALL_T1} LIMIT 3",
        special_floats=True,
    ),
    q(
        "special_float_set_ops",
        "SELECT d FROM t1 WHERE k < 3 INTERSECT SELECT d FROM t1 WHERE k >= 2",
        special_floats=True,
    ),
]

# Ordered, ordered-set and statistical aggregates. ORDER BY inside string_agg / array_agg
# ends with the aggregated value, so rows that tie give the same output in any order. With an
# infinity, DuckDB's covariance depends on the order of the rows (inf * 0 is NaN, inf * 1 is
# not): the special-float query keeps to the aggregates whose result does not.
STATISTICAL = [
    q(
        "ordered_string_agg",
        "SELECT k, string_agg(g, ',' ORDER BY v DESC, g) AS s, "
        "string_agg(CAST(v AS VARCHAR), '-' ORDER BY d NULLS FIRST, v DESC) FILTER (WHERE b) "
        "AS sv, string_agg(DISTINCT g, '|' ORDER BY g DESC) AS dg FROM t1 GROUP BY k",
    ),
    q(
        "ordered_array_agg",
        "SELECT g, array_agg(v ORDER BY v DESC NULLS LAST) AS av, "
        "array_agg(m ORDER BY ts, m) AS am FROM t1 GROUP BY g",
    ),
    q(
        "ordered_array_agg_read",
        "SELECT g, list_sum(array_agg(v ORDER BY v)) AS total, "
        "array_to_string(array_agg(k ORDER BY ts DESC, k), ',') AS ks FROM t1 GROUP BY g",
        materialized=False,
    ),
    q(
        "percentiles",
        "SELECT g, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS med, "
        "percentile_cont(0.25) WITHIN GROUP (ORDER BY d DESC) AS q, "
        "percentile_disc(0.75) WITHIN GROUP (ORDER BY m) AS pm, "
        "percentile_disc(0.5) WITHIN GROUP (ORDER BY ts DESC) AS pt, median(d) AS md "
        "FROM t1 GROUP BY g",
        approx=True,
    ),
    q(
        "mode",
        "SELECT k, mode() WITHIN GROUP (ORDER BY v) AS mv, "
        "mode() WITHIN GROUP (ORDER BY g DESC) AS mg, "
        "mode() WITHIN GROUP (ORDER BY b) FILTER (WHERE v > 0) AS mb FROM t1 GROUP BY k",
    ),
    q(
        "moments",
        "SELECT g, var_pop(v) AS vp, var_samp(d) AS vs, stddev_pop(m) AS sp, "
        "stddev_samp(v) AS ss, covar_pop(v, d) AS cp, covar_samp(d, k) AS cs, "
        "corr(v, k) AS c, variance(m) FILTER (WHERE b) AS vf FROM t1 GROUP BY g",
        approx=True,
    ),
    q(
        "regressions",
        "SELECT k, regr_slope(v, d) AS sl, regr_intercept(v, d) AS ic, regr_r2(d, v) AS r2, "
        "regr_count(v, m) AS rc, regr_avgx(v, d) AS ax, regr_avgy(v, d) AS ay, "
        "regr_sxx(v, m) AS sxx, regr_syy(v, m) AS syy, regr_sxy(d, v) AS sxy FROM t1 GROUP BY k",
        approx=True,
    ),
    q(
        "bool_filters",
        "SELECT k, bool_and(b) AS e, bool_and(v > 0) FILTER (WHERE d > 0) AS bf, "
        "bool_or(b) AS bo, bool_or(g = 'a') AS ba FROM t1 GROUP BY k",
    ),
    q(
        "global_statistics",
        "SELECT stddev_samp(v) AS s, corr(d, v) AS c, bool_or(b) AS bo, bool_and(v > 0) AS e, "
        "percentile_disc(0.5) WITHIN GROUP (ORDER BY g) AS pg, "
        "string_agg(g, ',' ORDER BY g) AS sg FROM t1",
        approx=True,
    ),
    q(
        "moments_of_bigints",
        "SELECT name, var_samp(w) AS vw, stddev_pop(w) AS sw, covar_samp(w, k) AS cw, "
        "corr(k, w) AS c, regr_slope(w, k) AS sl FROM t2 GROUP BY name",
        tables="t2",
        approx=True,
    ),
    q(
        "special_float_statistics",
        "SELECT g, var_pop(d) AS vp, stddev_samp(d) AS ss, corr(d, v) AS c, "
        "regr_slope(v, d) AS sl, regr_intercept(v, d) AS ic, regr_r2(v, d) AS r2, "
        "regr_avgx(v, d) AS ax, regr_sxx(v, d) AS sxx, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY d) AS p, "
        "mode() WITHIN GROUP (ORDER BY d) AS mo FROM t1 GROUP BY g",
        approx=True,
        special_floats=True,
    ),
]

QUERIES: list[Query] = (
    SCALARS
    + AGGREGATES
    + JOINS
    + SET_OPERATIONS
    + SUBQUERIES
    + ORDERED
    + VIEWS_ON_VIEWS
    + SPECIAL_FLOATS
    + STATISTICAL
)
