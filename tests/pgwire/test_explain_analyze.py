"""EXPLAIN ANALYZE over the wire, with psycopg and psql: a view's plan with each operator's
numbers as its running dataflow counted them, the tree picture, a query run once, errors."""

from __future__ import annotations

import re
import shutil

import psycopg
import pytest
from psycopg import errors

ACTUAL = re.compile(
    r"\(actual rows in=(\d+) out=(\d+), last tick in=(\d+) out=(\d+), time=([\d.]+) ms"
)


@pytest.fixture(scope="module")
def conn(server):
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        connection.execute("CREATE TABLE readings (k INTEGER, v INTEGER)")
        connection.execute(
            "CREATE MATERIALIZED VIEW big AS "
            "SELECT k, count(*) AS n, sum(v) AS total FROM readings WHERE v > 5 GROUP BY k"
        )
        connection.execute("INSERT INTO readings VALUES (1, 10), (1, 3), (2, 20), (2, 30)")
        connection.execute("DELETE FROM readings WHERE v = 30")
        yield connection


def plan(conn, statement: str) -> list[str]:
    cursor = conn.execute(statement)
    assert [column.name for column in cursor.description] == ["QUERY PLAN"]
    return [row[0] for row in cursor.fetchall()]


def numbers(lines: list[str], starts: str) -> tuple[int, int, int, int, float]:
    """The (actual ...) numbers of the line of the node that starts with ``starts``."""
    (line,) = [line for line in lines if line.strip().startswith(starts)]
    found = ACTUAL.search(line)
    assert found, line
    return (*map(int, found.groups()[:4]), float(found.group(5)))


def test_a_views_operators_count_what_it_was_fed(conn):
    lines = plan(conn, "EXPLAIN ANALYZE big")
    # Two ticks after the backfill: four rows inserted, then one deleted.
    rows_in, rows_out, last_in, last_out, _ = numbers(lines, "Filter")
    assert (rows_in, rows_out, last_in, last_out) == (5, 4, 1, 1)
    rows_in, rows_out, last_in, last_out, _ = numbers(lines, "Aggregate")
    # Tick 1: two groups inserted; tick 2: group 2's row retracted and inserted anew.
    assert (rows_in, rows_out, last_in, last_out) == (4, 4, 1, 2)
    (aggregate,) = [line for line in lines if line.strip().startswith("Aggregate")]
    assert "state rows=2 bytes=" in aggregate
    assert lines[-1].startswith("Operators: 5, time in them ")


def test_time_grows_with_ticks(conn):
    before = numbers(plan(conn, "EXPLAIN ANALYZE big"), "Aggregate")
    conn.execute("INSERT INTO readings VALUES (3, 40)")
    after = numbers(plan(conn, "EXPLAIN ANALYZE big"), "Aggregate")
    assert after[0] == before[0] + 1 and after[2:4] == (1, 1)
    assert after[4] > before[4] > 0


def test_the_tree_picture(conn):
    lines = plan(conn, "EXPLAIN (ANALYZE, FORMAT TREE) big")
    assert lines[0].startswith("Rows per second, over ")
    assert lines[1].startswith("Project #1  in ")
    assert lines[2].startswith("└── AccumulatingAggregate #2  in ")
    assert "state 3 rows" in lines[2]
    assert lines[-1].startswith(" " * 12 + "└── Scan #5  in ")
    assert all("rows/s" in line for line in lines[1:])


def test_a_query_is_run_once(conn):
    lines = plan(conn, "EXPLAIN ANALYZE SELECT k, count(*) FROM readings GROUP BY k")
    rows_in, rows_out, *_ = numbers(lines, "Aggregate")
    assert (rows_in, rows_out) == (4, 3)  # the table's rows now, and one row per group
    assert "in one run over the inputs' current contents" in lines[-1]


@pytest.mark.parametrize(
    ("statement", "error", "says"),
    [
        ("EXPLAIN ANALYZE no_such_view", errors.UndefinedTable, "does not exist"),
        ("EXPLAIN ANALYZE readings", errors.WrongObjectType, "a table runs no dataflow"),
        ("EXPLAIN (ANALYZE, FORMAT JSON) big", errors.FeatureNotSupported, "FORMAT TEXT | TREE"),
        ("EXPLAIN (FORMAT TREE) big", errors.FeatureNotSupported, "(ANALYZE, FORMAT TREE)"),
        (
            "EXPLAIN ANALYZE SELECT random() FROM readings",
            errors.FeatureNotSupported,
            "EXPLAIN ANALYZE takes a materialized view, a sink of a query, or a query",
        ),
    ],
)
def test_errors(conn, statement, error, says):
    with pytest.raises(error, match=re.escape(says)):
        conn.execute(statement)


def test_a_plain_view_is_refused(conn):
    conn.execute("CREATE VIEW plain AS SELECT k FROM readings")
    with pytest.raises(errors.WrongObjectType, match="not materialized"):
        conn.execute("EXPLAIN ANALYZE plain")


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_psql(server, conn):
    result = server.psql("-A", "-t", "-c", "EXPLAIN ANALYZE big")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert numbers(lines, "Filter")[:2] == (6, 5)
    result = server.psql("-v", "VERBOSITY=verbose", "-c", "EXPLAIN ANALYZE missing")
    assert result.returncode == 1
    assert "ERROR:  42P01:" in result.stderr
