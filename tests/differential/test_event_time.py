"""Event time, maintained incrementally, equals an independent oracle after every tick.

Hypothesis draws tables with watermarks (delays of 0-10 s, a late table or not), mini-batches of
events around 2024-01-01 whose times drift forward out of order (within and beyond the delay,
NULL now and then), the window parameters, and when each view is created (before the data, or
midway: a backfill). After every tick the tables, their late rows, SHOW WATERMARKS and every
view are compared with ``event_time.Run``'s oracle: the watermark rule replayed in Python and a
hand-written DuckDB query over the on-time rows (restricted to the final rows for EMIT ON
WINDOW CLOSE). At the end each view's query also runs ad hoc and through a plain view. Last, a
long advancing scenario checks that windowed state stays bounded by what open windows need.
"""

from __future__ import annotations

import dataclasses
import random

from hypothesis import given
from hypothesis import strategies as st

from .event_time import (
    Batch,
    Close,
    Run,
    Scenario,
    View,
    Window,
    both_emits,
    cumulates,
    hops,
    scenarios,
    sessions,
    timestamp,
    tumbles,
    windows,
)
from .profiles import PROFILE

BOTH = Close(terms=(("a", 0), ("b", 0)))  # window_end final under both tables' watermarks


def _run(data, tables: tuple[str, ...], views: list[View], **kwargs) -> None:
    scenario = data.draw(scenarios(tables, len(views), **kwargs), label="scenario")
    Run(scenario, views).run()


def window_views(window: Window) -> list[View]:
    """Over table a: the windowed rows, aggregates per key and window, per window of a filtered
    input, and per window start; each emitting on update and on window close."""
    tvf, oracle = window.tidal("a"), f"({window.oracle('a')}) AS w"
    aggregates = (
        "count(*) AS n, count(v) AS nv, sum(v) AS s, min(v) AS lo, max(v) AS hi, avg(v) AS av"
    )
    per_key = (
        f"SELECT k, window_start, window_end, {aggregates} FROM {{}} "
        "GROUP BY k, window_start, window_end"
    )
    filtered = (
        "SELECT window_start, window_end, count(*) AS n, sum(v) AS s FROM {} "
        "WHERE v > 0 OR k = 2 GROUP BY window_start, window_end"
    )
    # Without window_end, EMIT ON WINDOW CLOSE goes by window_start: a future row (ts >= W) is
    # only in windows starting after W - size.
    by_start = "SELECT window_start, count(*) AS n, max(v) AS hi FROM {} GROUP BY window_start"
    close, start_close = Close(), Close("window_start", (("a", -window.size),))
    return [
        _late_view(window),
        *both_emits("rows", f"SELECT * FROM {tvf}", f"SELECT * FROM {oracle}", close),
        *both_emits("per_key", per_key.format(tvf), per_key.format(oracle), close, approx=True),
        *both_emits("filtered", filtered.format(tvf), filtered.format(oracle), close),
        *both_emits("by_start", by_start.format(tvf), by_start.format(oracle), start_close),
    ]


@PROFILE
@given(data=st.data())
def test_tumble(data):
    _run(data, ("a",), window_views(data.draw(tumbles(), label="window")), late_tables=True)


@PROFILE
@given(data=st.data())
def test_hop(data):
    _run(data, ("a",), window_views(data.draw(hops(), label="window")), late_tables=True)


@PROFILE
@given(data=st.data())
def test_cumulate(data):
    _run(data, ("a",), window_views(data.draw(cumulates(), label="window")), late_tables=True)


def _late_view(window: Window) -> View:
    """Windows over the late table: a plain table, where the rows with a NULL time are."""
    query = (
        "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s FROM {} "
        "GROUP BY k, window_start, window_end"
    )
    oracle = query.format(f"({window.oracle('a_late')}) AS w")
    return View("late", query.format(window.tidal("a_late")), oracle)


