"""``tidal bench pgwire``: reads over the PostgreSQL wire protocol while a source ingests.

A real ``tidal serve`` subprocess on 127.0.0.1 (a free port) runs a script with a ``datagen``
source at a fixed rate feeding a view keyed by ``id`` (``--keys`` ids) and a count of the rows
ingested. Then, in phases of ``--seconds`` each:

1. ``ingest``: no readers; the ingestion rate alone.
2. ``point``: ``--clients`` asyncpg connections (in ``--client-processes`` processes of their
   own) each running ``SELECT * FROM per_id WHERE id = $1`` with random ids, back to back.
3. ``scan``: the same clients running small scans, alternately
   ``SELECT id, n, total FROM per_id ORDER BY total DESC LIMIT 10`` and
   ``SELECT id, n FROM per_id WHERE id BETWEEN $1 AND $2`` (10 ids).
4. ``heavy``: the point readers again, while one more client runs a query that would take
   hours (a three-way self join of ``per_id``) again and again, each stopped by a
   ``statement_timeout`` of ``--heavy-timeout`` seconds: the readers and the ingestion must
   not notice it (issue 15's isolation).

Reported per phase: queries/s, p50/p99/max latency per kind, the rows ingested per second
(from the count view, read at the phase's start and end), and the server's CPU seconds. The
client processes share the machine's cores with the server.

    tidal bench pgwire --seconds 20 --clients 50 --json benchmarks/results/pgwire.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import platform
import queue
import random
import subprocess
import sys
import tempfile
import threading
import time

from tidal.shell.bench.harness import load_average

SCRIPT = """
CREATE SOURCE events (id BIGINT, amount BIGINT, note VARCHAR) WITH (
  connector = 'datagen', 'rows-per-second' = '{rate}', retain = 'false',
  'fields.id.min' = '0', 'fields.id.max' = '{max_id}',
  'fields.amount.min' = '1', 'fields.amount.max' = '1000', 'fields.note.length' = '8');
CREATE MATERIALIZED VIEW per_id AS
  SELECT id, count(*) AS n, sum(amount) AS total, max(amount) AS biggest FROM events GROUP BY id;
