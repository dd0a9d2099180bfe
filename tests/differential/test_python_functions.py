"""Views calling Python functions, maintained incrementally, equal DuckDB calling the same code.

hypothesis draws the changes (inserts of 1-5 rows, updates, deletes, copies: one mini-batch
per tick), when the view appears, and each function's ``batch_size`` (the answer must not
depend on it). After every tick each view equals DuckDB's query over the accumulated tables
with the same Python functions registered (tests/differential/python_udfs.py), and tidal's
batch lowering of the view, run in DuckDB with tidal's own registration of the functions, too.

On errors: ``null`` gives the failing row's NULL; ``dead_letter`` leaves the failing rows out
of the view and keeps one dead letter per failing input row, gone with its row; ``fail`` fails
the tick exactly when DuckDB's query fails, and changes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidal.engine.udf.registry import FunctionFailed

from .profiles import PROFILE
from .python_udfs import (
    BUMP,
    CHARS,
    HALVE,
    INITIAL,
    INV,
    INV_ARROW,
    INV_PANDAS,
    LOUD,
    MIX,
    OR_ZERO,
    SPREAD,
    SQUARES,
    TAG,
    TWICE,
    WEIGHED,
    Udf,
    UdfSession,
)
from .reference import as_rows, assert_same_rows
from .schema import scenarios

# batch_size: none (one call per operator batch), one row per call, a few, more than a tick has
BATCH_SIZES = st.sampled_from([None, 1, 2, 3, 1000])


@dataclass(frozen=True)
class UdfQuery:
    """A view's SQL with ``{name}`` for each function it calls."""

    name: str
    sql: str
    udfs: tuple[Udf, ...]
    tables: tuple[str, ...] = ("t1",)
    on_error: str = "fail"
    approx: bool = False
    materialized: bool | None = None  # None: drawn
    reference: str | None = None  # the reference's spelling, if not ``sql``


QUERIES = [
    UdfQuery("select_row", "SELECT k, {twice}(v) AS t FROM t1", (TWICE,)),
    UdfQuery(
        "select_arrow_nulls",
        "SELECT k, {bump}(v) AS b, {or_zero}(k) AS z FROM t1",
        (BUMP, OR_ZERO),
    ),
    UdfQuery("where_row", "SELECT k, g FROM t1 WHERE {twice}(v) > 2", (TWICE,)),
    UdfQuery("where_arrow", "SELECT k, v FROM t1 WHERE {bump}(k) >= 3", (BUMP,)),
    UdfQuery(
        "inside_expressions",
        "SELECT {twice}(v) + 1 AS a, upper({tag}(g)) AS u, length({initial}(g)) AS n FROM t1",
        (TWICE, TAG, INITIAL),
    ),
    UdfQuery(
        "pandas",
        "SELECT upper({initial}(g)) AS i, {halve}(d) * 2 AS h, {halve}(d + 1) AS p FROM t1",
        (INITIAL, HALVE),
        approx=True,
    ),
    UdfQuery(
        "inside_case",
        "SELECT k, CASE WHEN {twice}(v) > 3 THEN {tag}(g) WHEN {bump}(v) = 1 THEN 'one' "
        "ELSE 'small' END AS c FROM t1",
        (TWICE, TAG, BUMP),
    ),
    # The guard keeps inv away from 0, as it does in DuckDB: the tick must not fail.
    UdfQuery(
        "guarded_by_case",
        "SELECT k, CASE WHEN v <> 0 THEN {inv}(v) ELSE -1 END AS q FROM t1",
        (INV,),
    ),
    UdfQuery(
        "group_by_a_function",
        "SELECT {twice}(v) % 3 AS r, count(*) AS n, sum({bump}(k)) AS s FROM t1 GROUP BY 1",
        (TWICE, BUMP),
    ),
    UdfQuery(
        "aggregate_arguments",
        "SELECT g, sum({twice}(v)) AS s, max({tag}(g)) AS m, count({or_zero}(k)) AS c "
        "FROM t1 GROUP BY g",
        (TWICE, TAG, OR_ZERO),
    ),
    UdfQuery("three_arguments", "SELECT {mix}(k, g, d) AS m FROM t1", (MIX,)),
    UdfQuery(
        "over_a_join",
        "SELECT t1.k, {twice}(t2.w) AS w, {tag}(t2.name) AS n FROM t1 JOIN t2 ON t1.k = t2.k "
        "WHERE {bump}(t1.v) > 0",
        (TWICE, TAG, BUMP),
        tables=("t1", "t2"),
    ),
    UdfQuery(
        "on_error_null_row",
        "SELECT k, v, {inv}(v) AS q, {loud}(g) AS l FROM t1",
        (INV, LOUD),
        on_error="null",
    ),
    UdfQuery(
        "on_error_null_vectorized",
        "SELECT k, {inv_arrow}(v) AS q, {inv_pandas}(k) AS p FROM t1",
        (INV_ARROW, INV_PANDAS),
        on_error="null",
    ),
    UdfQuery(
        "on_error_null_grouped",
        "SELECT {inv}(v) AS q, count(*) AS n, sum({inv_arrow}(k)) AS s FROM t1 GROUP BY 1",
        (INV, INV_ARROW),
        on_error="null",
    ),
]

