"""Every operator's state survives a checkpoint exactly: recovered, a view goes on as if nothing
happened.

Each test runs changes tick by tick (inserts, updates, deletes, late rows, the clock moving) over
views of every operator kind, and at a drawn tick takes a checkpoint as the durability layer
does (checkpoint_helpers.py): every state snapshotted, pickled with Arrow as IPC, a new database
built from the DDL over empty relations and the states restored into it. After every later tick
the recovered database's changes and rows equal the uninterrupted run's, its views equal
DuckDB's answer (the differential suites' references), and the snapshot taken at the crash is
unchanged by the ticks after it.
"""

from __future__ import annotations

import datetime
import os
from unittest import mock

import pyarrow as pa
import pytest
from checkpoint_helpers import Journaled, Twin, through_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_top_rows import FIRST, FIRST_TWO

from tests.differential import event_time, queries, test_event_time, test_recursive
from tests.differential.event_time import Batch, Run, Scenario, View, Window
from tests.differential.queries import Query, q
from tests.differential.queries_from import FROM_FUNCTIONS, LATERAL_SUBQUERIES
from tests.differential.reference import Reference, assert_same_rows
from tests.differential.schema import TABLES, scenarios
from tests.differential.test_asof_joins import ASOF_JOINS
from tests.differential.test_distinct_on import DISTINCT_ON
from tests.differential.test_grouping import GROUPING
from tidal.engine import Database
from tidal.engine.dataflow import Dataflow
from tidal.engine.operators.emit import EmitOperator
from tidal.engine.operators.session_window import SessionOperator
from tidal.engine.watermarks import NOW
from tidal.sql.parser import parse_statement

