"""The log of the ``tidal`` command: the events an operator needs, at the level asked for."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tidal.engine import Database
from tidal.engine.errors import DataError

SCRIPT = """
CREATE TABLE t (x INTEGER);
CREATE MATERIALIZED VIEW v AS SELECT 10 / x AS y FROM t;
INSERT INTO t VALUES (5);
"""


def tidal(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tidal.shell.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_info_tells_what_was_created_checkpointed_and_recovered(tmp_path):
    script = tmp_path / "pipeline.sql"
    script.write_text(SCRIPT)
    first = tidal("run", "--log-level", "info", "--data-dir", "data", str(script), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = first.stderr.splitlines()
    assert any("INFO tidal.engine.relations: table t created" in line for line in lines)
    assert any("materialized view v created" in line for line in lines)
    assert any(
        "INFO tidal.engine.durability.durability: checkpoint ckpt-" in line for line in lines
    )
    again = tidal("run", "--log-level", "info", "--data-dir", "data", str(script), cwd=tmp_path)
    assert "recovered" in again.stderr, again.stderr
    assert "table t created" not in again.stderr  # recovery's re-creation is debug only


def test_the_default_level_stays_quiet(tmp_path):
    script = tmp_path / "pipeline.sql"
    script.write_text(SCRIPT)
    result = tidal("run", str(script), cwd=tmp_path)
    assert result.returncode == 0
    assert result.stderr == ""


def test_a_failed_tick_of_source_rows_is_a_warning(tmp_path, caplog):
    db = Database(base_dir=tmp_path)
    db.execute(
        "CREATE SOURCE s (x INTEGER) WITH (connector = 'file', path = 'in/', format = 'csv')"
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT 10 / x AS y FROM s")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_text("x\n0\n")
    with caplog.at_level(logging.INFO, logger="tidal"), pytest.raises(DataError):
        db.tick()
    failed = [r for r in caplog.records if "failed and was undone" in r.getMessage()]
    assert [(r.name, r.levelno) for r in failed] == [("tidal.engine.ticks", logging.WARNING)]
    caplog.clear()
    db.execute("CREATE TABLE t (x INTEGER)")
    db.execute("CREATE MATERIALIZED VIEW w AS SELECT 10 / x AS y FROM t")
    with caplog.at_level(logging.INFO, logger="tidal"), pytest.raises(DataError):
        db.execute("INSERT INTO t VALUES (0)")
    failed = [r for r in caplog.records if "failed and was undone" in r.getMessage()]
    assert [r.levelno for r in failed] == [logging.INFO]  # its statement says so already
