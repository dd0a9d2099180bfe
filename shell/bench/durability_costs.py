"""``tidal bench durability``: what a data directory costs, and how fast it recovers.

Three measurements, each worker in a fresh subprocess (harness.py):

- ``throughput`` (per ``--query``, Nexmark as ``tidal bench nexmark`` runs it): the query in
  memory, then on a data directory checkpointing every ``--interval`` seconds (10), ``--runs``
  times each, alternated (the best counts). The cost is how much lower the durable events/s is
  (target: under 10%). Also: how many checkpoints ran, and
  a last ``CHECKPOINT`` at the end: its seconds and size on disk.
- ``recovery``: ``--state-mb`` of state (1000: a checkpoint of about 1 GB on disk) built in a data directory (a retained
  datagen source with a text column, a filter view that keeps half of its rows, a group-by over
  a million keys), checkpointed, then ``--tail-ticks`` ticks of table inserts logged after the
  checkpoint, and the process ended without a clean close (``os._exit``). A fresh process then
  opens the directory and answers a query: the seconds from ``Database(DIR)`` to the first
  answer (target: under 5 s), split into the checkpoint's load, its DDL and state, and the log.

    tidal bench durability --query q5,q7 --events 20000000 --state-mb 1000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

from tidal.shell.bench.harness import (
    finish,
    markdown_table,
    peak_rss_mb,
    run_all,
    run_worker,
    worker_main,
)
from tidal.shell.bench.nexmark_queries import drive
from tidal.shell.bench.nexmark_scripts import Script, execute

COST_TARGET = 0.10  # durable throughput at most 10% below in memory
RECOVERY_TARGET_S = 5.0
ROW_BYTES = 140  # checkpoint bytes per datagen row: the source, half of it in a view, per_key
_OPTIONS = ("events", "batch_size", "interval", "state_mb", "tail_ticks", "data_dir")


def folder_bytes(path: pathlib.Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def last_checkpoint(data_dir: pathlib.Path) -> pathlib.Path:
    folder = data_dir / "checkpoints"
    return folder / (folder / "CURRENT").read_text().strip()


# --- workers ------------------------------------------------------------------------------------


def _throughput_worker(name: str, args: argparse.Namespace, out: pathlib.Path) -> dict:
    """``name`` is ``QUERY:memory`` or ``QUERY:durable``."""
    from tidal.engine import Database

    query, mode = name.split(":")
    script = Script.load(query, args.events)
    data_dir = out / "data" if mode == "durable" else None
    db = Database(data_dir, batch_rows=args.batch_size, checkpoint_interval=args.interval)
    execute(db, script.setup())
    first = int(last_checkpoint(data_dir).name.removeprefix("ckpt-")) if data_dir else 0
    run = drive(db, query, script, args.events, f"{query} ({mode})")
    result = {
        "query": query,
        "mode": mode,
        "events": args.events,
        "seconds": run["seconds"],
        "events_per_second": args.events / run["seconds"],
        "cpu_seconds": run["cpu_seconds"],  # the process's, the checkpoint writer's included
        "events_per_cpu_second": args.events / run["cpu_seconds"],
        "tick_p50_ms": run["tick_p50_ms"],
        "tick_p99_ms": run["tick_p99_ms"],
        "peak_rss_mb": peak_rss_mb(),
    }
    if data_dir is not None:
        while db.durability.writing():  # the run's last background checkpoint
            time.sleep(0.01)
        count = int(last_checkpoint(data_dir).name.removeprefix("ckpt-")) - first
        start = time.perf_counter()
        db.execute("CHECKPOINT")
        result.update(
            checkpoints_during_run=count,
            checkpoint_seconds=time.perf_counter() - start,
            checkpoint_bytes=folder_bytes(last_checkpoint(data_dir)),
            log_bytes=folder_bytes(data_dir / "log"),
        )
    db.close()
    return result


STATE_DDL = """
CREATE SOURCE g (k BIGINT, v BIGINT, s VARCHAR) WITH (connector = 'datagen',
  'number-of-rows' = '{rows}', 'fields.k.min' = '0', 'fields.k.max' = '999999',
  'fields.v.min' = '0', 'fields.v.max' = '1000000', 'fields.s.length' = '40');