# A few examples per test keep the file near a minute and a half; TIDAL_MAX_EXAMPLES=200 (drawn
# anew each run) for a long search.
_MANY = os.environ.get("TIDAL_MAX_EXAMPLES")
EXAMPLES = settings(
    max_examples=int(_MANY or 3),
    deadline=None,
    derandomize=not _MANY,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The differential corpus, a database per list: every view of a list lives through one crash.
CORPUS = {
    "scalars": queries.SCALARS,
    "aggregates": queries.AGGREGATES,
    "joins": queries.JOINS,
    "set_operations": queries.SET_OPERATIONS,
    "subqueries": queries.SUBQUERIES,
    "ordered": queries.ORDERED,
    "views_on_views": queries.VIEWS_ON_VIEWS,
    "special_floats": queries.SPECIAL_FLOATS,
    "statistical": queries.STATISTICAL,
    "from_functions": FROM_FUNCTIONS,
    "lateral": LATERAL_SUBQUERIES,
    "asof_joins": ASOF_JOINS,
    "distinct_on": DISTINCT_ON,
    "grouping_sets": GROUPING,  # with GROUPED_SUBQUERIES
}


def test_the_corpus_lists_every_query():
    listed = {q.name for group in CORPUS.values() for q in group}
    assert listed >= {q.name for q in queries.QUERIES + FROM_FUNCTIONS + LATERAL_SUBQUERIES}


class _Corpus:
    """The views of one list over t1, t2, t3, in tidal (``twin``) and in DuckDB."""

    def __init__(self, group: list[Query], tables: dict[str, str] = TABLES) -> None:
        self.group = group
        self.tables = sorted({t for q in group for t in q.tables})
        self.special = any(q.special_floats for q in group)
        self.twin = Twin(Journaled())
        self.reference = Reference()
        for table in self.tables:
            self.both(tables[table])

    def both(self, sql: str) -> None:
        self.twin.execute(sql)
        self.reference.execute(sql)

    def create_views(self) -> None:
        for query in self.group:
            for helper in query.helpers:
                kind = "MATERIALIZED VIEW" if helper.materialized else "VIEW"
                self.twin.execute(f"CREATE {kind} {helper.name} AS {helper.sql}")
                self.reference.create_view(helper.name, helper.sql)
            kind = "MATERIALIZED VIEW" if query.materialized else "VIEW"
            self.twin.execute(f"CREATE {kind} v_{query.name} AS {query.sql}")
            self.reference.create_view(f"v_{query.name}", query.duckdb or query.sql)

    def check(self, when: str) -> None:
        self.twin.compare(when)
        db = self.twin.recovered
        if db is None:
            return
        for query in self.group:
            name = f"v_{query.name}"
            expected, _ = self.reference.query(f"SELECT * FROM {name}")
            actual = db.read(name) if query.materialized else db.execute(f"SELECT * FROM {name}")
            assert_same_rows(actual, expected, query.approx, f"{name} {when}")

    def close(self) -> None:
        self.twin.close()
        self.reference.close()


@pytest.mark.parametrize("group", sorted(CORPUS))
@EXAMPLES
@given(data=st.data())
def test_corpus_views_go_on_after_recovery(group, data):
    corpus = _Corpus(CORPUS[group])
    scenario = data.draw(scenarios(tuple(corpus.tables), corpus.special), label="scenario")
    statements = scenario.statements
    _run(corpus, statements, scenario.view_at, data)


def _run(corpus: _Corpus, statements: list[str], view_at: int, data) -> None:
    crash = data.draw(st.integers(view_at, len(statements)), label="crash before")
    try:
        for position in range(len(statements) + 1):
            if position == view_at:
                corpus.create_views()
            if position == crash:
                corpus.twin.crash()
                corpus.check("right after recovery")
            if position < len(statements):
                corpus.both(statements[position])
                corpus.check(f"after {statements[position]}")
        corpus.twin.finish()
    finally:
        corpus.close()


RECURSIVE = [q(name, sql, tables="edges") for name, sql in test_recursive.VIEWS.items()]


@EXAMPLES
@given(data=st.data())
def test_recursive_views_go_on_after_recovery(data):
    statements, view_at = data.draw(test_recursive.scenarios(), label="scenario")
    _run(_Corpus(RECURSIVE, {"edges": test_recursive.EDGES}), statements, view_at, data)


# --- event time: windows, sessions, interval joins, late rows, EMIT ON WINDOW CLOSE -----------


class _Recovered(Run):
    """An event-time run (tidal against its oracle) whose database crashes before batch
    ``crash`` and is recovered: from then on the recovered one is checked against the oracle
    and against the database that went on without a crash."""

    def __init__(self, scenario: Scenario, views: list[View], crash: int) -> None:
        with mock.patch.object(event_time, "Database", Journaled):
            super().__init__(scenario, views)
        self.twin = Twin(self.db)
        self.crash = crash

    def create(self, view: View) -> None:
        if self.twin.recovered is not None:
            self.twin.straight.execute(f"CREATE MATERIALIZED VIEW {view.name} AS {view.sql}")
        super().create(view)

    def tick(self, batch: Batch) -> None:
        if self.ticks == self.crash:
            self.db = self.twin.crash()
        if self.twin.recovered is not None:
            self.twin.straight.execute(batch.sql())
        super().tick(batch)
        self.twin.compare(f"after tick {self.ticks}: {batch.sql()}")

    def close(self) -> None:
        self.twin.straight.close()
        super().close()


def _event_time(data, tables: tuple[str, ...], views: list[View], **kwargs) -> None:
    scenario = data.draw(event_time.scenarios(tables, len(views), **kwargs), label="scenario")
    crash = data.draw(st.integers(0, len(scenario.batches) - 1), label="crash before batch")
    run = _Recovered(scenario, views, crash)
    run.run(check_ad_hoc=False)
    run.twin.finish()


WINDOWS = {
    "tumble": event_time.tumbles(),
    "hop": event_time.hops(),
    "cumulate": event_time.cumulates(),
}


@pytest.mark.parametrize("kind", sorted(WINDOWS))
@EXAMPLES
@given(data=st.data())
def test_windows_go_on_after_recovery(kind, data):
    window = data.draw(WINDOWS[kind], label="window")
    views = test_event_time.window_views(window) + test_event_time.topn_views(window)
    _event_time(data, ("a",), views, late_tables=True)


@EXAMPLES
@given(data=st.data())
def test_sessions_go_on_after_recovery(data):
    window = data.draw(event_time.sessions(), label="window")
    _event_time(data, ("a",), test_event_time.session_views(window), late_tables=True)


@EXAMPLES
@given(data=st.data())
def test_window_and_interval_joins_go_on_after_recovery(data):
    left = data.draw(event_time.windows(), label="window")
    right = Window(left.kind, left.size, left.slide, left.offset)
    lower, upper = data.draw(st.integers(0, 8), label="lower"), data.draw(st.integers(0, 8))
    views = test_event_time.window_join_views(left, right) + (
        test_event_time.interval_join_views(lower, upper, 0)
    )
    _event_time(data, ("a", "b"), views)


@pytest.mark.parametrize("crash", [9, 37])
def test_expiring_state_goes_on_after_recovery(crash):
    """The long advancing scenario of the bounded-state test: windows close, joined rows
    expire, sessions finish, before and after the crash."""
    cases = test_event_time._bounded_cases()
    views = [view for view, _ in cases.values()]
    scenario = test_event_time._advancing(seed=11, ticks=24, views=len(views))
    run = _Recovered(scenario, views, crash)
    run.run(check_ad_hoc=False)
    run.twin.finish()


# --- the clock and insert-only inputs: temporal filters, temporal joins, first rows, VALUES ----

START = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)

