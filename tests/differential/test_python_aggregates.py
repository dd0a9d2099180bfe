"""Python aggregates and table functions in views, through inserts, updates and deletes: after
every statement the maintained view equals the same query computed from the table's rows by
plain Python (the functions' own code, applied as SQL means it), and equals tidal's batch
answer (an ad hoc query over the table, computed by DuckDB with the functions registered).
Aggregates both ways: recomputed per touched group (no retract), and maintained by retract."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidal.engine import Database

AGGREGATE = """
CREATE AGGREGATE weighted(v BIGINT, w BIGINT) RETURNS BIGINT LANGUAGE python AS $$
def create_state():
    return [0, 0]

def accumulate(state, v, w):
    return [state[0] + v * w, state[1] + 1]

def finish(state):
    return state[0] * 1000 + state[1]
$$"""

# The same aggregate, maintained by its retract (PythonAggregateOperator); its state is
# changed in place, as users' states often are.
RETRACTING = """
CREATE AGGREGATE weighted_r(v BIGINT, w BIGINT) RETURNS BIGINT LANGUAGE python AS $$
def create_state():
    return [0, 0]

def accumulate(state, v, w):
    state[0] += v * w
    state[1] += 1
    return state

def retract(state, v, w):
    state[0] -= v * w
    state[1] -= 1
    return state

def finish(state):
    return state[0] * 1000 + state[1]
$$"""

TABLE_FUNCTION = """
CREATE FUNCTION pieces(n BIGINT, s VARCHAR) RETURNS TABLE (i BIGINT, piece VARCHAR)
LANGUAGE python AS $$
def pieces(n, s):
    for i in range(n % 4):
        yield i, s[: i + 1]
$$"""


def weighted(rows: list[tuple]) -> int:
    """What ``weighted`` computes over a group: its rows with no NULL argument."""
    kept = [(v, w) for v, w in rows if v is not None and w is not None]
    return sum(v * w for v, w in kept) * 1000 + len(kept)


def expected_groups(rows: dict[int, tuple]) -> Counter:
    groups: dict[str, list] = {}
    for k, v, w, _ in rows.values():
        groups.setdefault(k, []).append((v, w))
    return Counter((k, weighted(g), len(g)) for k, g in groups.items())


def expected_overall(rows: dict[int, tuple]) -> Counter:
    kept = [(v, w) for k, v, w, _ in rows.values() if k != "c"]
    return Counter([(weighted(kept), len(rows))])


def expected_pieces(rows: dict[int, tuple]) -> Counter:
    return Counter(
        (id_, i, s[: i + 1])
        for id_, (_, v, _, s) in rows.items()
        if v is not None and s is not None
        for i in range(v % 4)
    )


def _rows(table) -> Counter:
    return Counter(tuple(r.values()) for r in table.to_pylist())


row = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.one_of(st.none(), st.integers(-6, 6)),
    st.one_of(st.none(), st.integers(-3, 3)),
    st.one_of(st.none(), st.text("xyz", max_size=4)),
)
step = st.one_of(
    st.tuples(st.just("insert"), st.lists(row, min_size=1, max_size=6)),
    st.tuples(st.just("delete"), st.lists(st.integers(0, 30), min_size=1, max_size=4)),
    st.tuples(st.just("update"), st.integers(0, 30), st.integers(-6, 6)),
)


def _literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=8))
def test_python_aggregate_and_table_function_views_follow_their_input(steps):
    db = Database()
    try:
        db.execute("CREATE TABLE t (id BIGINT, k VARCHAR, v BIGINT, w BIGINT, s VARCHAR)")
        db.execute(AGGREGATE)
        db.execute(RETRACTING)
        db.execute(TABLE_FUNCTION)
        db.execute(
            "CREATE MATERIALIZED VIEW totals_r AS "
            "SELECT k, weighted_r(v, w) AS total, count(*) AS n FROM t GROUP BY k"
        )
        db.execute(
            "CREATE MATERIALIZED VIEW overall AS "
            "SELECT weighted_r(v, w) FILTER (WHERE k <> 'c') AS total, count(*) AS n FROM t"
        )
        db.execute(
            "CREATE MATERIALIZED VIEW totals AS "
            "SELECT k, weighted(v, w) AS total, count(*) AS n FROM t GROUP BY k"
        )
        db.execute(
            "CREATE MATERIALIZED VIEW spread AS "
            "SELECT t.id, p.i, p.piece FROM t, LATERAL pieces(t.v, t.s) AS p"
        )
        rows: dict[int, tuple] = {}
        next_id = 0
        for kind, *args in steps:
            if kind == "insert":
                values = []
                for r in args[0]:
                    rows[next_id] = r
                    values.append(f"({next_id}, {', '.join(map(_literal, r))})")
                    next_id += 1
                db.execute(f"INSERT INTO t VALUES {', '.join(values)}")
            elif kind == "delete":
                for id_ in args[0]:
                    rows.pop(id_, None)
                db.execute(f"DELETE FROM t WHERE id IN ({', '.join(map(str, args[0]))})")
            else:
                id_, v = args
                if id_ in rows:
                    k, _, w, s = rows[id_]
                    rows[id_] = (k, v, w, s)
                db.execute(f"UPDATE t SET v = {v} WHERE id = {id_}")
            assert _rows(db.execute("SELECT * FROM totals")) == expected_groups(rows)
            assert _rows(db.execute("SELECT * FROM totals_r")) == expected_groups(rows)
            assert _rows(db.execute("SELECT * FROM overall")) == expected_overall(rows)
            assert _rows(db.execute("SELECT * FROM spread")) == expected_pieces(rows)
        batch = db.execute("SELECT k, weighted(v, w) AS total, count(*) AS n FROM t GROUP BY k")
        assert _rows(batch) == expected_groups(rows)
        batch = db.execute("SELECT t.id, p.i, p.piece FROM t, LATERAL pieces(t.v, t.s) AS p")
        assert _rows(batch) == expected_pieces(rows)
    finally:
        db.close()
