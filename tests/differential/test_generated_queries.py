"""The random query generator's CI slice: a fixed set of generated queries, each a maintained view.

Each case ``ci:N`` (generator_run.py) is a random schema, a random query and random changes; the
view must equal DuckDB's answer after every tick, or be refused cleanly when it is created. A
mismatch, a crash (an exception that is not one of tidal's errors, or an internal error XX000)
or a timeout fails the test, which prints the SQL script that reproduces it:

    cd tests && python -m differential.generator_run --case ci:17

Cases that hit a known bug (minimized in test_generator_findings.py) are expected to fail until
it is fixed (``strict``: when they pass, remove them from ``KNOWN``). The long run is
``tidal bench generated`` (benchmarks/README.md).
"""

from __future__ import annotations

import doctest
import os

import pytest

from . import generator_data, generator_expressions, generator_queries, generator_run
from .generator_run import generate, run

COUNT = int(os.environ.get("TIDAL_GENERATED_QUERIES", "200"))
SEED = os.environ.get("TIDAL_GENERATED_SEED", "ci")
TIMEOUT_SECONDS = 60.0

# Cases of the CI slice that hit a known bug: case number -> the finding's test (none open).
KNOWN: dict[int, str] = {}


def _params() -> list:
    params = []
    for number in range(COUNT):
        known = KNOWN.get(number) if SEED == "ci" else None
        marks = [pytest.mark.xfail(strict=True, reason=known)] if known else []
        params.append(pytest.param(number, marks=marks, id=f"{SEED}:{number}"))
    return params


@pytest.mark.parametrize("number", _params())
def test_generated_view_equals_duckdb_or_is_refused(number):
    case = generate(f"{SEED}:{number}")
    outcome = run(case, TIMEOUT_SECONDS)
    assert outcome.kind not in ("mismatched", "crashed", "timeout"), (
        f"{outcome.kind}: {outcome.reason} (after statement {outcome.tick})\n"
        f"-- reproduce: cd tests && python -m differential.generator_run --case {case.seed}\n"
        f"{case.script(outcome.tick)}\n{outcome.detail}"
    )


@pytest.mark.parametrize(
    "module", [generator_data, generator_expressions, generator_queries, generator_run]
)
def test_generator_examples(module):
    """The generator modules' docstring examples hold (tests/test_doctests.py runs tidal's)."""
    failed, _ = doctest.testmod(module)
    assert failed == 0
