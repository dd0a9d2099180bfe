"""``tidal bench window``: event-time windowed aggregates (TUMBLE, HOP) under a watermark.

Events ``(k BIGINT, v BIGINT, ts TIMESTAMP)`` over ``--keys`` keys, event time advancing steadily
(``--event-rate`` events per second of event time) with out-of-order jitter of up to
``--jitter`` seconds either way, well within the watermark delay (``--delay``), so no event is
late. They are pushed in mini-batches into a source that keeps no rows (``retain = 'false'``)
and declares ``WATERMARK FOR ts AS ts - INTERVAL 'delay' SECOND``; each batch is one tick, after
which the watermark moves, closed windows are emitted and their state dropped. Batches are
generated with numpy per tick (outside the clock), so the input is never held whole and peak
memory is what the engine keeps. DuckDB then computes the same closed windows in batch, by epoch
arithmetic, over all the events at once (best of three). Each measurement runs in its own
subprocesses (one for tidal, one for DuckDB), as in ``tidal bench core``.

    tidal bench window --query tumble --events 1000000 --verify --json out.json
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from tidal.shell.bench.charts import add_tick, new_series, thinned, write_beside
from tidal.shell.bench.harness import (
    MB,
    Tenths,
    duckdb_best_of,
    duckdb_connection,
    duckdb_threads,
    finish,
    load_average,
    markdown_table,
    peak_rss_mb,
    per_second,
    progress,
    run_all,
    run_worker,
    same_rows,
    timed,
    verified,
    worker_main,
)

SECOND = 1_000_000  # microseconds
START = 1_704_067_200 * SECOND  # 2024-01-01 00:00:00 UTC: the first event's time
TARGETS = {"tumble": 1_000_000, "hop": 500_000}
# Aggregate lists: the issue's, and the same without max(v) to show what max costs (min/max over
# insert-only input are running extremes; before that they made the aggregate a keyed recompute).
AGGREGATES = {
    "max": "count(*) AS n, sum(v) AS s, max(v) AS m",
    "nomax": "count(*) AS n, sum(v) AS s",
}
EMITS = ("close", "update")
REQUIRED_KEYS = (
    "measurement",
    "query",
    "events",
    "seconds",
    "events_per_second",
    "cpu_seconds",
    "events_per_cpu_second",
    "peak_rss_mb",
    "state_rows",
    "max_state_rows",
    "view_rows",
    "duckdb_seconds",
    "duckdb_events_per_second",
)


@dataclass(frozen=True)
class Measurement:
    """One view to maintain: window kind, aggregate list and emit mode."""

    window: str  # tumble | hop
    aggregates: str  # max | nomax
    emit: str  # close | update

    @property
    def name(self) -> str:
        suffix = "" if self.aggregates == "max" else "_nomax"
        return f"{self.window}{suffix}" + ("" if self.emit == "close" else "_update")

    @staticmethod
    def parse(name: str) -> Measurement:
        window, *rest = name.split("_")
        aggregates = "nomax" if "nomax" in rest else "max"
        emit = "update" if "update" in rest else "close"
        if window not in TARGETS or set(rest) - {"nomax", "update"}:
            raise ValueError(name)
        return Measurement(window, aggregates, emit)


# --- the data and the queries ------------------------------------------------------------------


def window_tvf(window: str, args: argparse.Namespace) -> str:
    size = f"INTERVAL '{args.size}' SECOND"
    if window == "tumble":
        return f"TUMBLE(events, ts, {size})"
    return f"HOP(events, ts, INTERVAL '{args.slide}' SECOND, {size})"


def view_query(m: Measurement, args: argparse.Namespace) -> str:
    emit = " EMIT ON WINDOW CLOSE" if m.emit == "close" else ""
    return (
        f"SELECT k, window_start, window_end, {AGGREGATES[m.aggregates]} "
        f"FROM {window_tvf(m.window, args)} GROUP BY k, window_start, window_end{emit}"
    )


def duckdb_sql(m: Measurement, args: argparse.Namespace, watermark: int | None) -> str:
    """The same windows in plain DuckDB SQL, by epoch arithmetic on microseconds; with a
    watermark, only the windows it has closed (``window_end <= watermark``)."""
    size, slide = args.size * SECOND, args.slide * SECOND
    if m.window == "tumble":
        windows = (
            f"SELECT k, v, t - (t % {size}) AS ws FROM (SELECT k, v, epoch_us(ts) AS t FROM events)"
        )
    else:
        windows = (
            f"SELECT k, v, t - (t % {slide}) - i * {slide} AS ws "
            f"FROM (SELECT k, v, epoch_us(ts) AS t FROM events), range({-(-size // slide)}) r(i) "
            f"WHERE t - (t % {slide}) - i * {slide} + {size} > t"
        )
    closed = f" HAVING ws + {size} <= {watermark}" if watermark is not None else ""
    return (
        f"SELECT k, make_timestamp(ws) AS window_start, make_timestamp(ws + {size}) AS window_end, "
        f"{AGGREGATES[m.aggregates]} FROM ({windows}) GROUP BY k, ws{closed}"
    )


def batches(args: argparse.Namespace) -> Iterator[pa.Table]:
    """The events in batches of ``args.batch_size``, each from its own seed ``(seed, first
    event)``, so that the DuckDB worker regenerates exactly what the tidal worker fed: uniform
    keys and values, event ``i`` at ``START + i / event_rate`` plus uniform jitter in
    [-jitter, +jitter] seconds."""
    jitter = int(args.jitter * SECOND)
    for first in range(0, args.events, args.batch_size):
        count = min(args.batch_size, args.events - first)
        rng = np.random.default_rng([args.seed, first])
        index = np.arange(first, first + count, dtype=np.int64)
        ts = START + index * SECOND // args.event_rate + rng.integers(-jitter, jitter + 1, count)
        yield pa.table(
            {
                "k": rng.integers(0, args.keys, count, dtype=np.int64),
                "v": rng.integers(0, 1000, count, dtype=np.int64),
                "ts": pa.array(ts, pa.timestamp("us")),
            }
        )


def all_events(args: argparse.Namespace) -> pa.Table:
    return pa.concat_tables(batches(args)).combine_chunks()


def final_watermark(events: pa.Table, args: argparse.Namespace) -> int:
    """The watermark after the last tick: the newest event time minus the delay (no event is
    late, so every one moved it)."""
    return int(events.column("ts").cast(pa.int64()).to_numpy().max()) - args.delay * SECOND


def _with_weight(batch: pa.Table) -> pa.Table:
    return batch.append_column("__weight", pa.array(np.ones(batch.num_rows, np.int64)))


# --- workers -----------------------------------------------------------------------------------


def _feed(
    db, m: Measurement, args: argparse.Namespace
) -> tuple[int, float, float, int, list, dict]:
    """Push every batch as one tick, timing only ``apply_changes``; the events fed, wall and CPU
    seconds, the most state rows after any tick, a mark at each tenth of the events, and the
    ticks' series (for the chart)."""
    seconds = cpu_seconds = 0.0
    max_state, fed, marks, tenths = 0, 0, [], Tenths(args.events)
    series = new_series()
    for batch in batches(args):
        batch = _with_weight(batch)
        elapsed, cpu = timed(db.apply_changes, "events", batch)
        seconds += elapsed
        cpu_seconds += cpu
        fed += batch.num_rows
        add_tick(series, seconds, fed, elapsed * 1000)
        state = db.stats()["w"].state_rows
        max_state = max(max_state, state)
        if tenths.passed(fed):
            marks.append(
                {
                    "events": fed,
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                    "peak_rss_mb": peak_rss_mb(),
                    "state_rows": state,
                    "max_state_rows": max_state,
                }
            )
            progress(
                m.name,
                f"{fed:,} events fed, {fed / seconds / 1e6:.2f}M events/s, "
                f"state {state:,} rows, peak RSS {marks[-1]['peak_rss_mb']:.0f} MB",
            )
    return fed, seconds, cpu_seconds, max_state, marks, thinned(series)


