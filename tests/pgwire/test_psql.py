"""psql 15 against a live server: queries, scripts, errors, COPY (SUBSCRIBE ...)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")


def test_query_with_c(server):
    result = server.psql("-A", "-t", "-c", "SELECT k, total FROM totals ORDER BY k")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["a|4", "b|2"]


def test_several_statements_in_one_query_string(server):
    result = server.psql("-A", "-t", "-c", "SELECT 1 AS x; SELECT 'two' AS y, true AS z")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1", "two|t"]


def test_ddl_dml_show_describe_explain(server):
    script = (
        "CREATE TABLE p (x INTEGER);\n"
        "INSERT INTO p VALUES (1), (2), (3);\n"
        "UPDATE p SET x = x * 10 WHERE x > 1;\n"
        "DELETE FROM p WHERE x = 1;\n"
        "SELECT sum(x) FROM p;\n"
        "SHOW TABLES;\n"
        "DESCRIBE p;\n"
        "EXPLAIN SELECT x FROM p WHERE x > 5;\n"
        "DROP TABLE p;\n"
    )
    result = server.psql("-A", "-t", "-v", "ON_ERROR_STOP=1", input=script)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == ["CREATE TABLE", "INSERT 0 3", "UPDATE 2", "DELETE 1", "50"]
    assert "p" in lines and "x|INTEGER" in lines
    assert any("Filter" in line or "filter" in line for line in lines), lines
    assert lines[-1] == "DROP TABLE"


def test_error_has_its_sqlstate(server):
    result = server.psql("-v", "VERBOSITY=verbose", "-c", "SELECT * FROM missing_table")
    assert result.returncode == 1
    assert "ERROR:  42P01:" in result.stderr


def test_syntax_error_points_at_the_token(server):
    result = server.psql("-c", "SELECT 1 FROM t WHERE")
    assert result.returncode == 1
    assert "syntax error" in result.stderr
    result = server.psql("-v", "VERBOSITY=verbose", "-c", "SELEC 1")
    assert "ERROR:  42601:" in result.stderr
    assert "LINE 1: SELEC 1" in result.stderr


def test_error_stops_the_rest_of_a_query_string(server):
    result = server.psql(
        "-A",
        "-t",
        "-c",
        "INSERT INTO events VALUES (900, 'x'); SELECT 1/0; INSERT INTO events VALUES (901, 'y')",
    )
    assert result.returncode == 1
    count = server.psql("-A", "-t", "-c", "SELECT id FROM events WHERE id >= 900 ORDER BY id")
    assert count.stdout.split() == ["900"]


def test_copy_subscribe_streams_until_cancelled(server):
    command = [
        "psql", "-X", "-h", server.host, "-p", str(server.port), "-U", "tester", "tidal",
        "-c", "COPY (SUBSCRIBE totals) TO STDOUT",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    insert = server.psql("-c", "INSERT INTO t VALUES ('c', 10)")
    assert insert.returncode == 0, insert.stderr
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)  # psql sends a CancelRequest
    out, err = process.communicate(timeout=15)
    rows = [line.split("\t") for line in out.splitlines()]
    assert [r[1:] for r in rows[:2]] == [["1", "a", "4", "2"], ["1", "b", "2", "1"]]
    assert rows[2][1:] == ["1", "c", "10", "1"]
    assert int(rows[2][0]) > int(rows[0][0])  # a later tick than the snapshot
    assert "canceling statement due to user request" in err
    server.psql("-c", "DELETE FROM t WHERE k = 'c'")


def test_transaction_block_is_accepted(server):
    result = server.psql("-A", "-t", "-c", "BEGIN; SELECT 1; COMMIT")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["BEGIN", "1", "COMMIT"]


def test_psql_d_lists_relations(server):
    result = server.psql("-c", r"\d")
    assert result.returncode == 0, result.stderr
    assert "totals" in result.stdout and "events" in result.stdout
