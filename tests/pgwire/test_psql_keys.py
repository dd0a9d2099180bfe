"""Primary keys as PostgreSQL tools see them: psql's ``\\d`` and the catalog relations."""

from __future__ import annotations

import shutil

import pytest
from conftest import start_server

SCHEMA = """
CREATE TABLE customers (id BIGINT PRIMARY KEY, name VARCHAR);
CREATE TABLE lines (o BIGINT, line INTEGER, qty INTEGER, CONSTRAINT lines_key PRIMARY KEY (o, line));
CREATE TABLE plain (a INTEGER);
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("keys"), init=SCHEMA)
    yield running
    running.stop()


def psql(served, *arguments: str) -> list[str]:
    result = served.psql(*arguments)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_d_table_lists_the_primary_key_as_postgresql_does(served):
    lines = psql(served, "-c", r"\d lines")
    assert lines[-3:] == ["Indexes:", '    "lines_key" PRIMARY KEY, btree (o, line)', ""]
    assert "Indexes:" not in psql(served, "-c", r"\d plain")
    listed = psql(served, "-A", "-t", "-c", r"\di")
    assert listed == [
        "public|customers_pkey|index|tidal|customers",
        "public|lines_key|index|tidal|lines",
    ]


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_constraints_and_key_columns_in_the_catalog(served):
    rows = psql(
        served,
        "-A",
        "-t",
        "-c",
        "SELECT c.conname, c.contype, c.conkey, pg_get_constraintdef(c.oid), t.relname "
        "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid ORDER BY 1",
        "-c",
        "SELECT table_name, column_name, ordinal_position FROM "
        "information_schema.key_column_usage ORDER BY 1, 3",
    )
    assert rows == [
        "customers_pkey|p|{1}|PRIMARY KEY (id)|customers",
        "lines_key|p|{1,2}|PRIMARY KEY (o, line)|lines",
        "customers|id|1",
        "lines|o|1",
        "lines|line|2",
    ]