def _tidal_worker(name: str, args: argparse.Namespace, out: pathlib.Path) -> dict:
    from tidal.engine import Database

    m = Measurement.parse(name)
    baseline = peak_rss_mb()
    db = Database()
    db.execute(
        "CREATE SOURCE events (k BIGINT, v BIGINT, ts TIMESTAMP, "
        f"WATERMARK FOR ts AS ts - INTERVAL '{args.delay}' SECOND) "
        "WITH (connector = 'datagen', \"number-of-rows\" = '0', retain = 'false')"
    )
    query = view_query(m, args)
    db.execute(f"CREATE MATERIALIZED VIEW w AS {query}")
    before, load_before = peak_rss_mb(), load_average()
    fed, seconds, cpu_seconds, max_state, marks, series = _feed(db, m, args)
    ticks = -(-args.events // args.batch_size)
    peak, pool_peak = peak_rss_mb(), pa.default_memory_pool().max_memory() / MB
    load_after = load_average()
    stats = db.stats(held_bytes=True)
    source = stats["events"]
    result = {
        "measurement": m.name,
        "window": m.window,
        "aggregates": AGGREGATES[m.aggregates],
        "emit": "on window close" if m.emit == "close" else "on update",
        "query": query,
        "events": fed,
        "ticks": ticks,
        "batch_size": args.batch_size,
        "seconds": seconds,
        "events_per_second": per_second(fed, seconds),
        "cpu_seconds": cpu_seconds,
        "events_per_cpu_second": per_second(fed, cpu_seconds),
        "peak_rss_mb": peak,
        "rss_after_imports_mb": baseline,
        "rss_before_feed_mb": before,
        "progress": marks,
        "tick_series": series,
        "load_average": [load_before, load_after],
        "arrow_pool_peak_mb": pool_peak,
        "held_arrow_mb": sum(r.held_bytes for r in stats.relations) / MB,
        "state_rows": stats["w"].state_rows,
        "max_state_rows": max_state,
        "late_events": source.late_rows,
        "watermark_us": source.watermark,
    }
    view = db.read("w")
    result["view_rows"] = view.num_rows
    if args.verify:
        events = all_events(args)
        watermark = final_watermark(events, args) if m.emit == "close" else None
        theirs = duckdb_connection({"events": events}).sql(duckdb_sql(m, args, watermark))
        problem = same_rows(view, theirs.to_arrow_table(), ())
        if problem is None and source.late_rows:
            problem = f"{source.late_rows} events were late"
        result["verified"] = problem is None
        result["verify_problem"] = problem
    return result


def _duckdb_worker(name: str, args: argparse.Namespace, out: pathlib.Path) -> dict:
    """The same windows over all the events at once; the best of ``DUCKDB_RUNS`` runs counts."""
    m = Measurement.parse(name)
    events = all_events(args)
    watermark = final_watermark(events, args) if m.emit == "close" else None
    query = duckdb_sql(m, args, watermark)
    connection = duckdb_connection({"events": events})
    answer, times = duckdb_best_of(connection, query)
    seconds = min(times)
    return {
        "duckdb_query": query,
        "duckdb_seconds": seconds,
        "duckdb_run_seconds": times,
        "duckdb_rows": answer.num_rows,
        "duckdb_events_per_second": per_second(events.num_rows, seconds),
        "duckdb_threads": duckdb_threads(connection),
        "duckdb_peak_rss_mb": peak_rss_mb(),
    }


WORKERS = {"tidal": _tidal_worker, "duckdb": _duckdb_worker}
_OPTIONS = (
    "events",
    "batch_size",
    "keys",
    "event_rate",
    "jitter",
    "delay",
    "size",
    "slide",
    "seed",
    "verify",
)


# --- the command -------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tidal bench window", description=__doc__.splitlines()[0])
    p.add_argument("--query", default="all", help="tumble, hop, or all (comma-separated)")
    p.add_argument(
        "--aggregates",
        default="max,nomax",
        help="max: count(*), sum(v), max(v) (the issue's); nomax: count(*), sum(v)",
    )
    p.add_argument(
        "--emit",
        default="close",
        help="close (EMIT ON WINDOW CLOSE), update, or both: close,update",
    )
    p.add_argument("--events", type=int, default=10_000_000)
    p.add_argument("--batch-size", type=int, default=65_536, help="events per tick")
    p.add_argument("--keys", type=int, default=10_000)
    p.add_argument(
        "--event-rate", type=int, default=100_000, help="events per second of event time"
    )
    p.add_argument("--jitter", type=float, default=2.0, help="seconds of out-of-order jitter")
    p.add_argument("--delay", type=int, default=5, help="watermark delay in seconds")
    p.add_argument("--size", type=int, default=10, help="window size in seconds")
    p.add_argument("--slide", type=int, default=2, help="HOP slide in seconds")
    p.add_argument("--json", metavar="FILE", help="write the results here (a JSON list)")
    p.add_argument("--verify", action="store_true", help="check each view against DuckDB")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=0, help="seconds per subprocess (0: none)")
    return p


