"""``tidal bench core``: rows/s and peak memory of the core incremental operators, beside DuckDB.

Three workloads (benchmarks/README.md): ``filter_project``, ``group_by`` (100k groups) and
``join`` (orders x customers under updates). Each one's rows are generated with numpy up front
(not timed), then fed to a ``Database`` in mini-batches with ``apply_changes``; every call is one
tick that runs the view's dataflow, and only those calls are timed. DuckDB then answers the
view's query in batch over the same final data (best of three runs). Every workload runs in its
own subprocesses (one for tidal, one for DuckDB), so each peak RSS belongs to that workload alone.

    tidal bench core --rows 1000000 --workloads group_by --verify --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa

from tidal.shell.bench_workloads import WORKLOADS, Feed, Workload

MB = 1024 * 1024
TARGETS = {"filter_project": 3_000_000, "group_by": 1_000_000, "join": 300_000}
DUCKDB_RUNS = 3
REQUIRED_KEYS = (
    "workload",
    "rows",
    "seconds",
    "rows_per_second",
    "peak_rss_mb",
    "state_rows",
    "state_arrow_mb",
    "duckdb_seconds",
    "duckdb_rows_per_second",
)


# --- measuring --------------------------------------------------------------------------------


def _peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def _arrow_bytes(value) -> int:
    """The Arrow bytes of a snapshot: tables, and dicts or lists of them."""
    if isinstance(value, (pa.Table, pa.Array, pa.ChunkedArray)):
        return value.nbytes
    if isinstance(value, dict):
        return sum(_arrow_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(_arrow_bytes(v) for v in value)
    return 0


def _held_bytes(value) -> int:
    """The bytes an operator holds right now: arrangement runs (rows and hashes), tables."""
    from tidal.engine.arrangement import Arrangement

    if isinstance(value, Arrangement):
        runs = value._runs  # private, but this is what is held before any consolidation
        return sum(run.rows.nbytes + run.hashes.nbytes for run in runs)
    if isinstance(value, (pa.Table, pa.Array, pa.ChunkedArray)):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_held_bytes(v) for v in value)
    return 0


def held_arrow_bytes(db) -> int:
    """Bytes held as they are (unconsolidated): relation contents' parts and operator state."""
    total = 0
    for entry in [*db.relations.bases.values(), *db.relations.views.values()]:
        if entry.contents is not None:  # a view read from its operators' state keeps none
            total += sum(part.nbytes for part in entry.contents._parts)
    for view in db.relations.views.values():
        for operator in view.dataflow.operators:
            total += sum(_held_bytes(v) for v in vars(operator).values())
    return total


def state_arrow_bytes(db, view: str) -> int:
    """The consolidated state: every operator's snapshot plus the contents of the view and of the
    tables (what an ad hoc query or a new view reads). Consolidates, so measure it last."""
    total = _arrow_bytes(db.relations.views[view].dataflow.snapshot())
    if db.relations.views[view].contents is not None:
        total += db.relations.views[view].contents.rows().nbytes
    return total + sum(
        base.contents.rows().nbytes for base in db.relations.bases.values() if base.contents is not None
    )


def duckdb_connection(tables: dict[str, pa.Table]):
    """A DuckDB connection with the Arrow tables registered (zero-copy) under their names, and
    the Postgres-compatible settings tidal applies to its own connections."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET integer_division = true")
    connection.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")
    for name, table in tables.items():
        connection.register(name, table)
    return connection


def duckdb_query(query: str, tables: dict[str, pa.Table]) -> pa.Table:
    """The query's answer from DuckDB over Arrow tables."""
    return duckdb_connection(tables).sql(query).to_arrow_table()