def session_views(window: Window) -> list[View]:
    tvf, oracle = window.tidal("a"), f"({window.oracle('a')}) AS w"
    keys = ", ".join((*window.partition, "window_start", "window_end"))
    per_session = (
        f"SELECT {keys}, count(*) AS n, sum(v) AS s, max(v) AS hi, min(ts) AS first "
        f"FROM {{}} GROUP BY {keys}"
    )
    close = Close()
    return [
        _late_view(window),
        *both_emits("rows", f"SELECT * FROM {tvf}", f"SELECT * FROM {oracle}", close),
        *both_emits("per_session", per_session.format(tvf), per_session.format(oracle), close),
    ]


@PROFILE
@given(data=st.data())
def test_session(data):
    _run(data, ("a",), session_views(data.draw(sessions(), label="window")), late_tables=True)


def test_session_merge():
    """An event between two sessions joins them into one; an event a whole gap after a session
    starts a new one; a session ending exactly at the watermark is final, one ending a second
    later is not, and still grows."""
    window = Window("session", 4, partition=("k",), flink=True)
    batches = [
        Batch("a", ((1, 1, 10), (1, 2, 16), (2, 3, 13))),  # k=1: two sessions, 10-14 and 16-20
        Batch("a", ((1, 4, 13),)),  # 13 is within 4 s of both: one session 10-20
        Batch("a", ((1, 5, 30), (2, 6, 17))),  # k=2: 17 is a gap after 13: 13-17, 17-21; W = 20
        Batch("a", ((2, 7, 20), (2, 9, None), (3, 1, 5))),  # 20 is on time (not below W):
        # 17-21 grows to 17-24; the others are late, in a session of their own in the late table
        Batch("a", ((1, 8, 60),)),  # W = 50: all but the last session are final
    ]
    scenario = Scenario({"a": 10}, {"a": "a_late"}, tuple(batches), (1, 0, 2, 4, 0))
    Run(scenario, session_views(window)).run()


def topn_views(window: Window) -> list[View]:
    tvf, oracle = window.tidal("a"), f"({window.oracle('a')}) AS w"
    top2 = (
        "SELECT * FROM (SELECT k, v, ts, window_start, window_end, ROW_NUMBER() OVER "
        "(PARTITION BY window_start, window_end ORDER BY v DESC, k, ts) AS rn FROM {}) AS t "
        "WHERE rn <= 2"
    )
    first = (
        "SELECT k, v, ts, window_start, window_end FROM (SELECT *, ROW_NUMBER() OVER "
        "(PARTITION BY window_start, window_end, k ORDER BY ts, v) AS rn FROM {}) AS t "
        "WHERE rn = 1"
    )
    top_keys = (
        "SELECT * FROM (SELECT k, window_start, window_end, n, ROW_NUMBER() OVER "
        "(PARTITION BY window_start, window_end ORDER BY n DESC, k) AS rn FROM ("
        "SELECT k, window_start, window_end, count(*) AS n FROM {} "
        "GROUP BY k, window_start, window_end) AS g) AS t WHERE rn <= 2"
    )
    close = Close()
    return [
        *both_emits("top2", top2.format(tvf), top2.format(oracle), close),
        *both_emits("dedup", first.format(tvf), first.format(oracle), close),
        *both_emits("top_keys", top_keys.format(tvf), top_keys.format(oracle), close),
    ]


@PROFILE
@given(data=st.data())
def test_window_topn(data):
    window = data.draw(st.one_of(tumbles(), hops()), label="window")
    _run(data, ("a",), topn_views(window))


def window_join_views(left: Window, right: Window) -> list[View]:
    on = "x.window_start = y.window_start AND x.window_end = y.window_end AND x.k = y.k"
    rows = (
        "SELECT x.k, x.v, y.w, x.ts, y.ts AS ts2, x.window_start, x.window_end FROM {} JOIN {} ON "
    )
    per_key = (
        "SELECT x.k, x.window_start, x.window_end, x.n, y.s FROM "
        "(SELECT k, window_start, window_end, count(*) AS n FROM {} "
        "GROUP BY k, window_start, window_end) AS x JOIN "
        "(SELECT k, window_start, window_end, sum(w) AS s FROM {} "
        "GROUP BY k, window_start, window_end) AS y ON "
    )
    return [
        *both_emits(
            "joined_rows",
            rows.format(left.tidal("a", "x"), right.tidal("b", "y")) + on,
            rows.format(f"({left.oracle('a')}) AS x", f"({right.oracle('b')}) AS y") + on,
            BOTH,
        ),
        *both_emits(
            "joined_aggregates",
            per_key.format(left.tidal("a"), right.tidal("b")) + on,
            per_key.format(f"({left.oracle('a')}) AS w", f"({right.oracle('b')}) AS w") + on,
            BOTH,
        ),
    ]