CREATE MATERIALIZED VIEW ingested AS SELECT count(*) AS n FROM events;
"""

POINT = "SELECT * FROM per_id WHERE id = $1"
TOP = "SELECT id, n, total FROM per_id ORDER BY total DESC LIMIT 10"
RANGE = "SELECT id, n FROM per_id WHERE id BETWEEN $1 AND $2"
HEAVY = "SELECT count(*) FROM per_id a, per_id b, per_id c WHERE a.id + b.id + c.id = -1"
PHASES = ("ingest", "point", "scan", "heavy")
TARGETS = {
    "point_reads_per_second": 3000,
    "point_p99_ms": 50.0,
    "ingest_slowdown": 0.20,
    "heavy_point_p99_ms": 100.0,
    "ingest_slowdown_heavy": 0.20,
}


# --- the server -------------------------------------------------------------------------------


class Server:
    """``tidal serve --port 0`` on a script; ``port`` once it listens."""

    def __init__(self, script: str, workdir: pathlib.Path, flags: list[str]) -> None:
        path = workdir / "bench.sql"
        path.write_text(script)
        command = [sys.executable, "-m", "tidal.shell.cli", "serve", "--port", "0"]
        command += ["--init", str(path), "--max-connections", "200", *flags]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir
        )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.port = self._wait_listening()

    def _pump(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _wait_listening(self, timeout: float = 60) -> int:
        said = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"tidal serve exited: {said}")
            said.append(line)
            if line.startswith("tidal serve: listening on "):
                return int(line.rsplit(":", 1)[1])
        self.process.kill()
        raise RuntimeError(f"tidal serve did not start: {said}")

    def cpu_seconds(self) -> float:
        """User plus system CPU seconds of the server process so far (Linux /proc)."""
        fields = pathlib.Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1]
        utime, stime = fields.split()[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


# --- the clients ------------------------------------------------------------------------------


async def _client(port: int, kind: str, keys: int, seed: int, until: float, out: dict) -> None:
    import asyncpg

    rng = random.Random(seed)
    conn = await asyncpg.connect(host="127.0.0.1", port=port, user="bench", database="tidal")
    try:
        turn = 0
        while time.monotonic() < until:
            if kind == "point":
                label, sql, args = "point", POINT, (rng.randrange(keys),)
            elif turn % 2 == 0:
                label, sql, args = "top", TOP, ()
            else:
                low = rng.randrange(max(1, keys - 9))
                label, sql, args = "range", RANGE, (low, low + 9)
            turn += 1
            start = time.perf_counter()
            rows = await conn.fetch(sql, *args)
            out.setdefault(label, []).append(time.perf_counter() - start)
            out.setdefault(label + "_rows", [0])[0] += len(rows)
    finally:
        await conn.close()


async def _clients(port: int, kind: str, clients: int, keys: int, seconds: float, seed: int):
    out: dict = {}
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(_client(port, kind, keys, seed * 1000 + i, until, out) for i in range(clients))
    )
    return out


def client_main(argv: list[str]) -> int:
    """A client process: ``client PORT KIND CLIENTS KEYS SECONDS SEED OUT``; writes latencies."""
    port, kind, clients, keys, seconds, seed, out = argv
    started = time.process_time()
    result = asyncio.run(
        _clients(int(port), kind, int(clients), int(keys), float(seconds), int(seed))
    )
    result["cpu_seconds"] = time.process_time() - started
    pathlib.Path(out).write_text(json.dumps(result))
    return 0


def _run_clients(args, port: int, kind: str, workdir: pathlib.Path) -> dict:
    """Start the client processes, wait for them, merge what they measured."""
    processes, outs = [], []
    per_process = _split(args.clients, args.client_processes)
    for i, clients in enumerate(per_process):
        out = workdir / f"clients-{kind}-{i}.json"
        # __spec__.name: this module's name, also when it runs as __main__ (python -m)
        command = [sys.executable, "-m", __spec__.name, "client", str(port), kind]
        command += [str(clients), str(args.keys), str(args.seconds), str(args.seed + i), str(out)]
        processes.append(subprocess.Popen(command))
        outs.append(out)
    for process in processes:
        if process.wait(args.seconds + 120) != 0:
            raise RuntimeError(f"a client process failed ({process.returncode})")
    merged: dict = {"cpu_seconds": 0.0}
    for out in outs:
        part = json.loads(out.read_text())
        merged["cpu_seconds"] += part.pop("cpu_seconds")
        for label, values in part.items():
            if label.endswith("_rows"):
                merged[label] = merged.get(label, 0) + values[0]
            else:
                merged.setdefault(label, []).extend(values)
    return merged


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# --- measuring ------------------------------------------------------------------------------


def _ingested(port: int) -> int:
    import psycopg

    with psycopg.connect(f"host=127.0.0.1 port={port} user=bench dbname=tidal") as conn:
        row = conn.execute("SELECT n FROM ingested").fetchone()
    return int(row[0]) if row else 0


def _latency(values: list[float]) -> dict:
    import numpy as np

    if not values:
        return {"queries": 0}
    ms = np.array(values) * 1000
    return {
        "queries": len(values),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
        "max_ms": round(float(ms.max()), 2),
        "mean_ms": round(float(ms.mean()), 3),
    }


def _phase(args, server: Server, kind: str, workdir: pathlib.Path) -> dict:
    before_rows, before_cpu, start = _ingested(server.port), server.cpu_seconds(), time.monotonic()
    heavy = None
    if kind == "heavy":
        heavy = HeavyClient(server.port, args.heavy_timeout, start + args.seconds)
    if kind == "ingest":
        time.sleep(args.seconds)
        measured: dict = {"cpu_seconds": 0.0}
    else:
        measured = _run_clients(args, server.port, "point" if heavy else kind, workdir)
    elapsed = time.monotonic() - start
    rows = _ingested(server.port) - before_rows
    result = {
        "phase": kind,
        "seconds": round(elapsed, 2),
        "ingested_rows": rows,
        "ingest_rows_per_second": round(rows / elapsed),
        "server_cpu_seconds": round(server.cpu_seconds() - before_cpu, 2),
        "client_cpu_seconds": round(measured.pop("cpu_seconds"), 2),
    }
    queries = 0
    for label in ("point", "top", "range"):
        if label in measured:
            stats = _latency(measured[label])
            stats["rows"] = measured.get(label + "_rows", 0)
            stats["queries_per_second"] = round(stats["queries"] / args.seconds)
            result[label] = stats
            queries += stats["queries"]
    result["queries_per_second"] = round(queries / args.seconds)
    if heavy is not None:
        result["heavy"] = heavy.finish()
    return result


class HeavyClient:
    """One connection running HEAVY back to back until ``until``, each run ended by its
    statement timeout: counts the runs and how each ended."""

    def __init__(self, port: int, timeout: float, until: float) -> None:
        self.port, self.timeout, self.until = port, timeout, until
        self.ended: dict[str, int] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        import psycopg

        dsn = f"host=127.0.0.1 port={self.port} user=bench dbname=tidal"
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"SET statement_timeout = '{self.timeout}s'")
            while time.monotonic() < self.until:
                try:
                    conn.execute(HEAVY)
                    how = "finished"
                except psycopg.Error as error:
                    how = error.sqlstate or "error"
                self.ended[how] = self.ended.get(how, 0) + 1

    def finish(self) -> dict:
        self.thread.join(self.timeout + 30)
        return {"runs": sum(self.ended.values()), "ended": self.ended}


def _environment() -> dict:
    import asyncpg
    import duckdb
    import pyarrow

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "pyarrow": pyarrow.__version__,
        "duckdb": duckdb.__version__,
        "asyncpg": asyncpg.__version__,
    }


def run(args) -> dict:
    script = SCRIPT.format(rate=args.rate, max_id=args.keys - 1)
    with tempfile.TemporaryDirectory(prefix="tidal-bench-pgwire-") as tmp:
        workdir = pathlib.Path(tmp)
        flags = [] if args.tick_interval is None else ["--tick-interval", str(args.tick_interval)]
        server = Server(script, workdir, flags)
        try:
            time.sleep(args.warmup)
            phases = []
            for kind in args.phases:
                load = round(load_average(), 2)
                phase = _phase(args, server, kind, workdir)
                phase["load_average_before"] = load
                phases.append(phase)
                _print_phase(phase)
        finally:
            server.stop()
    return {
        "benchmark": "pgwire",
        "clients": args.clients,
        "client_processes": args.client_processes,
        "keys": args.keys,
        "source_rows_per_second": args.rate,
        "tick_interval": args.tick_interval,
        "seconds_per_phase": args.seconds,
        "phases": phases,
        "summary": _summary(phases),
        "targets": TARGETS,
        "environment": _environment(),
    }


def _summary(phases: list[dict]) -> dict:
    by_kind = {p["phase"]: p for p in phases}
    summary: dict = {}
    point = by_kind.get("point", {}).get("point")
    if point:
        summary["point_reads_per_second"] = point["queries_per_second"]
        summary["point_p99_ms"] = point["p99_ms"]
    heavy = by_kind.get("heavy", {}).get("point")
    if heavy:
        summary["heavy_point_p99_ms"] = heavy["p99_ms"]
    alone = by_kind.get("ingest", {}).get("ingest_rows_per_second")
    for kind in ("point", "scan", "heavy"):
        if alone and kind in by_kind:
            with_readers = by_kind[kind]["ingest_rows_per_second"]
            summary[f"ingest_slowdown_{kind}"] = round(1 - with_readers / alone, 3)
    return summary


def _print_phase(phase: dict) -> None:
    line = (
        f"{phase['phase']:>6}: ingest {phase['ingest_rows_per_second']:>8,} rows/s, "
        f"server CPU {phase['server_cpu_seconds']:.1f} s"
    )
    for label in ("point", "top", "range"):
        if label in phase:
            stats = phase[label]
            line += (
                f"; {label} {stats['queries_per_second']:,}/s p50 {stats['p50_ms']} ms "
                f"p99 {stats['p99_ms']} ms"
            )
    if "heavy" in phase:
        line += f"; heavy query runs ended {phase['heavy']['ended']}"
    print(line, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tidal bench pgwire", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="per phase (20)")
    parser.add_argument("--clients", type=int, default=50, help="connections (50)")
    parser.add_argument("--client-processes", type=int, default=1, help="client processes (1)")
    parser.add_argument("--keys", type=int, default=10_000, help="ids in the view (10,000)")
    parser.add_argument("--rate", type=int, default=20_000, help="source rows/s (20,000)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (3)")
    parser.add_argument(
        "--tick-interval", type=float, help="passed to tidal serve (default: its own, 0.1 s)"
    )
    parser.add_argument(
        "--phases",
        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
        default=list(PHASES),
        help="comma-separated, of ingest,point,scan,heavy (all)",
    )
    parser.add_argument(
        "--heavy-timeout", type=float, default=3.0, help="statement_timeout of the heavy query (3)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    unknown = [p for p in args.phases if p not in PHASES]
    if unknown:
        print(f"unknown phase(s) {unknown}: choose from {', '.join(PHASES)}", file=sys.stderr)
        return 2
    result = run(args)
    print(json.dumps(result["summary"]))
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["client"]:
        sys.exit(client_main(sys.argv[2:]))
    sys.exit(main(sys.argv[1:]))
