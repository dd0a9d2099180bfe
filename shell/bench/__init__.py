"""The benchmarks, ``tidal bench SUITE [options]`` (benchmarks/README.md): one module per suite.

- ``core``: core_operators.py (its data: core_workloads.py), filter/project, group-by and join;
- ``window``: window_aggregates.py, TUMBLE and HOP aggregates under a watermark;
- ``nexmark``: nexmark_queries.py, the Nexmark queries (their scripts: nexmark_scripts.py);
- ``shell``: shell_startup.py, how fast the interactive shell starts;
- ``pgwire``: pgwire_load.py, reads over the PostgreSQL protocol while a source ingests;
- ``generated``: generated_queries.py, random queries as views against DuckDB (counts by outcome);
- ``durability``: durability_costs.py, what a data directory costs (Nexmark with checkpoints)
  and how fast about 1 GB of state recovers;
- ``udf``: udf_costs.py, Python functions in views beside built-in expressions, and
  in worker processes;
- ``postgres``: postgres_connectors.py, changes through the PostgreSQL sink and CDC source.

What the suites share (workers in fresh subprocesses, progress lines, the summary table, JSON,
peak RSS, the DuckDB reference) is in harness.py.
"""

from __future__ import annotations

import sys

SUITES = (
    "core",
    "window",
    "nexmark",
    "shell",
    "pgwire",
    "generated",
    "durability",
    "udf",
    "postgres",
)


def main(argv: list[str]) -> int:
    """``tidal bench SUITE [options]``: the suite's exit status; 2 for an unknown suite."""
    suite, *rest = argv
    # Imported on demand: a suite's module loads what only it needs (asyncpg, pty, ...).
    if suite == "core":
        from tidal.shell.bench import core_operators as module
    elif suite == "window":
        from tidal.shell.bench import window_aggregates as module
    elif suite == "nexmark":
        from tidal.shell.bench import nexmark_queries as module
    elif suite == "shell":
        from tidal.shell.bench import shell_startup as module
    elif suite == "pgwire":
        from tidal.shell.bench import pgwire_load as module
    elif suite == "generated":
        from tidal.shell.bench import generated_queries as module
    elif suite == "durability":
        from tidal.shell.bench import durability_costs as module
    elif suite == "udf":
        from tidal.shell.bench import udf_costs as module
    elif suite == "postgres":
        from tidal.shell.bench import postgres_connectors as module
    else:
        choices = ", ".join(repr(s) for s in SUITES[:-1]) + f" or {SUITES[-1]!r}"
        print(f"unknown benchmark suite {suite!r}: {choices}", file=sys.stderr)
        return 2
    return module.main(rest)