# DuckDB's spelling of a table function (rows as a list of structs) and of an aggregate's input
# (the group's argument rows without NULLs, in value order).
ROWS_OF_CHARS = "(SELECT unnest({chars}(t1.g)) AS item) AS w"
V = "CAST(v AS BIGINT)"
SPREAD_OF_V = f"{{spread}}(list({V} ORDER BY {V}) FILTER (WHERE v IS NOT NULL))"

TABLES_AND_AGGREGATES = [
    UdfQuery(
        "table_function_lateral",
        "SELECT t1.k, w.c, w.i FROM t1, LATERAL {chars}(t1.g) AS w",
        (CHARS,),
        reference=f"SELECT t1.k, w.item.c AS c, w.item.i AS i FROM t1, LATERAL {ROWS_OF_CHARS}",
    ),
    UdfQuery(
        "table_function_left_join",
        "SELECT t1.k, t1.v, w.c FROM t1 LEFT JOIN LATERAL {chars}(t1.g) AS w ON true",
        (CHARS,),
        reference="SELECT t1.k, t1.v, w.item.c AS c "
        f"FROM t1 LEFT JOIN LATERAL {ROWS_OF_CHARS} ON true",
    ),
    UdfQuery(
        "table_function_grouped",
        "SELECT w.c, count(*) AS n, sum(w.i) AS s FROM t1, LATERAL {chars}(t1.g) AS w GROUP BY w.c",
        (CHARS,),
        reference="SELECT w.item.c AS c, count(*) AS n, sum(w.item.i) AS s "
        f"FROM t1, LATERAL {ROWS_OF_CHARS} GROUP BY w.item.c",
    ),
    UdfQuery(
        "aggregate_grouped",
        "SELECT g, {spread}(v) AS s, count(*) AS n FROM t1 GROUP BY g",
        (SPREAD,),
        reference=f"SELECT g, {SPREAD_OF_V} AS s, count(*) AS n FROM t1 GROUP BY g",
    ),
    UdfQuery(
        "aggregate_global",
        "SELECT {spread}(v) AS s, count(*) AS n FROM t1",
        (SPREAD,),
        reference=f"SELECT {SPREAD_OF_V} AS s, count(*) AS n FROM t1",
    ),
    UdfQuery(
        "aggregate_two_arguments_and_filter",
        "SELECT k, {weighed}(v, d) AS w, {spread}(v) FILTER (WHERE b) AS f FROM t1 GROUP BY k",
        (WEIGHED, SPREAD),
        approx=True,
        reference="SELECT k, {weighed}(list({{'a0': CAST(v AS BIGINT), 'a1': d}} ORDER BY v, d) "
        "FILTER (WHERE v IS NOT NULL AND d IS NOT NULL)) AS w, "
        f"{{spread}}(list({V} ORDER BY {V}) FILTER (WHERE v IS NOT NULL AND b)) AS f "
        "FROM t1 GROUP BY k",
    ),
    UdfQuery(
        "aggregate_with_retract",
        "SELECT g, {squares}(v) AS q, {squares}(k) FILTER (WHERE b) AS f, count(*) AS n "
        "FROM t1 GROUP BY g",
        (SQUARES,),
        reference=f"SELECT g, {{squares}}(list({V} ORDER BY {V}) FILTER (WHERE v IS NOT NULL)) AS q, "
        "{squares}(list(CAST(k AS BIGINT) ORDER BY k) FILTER (WHERE k IS NOT NULL AND b)) AS f, "
        "count(*) AS n FROM t1 GROUP BY g",
    ),
    UdfQuery(
        "aggregate_with_retract_global",
        "SELECT {squares}(v) AS q FROM t1",
        (SQUARES,),
        reference=f"SELECT {{squares}}(list({V} ORDER BY {V}) FILTER (WHERE v IS NOT NULL)) AS q "
        "FROM t1",
    ),
    UdfQuery(
        "aggregate_of_a_function",
        "SELECT g, {spread}({twice}(v)) AS s FROM t1 GROUP BY g",
        (SPREAD, TWICE),
        reference="SELECT g, {spread}(list({twice}(v) ORDER BY {twice}(v)) "
        "FILTER (WHERE v IS NOT NULL)) AS s FROM t1 GROUP BY g",
    ),
]
QUERIES += TABLES_AND_AGGREGATES


