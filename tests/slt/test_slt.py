"""Every ``tests/slt/*.slt`` script is a test on tidal's incremental engine, a test on tidal's
batch mode, and a test that its expected results are DuckDB's (with PostgreSQL settings).
Scripts in ``known_failures/`` are not collected (run them with ``python tests/slt/runner.py``).
"""

from __future__ import annotations

import pathlib

import pytest

from .runner import DuckDBEngine, TidalBatchEngine, TidalEngine, run_file

HERE = pathlib.Path(__file__).parent
SCRIPTS = sorted(HERE.glob("*.slt"))
ENGINES = {"incremental": TidalEngine, "batch": TidalBatchEngine, "duckdb": DuckDBEngine}


def _check(report) -> None:
    assert report.ran > 0, f"{report.path}: no record ran"
    if report.failures:
        shown = "\n\n".join(str(f) for f in report.failures[:20])
        more = len(report.failures) - 20
        pytest.fail(
            f"{len(report.failures)} failing record(s)\n\n{shown}"
            + (f"\n\n... and {more} more" if more > 0 else ""),
            pytrace=False,
        )


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_script(script: pathlib.Path, engine: str, tmp_path: pathlib.Path) -> None:
    """On ``duckdb`` (records it cannot run are skipped) this checks the expectations."""
    _check(run_file(script, ENGINES[engine], tmp_path))


def test_every_area_has_a_script() -> None:
    names = {s.stem for s in SCRIPTS}
    assert {
        "ddl",
        "dml",
        "expressions",
        "aggregates",
        "joins",
        "setops",
        "subqueries",
        "topn_windows",
        "views",
        "sources_sinks",
        "explain",
        "errors",
    } <= names
