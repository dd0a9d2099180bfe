"""``tidal bench udf``: what a Python function in a view costs, beside the same work built in.

Five variants (benchmarks/README.md), each in a fresh subprocess:

- ``builtin``: ``SELECT x * 2``, the expression tidal evaluates itself;
- ``arrow_udf``: a vectorized function (``vectorized = 'arrow'``) returning ``pc.multiply(x, 2)``:
  the target is within 1.5x of ``builtin``'s time;
- ``row_udf``: a row-at-a-time function returning ``x * 2``: the target is >= 1M rows/s;
- ``heavy`` and ``heavy_workers``: a CPU-heavy pure-Python function (500 steps of modular
  arithmetic a row, 20-50 us) in the engine's process, and in ``workers = 2`` worker
  processes: the target is that the workers are faster, on a 2-core machine. These run over
  ``--heavy-rows`` rows (fewer: at 2M rows the in-process run alone takes about a minute).

``--through engine`` (the default) measures end to end: a ``Database`` with ``CREATE TABLE t
(x BIGINT)``, the ``CREATE FUNCTION``, ``CREATE MATERIALIZED VIEW v AS SELECT f(x) AS y FROM
t``, then the rows inserted in ticks of ``--batch-rows`` (all at once by default) with
``apply_changes``; only those ticks are timed. A first tick of two rows comes before, untimed,
so that workers have started (its time is reported as ``first_tick_seconds``).
``--through calls`` measures the function alone: ``tidal.engine.udf.calls.call`` in process,
``WorkerPool.call`` for the workers, and ``pyarrow.compute.multiply`` for ``builtin``. Every
run checks its answer against numpy's. Each variant runs ``--runs`` times (a fresh ``Database``
each time) and the best time counts, as the machine is shared.

    tidal bench udf --rows 2000000 --heavy-rows 200000 --json out.json
    tidal bench udf --through calls --variants heavy,heavy_workers --heavy-rows 50000
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.shell.bench.harness import (
    finish,
    load_average,
    markdown_table,
    peak_rss_mb,
    per_second,
    run_all,
    run_worker,
    timed,
    worker_main,
)

HEAVY_STEPS = 500  # modular steps a row in the heavy function: about 20-50 us of Python
WEIGHT = "__weight"


@dataclass(frozen=True)
class Variant:
    """A way to compute ``y`` from ``x``: a built-in expression or a Python function."""

    name: str
    source: str | None  # the function's Python text, None for the built-in expression
    options: str = ""  # the WITH (...) of CREATE FUNCTION
    style: str = "row"
    workers: int = 0
    heavy: bool = False  # over --heavy-rows, checked against heavy_numpy


def heavy_numpy(x: np.ndarray) -> np.ndarray:
    """What the heavy function computes, vectorized: the check of its answers."""
    t = x.astype(np.int64)
    for step in range(HEAVY_STEPS):
        t = (t * 31 + step) % 1000003
    return t


DOUBLE = "def f(x):\n    return x * 2\n"
DOUBLE_ARROW = "import pyarrow.compute as pc\n\n\ndef f(x):\n    return pc.multiply(x, 2)\n"
HEAVY = (
    "def f(x):\n    t = x\n"
    f"    for step in range({HEAVY_STEPS}):\n        t = (t * 31 + step) % 1000003\n    return t\n"
)

VARIANTS = {
    v.name: v
    for v in (
        Variant("builtin", None),
        Variant("arrow_udf", DOUBLE_ARROW, "vectorized = 'arrow'", style="arrow"),
        Variant("row_udf", DOUBLE),
        Variant("heavy", HEAVY, heavy=True),
        Variant("heavy_workers", HEAVY, "workers = 2", workers=2, heavy=True),
    )
}
_OPTIONS = ("rows", "heavy_rows", "batch_rows", "through", "workers", "runs", "seed")


# --- workers (one subprocess per variant) ------------------------------------------------------


def _data(variant: Variant, args: argparse.Namespace) -> tuple[pa.Array, np.ndarray]:
    """The input column and the answer expected for it."""
    rows = args.heavy_rows if variant.heavy else args.rows
    x = np.random.default_rng(args.seed).integers(0, 1_000_000, rows, dtype=np.int64)
    return pa.array(x), heavy_numpy(x) if variant.heavy else x * 2


def _engine_worker(name: str, args: argparse.Namespace, out: pathlib.Path) -> dict:
    variant = VARIANTS[name]
    x, expected = _data(variant, args)
    warm = heavy_numpy(np.zeros(2, np.int64)) if variant.heavy else np.zeros(2, np.int64)
    expected = np.sort(np.concatenate([warm, expected]))
    runs, load_before = [], load_average()
    for _ in range(args.runs):
        runs.append(_engine_run(variant, x, expected, args))
    best = min(runs, key=lambda r: r["seconds"])
    verified = all(r.pop("verified") for r in runs)
    return _result(variant, len(x), best["seconds"], best["cpu_seconds"], verified) | {
        "run_seconds": [r["seconds"] for r in runs],
        "first_tick_seconds": [r["first_tick_seconds"] for r in runs],
        "ticks": -(-len(x) // args.batch_rows),
        "peak_rss_mb": peak_rss_mb(),
        "load_average": [load_before, load_average()],
    }


def _engine_run(variant: Variant, x: pa.Array, expected: np.ndarray, args) -> dict:
    """One run on a fresh Database: the ticks' wall and CPU seconds, and whether v is right."""
    from tidal.engine import Database

    db = Database()
    db.execute("CREATE TABLE t (x BIGINT)")
    expression = "x * 2"
    if variant.source is not None:
        options = variant.options.replace("workers = 2", f"workers = {args.workers}")
        with_clause = f" WITH ({options})" if options else ""
        db.execute(
            "CREATE FUNCTION f(x BIGINT) RETURNS BIGINT LANGUAGE python"
            f"{with_clause} AS $${variant.source}$$"
        )
        expression = "f(x)"
    db.execute(f"CREATE MATERIALIZED VIEW v AS SELECT {expression} AS y FROM t")
    # Two rows: the registry calls a single row in the engine's process, not in the workers.
    first, _ = timed(db.apply_changes, "t", _inserts(pa.array([0, 0], pa.int64())))
    seconds = cpu_seconds = 0.0
    for start in range(0, len(x), args.batch_rows):
        elapsed, cpu = timed(db.apply_changes, "t", _inserts(x.slice(start, args.batch_rows)))
        seconds, cpu_seconds = seconds + elapsed, cpu_seconds + cpu
    y = np.sort(db.read("v").column("y").to_numpy())
    db.close()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "first_tick_seconds": first,
        "verified": bool(np.array_equal(y, expected)),
    }


