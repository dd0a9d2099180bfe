"""Event-time scenarios and an independent oracle for them.

A scenario is a few tables declared ``WATERMARK FOR ts AS ts - INTERVAL 'd' SECOND`` and a list
of mini-batches (one INSERT each) whose timestamps drift forward, out of order within and beyond
the delay, with an occasional NULL. The oracle never asks tidal anything: it replays the
watermark rule itself (a row is late if its ts is NULL or below the relation's watermark as of
the start of the tick; then W = max(W, newest on-time ts - delay)), keeps the on-time rows in a
plain DuckDB database, and runs a hand-written DuckDB formulation of each view over them: window
assignment by epoch arithmetic (or ``time_bucket``) and ``range()``, sessions as gaps and
islands with ``lag()`` and a running ``sum()``. An EMIT ON WINDOW CLOSE view is the same batch
result restricted to the rows already final under the simulated watermarks.

Times are whole seconds after 2024-01-01 00:00:00 (``BASE``); durations are seconds too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
from hypothesis import strategies as st

from tidal.engine import Database

from .reference import assert_same_rows

BASE = dt.datetime(2024, 1, 1)
US = 1_000_000  # microseconds per second

# Column domains: a few keys and values (NULL included) so that windows, sessions and joins
# collect several rows, and the same row can arrive twice.
KEYS = [1, 2, 3, None]
VALUES = [None, -4, 0, 1, 2, 7, 100]

# Both tables have a key, a value and the event time; ``b`` names its value ``w``. So do their
# late tables (plain tables, without a watermark: the only ones with NULL times).
VALUE_COLUMN = {"a": "v", "b": "w", "a_late": "v", "b_late": "w"}


def timestamp(seconds: int | None) -> str:
    if seconds is None:
        return "NULL"
    return f"TIMESTAMP '{BASE + dt.timedelta(seconds=seconds)}'"


def as_datetime(seconds: int | None) -> dt.datetime | None:
    return None if seconds is None else BASE + dt.timedelta(seconds=seconds)


def interval(seconds: int) -> str:
    return f"INTERVAL '{seconds}' SECOND"


def _sql(value) -> str:
    return "NULL" if value is None else str(value)


# --- scenarios ------------------------------------------------------------------------------


Row = tuple  # (k, value, ts seconds or None)


@dataclass(frozen=True)
class Batch:
    """One INSERT (one tick) into ``table``."""

    table: str
    rows: tuple[Row, ...]

    def sql(self) -> str:
        values = ", ".join(f"({_sql(k)}, {_sql(v)}, {timestamp(t)})" for k, v, t in self.rows)
        return f"INSERT INTO {self.table} VALUES {values}"


@dataclass(frozen=True)
class Scenario:
    delays: dict[str, int]  # per table, seconds
    late_tables: dict[str, str | None]
    batches: tuple[Batch, ...]
    created_at: tuple[int, ...]  # per view: created before batches[i] (len: after all)


@st.composite
def rows_near(draw, nominal: int) -> Row:
    """A row whose time is ``nominal`` give or take: up to 15 s behind, 6 s ahead, or (one in
    six) NULL."""
    k = draw(st.sampled_from(KEYS))
    value = draw(st.sampled_from(VALUES))
    jitter = draw(st.integers(-15, 6))
    null = draw(st.integers(0, 5)) == 5
    return (k, value, None if null else max(0, nominal + jitter))


@st.composite
def scenarios(
    draw,
    tables: tuple[str, ...],
    views: int,
    max_batches: int = 8,
    max_rows: int = 5,
    late_tables: bool | None = None,
) -> Scenario:
    """Batches whose times advance by a drawn pace (0-12 s a batch) around 2024-01-01 00:00;
    each table has a late table ``<table>_late`` if ``late_tables`` (drawn if None)."""
    delays = {t: draw(st.integers(0, 10), label=f"delay of {t}") for t in tables}
    late = {
        t: f"{t}_late" if (draw(st.booleans()) if late_tables is None else late_tables) else None
        for t in tables
    }
    pace = draw(st.integers(0, 12), label="pace")
    count = draw(st.integers(1, max_batches), label="batches")
    batches = []
    for position in range(count):
        table = draw(st.sampled_from(tables))
        rows = draw(st.lists(rows_near(position * pace + 5), min_size=1, max_size=max_rows))
        if len(rows) > 1 and draw(st.booleans()):
            rows.append(rows[0])  # the same event twice in one batch
        batches.append(Batch(table, tuple(rows)))
    created_at = tuple(draw(st.integers(0, count), label="view created at") for _ in range(views))
    return Scenario(delays, late, tuple(batches), created_at)


# --- windows --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """A window table function over one table, in seconds, spelled RisingWave's or Flink's way."""

    kind: str  # tumble, hop, cumulate, session
    size: int  # the size, or a session's gap
    slide: int = 0  # hop's slide, cumulate's step
    offset: int | None = None
    partition: tuple[str, ...] = ()
    flink: bool = False

    def tidal(self, table: str, alias: str | None = None) -> str:
        """The FROM item for tidal."""
        durations = {
            "tumble": [self.size],
            "hop": [self.slide, self.size],
            "cumulate": [self.slide, self.size],
            "session": [self.size],
        }[self.kind]
        if self.offset is not None:
            durations.append(self.offset)
        args = ", ".join(interval(d) for d in durations)
        name = self.kind.upper()
        part = ""
        if len(self.partition) == 1:
            part = f" PARTITION BY {self.partition[0]}"
        elif self.partition:
            part = f" PARTITION BY ({', '.join(self.partition)})"
        if self.flink:
            call = f"TABLE({name}(TABLE {table}{part}, DESCRIPTOR(ts), {args}))"
        else:
            call = f"{name}({table}{part}, ts, {args})"
        return f"{call} AS {alias}" if alias else call

    def oracle(self, table: str) -> str:
        """A DuckDB subquery: the table's columns, then window_start and window_end."""
        columns = f"k, {VALUE_COLUMN[table]}, ts"
        t = "epoch_us(ts)"
        offset = (self.offset or 0) * US
        if self.kind == "tumble":  # time_bucket from an origin shifted by the offset
            origin = f"TIMESTAMP '1970-01-01' + to_microseconds({offset})"
            bucket = f"time_bucket(to_microseconds({self.size * US}), ts, {origin})"
            return (
                f"SELECT {columns}, {bucket} AS window_start, "
                f"{bucket} + to_microseconds({self.size * US}) AS window_end FROM {table}"
            )
        if self.kind == "hop":  # the latest start at or before ts, and the ones before it
            slide, size = self.slide * US, self.size * US
            latest = f"{t} - ((({t} - {offset}) % {slide}) + {slide}) % {slide}"
            count = -(-size // slide)
            return (
                f"SELECT {columns}, make_timestamp(s) AS window_start, "
                f"make_timestamp(s + {size}) AS window_end FROM ("
                f"SELECT {columns}, {latest} - i * {slide} AS s "
                f"FROM {table}, range(0, {count}) AS r(i)) AS h WHERE s + {size} > epoch_us(ts)"
            )
        if self.kind == "cumulate":  # the size-aligned start, ends growing by steps
            step, size = self.slide * US, self.size * US
            start = f"{t} - ((({t} - {offset}) % {size}) + {size}) % {size}"
            return (
                f"SELECT {columns}, make_timestamp(s) AS window_start, "
                f"make_timestamp(s + j * {step}) AS window_end FROM ("
                f"SELECT {columns}, {start} AS s FROM {table}) AS c, "
                f"range(1, {size // step + 1}) AS r(j) WHERE s + j * {step} > epoch_us(ts)"
            )
        # session: gaps and islands per partition. Rows with equal times are peers: the running
        # sum (RANGE frame) counts the one start among them for all of them. Rows with a NULL time
        # (in a late table) share a session with NULL bounds.
        gap = self.size * US
        part = f"PARTITION BY {', '.join(self.partition)} " if self.partition else ""
        previous = f"lag({t}) OVER ({part}ORDER BY ts)"
        island_part = ", ".join((*self.partition, "island"))
        return (
            f"SELECT {columns}, CASE WHEN ts IS NOT NULL THEN "
            f"min(ts) OVER (PARTITION BY {island_part}) END AS window_start, "
            f"CASE WHEN ts IS NOT NULL THEN make_timestamp("
            f"max({t}) OVER (PARTITION BY {island_part}) + {gap}) END AS window_end "
            f"FROM (SELECT *, sum(starts) OVER ({part}ORDER BY ts) AS island FROM ("
            f"SELECT {columns}, CASE WHEN {previous} IS NULL OR {t} - {previous} >= {gap} "
            f"THEN 1 ELSE 0 END AS starts FROM {table}) AS g) AS s"
        )


@st.composite
def _offsets(draw, size: int) -> int | None:
    """Mostly an offset that moves the windows (not a whole number of sizes, possibly more than
    one size), else none (windows aligned to the epoch)."""
    if draw(st.integers(0, 2)) == 0:
        return None
    if size == 1:
        return draw(st.integers(0, 2))  # moves nothing, but spelled
    return draw(st.integers(1, 2 * size - 1).filter(lambda offset: offset % size))


@st.composite
def tumbles(draw) -> Window:
    size = draw(st.integers(1, 15))
    return Window("tumble", size, size, draw(_offsets(size)), flink=draw(st.booleans()))


@st.composite
def hops(draw) -> Window:
    """Sizes a multiple of the slide, and not (larger or smaller: windows with gaps)."""
    slide = draw(st.integers(1, 6))
    size = draw(st.one_of(st.integers(1, 4).map(lambda m: m * slide), st.integers(1, 20)))
    return Window("hop", size, slide, draw(_offsets(size)), flink=draw(st.booleans()))


@st.composite
def cumulates(draw) -> Window:
    step = draw(st.integers(1, 5))
    size = step * draw(st.integers(1, 4))
    return Window("cumulate", size, step, draw(_offsets(size)), flink=draw(st.booleans()))


@st.composite
def sessions(draw, table: str = "a") -> Window:
    gap = draw(st.integers(1, 10))
    partition = draw(st.sampled_from([(), ("k",), ("k", VALUE_COLUMN[table])]))
    return Window("session", gap, partition=partition, flink=draw(st.booleans()))


def windows() -> st.SearchStrategy[Window]:
    return st.one_of(tumbles(), hops(), cumulates())


# --- views ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Close:
    """When a row of an EMIT ON WINDOW CLOSE view is final: ``column <= min over terms of
    (W(table) + offset)`` (``<`` if ``strict``); nothing is final while a W is None."""

    column: str = "window_end"
    terms: tuple[tuple[str, int], ...] = (("a", 0),)
    strict: bool = False

    def predicate(self, watermarks: dict[str, int | None]) -> str:
        values = [watermarks[t] for t, _ in self.terms]
        if any(v is None for v in values):
            return "false"
        bound = min(v + offset for v, (_, offset) in zip(values, self.terms))
        return f"{self.column} {'<' if self.strict else '<='} {timestamp(bound)}"


@dataclass(frozen=True)
class View:
    name: str
    query: str  # tidal's query, without the emit clause
    oracle: str  # a DuckDB batch formulation over the on-time rows
    close: Close | None = None  # EMIT ON WINDOW CLOSE, and when its rows are final
    approx: bool = False  # float columns compared within a tolerance

    @property
    def sql(self) -> str:
        return self.query + (" EMIT ON WINDOW CLOSE" if self.close else "")


def both_emits(name: str, query: str, oracle: str, close: Close, approx=False) -> list[View]:
    """The view emitting on update, and emitting on window close."""
    return [
        View(name, query, oracle, None, approx),
        View(name + "_eowc", query, oracle, close, approx),
    ]


# --- running a scenario ---------------------------------------------------------------------

_DDL = "CREATE TABLE {t} (k BIGINT, {value} BIGINT, ts TIMESTAMP{watermark}){options}"


@dataclass
class Simulated:
    """One table as the oracle sees it: the watermark rule replayed."""

    delay: int
    watermark: int | None = None
    on_time: list[Row] = field(default_factory=list)
    late: list[Row] = field(default_factory=list)

    def apply(self, rows: tuple[Row, ...]) -> list[Row]:
        """Split a tick's rows into late and on-time, advance W; the on-time rows."""
        w = self.watermark
        on_time = [r for r in rows if r[2] is not None and (w is None or r[2] >= w)]
        self.late += [r for r in rows if r[2] is None or (w is not None and r[2] < w)]
        self.on_time += on_time
        if on_time:
            newest = max(r[2] for r in on_time) - self.delay
            self.watermark = newest if w is None else max(w, newest)
        return on_time


def _table(rows: list[Row], table: str) -> pa.Table:
    return pa.table(
        {
            "k": pa.array([r[0] for r in rows], pa.int64()),
            VALUE_COLUMN[table]: pa.array([r[1] for r in rows], pa.int64()),
            "ts": pa.array([as_datetime(r[2]) for r in rows], pa.timestamp("us")),
        }
    )


class Run:
    """A tidal database and the oracle, fed the same scenario, compared after every step."""

    def __init__(self, scenario: Scenario, views: list[View]) -> None:
        assert len(views) == len(scenario.created_at)
        self.scenario = scenario
        self.views = views
        self.live: list[View] = []
        self.db = Database()
        self.oracle = duckdb.connect(config={"threads": 1})
        self.oracle.execute("SET integer_division = true")
        self.oracle.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")
        self.tables = {t: Simulated(d) for t, d in scenario.delays.items()}
        for table, delay in scenario.delays.items():
            late = scenario.late_tables[table]
            value = VALUE_COLUMN[table]
            watermark = f", WATERMARK FOR ts AS ts - {interval(delay)}"
            options = f" WITH (late_table = '{late}')" if late else ""
            self.db.execute(_DDL.format(t=table, value=value, watermark=watermark, options=options))
            self.oracle.execute(_DDL.format(t=table, value=value, watermark="", options=""))
            if late:
                self.oracle.execute(_DDL.format(t=late, value=value, watermark="", options=""))
        self.ticks = 0

    def run(self, check_ad_hoc: bool = True) -> None:
        try:
            batches = list(self.scenario.batches)
            for position in range(len(batches) + 1):
                for view, at in zip(self.views, self.scenario.created_at):
                    if at == position:
                        self.create(view)
                if position < len(batches):
                    self.tick(batches[position])
            if check_ad_hoc:  # the query run ad hoc, and through a plain view
                for view in self.views:
                    self.check_view(view, "ad hoc, at the end", ad_hoc=True)
                    self.db.execute(f"CREATE VIEW {view.name}_plain AS {view.sql}")
                    self.check_view(view, "as a plain view, at the end", plain=True)
        finally:
            self.close()

    def create(self, view: View) -> None:
        self.db.execute(f"CREATE MATERIALIZED VIEW {view.name} AS {view.sql}")
        self.live.append(view)
        self.check_view(view, f"created after {self.ticks} ticks (backfill)")

    def tick(self, batch: Batch) -> None:
        self.db.execute(batch.sql())
        self.ticks += 1
        table = self.tables[batch.table]
        late_before = len(table.late)
        on_time = table.apply(batch.rows)
        late_table = self.scenario.late_tables[batch.table]
        for name, rows in ((batch.table, on_time), (late_table, table.late[late_before:])):
            if rows and name:
                self.oracle.register("new_rows", _table(rows, batch.table))
                self.oracle.execute(f"INSERT INTO {name} SELECT * FROM new_rows")
                self.oracle.unregister("new_rows")
        self.check(f"after tick {self.ticks}: {batch.sql()}")

    @property
    def watermarks(self) -> dict[str, int | None]:
        return {t: s.watermark for t, s in self.tables.items()}

    def check(self, when: str) -> None:
        self.check_tables(when)
        for view in self.live:
            self.check_view(view, when)

    def check_tables(self, when: str) -> None:
        shown = {r["relation"]: r for r in self.db.execute("SHOW WATERMARKS").to_pylist()}
        assert set(shown) == set(self.tables), f"SHOW WATERMARKS {when}: relations {set(shown)}"
        for name, table in self.tables.items():
            expected = _table(table.on_time, name)
            assert_same_rows(self.db.read(name), expected, False, f"table {name} {when}")
            row, late = shown[name], table.late
            assert row["idle"] is False, f"SHOW WATERMARKS {when}: {name} is idle"
            assert row["watermark"] == as_datetime(table.watermark), (
                f"SHOW WATERMARKS {when}: {name}'s watermark is {row['watermark']}, "
                f"expected {as_datetime(table.watermark)}"
            )
            assert row["late_rows"] == len(late), (
                f"SHOW WATERMARKS {when}: {name} has {row['late_rows']} late rows, "
                f"expected {len(late)}"
            )
            late_table = self.scenario.late_tables[name]
            assert row["late_table"] == late_table, f"SHOW WATERMARKS {when}: late_table"
            if late_table:
                expected = _table(late, name)
                assert_same_rows(self.db.read(late_table), expected, False, f"{late_table} {when}")

    def expected(self, view: View) -> pa.Table:
        sql = view.oracle
        if view.close:
            sql = f"SELECT * FROM ({sql}) AS final WHERE {view.close.predicate(self.watermarks)}"
        return self.oracle.sql(sql).to_arrow_table()

    def check_view(self, view: View, when: str, ad_hoc: bool = False, plain: bool = False) -> None:
        what = f"view {view.name} {when}\n  tidal: {view.sql}\n  oracle: {view.oracle}"
        if view.close:
            what += f"\n  final when {view.close.predicate(self.watermarks)}"
        expected = self.expected(view)
        if ad_hoc:
            actual = self.db.execute(view.sql)
        elif plain:
            actual = self.db.execute(f"SELECT * FROM {view.name}_plain")
        else:
            actual = self.db.read(view.name)
        assert actual.column_names == expected.column_names, f"{what}: column names"
        assert actual.schema.types == expected.schema.types, f"{what}: column types"
        assert_same_rows(actual, expected, view.approx, what)

    def close(self) -> None:
        self.db.close()
        self.oracle.close()


__all__ = [
    "Batch",
    "Close",
    "Run",
    "Scenario",
    "View",
    "Window",
    "both_emits",
    "cumulates",
    "hops",
    "scenarios",
    "sessions",
    "timestamp",
    "tumbles",
    "windows",
]
