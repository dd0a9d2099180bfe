"""``tidal bench generated``: the random query generator's long run, counted by outcome.

Each case ``SEED:N`` (tests/differential/generator_run.py, so this suite needs a source
checkout) is a random schema, query and changes; the query runs as a materialized view through
the changes and is compared with DuckDB after every tick. The outcomes are counted: identical,
refused (by SQLSTATE and the first words of the message: the map of what to build next),
error_later (a tick failed in one system only), mismatched, crashed, discarded (DuckDB rejects
the query), timeout.

Cases run in worker subprocesses, a chunk at a time (``python -m differential.generator_run``
in tests/), each case's outcome appended as a JSON line to a file in ``--records`` as it ends:
a worker that dies or hangs loses nothing but its current case (counted as crashed, and the
chunk goes on after it), and a run that was stopped resumes where it was (``--records`` kept).

    tidal bench generated --queries 100000 --seed 1 --workers 2 --records runs/g1 \\
        --json benchmarks/results/generated.json
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import tempfile
import time
from collections import Counter

from tidal.shell.bench.harness import REPO, Tenths, environment, markdown_table

TESTS = REPO / "tests"
OUTCOMES = ("identical", "refused", "error_later", "mismatched", "crashed", "discarded", "timeout")
LOOK_INTO = ("mismatched", "crashed", "error_later", "timeout")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tidal bench generated", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--queries", type=int, default=1000, help="cases to run (default 1,000)")
    parser.add_argument("--seed", default="1", help="cases are SEED:0 .. SEED:N-1")
    parser.add_argument("--workers", type=int, default=1, help="subprocesses at a time")
    parser.add_argument("--chunk", type=int, default=200, help="cases per subprocess")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--records", help="folder of the per-case JSON lines (kept: resumable)")
    parser.add_argument("--json", help="write the counts here")
    return parser.parse_args(argv)


def read_records(folder: pathlib.Path) -> dict[int, dict]:
    """Every case recorded in ``folder`` so far, by number."""
    records: dict[int, dict] = {}
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                try:
                    made = json.loads(line)
                except json.JSONDecodeError:  # a line cut short by a killed worker
                    continue
                records[made["number"]] = made
    return records


class Workers:
    """Chunks of cases in subprocesses, ``workers`` at a time."""

    def __init__(self, args: argparse.Namespace, folder: pathlib.Path) -> None:
        self.args, self.folder = args, folder
        self.running: list[tuple[subprocess.Popen, int, int, float, pathlib.Path]] = []

    def start(self, first: int, count: int) -> None:
        out = self.folder / f"part-{first:08d}.jsonl"
        command = [
            sys.executable,
            "-m",
            "differential.generator_run",
            *("--seed", self.args.seed, "--start", str(first), "--count", str(count)),
            *("--timeout", str(self.args.timeout), "--out", str(out)),
        ]
        process = subprocess.Popen(command, cwd=TESTS, stdout=subprocess.DEVNULL)
        self.running.append((process, first, count, time.monotonic(), out))

    def finished(self) -> list[tuple[int, int, int | None]]:
        """Chunks that ended: (first, count, return code or None if killed as hung)."""
        done, still = [], []
        for process, first, count, started, out in self.running:
            hung = time.monotonic() - started > (count + 1) * (self.args.timeout + 5)
            if hung:
                process.kill()
                process.wait()
            code = process.poll()
            if code is None:
                still.append((process, first, count, started, out))
            else:
                done.append((first, count, None if hung else code))
        self.running = still
        return done


def run_cases(args: argparse.Namespace, folder: pathlib.Path) -> dict[int, dict]:
    """Run every case not yet recorded in ``folder``; all the records."""
    records = read_records(folder)
    pending = [n for n in range(args.queries) if n not in records]
    chunks = _contiguous(pending, args.chunk)
    workers, tenths = Workers(args, folder), Tenths(len(pending))
    done_before = len(records)
    while chunks or workers.running:
        while chunks and len(workers.running) < args.workers:
            workers.start(*chunks.pop(0))
        time.sleep(0.5)
        for first, count, code in workers.finished():
            records = read_records(folder)
            missing = [n for n in range(first, first + count) if n not in records]
            if missing and code != 0:  # the worker died on the first missing case: skip it
                dead = missing[0]
                records[dead] = _died(args.seed, dead, code)
                with open(folder / f"died-{dead:08d}.jsonl", "w") as handle:
                    handle.write(json.dumps(records[dead]) + "\n")
                missing = missing[1:]
            chunks[:0] = _contiguous(missing, args.chunk)
        if tenths.passed(len(records) - done_before):
            _progress(records)
    return read_records(folder)


def _contiguous(numbers: list[int], size: int) -> list[tuple[int, int]]:
    """Runs of consecutive numbers, at most ``size`` long, as (first, count)."""
    chunks: list[tuple[int, int]] = []
    for n in numbers:
        if chunks and chunks[-1][0] + chunks[-1][1] == n and chunks[-1][1] < size:
            chunks[-1] = (chunks[-1][0], chunks[-1][1] + 1)
        else:
            chunks.append((n, 1))
    return chunks


def _died(seed: str, number: int, code: int | None) -> dict:
    how = "hung (killed)" if code is None else f"exited with {code}"
    return {
        "number": number,
        "seed": f"{seed}:{number}",
        "kind": "crashed",
        "reason": f"worker {how}",
        "tick": None,
        "agreed_errors": 0,
        "seconds": 0.0,
    }


def _progress(records: dict[int, dict]) -> None:
    counts = Counter(r["kind"] for r in records.values())
    print(
        f"  {len(records)} cases: " + ", ".join(f"{k} {counts[k]}" for k in OUTCOMES if counts[k]),
        file=sys.stderr,
        flush=True,
    )


def summarize(records: dict[int, dict], args: argparse.Namespace, seconds: float) -> dict:
    """Counts by outcome and by reason, and a case to reproduce each reason to look into."""
    counts = Counter(r["kind"] for r in records.values())
    by_reason: dict[str, Counter] = {kind: Counter() for kind in OUTCOMES if kind != "identical"}
    examples: dict[str, dict[str, str]] = {kind: {} for kind in LOOK_INTO}
    for number in sorted(records):
        made = records[number]
        if made["kind"] in by_reason:
            by_reason[made["kind"]][made["reason"]] += 1
        if made["kind"] in examples:
            examples[made["kind"]].setdefault(made["reason"], made["seed"])
    times = sorted(r["seconds"] for r in records.values())
    return {
        "suite": "generated",
        "seed": args.seed,
        "queries": len(records),
        "counts": {kind: counts[kind] for kind in OUTCOMES},
        "agreed_errors": sum(r.get("agreed_errors", 0) for r in records.values()),
        "by_reason": {kind: dict(c.most_common()) for kind, c in by_reason.items()},
        "examples": examples,
        "seconds": round(seconds, 1),
        "case_seconds": {
            "mean": round(sum(times) / len(times), 4) if times else None,
            "p99": times[int(len(times) * 0.99)] if times else None,
            "max": times[-1] if times else None,
        },
        "environment": environment(),
    }


def markdown(summary: dict) -> str:
    total = max(summary["queries"], 1)
    rows = [{"kind": k, "n": n} for k, n in summary["counts"].items()]
    lines = [
        markdown_table(
            [("outcome", "<"), ("cases", ">"), ("share", ">")],
            rows,
            "kind",
            lambda r: [r["kind"], f"{r['n']:,}", f"{100 * r['n'] / total:.2f}%"],
        )
    ]
    for kind, reasons in summary["by_reason"].items():
        if reasons:
            lines.append(f"\n{kind}, by reason:\n")
            lines.append(
                markdown_table(
                    [("reason", "<"), ("cases", ">")],
                    [{"reason": r, "n": n} for r, n in reasons.items()],
                    "reason",
                    lambda r: [f"`{r['reason']}`", f"{r['n']:,}"],
                )
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if not (TESTS / "differential" / "generator_run.py").exists():
        print("tidal bench generated needs a source checkout (tests/differential)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if args.records:
        folder = pathlib.Path(args.records).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        records = run_cases(args, folder)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            records = run_cases(args, pathlib.Path(scratch))
    summary = summarize(records, args, time.perf_counter() - start)
    print(markdown(summary))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)
    bad = sum(summary["counts"][k] for k in ("mismatched", "crashed", "timeout"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