def _inserts(column: pa.Array) -> pa.Table:
    return pa.table({"x": column, WEIGHT: pa.array(np.ones(len(column), np.int64))})


def _calls_worker(name: str, args: argparse.Namespace, out: pathlib.Path) -> dict:
    from tidal.engine.udf import calls
    from tidal.engine.udf.definitions import load
    from tidal.engine.udf.workers import FunctionSpec, WorkerPool

    variant = VARIANTS[name]
    x, expected = _data(variant, args)
    extra: dict = {}
    if variant.source is None:
        run = lambda: pc.multiply(x, 2)
    elif variant.workers:
        pool = WorkerPool(FunctionSpec("f", source=variant.source), args.workers)
        pool.call([x.slice(0, 2)], pa.int64(), variant.style, None)
        extra = {"start_seconds": pool.start_seconds, "worker_pids": pool.pids()}
        run = lambda: pool.call([x], pa.int64(), variant.style, None)[0]
    else:
        function = load(variant.source, "f")
        run = lambda: calls.call(function, [x], pa.int64(), variant.style)[0]
    runs, load_before, verified = [], load_average(), True
    workers_cpu = _cpu_seconds(extra.get("worker_pids", []))
    for _ in range(args.runs):
        began, cpu_began = time.perf_counter(), time.process_time()
        y = run()
        runs.append((time.perf_counter() - began, time.process_time() - cpu_began))
        verified = verified and bool(np.array_equal(y.to_numpy(), expected))
    seconds, cpu_seconds = min(runs)
    if "worker_pids" in extra:  # what each worker computed, per run: the work was shared
        done = _cpu_seconds(extra["worker_pids"])
        extra["workers_cpu_seconds"] = [(b - a) / args.runs for a, b in zip(workers_cpu, done)]
    return (
        _result(variant, len(x), seconds, cpu_seconds, verified)
        | extra
        | {
            "run_seconds": [r[0] for r in runs],
            "peak_rss_mb": peak_rss_mb(),
            "load_average": [load_before, load_average()],
        }
    )


