"""The ``tidal`` command: the shell (no arguments), ``tidal -c SQL``, ``tidal run FILE.sql``
(``-`` for standard input), ``tidal bench ...``.

Imports are deferred to the command that needs them: ``tidal`` alone must start in well under
a second (see docs/shell.md).
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys

from tidal.shell import logs
from tidal.shell.bench import SUITES
from tidal.shell.format import FORMATS

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="tidal",
        description="A streaming SQL engine: "
        "incrementally maintained views, identical to DuckDB batch.",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="the shell's data directory: its tables, views and sources survive a restart "
        "(docs/durability.md); its history is kept there, and relative paths resolve from it",
    )
    parser.add_argument(
        "--connect",
        metavar="URL",
        help="open the shell on a running `tidal serve` (postgres://host:port/)",
    )
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="the memory budget, e.g. 512MB or 2GB (default: half of the machine's memory): "
        "near it sources wait, past it statements that add data fail (docs/security.md)",
    )
    logs.add_argument(parser, top=True)
    parser.add_argument(
        "-c",
        "--command",
        metavar="SQL",
        action="append",
        dest="sql",
        help="run SQL (one statement or several separated by ';'), print the results and exit "
        "(1 if a statement failed); may be given more than once, as psql's -c",
    )
    parser.add_argument(
        "--no-pager",
        action="store_true",
        help="never send a long result to $PAGER (as \\pset pager off)",
    )
    parser.add_argument("--version", action=_Version, help="print tidal's version and exit")
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser(
        "run", help="run the statements of a .sql file and print each query's result"
    )
    run.add_argument("file", type=pathlib.Path, help="the script; - reads it from standard input")
    run.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep the pipeline in DIR: the script runs once, later runs resume it",
    )
    run.add_argument(
        "--batch",
        action="store_true",
        help="run on DuckDB alone: views are computed in batch when read",
    )
    run.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="the memory budget, e.g. 512MB or 2GB (default: half of the machine's memory): "
        "near it sources wait, past it statements that add data fail (docs/security.md)",
    )
    run.add_argument("--format", choices=sorted(FORMATS), default="table")
    logs.add_argument(run)
    run.add_argument("--timing", action="store_true", help="print each statement's time to stderr")
    from tidal.shell.serve import add_arguments as serve_arguments
    from tidal.shell.serve import add_metrics_arguments

    add_metrics_arguments(run)
    bench = commands.add_parser("bench", help="run a benchmark (see benchmarks/README.md)")
    bench.add_argument("suite", choices=SUITES)
    bench.add_argument("rest", nargs=argparse.REMAINDER)
    serve_arguments(
        commands.add_parser("serve", help="serve the PostgreSQL wire protocol (docs/pgwire.md)")
    )
    args = parser.parse_args(argv)
    logs.configure(logs.level_for(args.command, args.log_level))
    if args.command == "run":
        return _run(args)
    if args.command == "serve":
        from tidal.shell.serve import run as serve

        return serve(args)
    if args.command == "bench":
        from tidal.shell import bench as bench_module

        return bench_module.main([args.suite] + args.rest)
    if args.sql:
        from tidal.shell.interactive.start import run_commands

        return run_commands(args.sql, args.data_dir, args.connect, args.memory_limit)
    from tidal.shell.interactive.start import main as shell

    return shell(
        data_dir=args.data_dir,
        connect=args.connect,
        memory_limit=args.memory_limit,
        pager=not args.no_pager,
    )


class _Version(argparse.Action):
    """``--version``: the installed package's version (pyproject.toml's), looked up only when
    asked (importlib.metadata would slow every start)."""

    def __init__(self, option_strings, dest, **options) -> None:
        super().__init__(option_strings, dest, nargs=0, **options)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"tidal {version('tidal')}")
        except PackageNotFoundError:  # a source tree that was never installed
            print("tidal (version unknown: not installed)")
        parser.exit()


def _run(args) -> int:
    from tidal.shell.progress import ProgressLine
    from tidal.shell.scripts import ScriptRunner, forget_failed_script, open_database

    from_stdin = str(args.file) == "-"
    db = open_database(
        "tidal run",
        args.data_dir,
        base_dir=pathlib.Path(".") if from_stdin else args.file.parent,
        batch_mode=args.batch,
        memory_limit=args.memory_limit,
    )
    if db is None:
        return 1
    from tidal.shell.serve import start_metrics

    metrics = start_metrics(db, args, "tidal run")
    if metrics is False:
        db.close()
        return 1
    db.tick_loop.on_progress = ProgressLine(sys.stderr)  # shows only on a terminal
    runner = ScriptRunner(db, output_format=args.format, timing=args.timing)
    try:
        if db.holds_catalog:
            # Run once: a restart resumes the pipeline (bounded inputs read to their end, sinks
            # written) rather than create it again.
            print(
                f"tidal run: {args.data_dir} holds a pipeline already (tick {db.ticks}): "
                f"resuming it; {args.file} is not run again",
                file=sys.stderr,
            )
            db.catch_up()
            ok = True
        else:  # `tidal run -`: the script's relative paths resolve from the working directory
            log.info("running %s", args.file)
            ok = (
                runner.run_script(sys.stdin.read(), source="<stdin>")
                if from_stdin
                else runner.run_file(args.file)
            )
            log.info("%s %s", args.file, "ran" if ok else "failed")
            if not ok:
                forget_failed_script(db, args.data_dir, args.file)
    finally:
        if metrics:
            metrics.shutdown()
        db.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
