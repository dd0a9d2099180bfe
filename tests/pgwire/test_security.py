"""No client SQL reaches the server's files or DuckDB's settings."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from tests.pgwire.conftest import DEMO


@pytest.fixture
def conn(server):
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=5) as connection:
        yield connection


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT count(*) FROM t WHERE k IN (SELECT content FROM read_text('/etc/hostname'))",
    ],
)
def test_queries_cannot_read_files(conn, statement):
    with pytest.raises(psycopg.Error) as caught:
        conn.execute(statement).fetchall()
    assert "root:" not in str(caught.value)
    assert conn.execute("SELECT 1").fetchone() == (1,)


def test_duckdb_settings_cannot_be_changed(conn):
    with pytest.raises(errors.UndefinedObject):
        conn.execute("SET enable_external_access = true")
    with pytest.raises(errors.UndefinedObject):
        conn.execute("SET lock_configuration = false")
    with pytest.raises(psycopg.Error):
        conn.execute("SELECT * FROM read_csv('/etc/passwd')").fetchall()


def test_copy_to_a_file_is_refused(conn, tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(psycopg.Error):
        conn.execute(f"COPY (SELECT 1) TO '{target}'")
    with pytest.raises(errors.InsufficientPrivilege):  # a client never reaches the files
        conn.execute(f"COPY t FROM '{target}'")
    assert not target.exists()


def test_file_connectors_are_refused_over_the_wire(conn, tmp_path):
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(
            "CREATE SOURCE leak (line VARCHAR) WITH (connector = 'file', path = '/etc/passwd') "
            "FORMAT PLAIN ENCODE CSV"
        )
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(f"CREATE SINK out FROM t WITH (connector = 'file', path = '{tmp_path}/x')")
    conn.execute("CREATE SINK nowhere FROM t WITH (connector = 'blackhole')")
    conn.execute("DROP SINK nowhere")


def test_a_table_cannot_take_a_file_connector_either(conn):
    with pytest.raises(errors.InsufficientPrivilege):
        conn.execute(
            "CREATE TABLE leak (line VARCHAR) WITH (connector = 'file', path = '/etc/passwd', "
            "format = 'csv')"
        )


def test_connectors_to_other_servers_are_for_superusers(make_server):
    users = "CREATE USER admin WITH PASSWORD 'a' SUPERUSER;\nCREATE USER bob WITH PASSWORD 'b';\n"
    server = make_server(init=DEMO + users)
    cdc = (
        "CREATE TABLE c (id BIGINT PRIMARY KEY) WITH (connector = 'postgres-cdc', "
        "hostname = '127.0.0.1', port = '1', username = 'x', \"database.name\" = 'x', "
        "\"table.name\" = 'x')"
    )
    sink = (
        "CREATE SINK s FROM t WITH (connector = 'postgres', url = 'postgresql://127.0.0.1:1/x', "
        "table = 'x', type = 'append-only')"
    )
    statements = [cdc, sink]
    dsn = f"host={server.host} port={server.port} dbname=tidal connect_timeout=5"
    with psycopg.connect(f"{dsn} user=bob password=b", autocommit=True) as bob:
        for statement in statements:
            with pytest.raises(errors.InsufficientPrivilege, match="only a superuser"):
                bob.execute(statement)
    with psycopg.connect(f"{dsn} user=admin password=a", autocommit=True) as admin:
        for statement in statements:  # allowed: it fails only because nothing listens there
            with pytest.raises(psycopg.Error, match="cannot connect to PostgreSQL"):
                admin.execute(statement)
