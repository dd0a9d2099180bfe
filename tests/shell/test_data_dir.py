"""``--data-dir`` at the front doors: ``tidal run`` runs its script once and resumes it after,
a script that fails part-way leaves the directory empty, and a directory in use is refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tidal.engine import Database


def tidal(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tidal.shell.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def pipeline(tmp_path):
    (tmp_path / "events.csv").write_text("id,v\n1,10\n2,20\n")
    script = tmp_path / "pipeline.sql"
    script.write_text(
        "CREATE SOURCE events (id BIGINT, v BIGINT) WITH (connector = 'file', "
        "path = 'events.csv', format = 'csv');\n"
        "CREATE MATERIALIZED VIEW total AS SELECT count(*) AS n, sum(v) AS s FROM events;\n"
        "SELECT * FROM total;\n"
    )
    return tmp_path, script


def test_run_once_then_resume(pipeline):
    folder, script = pipeline
    data = str(folder / "data")
    first = tidal("run", "--data-dir", data, "--format", "csv", str(script))
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["n,s", "2,30"]
    with open(folder / "events.csv", "a") as file:
        file.write("3,30\n")
    again = tidal("run", "--data-dir", data, "--format", "csv", str(script))
    assert again.returncode == 0, again.stderr
    assert "resuming it" in again.stderr and again.stdout == ""
    db = Database(data)
    try:  # the resumed run read the appended line, and only it
        assert db.execute("SELECT n, s FROM total").to_pylist() == [{"n": 3, "s": 60}]
    finally:
        db.close()


def test_a_failed_script_leaves_the_directory_empty(pipeline):
    folder, script = pipeline
    broken = folder / "broken.sql"
    broken.write_text(script.read_text() + "SELECT * FROM nowhere;\n")
    data = folder / "data"
    failed = tidal("run", "--data-dir", str(data), str(broken))
    assert failed.returncode == 1
    assert "left empty: fix" in failed.stderr
    fixed = tidal("run", "--data-dir", str(data), "--format", "csv", str(script))
    assert fixed.returncode == 0, fixed.stderr
    assert fixed.stdout.splitlines() == ["n,s", "2,30"]  # created again, not resumed


def test_a_directory_in_use_is_refused(pipeline):
    folder, script = pipeline
    holder = Database(folder / "data")
    try:
        refused = tidal("run", "--data-dir", str(folder / "data"), str(script))
        assert refused.returncode == 1
        assert "in use by another tidal process" in refused.stderr
        piped = tidal("--data-dir", str(folder / "data"), stdin="SELECT 1;")
        assert piped.returncode == 1 and "in use by another tidal process" in piped.stderr
    finally:
        holder.close()


def test_the_shell_keeps_its_tables_in_the_data_directory(tmp_path):
    data = str(tmp_path / "data")
    created = tidal("--data-dir", data, stdin="CREATE TABLE t (v INT); INSERT INTO t VALUES (7);")
    assert created.returncode == 0, created.stderr
    read = tidal("--data-dir", data, stdin="SELECT v FROM t;")
    assert read.returncode == 0, read.stderr
    assert "7" in read.stdout