def same_rows(ours: pa.Table, theirs: pa.Table, float_columns: tuple[str, ...]) -> str | None:
    """None if the two tables hold the same rows (floats within 1e-9 relative), else why not."""
    if ours.column_names != theirs.column_names:
        return f"columns differ: {ours.column_names} vs {theirs.column_names}"
    if ours.num_rows != theirs.num_rows:
        return f"row counts differ: {ours.num_rows} vs {theirs.num_rows}"
    theirs = theirs.cast(ours.schema)
    exact = [n for n in ours.column_names if n not in float_columns]
    order = [(n, "ascending") for n in exact + list(float_columns)]
    ours, theirs = ours.sort_by(order), theirs.sort_by(order)
    for name in ours.column_names:
        a, b = ours.column(name), theirs.column(name)
        if name in float_columns:
            if not np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0, equal_nan=True):
                return f"column {name} differs beyond 1e-9"
        elif not a.equals(b):
            return f"column {name} differs"
    return None


# --- workers (one subprocess per workload and engine) ------------------------------------------


class _Progress:
    """Prints the rows fed so far about ten times per run, to stderr."""

    def __init__(self, name: str, ticks: int) -> None:
        self.name, self.every, self.done = name, max(1, ticks // 10), 0

    def tick(self, index: int, rows: int, seconds: float) -> None:
        self.done += rows
        if (index + 1) % self.every == 0:
            rate = self.done / seconds if seconds else 0.0
            print(
                f"  {self.name}: {self.done:,} rows fed, {rate / 1e6:.2f}M rows/s",
                file=sys.stderr,
                flush=True,
            )


def _feed(db, feed: Feed, name: str) -> dict[str, dict]:
    """Apply every tick, timing each; rows and seconds per kind of tick (insert, update...)."""
    phases: dict[str, dict] = {}
    progress, total = _Progress(name, len(feed.ticks)), 0.0
    for index, (table, batch, kind) in enumerate(feed.ticks):
        start, cpu_start = time.perf_counter(), time.process_time()
        db.apply_changes(table, batch)
        elapsed = time.perf_counter() - start
        total += elapsed
        phase = phases.setdefault(kind, {"rows": 0, "seconds": 0.0, "cpu_seconds": 0.0, "ticks": 0})
        phase["rows"] += batch.num_rows
        phase["seconds"] += elapsed
        phase["cpu_seconds"] += time.process_time() - cpu_start
        phase["ticks"] += 1
        progress.tick(index, batch.num_rows, total)
    return phases


def _tidal_worker(workload: Workload, args: argparse.Namespace) -> dict:
    from tidal.engine import Database

    baseline = _peak_rss_mb()
    feed = workload.generate(args)
    db = Database()
    for name, columns in workload.tables.items():
        db.execute(f"CREATE TABLE {name} ({columns})")
    db.execute(f"CREATE MATERIALIZED VIEW v AS {workload.query}")
    before, load_before = _peak_rss_mb(), os.getloadavg()[0]
    phases = _feed(db, feed, workload.name)
    peak, pool_peak = _peak_rss_mb(), pa.default_memory_pool().max_memory() / MB
    rows = sum(p["rows"] for p in phases.values())
    seconds = sum(p["seconds"] for p in phases.values())
    cpu_seconds = sum(p["cpu_seconds"] for p in phases.values())
    result = {
        "workload": workload.name,
        "query": workload.query,
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": rows / seconds if seconds else None,
        "cpu_seconds": cpu_seconds,
        "rows_per_cpu_second": rows / cpu_seconds if cpu_seconds else None,
        "ticks": len(feed.ticks),
        "batch_rows": args.batch_rows,
        "phases": phases,
        "peak_rss_mb": peak,
        "load_average": [load_before, os.getloadavg()[0]],
        "rss_after_imports_mb": baseline,
        "rss_before_feed_mb": before,
        "arrow_pool_peak_mb": pool_peak,
        "held_arrow_mb": held_arrow_bytes(db) / MB,
        "state_rows": db.relations.state_rows("v"),
        "state_arrow_mb": state_arrow_bytes(db, "v") / MB,
    }
    result["view_rows"] = db.read("v").num_rows
    if args.verify:
        problem = same_rows(
            db.read("v"), duckdb_query(workload.query, feed.final), workload.float_columns
        )
        result["verified"] = problem is None
        result["verify_problem"] = problem
    return result


def _duckdb_worker(workload: Workload, args: argparse.Namespace) -> dict:
    """The query over the final tables, run ``DUCKDB_RUNS`` times; the best time counts."""
    final = workload.generate(args).final
    rows = sum(t.num_rows for t in final.values())
    connection, times = duckdb_connection(final), []
    for _ in range(DUCKDB_RUNS):
        start = time.perf_counter()
        answer = connection.sql(workload.query).to_arrow_table()
        times.append(time.perf_counter() - start)
        del answer
    seconds = min(times)
    return {
        "duckdb_seconds": seconds,
        "duckdb_run_seconds": times,
        "duckdb_input_rows": rows,
        "duckdb_rows_per_second": rows / seconds if seconds else None,
        "duckdb_threads": connection.execute("SELECT current_setting('threads')").fetchone()[0],
        "duckdb_peak_rss_mb": _peak_rss_mb(),
    }


def _worker_main(argv: list[str]) -> int:
    """``python -m tidal.shell.bench ENGINE WORKLOAD OPTIONS_JSON OUT``: one measurement."""
    engine, name, options, out = argv
    args = argparse.Namespace(**json.loads(options))
    run = _tidal_worker if engine == "tidal" else _duckdb_worker
    with open(out, "w") as handle:
        json.dump(run(WORKLOADS[name], args), handle)
    return 0


# --- the command ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidal bench core", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows per workload")
    parser.add_argument("--batch-rows", type=int, default=65_536, help="rows per mini-batch (tick)")
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated, from: " + ", ".join(WORKLOADS),
    )
    parser.add_argument("--json", metavar="FILE", help="write the results here (a JSON list)")
    parser.add_argument("--verify", action="store_true", help="check each view against DuckDB")
    parser.add_argument("--groups", type=int, default=100_000, help="group_by: distinct keys")
    parser.add_argument("--customers", type=int, default=100_000, help="join: customers")
    parser.add_argument(
        "--update-every",
        type=int,
        default=10,
        help="join: every N-th orders batch updates existing orders (0: never)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--timeout", type=float, default=0, help="seconds per subprocess (0: none)")
    return parser