def measurements(args: argparse.Namespace) -> list[Measurement]:
    """The measurements the options ask for; ValueError naming a bad choice."""
    queries = list(TARGETS) if args.query == "all" else _choices(args.query, TARGETS)
    aggregates = _choices(args.aggregates, AGGREGATES)
    emits = _choices(args.emit, EMITS)
    return [Measurement(q, a, e) for q in queries for e in emits for a in aggregates]


def _choices(text: str, valid) -> list[str]:
    chosen = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in valid]
    if unknown or not chosen:
        raise ValueError(f"{unknown or text!r}: choose from {', '.join(valid)}")
    return chosen


def _measure(m: Measurement, args: argparse.Namespace, env: dict) -> dict:
    result = {"measurement": m.name, **run_worker(__name__, "tidal", m.name, args, _OPTIONS)}
    if "error" not in result:
        result.update(run_worker(__name__, "duckdb", m.name, args, _OPTIONS))
    if "error" not in result:
        target = TARGETS[m.window]
        result["target_events_per_second"] = target
        result["met_target"] = result["events_per_second"] >= target
        result["met_target_cpu"] = result["events_per_cpu_second"] >= target
        result["output_to_input"] = result["view_rows"] / result["events"]
    result["event_rate"] = args.event_rate
    result["environment"] = env
    return result


