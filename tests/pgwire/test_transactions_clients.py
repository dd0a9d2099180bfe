"""Transaction blocks from real clients against a live server: psycopg (its implicit BEGIN),
asyncpg's ``conn.transaction()``, pg8000 and JDBC (``setAutoCommit(false)``): COMMIT applies
the block in one tick, ROLLBACK undoes it, the status byte follows, 40001 and 25P02 arrive with
their codes, and an idle block holds no lock."""

from __future__ import annotations

import asyncio
import pathlib
import shutil
import subprocess

import asyncpg
import pg8000.dbapi
import psycopg
import pytest
from conftest import start_server
from psycopg import errors, pq

INIT = """
CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER);
INSERT INTO accounts VALUES (1, 100), (2, 100);
CREATE MATERIALIZED VIEW total AS SELECT sum(balance) AS total, count(*) AS n FROM accounts;
CREATE TABLE log (n INTEGER, what VARCHAR);
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("transactions"), init=INIT)
    yield running
    running.stop()


def connect(server, autocommit: bool = False) -> psycopg.Connection:
    return psycopg.connect(server.dsn, autocommit=autocommit, connect_timeout=5)


def balances(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("SELECT id, balance FROM accounts ORDER BY id").fetchall()


def test_psycopg_commit_applies_the_block_and_others_see_it_only_then(server):
    with connect(server) as conn, connect(server, autocommit=True) as other:
        conn.execute("UPDATE accounts SET balance = balance - 30 WHERE id = 1")
        conn.execute("UPDATE accounts SET balance = balance + 30 WHERE id = 2")
        conn.execute("INSERT INTO log VALUES (1, 'transfer')")
        assert conn.info.transaction_status == pq.TransactionStatus.INTRANS
        assert balances(conn) == [(1, 70), (2, 130)]  # its own changes
        assert balances(other) == [(1, 100), (2, 100)]  # nobody else's yet
        conn.commit()
        assert conn.info.transaction_status == pq.TransactionStatus.IDLE
        assert balances(other) == [(1, 70), (2, 130)]
        assert other.execute("SELECT total, n FROM total").fetchone() == (200, 2)
        conn.execute("UPDATE accounts SET balance = 100")  # back for the other tests
        conn.execute("DELETE FROM log")
        conn.commit()


def test_psycopg_rollback_undoes_and_copy_in_a_block(server):
    with connect(server) as conn:
        conn.execute("INSERT INTO accounts VALUES (3, 5)")
        with conn.cursor().copy("COPY log FROM STDIN") as copy:
            copy.write_row((7, "copied"))
        assert conn.execute("SELECT count(*) FROM log").fetchone() == (1,)
        conn.rollback()
        assert balances(conn) == [(1, 100), (2, 100)]
        assert conn.execute("SELECT count(*) FROM log").fetchone() == (0,)
        conn.rollback()


def test_psycopg_first_committer_wins(server):
    with connect(server) as first, connect(server) as second:
        first.execute("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
        second.execute("UPDATE accounts SET balance = balance + 10 WHERE id = 1")
        first.commit()
        with pytest.raises(errors.SerializationFailure) as caught:
            second.commit()
        assert "accounts" in str(caught.value)
        assert second.info.transaction_status == pq.TransactionStatus.IDLE
        assert balances(second) == [(1, 101), (2, 100)]  # one update, not both
        second.execute("UPDATE accounts SET balance = 100 WHERE id = 1")
        second.commit()


def test_psycopg_failed_block_and_ddl(server):
    notices = []
    with connect(server) as conn:
        conn.add_notice_handler(lambda diag: notices.append(diag.message_primary))
        conn.execute("INSERT INTO log VALUES (9, 'lost')")
        with pytest.raises(errors.FeatureNotSupported, match="CREATE TABLE cannot run inside"):
            conn.execute("CREATE TABLE nope (x INTEGER)")
        assert conn.info.transaction_status == pq.TransactionStatus.INERROR
        with pytest.raises(errors.InFailedSqlTransaction):
            conn.execute("SELECT 1")
        conn.commit()  # COMMIT of a failed block rolls back
        assert conn.execute("SELECT count(*) FROM log").fetchone() == (0,)
        conn.execute("BEGIN")  # psycopg's BEGIN is open already: a warning, nothing else
        conn.rollback()
        conn.autocommit = True
        conn.execute("COMMIT")
    assert notices == [
        "there is already a transaction in progress",
        "there is no transaction in progress",
    ]


def test_an_idle_block_does_not_stop_anyone(server):
    with connect(server) as idle, connect(server, autocommit=True) as other:
        idle.execute("INSERT INTO log VALUES (1, 'idle')")  # then nothing for a while
        other.execute("INSERT INTO log VALUES (2, 'busy')")
        assert other.execute("SELECT n FROM log").fetchall() == [(2,)]
        with pytest.raises(errors.SerializationFailure):
            idle.commit()  # log changed since its snapshot
        other.execute("DELETE FROM log")


def test_asyncpg_transaction_blocks_and_savepoints(server):
    async def go():
        conn = await asyncpg.connect(
            host=server.host, port=server.port, user="tester", database="tidal", timeout=5
        )
        try:
            async with conn.transaction():
                await conn.execute("INSERT INTO log VALUES ($1, $2)", 1, "kept")
                async with conn.transaction():  # a savepoint
                    await conn.execute("INSERT INTO log VALUES ($1, $2)", 2, "kept too")
                try:
                    async with conn.transaction():
                        await conn.execute("INSERT INTO log VALUES ($1, $2)", 3, "undone")
                        raise RuntimeError("roll back to the savepoint")
                except RuntimeError:
                    pass
                inside = await conn.fetchval("SELECT count(*) FROM log")
            try:
                async with conn.transaction():
                    await conn.execute("INSERT INTO log VALUES ($1, $2)", 4, "undone")
                    raise RuntimeError("roll back")
            except RuntimeError:
                pass
            rows = await conn.fetch("SELECT n FROM log ORDER BY n")
            await conn.execute("DELETE FROM log")
        finally:
            await conn.close()
        return inside, [r["n"] for r in rows]

    assert asyncio.run(asyncio.wait_for(go(), 30)) == (2, [1, 2])


def test_pg8000_commit_and_rollback(server):
    connection = pg8000.dbapi.connect(
        "tester", host=server.host, port=server.port, database="tidal", timeout=10
    )
    try:
        cursor = connection.cursor()
        cursor.execute("INSERT INTO log VALUES (%s, %s)", (1, "rolled back"))
        connection.rollback()
        cursor.execute("INSERT INTO log VALUES (%s, %s)", (2, "committed"))
        cursor.execute("SELECT n FROM log")
        assert cursor.fetchall() == ([2],)
        connection.commit()
        cursor.execute("SELECT n FROM log")
        seen = cursor.fetchall()
        cursor.execute("DELETE FROM log")
        connection.commit()
    finally:
        connection.close()
    assert seen == ([2],)


JDBC_PROGRAM = """
import java.sql.*;