def _run_worker(engine: str, name: str, args: argparse.Namespace) -> dict:
    """One measurement in a fresh interpreter; its JSON result, or an ``error``."""
    options = {
        k: getattr(args, k)
        for k in ("rows", "batch_rows", "verify", "groups", "customers", "update_every", "seed")
    }
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "result.json")
        command = [
            sys.executable,
            "-m",
            "tidal.shell.bench",
            engine,
            name,
            json.dumps(options),
            out,
        ]
        try:
            finished = subprocess.run(command, check=False, timeout=args.timeout or None)
        except subprocess.TimeoutExpired:
            return {"error": f"{engine} timed out after {args.timeout:g} s"}
        if finished.returncode != 0:
            return {"error": f"{engine} worker exited with {finished.returncode}"}
        with open(out) as handle:
            return json.load(handle)


def environment() -> dict:
    """The machine and library versions the numbers were measured with."""
    import duckdb

    cpu = "unknown"
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as handle:
            models = [
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            ]
            cpu = models[0] if models else cpu
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pyarrow": pa.__version__,
        "duckdb": duckdb.__version__,
        "numpy": np.__version__,
        "commit": _commit(),
    }


def _commit() -> str:
    """The checkout's commit, with ``+dirty`` if engine or compiler files have local changes."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "engine", "sql", "catalog"],
            cwd=repo,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _measure(name: str, args: argparse.Namespace, env: dict) -> dict:
    result = {"workload": name, **_run_worker("tidal", name, args)}
    result.update(_run_worker("duckdb", name, args) if "error" not in result else {})
    target = TARGETS[name]
    if "error" not in result:
        result["target_rows_per_second"] = target
        result["met_rows_target"] = result["rows_per_second"] >= target
        # Memory the data costs: peak RSS above the interpreter and libraries alone. The input
        # is generated before the clock starts, but its buffers become the tables' contents
        # without a copy, so they count once, as state.
        result["data_rss_mb"] = result["peak_rss_mb"] - result["rss_after_imports_mb"]
        result["met_memory_target"] = result["data_rss_mb"] <= 2 * result["state_arrow_mb"]
    result["environment"] = env
    return result


def _progress_line(result: dict) -> str:
    if "error" in result:
        return f"{result['workload']}: {result['error']}"
    line = (
        f"{result['workload']}: {result['rows']:,} rows in {result['seconds']:.2f} s = "
        f"{result['rows_per_second'] / 1e6:.2f}M rows/s (target "
        f"{result['target_rows_per_second'] / 1e6:g}M), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, "
        f"state {result['state_arrow_mb']:.0f} MB; DuckDB {result['duckdb_seconds']:.2f} s"
    )
    if "verified" in result:
        line += ", verified" if result["verified"] else f", WRONG: {result['verify_problem']}"
    return line


def summary(results: list[dict]) -> str:
    """A Markdown table of the results."""
    lines = [
        (
            "| workload | rows | tidal rows/s | tidal rows/CPU-s | target | met | DuckDB rows/s "
            "| peak RSS MB | data RSS MB | state Arrow MB | state rows "
            "| data RSS <= 2x state | verified |"
        ),
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['workload']} | {r['error']} |" + " |" * 11)
            continue
        lines.append(
            f"| {r['workload']} | {r['rows']:,} | {r['rows_per_second']:,.0f} "
            f"| {r['rows_per_cpu_second']:,.0f} "
            f"| {r['target_rows_per_second']:,} | {'yes' if r['met_rows_target'] else 'no'} "
            f"| {r['duckdb_rows_per_second']:,.0f} | {r['peak_rss_mb']:,.0f} "
            f"| {r['data_rss_mb']:,.0f} | {r['state_arrow_mb']:,.0f} | {r['state_rows']:,} "
            f"| {'yes' if r['met_memory_target'] else 'no'} | {_verified(r)} |"
        )
    return "\n".join(lines)


def _verified(result: dict) -> str:
    if "verified" not in result:
        return "-"
    return "yes" if result["verified"] else "NO"


def main(argv: list[str]) -> int:
    """``tidal bench core [options]`` (``tidal bench window ...``: see bench_window.py;
    ``tidal bench nexmark ...``: bench_nexmark.py; ``tidal bench shell``: bench_shell.py;
    ``tidal bench pgwire``: bench_pgwire.py); 0 if every workload ran (and verified)."""
    suite, *rest = argv
    if suite == "window":
        from tidal.shell import bench_window

        return bench_window.main(rest)
    if suite == "nexmark":
        from tidal.shell import bench_nexmark

        return bench_nexmark.main(rest)
    if suite == "shell":
        from tidal.shell import bench_shell

        return bench_shell.main(rest)
    if suite == "pgwire":
        from tidal.shell import bench_pgwire

        return bench_pgwire.main(rest)
    if suite != "core":
        print(
            f"unknown benchmark suite {suite!r}: 'core', 'window', 'nexmark', 'shell' or 'pgwire'",
            file=sys.stderr,
        )
        return 2
    args = _parser().parse_args(rest)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        print(f"unknown workloads {unknown}: choose from {', '.join(WORKLOADS)}", file=sys.stderr)
        return 2
    env, results = environment(), []
    for name in names:
        print(f"{name}: {args.rows:,} rows in batches of {args.batch_rows:,} ...", flush=True)
        results.append(_measure(name, args, env))
        print(_progress_line(results[-1]), flush=True)
    print(summary(results))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    failed = [r for r in results if "error" in r or r.get("verified") is False]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
