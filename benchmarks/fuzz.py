"""The long fuzz run (issue 15): mutated SQL through ``Database.execute`` and over pgwire,
malformed protocol messages over a raw socket, with the fuzzer of tests/fuzz/fuzzing.py.

Run from the repository root (it starts its own ``tidal serve`` on 127.0.0.1)::

    python benchmarks/fuzz.py                       # 10,000 + 2,000 statements, 100,000 messages
    python benchmarks/fuzz.py --statements 1000 --wire-statements 200 --messages 5000 --seed 3
    python benchmarks/fuzz.py --json benchmarks/results/fuzz.json

It prints the counts and every finding; a server that stops answering is counted, stopped and
replaced, and the run goes on. The bounded run in the suite is tests/fuzz/test_fuzz.py.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.fuzz.fuzzing import Findings, fuzz_database, fuzz_pgwire, fuzz_wire
from tests.pgwire.conftest import start_server

CHUNK = 500  # statements over pgwire, or messages, per seed (a stuck server is replaced)


def _server(folder: pathlib.Path, name: str):
    (folder / name).mkdir()
    return start_server(folder / name, init=None)


def main() -> int:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    arguments.add_argument("--statements", type=int, default=10_000)
    arguments.add_argument("--wire-statements", type=int, default=2_000)
    arguments.add_argument("--messages", type=int, default=100_000)
    arguments.add_argument("--seed", type=int, default=1)
    arguments.add_argument("--json", type=pathlib.Path)
    options = arguments.parse_args()
    report = {"seed": options.seed}

    started = time.monotonic()
    api = fuzz_database(options.seed, options.statements, Findings(keep=200))
    report["api"] = _summary(api, started, "statements")
    print(f"API: {report['api']}", flush=True)

    with tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        wire_sql, servers_replaced = Findings(keep=200), 0
        server = _server(pathlib.Path(folder), "sql")
        for chunk in range(0, options.wire_statements, CHUNK):
            size = min(CHUNK, options.wire_statements - chunk)
            before = len(wire_sql.problems)
            fuzz_pgwire(server.dsn, options.seed + 1000 + chunk, size, wire_sql)
            if any("stopped answering" in p for p in wire_sql.problems[before:]):
                server.stop(timeout=5)
                servers_replaced += 1
                server = _server(pathlib.Path(folder), f"sql{chunk}")
        crashed = server.stop() not in (0, None)
        report["pgwire"] = _summary(wire_sql, started, "statements")
        report["pgwire"]["servers_replaced"] = servers_replaced
        print(f"pgwire: {report['pgwire']}", flush=True)

        started = time.monotonic()
        messages = Findings(keep=200)
        server = _server(pathlib.Path(folder), "wire")
        for chunk in range(0, options.messages, CHUNK):
            size = min(CHUNK, options.messages - chunk)
            fuzz_wire(server.host, server.port, options.seed + 2000 + chunk, size, messages)
        crashed = server.stop() not in (0, None) or crashed
        report["wire"] = _summary(messages, started, "messages")
        report["server_exit_clean"] = not crashed
        print(f"wire: {report['wire']}", flush=True)

    for part in ("api", "pgwire", "wire"):
        for problem in report[part]["problems"]:
            print(f"[{part}] {problem}")
    if options.json:
        options.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(report[p]["problems"] for p in ("api", "pgwire", "wire")) or crashed else 0


def _summary(findings: Findings, started: float, unit: str) -> dict:
    count = findings.statements if unit == "statements" else findings.messages
    return {
        unit: count,
        "errors": findings.errors,
        "findings": len(findings.problems),
        "seconds": round(time.monotonic() - started, 1),
        "problems": findings.problems,
    }


if __name__ == "__main__":
    sys.exit(main())
