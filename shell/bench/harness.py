"""The benchmarks' harness: workers in fresh subprocesses, progress, summary tables, JSON.

A suite (``tidal bench core``, ``window``, ``nexmark``) runs each measurement in fresh
interpreters, one per worker (tidal, DuckDB, ...), so that each peak RSS belongs to one
measurement alone: ``python -m tidal.shell.bench.<suite module> WORKER NAME OPTIONS_JSON
OUT_DIR`` writes ``OUT_DIR/WORKER.json``. The parent prints a line as each measurement starts
and ends, then a Markdown table of them all, and writes them as a JSON list.

    >>> same_rows(pa.table({"k": [2, 1], "x": [0.3, 1.0]}),
    ...           pa.table({"k": [1, 2], "x": [1.0, 0.1 + 0.2]}), ("x",)) is None
    True
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import numpy as np
import pyarrow as pa

MB = 1024 * 1024
DUCKDB_RUNS = 3  # the DuckDB reference runs a query this many times; the best time counts
REPO = pathlib.Path(__file__).resolve().parents[2]

Item = TypeVar("Item")
Worker = Callable[[str, argparse.Namespace, pathlib.Path], dict]


# --- measuring, in a worker --------------------------------------------------------------------


def peak_rss_mb() -> float:
    """This process's peak resident set size so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def load_average() -> float:
    """The machine's 1-minute load average: how busy it was around a measurement."""
    return os.getloadavg()[0]


def timed(call: Callable[..., object], *args: object) -> tuple[float, float]:
    """The wall and CPU seconds of one call (``time.perf_counter``, ``time.process_time``)."""
    start, cpu_start = time.perf_counter(), time.process_time()
    call(*args)
    return time.perf_counter() - start, time.process_time() - cpu_start


def per_second(count: float, seconds: float) -> float | None:
    return count / seconds if seconds else None


class Tenths:
    """Says when a run has passed another tenth of its work (a progress mark is due).

    >>> tenths = Tenths(100)
    >>> [tenths.passed(done) for done in (5, 10, 15, 35)]
    [False, True, False, True]
    """

    def __init__(self, total: int) -> None:
        self.total, self.reached = max(total, 1), 0

    def passed(self, done: int) -> bool:
        tenth = done * 10 // self.total
        if tenth > self.reached:
            self.reached = tenth
            return True
        return False


def progress(label: str, text: str) -> None:
    """A progress line on stderr (stdout carries the results)."""
    print(f"  {label}: {text}", file=sys.stderr, flush=True)


# --- DuckDB, the reference ----------------------------------------------------------------------


def duckdb_connection(tables: Mapping[str, pa.Table]):
    """A DuckDB connection with the Arrow tables registered (zero-copy) under their names, and
    the Postgres-compatible settings tidal applies to its own connections."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET integer_division = true")
    connection.execute("SET default_null_order = 'nulls_last_on_asc_first_on_desc'")
    for name, table in tables.items():
        connection.register(name, table)
    return connection


def duckdb_best_of(connection, query: str, runs: int = DUCKDB_RUNS) -> tuple[pa.Table, list]:
    """The query's answer, and the seconds of each of ``runs`` runs (the best counts)."""
    answer, times = None, []
    for _ in range(runs):
        answer = None  # the previous answer is not held while the next run allocates
        start = time.perf_counter()
        answer = connection.sql(query).to_arrow_table()
        times.append(time.perf_counter() - start)
    return answer, times


def duckdb_threads(connection) -> str:
    return connection.execute("SELECT current_setting('threads')").fetchone()[0]


def same_rows(ours: pa.Table, theirs: pa.Table, float_columns: Sequence[str]) -> str | None:
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


# --- workers: one subprocess per measurement and worker ------------------------------------------


def worker_main(argv: list[str], workers: Mapping[str, Worker]) -> int:
    """``python -m MODULE WORKER NAME OPTIONS_JSON OUT_DIR``: one measurement, in this process
    (so a profiler can attach); its result in ``OUT_DIR/WORKER.json``."""
    worker, name, options, out = argv
    args = argparse.Namespace(**json.loads(options))
    result = workers[worker](name, args, pathlib.Path(out))
    with open(pathlib.Path(out) / f"{worker}.json", "w") as handle:
        json.dump(result, handle)
    return 0


def run_worker(
    module: str,
    worker: str,
    name: str,
    args: argparse.Namespace,
    options: Iterable[str],
    out: str | None = None,
) -> dict:
    """One measurement in a fresh interpreter, given the ``options`` of ``args`` (and the files
    of the directory ``out``, if given); its JSON result, or an ``error``."""
    if out is None:
        with tempfile.TemporaryDirectory() as scratch:
            return run_worker(module, worker, name, args, options, scratch)
    chosen = json.dumps({k: getattr(args, k) for k in options})
    command = [sys.executable, "-m", module, worker, name, chosen, out]
    try:
        finished = subprocess.run(command, check=False, timeout=args.timeout or None)
    except subprocess.TimeoutExpired:
        return {"error": f"{worker} timed out after {args.timeout:g} s"}
    if finished.returncode != 0:
        return {"error": f"{worker} worker exited with {finished.returncode}"}
    with open(pathlib.Path(out) / f"{worker}.json") as handle:
        return json.load(handle)


# --- the command ---------------------------------------------------------------------------------


def run_all(
    items: Iterable[Item],
    announce: Callable[[Item], str],
    measure: Callable[[Item, dict], dict],
    describe: Callable[[dict], str],
) -> list[dict]:
    """Measure each item (given the environment), with a line on stdout before and after."""
    env, results = environment(), []
    for item in items:
        print(announce(item), flush=True)
        results.append(measure(item, env))
        print(describe(results[-1]), flush=True)
    return results


def finish(results: list[dict], summary: str, json_path: str | None) -> int:
    """Print the summary, write the results as a JSON list; 1 if any failed or was wrong."""
    print(summary)
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(results, handle, indent=2)
    failed = [r for r in results if "error" in r or r.get("verified") is False]
    return 1 if failed else 0


def markdown_table(
    columns: Sequence[tuple[str, str]],
    results: Iterable[dict],
    name: str,
    cells: Callable[[dict], Sequence[str]],
) -> str:
    """A Markdown table: ``columns`` are (title, "<" or ">" for the alignment), one row per
    result from ``cells``; a result with an ``error`` shows its ``name`` key and the error."""
    lines = [
        "| " + " | ".join(title for title, _ in columns) + " |",
        "|" + "|".join("---:" if align == ">" else "---" for _, align in columns) + "|",
    ]
    for result in results:
        if "error" in result:
            lines.append(f"| {result[name]} | {result['error']} |" + " |" * (len(columns) - 2))
        else:
            lines.append("| " + " | ".join(cells(result)) + " |")
    return "\n".join(lines)


def verified(result: dict) -> str:
    """A result's ``verified`` as a table cell."""
    if "verified" not in result:
        return "-"
    return "yes" if result["verified"] else "NO"


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
    try:
        head = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--", "engine", "sql", "catalog")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def _git(*command: str) -> str:
    finished = subprocess.run(
        ["git", *command], cwd=REPO, check=True, capture_output=True, text=True
    )
    return finished.stdout.strip()