@PROFILE
@given(data=st.data())
def test_window_join(data):
    left = data.draw(windows(), label="window")
    right = Window(left.kind, left.size, left.slide, left.offset, flink=data.draw(st.booleans()))
    _run(data, ("a", "b"), window_join_views(left, right))


def interval_join_views(lower: int, upper: int, spelling: int) -> list[View]:
    low, high = f"b.ts - INTERVAL '{lower}' SECOND", f"b.ts + INTERVAL '{upper}' SECOND"
    condition = [
        f"a.ts BETWEEN {low} AND {high}",
        f"a.ts >= {low} AND a.ts <= {high}",
        f"{high} >= a.ts AND a.ts >= {low}",
    ][spelling]
    select = "SELECT a.k, a.v, a.ts, b.w, b.ts AS ts2 FROM a JOIN b ON "
    oracle = (
        f"{select}a.k = b.k AND epoch_us(a.ts) - epoch_us(b.ts) "
        f"BETWEEN {-lower * 1_000_000} AND {upper * 1_000_000}"
    )
    # Future rows of a have ts >= W(a); those joining future rows of b, ts >= W(b) - lower.
    close = Close("ts", (("a", 0), ("b", -lower)), strict=True)
    return both_emits("interval", f"{select}a.k = b.k AND {condition}", oracle, close)


@PROFILE
@given(data=st.data())
def test_interval_join(data):
    lower = data.draw(st.integers(0, 8), label="lower")
    upper = data.draw(st.integers(0, 8), label="upper")
    spelling = data.draw(st.integers(0, 2), label="spelling")
    _run(data, ("a", "b"), interval_join_views(lower, upper, spelling))


# --- bounded state ----------------------------------------------------------------------------
#
# A long scenario whose times keep advancing (watermarks too): after every second tick each view
# equals the oracle, and its operators' state holds only what windows still open can need. Each
# stateful operator keeps at most the input rows of the open windows (sessions, join sides) and
# its outputs for them, and EMIT ON WINDOW CLOSE buffers the open output rows; arrangements may
# also hold retractions until their runs merge. Hence the bound: at most 4 x (input rows in open
# windows + the view's output rows that are not final), whatever the total input.

TUMBLE_10 = Window("tumble", 10)
HOP_4_10 = Window("hop", 10, 4, flink=True)
CUMULATE_4_12 = Window("cumulate", 12, 4)
SESSION_3 = Window("session", 3, partition=("k",), flink=True)
INTERVAL = (3, 2)  # the interval join's bounds: a.ts BETWEEN b.ts - 3 s AND b.ts + 2 s


def _aggregated(window: Window, aggregates: str) -> View:
    query = (
        f"SELECT k, window_start, window_end, {aggregates} FROM {{}} "
        "GROUP BY k, window_start, window_end"
    )
    oracle = query.format(f"({window.oracle('a')}) AS w")
    return View("v", query.format(window.tidal("a")), oracle, Close(), approx=True)


def _open(sql: str, close: Close):
    """A count, by the oracle, of the rows of ``sql`` not final at the given watermarks."""
    return lambda watermarks: (
        f"SELECT count(*) FROM ({sql}) AS q WHERE NOT ({close.predicate(watermarks)})"
    )


def _open_interval_rows(watermarks) -> str:
    """Rows of a or b that a future row of the other table can still join."""
    lower, upper = INTERVAL
    a_from, b_from = watermarks["b"], watermarks["a"]
    a_open = "true" if a_from is None else f"ts >= {timestamp(a_from - lower)}"
    b_open = "true" if b_from is None else f"ts >= {timestamp(b_from - upper)}"
    return (
        f"SELECT (SELECT count(*) FROM a WHERE {a_open}) + (SELECT count(*) FROM b WHERE {b_open})"
    )


