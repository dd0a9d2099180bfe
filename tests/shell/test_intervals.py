"""Intervals print as PostgreSQL prints them (IntervalStyle postgres) wherever tidal prints a
value: ``tidal run`` in every format and mode, inside lists, and for Arrow durations."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pyarrow as pa
import pytest

from tidal.shell.format import text

SCRIPT = """
CREATE TABLE ev (a TIMESTAMP, b TIMESTAMP);
INSERT INTO ev VALUES ('2024-01-01 00:00:00', '2024-01-22 23:59:59');
CREATE MATERIALIZED VIEW gaps AS SELECT b - a AS gap, INTERVAL '90 minutes' AS m,
    INTERVAL '1 year 2 months' AS ym, [INTERVAL '1 day'] AS l,
    INTERVAL '-1 day 2 hours' AS neg FROM ev;
SELECT * FROM gaps;
"""


@pytest.mark.parametrize("flags", [[], ["--batch"]])
def test_tidal_run_prints_postgres_intervals(tmp_path, flags):
    path = tmp_path / "gaps.sql"
    path.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "-m", "tidal.shell.cli", "run", "--format", "csv", *flags, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2:] == [
        "gap,m,ym,l,neg",
        "21 days 23:59:59,01:30:00,1 year 2 mons,[1 day],-1 days +02:00:00",
    ]


def test_durations_print_as_intervals():
    durations = pa.array([90 * 60 * 10**6, -3600 * 10**6, 86_400 * 10**6 + 1], pa.duration("us"))
    assert [text(v) for v in durations.to_pylist()] == [
        "01:30:00",
        "-01:00:00",
        "1 day 00:00:00.000001",
    ]
    assert text(datetime.timedelta(days=21, seconds=86399)) == "21 days 23:59:59"