CLOCKED = [
    "CREATE TABLE events (k INTEGER, ts TIMESTAMP)",
    "CREATE TABLE orders (id INTEGER, cust INTEGER, qty INTEGER) APPEND ONLY",
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR, level INTEGER)",
    (
        "CREATE TABLE t (k INTEGER, v BIGINT, w VARCHAR, ts TIMESTAMP, "
        "WATERMARK FOR ts AS ts - INTERVAL '1' DAY)"
    ),
    "CREATE TABLE u (id INTEGER, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' DAY)",
    "CREATE TABLE notes (k INTEGER, s VARCHAR, d DOUBLE) APPEND ONLY",
    "INSERT INTO u VALUES (1, '2024-01-01'), (2, '2024-01-01'), (2, '2024-01-01')",
    "INSERT INTO customers VALUES (1, 'ann', 1), (2, 'bob', 2)",
    (
        "CREATE MATERIALIZED VIEW recent AS SELECT k, ts FROM events "
        "WHERE ts > now() - INTERVAL '10' SECOND"
    ),
    (
        "CREATE MATERIALIZED VIEW settled AS SELECT k, count(*) AS n FROM events "
        "WHERE ts <= now() - INTERVAL '5' SECOND AND k > 0 GROUP BY k"
    ),
    (
        "CREATE MATERIALIZED VIEW enriched AS SELECT o.id, o.cust, c.name, c.level FROM orders o "
        "LEFT JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() AS c ON o.cust = c.id"
    ),
    (
        "CREATE MATERIALIZED VIEW per_level AS SELECT c.level, sum(o.qty) AS qty FROM orders o "
        "JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() AS c ON o.cust = c.id GROUP BY c.level"
    ),
    (
        "CREATE MATERIALIZED VIEW labelled AS SELECT o.id, v.label FROM orders o "
        "JOIN (VALUES (1, 'one'), (2, 'two')) AS v(id, label) ON o.cust = v.id"
    ),
    # running extremes over insert-only input (strings kept as Python objects), and globally
    (
        "CREATE MATERIALIZED VIEW extremes AS SELECT k, max(s) AS hi, min(s) AS lo, min(d) AS d, "
        "count(DISTINCT s) AS n FROM notes GROUP BY k"
    ),
    "CREATE MATERIALIZED VIEW overall AS SELECT max(s) AS hi, count(*) AS n FROM notes",
    f"CREATE MATERIALIZED VIEW first_two AS {FIRST_TWO}",
    f"CREATE MATERIALIZED VIEW first AS {FIRST}",
]

_KEY = st.sampled_from(["NULL", "1", "2", "3"])
_D = ["NULL", "0.5", "-2.0", "CAST('NaN' AS DOUBLE)", "CAST('-Infinity' AS DOUBLE)"]
_STEPS = st.one_of(
    st.integers(0, 8).map(lambda seconds: ("clock", seconds)),
    st.lists(st.tuples(_KEY, st.integers(-15, 3)), min_size=1, max_size=4).map(
        lambda rows: ("events", rows)
    ),
    st.lists(st.tuples(st.integers(1, 99), _KEY, st.integers(1, 5)), min_size=1, max_size=3).map(
        lambda rows: (
            "INSERT INTO orders VALUES " + ", ".join(f"({a}, {b}, {c})" for a, b, c in rows)
        )
    ),
    st.tuples(st.sampled_from("xyz"), st.integers(1, 3)).map(
        lambda u: f"UPDATE customers SET name = '{u[0]}', level = level + 1 WHERE id = {u[1]}"
    ),
    st.integers(1, 3).map(lambda i: f"DELETE FROM customers WHERE id = {i}"),
    st.lists(
        st.tuples(_KEY, st.sampled_from(["NULL", "'a'", "'b'", "''"]), st.sampled_from(_D)),
        min_size=1,
        max_size=3,
    ).map(
        lambda rows: "INSERT INTO notes VALUES " + ", ".join(f"({a}, {b}, {c})" for a, b, c in rows)
    ),
    st.lists(
        st.tuples(_KEY, st.sampled_from(["NULL", "1", "5"]), st.sampled_from(["NULL", "'a'"])),
        min_size=1,
        max_size=4,
    ).map(
        lambda rows: (
            "INSERT INTO t VALUES "
            + ", ".join(f"({k}, {v}, {w}, '2024-01-02')" for k, v, w in rows)
        )
    ),
)