def _session(data, tables, udfs, on_error) -> UdfSession:
    session = UdfSession(tables)
    for udf in udfs:
        session.create_function(udf, on_error, data.draw(BATCH_SIZES, label=f"{udf.name} batch"))
    return session


@pytest.mark.parametrize("query", QUERIES, ids=[q.name for q in QUERIES])
@PROFILE
@given(data=st.data())
def test_view_equals_duckdb(query: UdfQuery, data):
    scenario = data.draw(scenarios(query.tables, max_statements=6), label="scenario")
    materialized = (
        data.draw(st.booleans(), label="materialized")
        if query.materialized is None
        else query.materialized
    )
    session = _session(data, query.tables, query.udfs, query.on_error)
    try:
        session.play(
            list(scenario.statements),
            scenario.view_at,
            lambda: session.create_view(
                "v",
                session.spell(query.sql, reference=False),
                materialized,
                query.approx,
                session.spell(query.reference or query.sql, reference=True),
            ),
        )
    finally:
        session.close()


# --- on_error = 'dead_letter' ---------------------------------------------------------------------


@dataclass(frozen=True)
class DeadLetterQuery:
    """A view calling ``udf`` (with ``on_error = 'dead_letter'``) on ``argument``, on the rows
    of t1 for which ``where`` holds (the rest never reach the call)."""

    name: str
    sql: str
    udf: Udf
    argument: str
    where: str = "true"


DEAD_LETTER_QUERIES = [
    DeadLetterQuery("select_row", "SELECT k, {inv}(v) AS q FROM t1", INV, "v"),
    DeadLetterQuery("where_arrow", "SELECT k, g FROM t1 WHERE {inv_arrow}(v) > 10", INV_ARROW, "v"),
    DeadLetterQuery("pandas", "SELECT g, {inv_pandas}(k) + 1 AS q FROM t1", INV_PANDAS, "k"),
    DeadLetterQuery(
        "after_where", "SELECT k, {loud}(g) AS l FROM t1 WHERE v > 0", LOUD, "g", "v > 0"
    ),
    DeadLetterQuery(
        "grouped",
        "SELECT {inv}(v) % 3 AS r, count(*) AS n, sum(k) AS s FROM t1 GROUP BY 1",
        INV,
        "v",
    ),
]


