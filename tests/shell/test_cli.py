"""`tidal run` end to end, as a user runs it: a subprocess over real files."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def tidal(*args: str, cwd: pathlib.Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: PLW1510 - each test asserts the exit code
        [sys.executable, "-m", "tidal.shell.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_demo_runs_and_batch_mode_prints_the_same_answers():
    incremental = tidal("run", "--format", "csv", "queries/demo.sql")
    batch = tidal("run", "--batch", "--format", "csv", "queries/demo.sql")
    assert incremental.returncode == 0, incremental.stderr
    assert batch.returncode == 0, batch.stderr
    plan_free = lambda out: out.split("QUERY PLAN")[0]
    assert plan_free(incremental.stdout) == plan_free(batch.stdout)
    assert "customer,n,total\nann,2,19.25\n" in incremental.stdout


def test_csv_has_headers_and_one_blank_line_between_results(tmp_path):
    script = tmp_path / "s.sql"
    script.write_text(
        "CREATE TABLE t (a INTEGER, b VARCHAR);\n"
        "INSERT INTO t VALUES (1, 'x,y'), (2, NULL);\n"
        "SELECT * FROM t ORDER BY a;\nSELECT count(*) AS n FROM t;\n"
    )
    result = tidal("run", "--format", "csv", str(script))
    assert result.returncode == 0
    assert result.stdout == 'a,b\n1,"x,y"\n2,\n\nn\n2\n'
    assert "CREATE TABLE" in result.stderr and "CREATE TABLE" not in result.stdout


def test_json_lines_keep_decimals_exact(tmp_path):
    script = tmp_path / "s.sql"
    script.write_text(
        "SELECT CAST(12.50 AS DECIMAL(10,2)) AS d, 'q\"' AS s, NULL AS n, 1.5::DOUBLE AS f"
    )
    result = tidal("run", "--format", "json", str(script))
    line = result.stdout.strip()
    assert '"d": 12.50' in line
    assert json.loads(line) == {"d": 12.5, "s": 'q"', "n": None, "f": 1.5}


def test_a_syntax_error_names_the_script_line_and_column_with_a_caret(tmp_path):
    script = tmp_path / "bad.sql"
    script.write_text("CREATE TABLE t (a INTEGER);\n\nSELECT a FROM t WHERE (;\n")
    result = tidal("run", str(script))
    assert result.returncode == 1
    assert f"{script}:3:" in result.stderr
    caret_line = result.stderr.rstrip("\n").split("\n")[-1]
    source_line = result.stderr.rstrip("\n").split("\n")[-2]
    assert caret_line.strip() == "^"
    assert source_line.strip() == "SELECT a FROM t WHERE ("
    # the caret sits on the incomplete "(" or just after it, at the end of the input
    assert caret_line.index("^") - source_line.index("(") in (0, 1)


def test_relative_source_paths_resolve_against_the_script(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("a\n1\n2\n")
    script = tmp_path / "s.sql"
    script.write_text(
        "CREATE SOURCE s (a INTEGER) WITH (connector='file', path='data/x.csv', format='csv');"
        "SELECT sum(a) AS total FROM s;"
    )
    result = tidal("run", "--format", "csv", str(script), cwd=REPO / "tests")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "total\n3\n"