def _cpu_seconds(pids: list[int]) -> list[float]:
    """Each process's user + system CPU seconds so far (Linux's /proc; 0 elsewhere)."""
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            found.append((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
        except OSError:
            found.append(0.0)
    return found


def _result(variant: Variant, rows: int, seconds: float, cpu: float, verified: bool) -> dict:
    return {
        "variant": variant.name,
        "rows": rows,
        "seconds": seconds,
        "rows_per_second": per_second(rows, seconds),
        "cpu_seconds": cpu,  # of the engine's process only: workers' CPU is not in it
        "workers": variant.workers,
        "verified": verified,
    }


WORKERS = {"engine": _engine_worker, "calls": _calls_worker}


# --- the command ------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tidal bench udf", description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=2_000_000, help="rows of x * 2 variants")
    p.add_argument("--heavy-rows", type=int, default=200_000, help="rows of the heavy variants")
    p.add_argument("--batch-rows", type=int, default=0, help="rows per tick (0: all in one)")
    p.add_argument("--through", choices=("engine", "calls"), default="engine")
    p.add_argument("--workers", type=int, default=2, help="heavy_workers: worker processes")
    p.add_argument("--runs", type=int, default=3, help="runs of each variant; the best counts")
    p.add_argument("--variants", default=",".join(VARIANTS), help=", ".join(VARIANTS))
    p.add_argument("--json", metavar="FILE", help="write the results here (a JSON list)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=0, help="seconds per subprocess (0: none)")
    return p


def targets(results: list[dict]) -> list[dict]:
    """The three targets, met or not, from the variants' results (those that ran)."""
    by = {r["variant"]: r for r in results if "error" not in r}
    found = []
    if "builtin" in by and "arrow_udf" in by:
        ratio = by["arrow_udf"]["seconds"] / by["builtin"]["seconds"]
        found.append(
            {
                "target": "arrow_udf within 1.5x of builtin",
                "value": f"{ratio:.2f}x",
                "met": ratio <= 1.5,
            }
        )
    if "row_udf" in by:
        rate = by["row_udf"]["rows_per_second"]
        found.append(
            {
                "target": "row_udf >= 1M rows/s",
                "value": f"{rate / 1e6:.2f}M rows/s",
                "met": rate >= 1e6,
            }
        )
    if "heavy" in by and "heavy_workers" in by:
        speedup = by["heavy"]["seconds"] / by["heavy_workers"]["seconds"]
        found.append(
            {
                "target": "heavy_workers faster than heavy",
                "value": f"{speedup:.2f}x",
                "met": speedup > 1,
            }
        )
    return found


def _result_line(result: dict) -> str:
    if "error" in result:
        return f"{result['variant']}: {result['error']}"
    line = (
        f"{result['variant']}: {result['rows']:,} rows in {result['seconds']:.3f} s = "
        f"{result['rows_per_second'] / 1e6:.2f}M rows/s"
    )
    return line + ("" if result["verified"] else ", WRONG answer")


_COLUMNS = (
    ("variant", "<"),
    ("rows", ">"),
    ("seconds", ">"),
    ("rows/s", ">"),
    ("engine CPU s", ">"),
    ("workers", ">"),
    ("peak RSS MB", ">"),
    ("verified", "<"),
)


def _cells(r: dict) -> list[str]:
    return [
        r["variant"],
        f"{r['rows']:,}",
        f"{r['seconds']:.3f}",
        f"{r['rows_per_second']:,.0f}",
        f"{r['cpu_seconds']:.3f}",
        str(r["workers"]),
        f"{r['peak_rss_mb']:,.0f}",
        "yes" if r["verified"] else "NO",
    ]


def summary(results: list[dict]) -> str:
    """The variants' table, then the targets'."""
    table = markdown_table(_COLUMNS, results, "variant", _cells)
    rows = [
        f"| {t['target']} | {t['value']} | {'yes' if t['met'] else 'no'} |"
        for t in targets(results)
    ]
    return "\n".join([table, "", "| target | measured | met |", "|---|---:|---|", *rows])


def main(argv: list[str]) -> int:
    """``tidal bench udf [options]``; 0 if every variant ran and answered right."""
    args = parser().parse_args(argv)
    args.batch_rows = args.batch_rows or max(args.rows, args.heavy_rows)
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"unknown variants {unknown}: choose from {', '.join(VARIANTS)}", file=sys.stderr)
        return 2

    def measure(name: str, env: dict) -> dict:
        result = run_worker(__name__, args.through, name, args, _OPTIONS)
        return {"variant": name, "through": args.through, **result, "environment": env}

    results = run_all(names, lambda name: f"{name} ({args.through}) ...", measure, _result_line)
    return finish(results, summary(results), args.json)


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:], WORKERS))
