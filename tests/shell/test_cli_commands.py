"""`tidal -c SQL`, `tidal --version` and `tidal run -`, run as a user runs them: subprocesses."""

from __future__ import annotations

import re
import subprocess
import sys


def tidal(*args: str, stdin: str = "", cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 - each test asserts the exit code
        [sys.executable, "-m", "tidal.shell.cli", *args],
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_c_runs_every_statement_of_every_c_in_order_and_prints_the_results():
    result = tidal(
        "-c",
        "CREATE TABLE t (a INTEGER); INSERT INTO t VALUES (1), (2)",
        "-c",
        "SELECT sum(a) AS total FROM t",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CREATE TABLE\nINSERT 0 2\n")
    assert " total\n-------\n     3\n(1 row)\n" in result.stdout


def test_c_stops_at_the_first_error_and_exits_1_naming_the_c():
    result = tidal("-c", "SELECT 1 AS first; SELECT * FROM missing; SELECT 3 AS never")
    assert result.returncode == 1
    assert "first" in result.stdout and "never" not in result.stdout
    assert result.stderr.startswith("ERROR: -c:1: unknown relation 'missing'")
    later = tidal("-c", "SELECT 1 AS a", "-c", "SELEC 2")
    assert later.returncode == 1 and "ERROR: -c #2:1:" in later.stderr


def test_version_prints_the_package_version():
    result = tidal("--version")
    assert result.returncode == 0
    assert re.fullmatch(r"tidal \d+\.\d+\.\d+\S*\n", result.stdout)


def test_run_dash_reads_the_script_from_stdin_with_paths_from_the_working_directory(tmp_path):
    (tmp_path / "x.csv").write_text("a\n1\n2\n")
    script = (
        "CREATE SOURCE s (a INTEGER) WITH (connector='file', path='x.csv', format='csv');\n"
        "SELECT sum(a) AS total FROM s;\n"
    )
    result = tidal("run", "--format", "csv", "-", stdin=script, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "total\n3\n"
    bad = tidal("run", "-", stdin="SELECT 1 AS a;\n\nSELEC 2;\n", cwd=tmp_path)
    assert bad.returncode == 1 and "ERROR: <stdin>:3:" in bad.stderr
