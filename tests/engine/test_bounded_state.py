"""State stays bounded under a watermark: 10M events through a TUMBLE aggregate with EMIT ON
WINDOW CLOSE keep only the open windows' groups, and the closed windows are exactly right.

Events over ``KEYS`` keys arrive in ``BATCHES`` ticks, event time advancing ``RATE`` events per
second with jitter of up to ``JITTER`` s either way (within the ``DELAY`` s watermark delay), plus
a few deliberately late events per tick (before the watermark): these must be dropped and
counted, never reaching a window. The expected windows are accumulated with numpy as the
batches are generated, so nothing holds the 10M events at once.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tidal.engine import Database

SECOND = 1_000_000  # microseconds
START = 1_704_067_200 * SECOND  # 2024-01-01 00:00:00, a multiple of the window size
EVENTS = 10_000_000
BATCHES = 100
BATCH = EVENTS // BATCHES  # 100k events = 1 s of event time per tick
KEYS = 10_000
RATE = 100_000  # events per second of event time: 1M events, 100 per key, per window
SIZE, DELAY, JITTER = 10, 5, 2  # seconds
LATE_PER_BATCH = 100
# Windows open after a tick: those ending after the watermark that have events. Events reach
# at most JITTER s past the newest tick's base time and the watermark trails the newest event by
# DELAY s, so the open span is under DELAY + 2 * JITTER + 1 s of batch < SIZE: at most 2 windows.
OPEN_WINDOWS = 2
# The aggregate holds a group per (key, open window) and emits each once, when its window closes
# (nothing is buffered downstream); it drops closed groups in bulk once they are a quarter of
# its groups, so at most a third more. Nothing depends on how many events came before.
BOUND = OPEN_WINDOWS * KEYS * 4 // 3
WINDOWS = EVENTS // RATE // SIZE + 2  # window index -1 (jitter before START) to the last

VIEW = (
    "CREATE MATERIALIZED VIEW w AS SELECT k, window_start, window_end, count(*) AS n, "
    "sum(v) AS s, max(v) AS m FROM TUMBLE(bids, ts, INTERVAL '10' SECOND) "
    "GROUP BY k, window_start, window_end EMIT ON WINDOW CLOSE"
)


class Expected:
    """count, sum and max of v per (key, window) of the on-time events, kept with numpy."""

    def __init__(self) -> None:
        self.n = np.zeros(KEYS * WINDOWS, np.int64)
        self.s = np.zeros(KEYS * WINDOWS, np.int64)
        self.m = np.full(KEYS * WINDOWS, -1, np.int64)

    def add(self, k: np.ndarray, v: np.ndarray, ts: np.ndarray) -> None:
        cell = k * WINDOWS + (ts - START) // (SIZE * SECOND) + 1
        self.n += np.bincount(cell, minlength=len(self.n))
        self.s += np.bincount(cell, weights=v, minlength=len(self.s)).astype(np.int64)
        np.maximum.at(self.m, cell, v)

    def closed(self, watermark: int) -> pa.Table:
        """The rows of the windows the watermark has closed (window_end <= watermark)."""
        cells = np.nonzero(self.n)[0]
        start = START + (cells % WINDOWS - 1) * SIZE * SECOND
        closed = start + SIZE * SECOND <= watermark
        cells, start = cells[closed], start[closed]
        return pa.table(
            {
                "k": cells // WINDOWS,
                "window_start": pa.array(start, pa.timestamp("us")),
                "n": self.n[cells],
                "s": self.s[cells],
                "m": self.m[cells],
            }
        )


def _batch(rng: np.random.Generator, first: int, watermark: int | None) -> tuple[pa.Table, int]:
    """One tick's events (on-time ones first, then ``LATE_PER_BATCH`` late ones if a watermark
    exists), and how many are late."""
    index = np.arange(first, first + BATCH, dtype=np.int64)
    ts = START + index * SECOND // RATE + rng.integers(-JITTER * SECOND, JITTER * SECOND + 1, BATCH)
    k = rng.integers(0, KEYS, BATCH, dtype=np.int64)
    v = rng.integers(0, 1000, BATCH, dtype=np.int64)
    late = LATE_PER_BATCH if watermark is not None else 0
    if late:  # before the watermark: into windows that are closed or about to close
        ts = np.concatenate([ts, watermark - rng.integers(1, 20 * SECOND, late)])
        k = np.concatenate([k, rng.integers(0, KEYS, late, dtype=np.int64)])
        v = np.concatenate([v, rng.integers(0, 1000, late, dtype=np.int64)])
    table = pa.table(
        {
            "k": k,
            "v": v,
            "ts": pa.array(ts, pa.timestamp("us")),
            "__weight": np.ones(len(k), np.int64),
        }
    )
    return table, late


@pytest.mark.slow
@pytest.mark.parametrize("relation", ["TABLE", "SOURCE"])
def test_state_stays_bounded_over_10m_events(relation):
    db = Database()
    options = ""
    if relation == "SOURCE":  # keeps no rows: the whole run's memory is bounded, not just state
        options = " WITH (connector = 'datagen', \"number-of-rows\" = '0', retain = 'false')"
    db.execute(
        f"CREATE {relation} bids (k BIGINT, v BIGINT, ts TIMESTAMP, "
        f"WATERMARK FOR ts AS ts - INTERVAL '{DELAY}' SECOND){options}"
    )
    db.execute(VIEW)
    rng = np.random.default_rng(7)
    expected, watermark, late_total, states = Expected(), None, 0, []
    for first in range(0, EVENTS, BATCH):
        batch, late = _batch(rng, first, watermark)
        db.apply_changes("bids", batch)
        on_time = batch.slice(0, BATCH)
        ts = on_time.column("ts").cast(pa.int64()).to_numpy()
        expected.add(on_time.column("k").to_numpy(), on_time.column("v").to_numpy(), ts)
        newest = int(ts.max()) - DELAY * SECOND
        watermark = newest if watermark is None else max(watermark, newest)
        late_total += late
        states.append(db.relations.state_rows("w"))
        assert states[-1] <= BOUND, f"after {first + BATCH:,} events: {states[-1]:,} state rows"
    assert db.watermarks.values()["bids"] == watermark
    assert db.watermarks.relations["bids"].late_rows == late_total == (BATCHES - 1) * LATE_PER_BATCH
    # The bound is reached early and not exceeded: the state is the same at 1M and at 10M.
    assert max(states[BATCHES // 2 :]) <= max(states[: BATCHES // 10]) * 1.1

    view = db.read("w")
    assert view.num_rows > (EVENTS // RATE // SIZE - 1) * KEYS * 0.99
    assert _all_closed(view.column("window_end"), watermark)
    ours = view.select(["k", "window_start", "n", "s", "m"])
    ours = ours.set_column(3, "s", ours.column("s").cast(pa.int64()))
    theirs = expected.closed(watermark)
    # The closed windows hold every on-time event whose window closed, and nothing else.
    assert ours.column("n").to_numpy().sum() == theirs.column("n").to_numpy().sum()
    order = [("k", "ascending"), ("window_start", "ascending")]
    assert ours.sort_by(order).equals(theirs.sort_by(order))


def _all_closed(window_end: pa.ChunkedArray, watermark: int) -> bool:
    """Every emitted window ended at or before the watermark (it was closed when emitted)."""
    return bool((window_end.cast(pa.int64()).to_numpy() <= watermark).all())