public class Transactions {
    static int count(Connection c) throws SQLException {
        try (ResultSet r = c.createStatement().executeQuery("SELECT count(*) FROM log")) {
            r.next();
            return r.getInt(1);
        }
    }

    public static void main(String[] args) throws Exception {
        try (Connection c = DriverManager.getConnection(args[0], "tester", "")) {
            c.setAutoCommit(false);
            PreparedStatement insert = c.prepareStatement("INSERT INTO log VALUES (?, ?)");
            for (int i = 0; i < 7; i++) {  // named statements after 5 runs
                insert.setInt(1, i);
                insert.setString(2, "jdbc");
                insert.executeUpdate();
            }
            int inside = count(c);
            c.rollback();
            int afterRollback = count(c);
            insert.setInt(1, 100);
            insert.setString(2, "jdbc");
            insert.executeUpdate();
            c.commit();
            int afterCommit = count(c);
            c.createStatement().executeUpdate("DELETE FROM log");
            c.commit();
            System.out.println(inside + " " + afterRollback + " " + afterCommit);
        }
    }
}
"""


def _jdbc_driver() -> pathlib.Path | None:
    found = sorted(pathlib.Path.home().glob(".m2/repository/org/postgresql/postgresql/*/*.jar"))
    return found[-1] if found else None


@pytest.mark.skipif(
    shutil.which("java") is None or _jdbc_driver() is None,
    reason="needs java and the PostgreSQL JDBC driver in the local Maven repository",
)
def test_jdbc_commit_and_rollback(server, tmp_path):
    source = tmp_path / "Transactions.java"
    source.write_text(JDBC_PROGRAM)
    url = f"jdbc:postgresql://{server.host}:{server.port}/tidal?sslmode=disable"
    done = subprocess.run(
        ["java", "-cp", str(_jdbc_driver()), str(source), url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["7", "0", "1"]


def test_psql_script_with_a_failing_statement_in_a_block(server):
    script = """
    BEGIN;
    INSERT INTO log VALUES (1, 'psql');
    SELECT * FROM nowhere;
    INSERT INTO log VALUES (2, 'psql');
    COMMIT;
    SELECT count(*) AS n FROM log;
    BEGIN;
    INSERT INTO log VALUES (3, 'psql');
    COMMIT;
    SELECT count(*) AS n FROM log;
    DELETE FROM log;
    """
    done = server.psql("-A", "-t", input=script)
    lines = done.stdout.split()
    assert lines == ["BEGIN", "INSERT", "0", "1", "ROLLBACK", "0", "BEGIN", "INSERT", "0", "1",
                     "COMMIT", "1", "DELETE", "1"]  # fmt: skip
    assert "current transaction is aborted" in done.stderr