def _bounded_cases() -> dict[str, tuple[View, list]]:
    """Per view: the view, and oracle counts of the input rows its state may still need (one
    query per input, a function of the watermarks)."""
    tumble = _open(TUMBLE_10.oracle("a"), Close())
    cases = {
        "tumble_sums": (_aggregated(TUMBLE_10, "count(*) AS n, sum(v) AS s"), [tumble]),
        "tumble_min_max": (_aggregated(TUMBLE_10, "min(v) AS lo, max(v) AS hi"), [tumble]),
        "hop": (
            _aggregated(HOP_4_10, "count(v) AS n, avg(v) AS av"),
            [_open(HOP_4_10.oracle("a"), Close())],
        ),
        "cumulate": (
            _aggregated(CUMULATE_4_12, "max(v) AS hi, count(*) AS n"),
            [_open(CUMULATE_4_12.oracle("a"), Close())],
        ),
        "session": (
            _aggregated(SESSION_3, "count(*) AS n, sum(v) AS s"),
            [_open(SESSION_3.oracle("a"), Close())],
        ),
        "window_topn": (topn_views(TUMBLE_10)[1], [tumble]),
        "window_join": (
            window_join_views(TUMBLE_10, TUMBLE_10)[1],
            [_open(TUMBLE_10.oracle("a"), BOTH), _open(TUMBLE_10.oracle("b"), BOTH)],
        ),
        "interval_join": (interval_join_views(*INTERVAL, 0)[0], [_open_interval_rows]),
    }
    return {
        name: (dataclasses.replace(view, name=name), inputs)
        for name, (view, inputs) in cases.items()
    }


def _advancing(seed: int, ticks: int, views: int) -> Scenario:
    """``ticks`` batches into each table, 3 s further each time, up to 8 s out of order; the
    views are created first."""
    rng = random.Random(seed)
    batches = []
    for position in range(ticks):
        for table in ("a", "b"):
            rows = tuple(
                (
                    rng.choice([1, 2, 3, None]),
                    rng.choice([None, *range(10)]),
                    max(0, 3 * position + rng.randint(-8, 3)),
                )
                for _ in range(rng.randint(1, 8))
            )
            batches.append(Batch(table, rows))
    return Scenario({"a": 6, "b": 2}, {"a": None, "b": "b_late"}, tuple(batches), (0,) * views)


class _Bounded(Run):
    """A run that also bounds each view's state (checked after every second tick)."""

    def __init__(self, scenario: Scenario, cases: dict[str, tuple[View, list]]) -> None:
        super().__init__(scenario, [view for view, _ in cases.values()])
        self.cases = cases
        self.largest = dict.fromkeys(cases, 0)

    def check(self, when: str) -> None:
        if self.ticks % 2 and self.ticks != len(self.scenario.batches):
            return  # a long run: checked after every second tick (and at creation, and the end)
        super().check(when)
        counts = []  # per case: input rows in open windows, output rows not final yet
        for view, inputs in self.cases.values():
            opened = " + ".join(f"({query(self.watermarks)})" for query in inputs)
            outputs = f"({_open(view.oracle, view.close)(self.watermarks)})" if view.close else "0"
            counts += [opened, outputs]
        counts = self.oracle.sql("SELECT " + ", ".join(counts)).fetchall()[0]
        for position, (name, (view, _)) in enumerate(self.cases.items()):
            state = self.db.relations.state_rows(view.name)
            open_inputs, open_outputs = counts[2 * position], counts[2 * position + 1]
            assert state <= 4 * (open_inputs + open_outputs), (
                f"{name} {when}: {state} rows of state, but only {open_inputs} input rows in "
                f"open windows and {open_outputs} output rows to come"
            )
            self.largest[name] = max(self.largest[name], state)


def test_state_stays_bounded():
    cases = _bounded_cases()
    run = _Bounded(_advancing(seed=7, ticks=50, views=len(cases)), cases)
    run.run(check_ad_hoc=False)
    on_time = sum(len(t.on_time) for t in run.tables.values())
    assert on_time > 250, on_time
    for name, largest in run.largest.items():  # the open windows are a small part of the input
        assert largest < on_time // 3, f"{name}: up to {largest} rows of state, {on_time} input"
