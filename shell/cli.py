"""The ``tidal`` command: ``tidal run FILE.sql``, ``tidal bench ...``."""

from __future__ import annotations

import argparse
import pathlib
import sys

from tidal.engine import Database
from tidal.shell.format import FORMATS
from tidal.shell.runner import ScriptRunner


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tidal",
        description="A streaming SQL engine: "
        "incrementally maintained views, identical to DuckDB batch.",
    )
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser(
        "run", help="run the statements of a .sql file and print each query's result"
    )
    run.add_argument("file", type=pathlib.Path)
    run.add_argument(
        "--batch",
        action="store_true",
        help="run on DuckDB alone: views are computed in batch when read",
    )
    run.add_argument("--format", choices=sorted(FORMATS), default="table")
    run.add_argument("--timing", action="store_true", help="print each statement's time to stderr")
    bench = commands.add_parser("bench", help="run a benchmark (see benchmarks/README.md)")
    bench.add_argument("suite", choices=["core", "window", "nexmark"])
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.command == "run":
        return _run(args)
    if args.command == "bench":
        from tidal.shell import bench as bench_module

        return bench_module.main([args.suite] + args.rest)
    parser.print_help()
    return 0


def _run(args) -> int:
    db = Database(base_dir=args.file.parent, batch_mode=args.batch)
    runner = ScriptRunner(db, output_format=args.format, timing=args.timing)
    try:
        ok = runner.run_file(args.file)
    finally:
        db.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