def _result_line(r: dict) -> str:
    if "error" in r:
        return f"{r['measurement']}: {r['error']}"
    line = (
        f"{r['measurement']}: {r['events']:,} events in {r['seconds']:.2f} s = "
        f"{r['events_per_second'] / 1e6:.2f}M events/s, "
        f"{r['events_per_cpu_second'] / 1e6:.2f}M/CPU-s (target "
        f"{r['target_events_per_second'] / 1e6:g}M), peak RSS {r['peak_rss_mb']:.0f} MB, "
        f"state {r['state_rows']:,} rows (max {r['max_state_rows']:,}), "
        f"{r['view_rows']:,} view rows; DuckDB {r['duckdb_seconds']:.2f} s"
    )
    if "verified" in r:
        line += ", verified" if r["verified"] else f", WRONG: {r['verify_problem']}"
    return line


_COLUMNS = (
    ("measurement", "<"),
    ("events", ">"),
    ("events/s", ">"),
    ("events/CPU-s", ">"),
    ("target", ">"),
    ("met", "<"),
    ("peak RSS MB", ">"),
    ("max state rows", ">"),
    ("view rows", ">"),
    ("DuckDB s", ">"),
    ("DuckDB events/s", ">"),
    ("verified", "<"),
)


def _cells(r: dict) -> list[str]:
    return [
        r["measurement"],
        f"{r['events']:,}",
        f"{r['events_per_second']:,.0f}",
        f"{r['events_per_cpu_second']:,.0f}",
        f"{r['target_events_per_second']:,}",
        "yes" if r["met_target"] else "no",
        f"{r['peak_rss_mb']:,.0f}",
        f"{r['max_state_rows']:,}",
        f"{r['view_rows']:,}",
        f"{r['duckdb_seconds']:.2f}",
        f"{r['duckdb_events_per_second']:,.0f}",
        verified(r),
    ]


def summary(results: list[dict]) -> str:
    """A Markdown table of the results."""
    return markdown_table(_COLUMNS, results, "measurement", _cells)


def main(argv: list[str]) -> int:
    """``tidal bench window [options]``; 0 if every measurement ran (and verified)."""
    args = parser().parse_args(argv)
    try:
        chosen = measurements(args)
    except ValueError as error:
        print(f"tidal bench window: {error}", file=sys.stderr)
        return 2
    results = run_all(
        chosen,
        lambda m: f"{m.name}: {args.events:,} events in batches of {args.batch_size:,} ...",
        lambda m, env: _measure(m, args, env),
        _result_line,
    )
    if args.json:
        write_beside(args.json, results, "measurement", "tidal bench window")
    return finish(results, summary(results), args.json)


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:], WORKERS))