class _Clock:
    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now


@settings(EXAMPLES, max_examples=int(_MANY or 20))
@given(steps=st.lists(_STEPS, min_size=1, max_size=10), crash=st.integers(0, 10))
def test_clock_and_insert_only_views_go_on_after_recovery(steps, crash):
    clock = _Clock()
    twin = Twin(Journaled(clock=clock), clock=clock)
    try:
        for statement in CLOCKED:
            twin.execute(statement)
        for position, step in enumerate(steps):
            if position == crash:
                twin.crash()
                twin.compare("right after recovery")
            if isinstance(step, str):
                twin.execute(step)
            elif step[0] == "clock":
                clock.now += step[1]
                twin.tick()
            else:
                now = datetime.datetime.fromtimestamp(clock.now, datetime.UTC)
                values = ", ".join(
                    f"({k}, TIMESTAMP '{(now + datetime.timedelta(seconds=s)):%Y-%m-%d %H:%M:%S}')"
                    for k, s in step[1]
                )
                twin.execute(f"INSERT INTO events VALUES {values}")
            twin.compare(f"after step {position}: {step}")
        twin.finish()
    finally:
        twin.close()


# --- state that decides future work, not results: restored as it was -------------------------


def test_a_temporal_filter_keeps_rows_that_arrived_without_the_clock():
    """Rows a tick brings without the clock in its watermarks wait in ``arrived`` for the next
    tick's: a snapshot between the two left them out, so after recovery they never appeared."""
    db = Database()
    db.execute("CREATE TABLE events (k INTEGER, ts TIMESTAMP)")
    plan = db.compiler.query(
        parse_statement("SELECT k FROM events WHERE ts > now() - INTERVAL '1' HOUR"), ad_hoc=False
    ).plan
    original = Dataflow(plan, db.backend)
    rows = db.relations.changes_of("events")
    original.step({"events": rows}, {NOW: 0})
    arrived = _changes(rows.schema, [(1, 10_000_000)])
    assert original.step({"events": arrived}, {}).num_rows == 0  # waits for the clock
    restored = Dataflow(plan, db.backend)
    restored.step({"events": rows}, {NOW: 0})
    restored.restore(through_files(original.snapshot()))
    clock = {NOW: 20_000_000}
    assert restored.step({}, clock).to_pylist() == original.step({}, clock).to_pylist()
    assert len(restored.step({}, {NOW: 30_000_000}).to_pylist()) == 0


def test_emit_and_session_operators_restore_their_bookkeeping():
    db = Database()
    db.execute("CREATE TABLE a (k BIGINT, v BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts)")
    db.execute(
        "CREATE MATERIALIZED VIEW rows AS SELECT * FROM TUMBLE(a, ts, INTERVAL '10' SECOND) "
        "EMIT ON WINDOW CLOSE"
    )
    db.execute(
        "CREATE MATERIALIZED VIEW sessions AS SELECT k, window_end, count(*) AS n "
        "FROM SESSION(a PARTITION BY k, ts, INTERVAL '5' SECOND) GROUP BY k, window_end"
    )
    for second in (1, 2, 3, 12, 30):
        db.execute(f"INSERT INTO a VALUES (1, {second}, TIMESTAMP '2024-01-01 00:00:{second:02d}')")
    for name, kind, fields in (
        ("rows", EmitOperator, ("consolidated_rows",)),
        ("sessions", SessionOperator, ("closed_below",)),
    ):
        original = db.relations.views[name].dataflow
        restored = Dataflow(original.plan, db.backend)
        restored.restore(through_files(original.snapshot()))
        pairs = [
            (a, b) for a, b in zip(original.operators, restored.operators) if isinstance(a, kind)
        ]
        assert pairs, name
        for a, b in pairs:
            for field in fields:
                assert getattr(a, field) == getattr(b, field) and getattr(a, field), (name, field)


def _changes(schema, rows):
    columns = list(zip(*rows))
    return pa.table(
        [
            pa.array(columns[0], schema.field(0).type),
            pa.array(columns[1], pa.int64()).cast(schema.field(1).type),
            pa.array([1] * len(rows), pa.int64()),
        ],
        schema=schema,
    )