CREATE MATERIALIZED VIEW half AS SELECT k, v, s FROM g WHERE v % 2 = 0;
CREATE MATERIALIZED VIEW per_key AS SELECT k, count(*) AS n, sum(v) AS total FROM g GROUP BY k;
CREATE TABLE tail (k BIGINT, v BIGINT);
CREATE MATERIALIZED VIEW tail_total AS SELECT count(*) AS n, sum(v) AS total FROM tail;
"""
TAIL_ROWS = 10_000  # rows per logged tick after the checkpoint


def _build_worker(name: str, args: argparse.Namespace, out: pathlib.Path) -> dict:
    """Fill a data directory with about ``state_mb`` of state, checkpoint it, log a tail of
    ticks after it, and end without a clean close."""
    import pyarrow as pa

    from tidal.engine import Database

    data_dir = pathlib.Path(args.data_dir)
    rows = args.state_mb * 1024 * 1024 // ROW_BYTES
    never = 1e9  # no background checkpoint while building: one, measured, at the end
    db = Database(data_dir, batch_rows=1 << 20, checkpoint_interval=never)
    start = time.perf_counter()
    db.execute(STATE_DDL.format(rows=rows))
    db.catch_up()
    build_seconds = time.perf_counter() - start
    start = time.perf_counter()
    db.execute("CHECKPOINT")
    checkpoint_seconds = time.perf_counter() - start
    for tick in range(args.tail_ticks):
        keys = pa.array(range(tick * TAIL_ROWS, (tick + 1) * TAIL_ROWS), pa.int64())
        db.apply_changes(
            "tail", pa.table({"k": keys, "v": keys, "__weight": pa.repeat(1, len(keys))})
        )
    result = {
        "rows": rows,
        "build_seconds": build_seconds,
        "checkpoint_seconds": checkpoint_seconds,
        "checkpoint_bytes": folder_bytes(last_checkpoint(data_dir)),
        "log_bytes": folder_bytes(data_dir / "log"),
        "tail_ticks": args.tail_ticks,
        "peak_rss_mb": peak_rss_mb(),
    }
    (out / "build.json").write_text(json.dumps(result))  # what worker_main would write
    sys.stdout.flush()
    os._exit(0)  # as a crash would leave it: the tail only in the log


def _recover_worker(name: str, args: argparse.Namespace, out: pathlib.Path) -> dict:
    from tidal.engine import Database
    from tidal.engine.durability import checkpoints
    from tidal.engine.durability.tick_log import TickLog

    start = time.perf_counter()
    db = Database(args.data_dir)
    opened = time.perf_counter()
    answer = db.execute("SELECT n, total FROM tail_total").to_pylist()
    first_answer = time.perf_counter()
    keys = db.execute("SELECT count(*) AS keys FROM per_key").to_pylist()[0]["keys"]
    db.execute("SELECT count(*), sum(v) FROM half")  # reads the biggest view's rows
    scanned = time.perf_counter()
    peak = peak_rss_mb()
    # Where the time goes: the checkpoint's files loaded alone, the log read alone (both warm
    # in the page cache by now, as they were for the open: the build had just written them).
    data_dir = pathlib.Path(args.data_dir)
    load_start = time.perf_counter()
    checkpoints.load(last_checkpoint(data_dir))
    load_seconds = time.perf_counter() - load_start
    log_start = time.perf_counter()
    records = sum(1 for _ in TickLog(data_dir / "log").records())
    result = {
        "open_seconds": opened - start,
        "first_answer_seconds": first_answer - start,
        "big_views_read_seconds": scanned - first_answer,
        "checkpoint_load_seconds": load_seconds,
        "log_read_seconds": time.perf_counter() - log_start,
        "log_records": records,
        "tail_rows": answer[0]["n"],
        "keys": keys,
        "peak_rss_mb": peak,
    }
    db.close()
    return result


WORKERS = {
    "throughput": _throughput_worker,
    "build": _build_worker,
    "recover": _recover_worker,
}


# --- the command --------------------------------------------------------------------------------


def _measure_throughput(query: str, args: argparse.Namespace, env: dict) -> dict:
    result: dict = {"measurement": "throughput", "query": query, "environment": env}
    runs: dict[str, list[dict]] = {"memory": [], "durable": []}
    for _ in range(args.runs):  # alternated, so that a busy spell of the machine hits both
        for mode, done in runs.items():
            with tempfile.TemporaryDirectory() as scratch:
                run = run_worker(__name__, "throughput", f"{query}:{mode}", args, _OPTIONS, scratch)
            if "error" in run:
                return {**result, "error": run["error"]}
            done.append(run)
    memory, durable = (max(r, key=lambda run: run["events_per_second"]) for r in runs.values())
    cost = 1 - durable["events_per_second"] / memory["events_per_second"]
    cpu = [max(r["events_per_cpu_second"] for r in runs[mode]) for mode in ("memory", "durable")]
    return {
        **result,
        "memory": memory,
        "durable": durable,
        "runs": runs,
        "interval_seconds": args.interval,
        "cost": cost,
        "cpu_cost": 1 - cpu[1] / cpu[0],  # steadier on a shared machine
        "met_target": cost < COST_TARGET,
    }


def _measure_recovery(args: argparse.Namespace, env: dict) -> dict:
    result: dict = {"measurement": "recovery", "query": "recovery", "environment": env}
    with tempfile.TemporaryDirectory() as scratch:
        args = argparse.Namespace(**{**vars(args), "data_dir": str(pathlib.Path(scratch) / "data")})
        build = run_worker(__name__, "build", "build", args, _OPTIONS, scratch)
        if "error" in build:
            return {**result, "error": build["error"]}
        recover = run_worker(__name__, "recover", "recover", args, _OPTIONS, scratch)
    if "error" in recover:
        return {**result, "error": recover["error"]}
    ok = recover["tail_rows"] == args.tail_ticks * TAIL_ROWS
    return {
        **result,
        "build": build,
        "recover": recover,
        "state_mb": args.state_mb,
        "correct": ok,
        "met_target": ok and recover["first_answer_seconds"] < RECOVERY_TARGET_S,
    }


def _result_line(r: dict) -> str:
    if "error" in r:
        return f"{r['query']}: {r['error']}"
    if r["measurement"] == "throughput":
        m, d = r["memory"], r["durable"]
        return (
            f"{r['query']}: in memory {m['events_per_second'] / 1e6:.2f}M events/s, durable "
            f"{d['events_per_second'] / 1e6:.2f}M ({r['cost']:+.1%} cost, per CPU second "
            f"{r['cpu_cost']:+.1%}, "
            f"{d['checkpoints_during_run']} checkpoints); last checkpoint "
            f"{d['checkpoint_seconds']:.2f} s, {d['checkpoint_bytes'] / 1e6:.1f} MB"
        )
    b, c = r["build"], r["recover"]
    return (
        f"recovery: checkpoint {b['checkpoint_bytes'] / 1e6:,.0f} MB written in "
        f"{b['checkpoint_seconds']:.2f} s, log {b['log_bytes'] / 1e6:.1f} MB; first answer "
        f"{c['first_answer_seconds']:.2f} s after open (open {c['open_seconds']:.2f} s)"
        + ("" if r["correct"] else ", WRONG answer")
    )


_COLUMNS = (
    ("measurement", "<"),
    ("in memory events/s", ">"),
    ("durable events/s", ">"),
    ("cost", ">"),
    ("cost per CPU s", ">"),
    ("checkpoints", ">"),
    ("checkpoint s", ">"),
    ("checkpoint MB", ">"),
    ("first answer s", ">"),
    ("met", "<"),
)


def _cells(r: dict) -> list[str]:
    met = "yes" if r["met_target"] else "**no**"
    if r["measurement"] == "throughput":
        m, d = r["memory"], r["durable"]
        return [
            r["query"],
            f"{m['events_per_second']:,.0f}",
            f"{d['events_per_second']:,.0f}",
            f"{r['cost']:.1%}",
            f"{r['cpu_cost']:.1%}",
            str(d["checkpoints_during_run"]),
            f"{d['checkpoint_seconds']:.2f}",
            f"{d['checkpoint_bytes'] / 1e6:.1f}",
            "-",
            met,
        ]
    b, c = r["build"], r["recover"]
    return [
        f"recovery ({r['state_mb']:,} MB)",
        "-",
        "-",
        "-",
        "-",
        "1",
        f"{b['checkpoint_seconds']:.2f}",
        f"{b['checkpoint_bytes'] / 1e6:,.0f}",
        f"{c['first_answer_seconds']:.2f}",
        met,
    ]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tidal bench durability", description=__doc__.splitlines()[0])
    p.add_argument("--query", default="q5,q7", help="Nexmark queries for the throughput cost")
    p.add_argument("--events", type=int, default=20_000_000, help="events per throughput run")
    p.add_argument("--batch-size", type=int, default=65_536, help="rows per source and tick")
    p.add_argument("--interval", type=float, default=10.0, help="checkpoint interval, seconds")
    p.add_argument("--runs", type=int, default=2, help="runs of each mode; the best counts")
    p.add_argument("--state-mb", type=int, default=1000, help="state to recover (0: skip)")
    p.add_argument("--tail-ticks", type=int, default=100, help="ticks logged after the checkpoint")
    p.add_argument("--json", metavar="FILE", help="write the results here (a JSON list)")
    p.add_argument("--timeout", type=float, default=0, help="seconds per subprocess (0: none)")
    return p


def main(argv: list[str]) -> int:
    """``tidal bench durability [options]``; 0 if every measurement ran and answered right."""
    args = parser().parse_args(argv)
    args.data_dir = None
    items = [q.strip() for q in args.query.split(",") if q.strip()]
    items += ["recovery"] if args.state_mb else []
    results = run_all(
        items,
        lambda item: f"{item}: ..." if item == "recovery" else f"{item}: {args.events:,} events",
        lambda item, env: (
            _measure_recovery(args, env)
            if item == "recovery"
            else _measure_throughput(item, args, env)
        ),
        _result_line,
    )
    table = markdown_table(_COLUMNS, results, "query", _cells)
    failed = [r for r in results if r.get("correct") is False]
    return finish(results, table, args.json) or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:], WORKERS))