class Letters:
    """What the dead-letter table of a view must hold, from the reference's rows of t1."""

    def __init__(self, session: UdfSession, query: DeadLetterQuery) -> None:
        self.session = session
        self.query = query
        self.table = f"bad_{query.udf.name}"
        self.first_ticks: dict[tuple, list[int]] = {}  # row of t1 -> the ticks it arrived in
        self.view_tick: int | None = None

    def arrived(self) -> None:
        """Note the ticks the rows of t1 arrived in (a new copy: now), after a tick."""
        tick = self.session.db.ticks
        now = Counter(as_rows(self.session.reference.rows("t1")))
        for row in set(now) | set(self.first_ticks):
            ticks = self.first_ticks.setdefault(row, [])
            del ticks[now[row] :]  # a row's copies all go together (DELETE/UPDATE ... WHERE)
            ticks += [tick] * (now[row] - len(ticks))

    def view_created(self) -> None:
        self.view_tick = self.session.db.ticks

    def check(self, when: str) -> None:
        actual = self.session.db.execute(
            f"SELECT view, function, arguments, error, tick FROM {self.table}"
        ).to_pylist()
        failing = self._failing()
        expected = Counter(key for _, key in failing)
        got = Counter(tuple(r.values())[:4] for r in actual)
        what = f"dead letters {when}"
        assert got == expected, (
            f"{what}: got {sorted(got.items())}, expected {sorted(expected.items())}"
        )
        for key in expected:
            rows = {row for row, row_key in failing if row_key == key}
            first = sorted(
                max(tick, self.view_tick or 0) for row in rows for tick in self.first_ticks[row]
            )
            ticks = sorted(r["tick"] for r in actual if tuple(r.values())[:4] == key)
            # Each letter is at least as late as its row's first failure (exactly that when a
            # delete takes its own row's letter: see the xfail test in tests/engine), none later
            # than now.
            assert all(t >= f for t, f in zip(ticks, first)), f"{what}: {key} {ticks} < {first}"
            assert ticks[-1] <= self.session.db.ticks, f"{what}: {key} {ticks} in the future"

    def _failing(self) -> list[tuple[tuple, tuple]]:
        """The rows of t1 the view's function fails on (with repeats), each with its letter's
        (view, function, arguments, error)."""
        if self.view_tick is None:
            return []
        name = self.session.names[self.query.udf.name]
        argument = self.query.argument
        rows = as_rows(
            self.session.reference.connection.sql(
                f"SELECT *, {argument} AS argument, {name}_error({argument}) AS error FROM t1 "
                f"WHERE ({self.query.where}) AND {name}_fails({argument})"
            ).to_arrow_table()
        )
        return [
            (row[:-2], ("v", self.query.udf.name, json.dumps([row[-2]]), row[-1])) for row in rows
        ]


@pytest.mark.parametrize("query", DEAD_LETTER_QUERIES, ids=[q.name for q in DEAD_LETTER_QUERIES])
@PROFILE
@given(data=st.data())
def test_dead_letters_follow_their_rows(query: DeadLetterQuery, data):
    scenario = data.draw(scenarios(("t1",), max_statements=6), label="scenario")
    session = _session(data, ("t1",), (query.udf,), "dead_letter")
    letters = Letters(session, query)
    name = session.names[query.udf.name]
    argument = query.argument

    def create_view():
        reference = session.spell(query.sql, reference=True).replace(
            "FROM t1", f"FROM (SELECT * FROM t1 WHERE NOT {name}_fails({argument})) AS t1", 1
        )
        session.create_view("v", session.spell(query.sql, False), True, False, reference)
        session.views[-1].lowered = []  # in batch a failing row fails the query (no letters)
        letters.view_created()

    try:
        for position, statement in enumerate([*scenario.statements, "DELETE FROM t1"]):
            if position == scenario.view_at:
                create_view()
                session.check(f"after creating the view at tick {position}")
                letters.check(f"after creating the view at tick {position}")
            session.both(statement)
            letters.arrived()
            session.check(f"after tick {position + 1}: {statement}")
            letters.check(f"after tick {position + 1}: {statement}")
        assert session.db.execute(f"SELECT * FROM {letters.table}").num_rows == 0
    finally:
        session.close()


# --- on_error = 'fail' ---------------------------------------------------------------------------


@pytest.mark.parametrize("udf", [INV, INV_ARROW, INV_PANDAS], ids=lambda u: u.name)
@PROFILE
@given(data=st.data())
def test_failing_tick_fails_when_duckdb_does(udf: Udf, data):
    """A tick fails exactly when DuckDB's query over the changed table raises; it changes
    nothing, and the view goes on from there."""
    statements = data.draw(scenarios(("t1",), max_statements=6), label="scenario").statements
    session = _session(data, ("t1",), (udf,), "fail")
    sql = "SELECT k, {" + udf.name + "}(v) + 1 AS q FROM t1 WHERE k > 0"
    try:
        session.create_view("v", session.spell(sql, False), True, False, session.spell(sql, True))
        for position, statement in enumerate(statements):
            reference = session.reference.connection
            reference.execute("BEGIN")
            reference.execute(statement)
            try:
                reference.sql("SELECT * FROM v").fetchall()
            except Exception:  # noqa: BLE001 (the function raised in DuckDB: tidal must refuse)
                reference.execute("ROLLBACK")
                before = session.contents()
                with pytest.raises(FunctionFailed, match=f"function {udf.name} failed on \\(0\\)"):
                    session.db.execute(statement)
                after = session.contents()
                for name, rows in before.items():
                    assert_same_rows(after[name], rows, False, f"{name} after {statement}")
            else:
                reference.execute("COMMIT")
                session.db.execute(statement)
            session.check(f"after statement {position + 1}: {statement}")
    finally:
        session.close()
