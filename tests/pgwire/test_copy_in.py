"""COPY ... FROM STDIN over pgwire with real clients (psql's \\copy, psycopg's cursor.copy()),
and COPY ... FROM a file refused to clients (42501)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS items (id INTEGER, name VARCHAR, price DECIMAL(10,2), ok BOOL)",
    (
        "CREATE MATERIALIZED VIEW IF NOT EXISTS item_totals AS "
        "SELECT count(*) AS n, sum(price) AS total FROM items"
    ),
)


@pytest.fixture
def conn(server):
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        for statement in SCHEMA:
            connection.execute(statement)
        connection.execute("DELETE FROM items")
        yield connection


def totals(conn) -> tuple:
    return conn.execute("SELECT n, total FROM item_totals").fetchone()


def test_psycopg_copy_text_rows(conn):
    with conn.cursor() as cursor:
        with cursor.copy("COPY items FROM STDIN") as copy:
            copy.write(b"1\tpen\t1.50\tt\n2\ttab\\there\t\\N\tf\n")
            copy.write(b"3\tink\t2.")  # a message may end inside a line
            copy.write(b"00\tt\n")
        assert cursor.rowcount == 3
    rows = conn.execute("SELECT id, name, price, ok FROM items ORDER BY id").fetchall()
    assert [(r[0], r[1], None if r[2] is None else str(r[2]), r[3]) for r in rows] == [
        (1, "pen", "1.50", True),
        (2, "tab\there", None, False),
        (3, "ink", "2.00", True),
    ]
    assert totals(conn) == (3, 3.5)


def test_psycopg_copy_rows_helper_and_csv(conn):
    csv = "COPY items (id, name) FROM STDIN WITH (FORMAT csv, HEADER)"
    with conn.cursor() as cursor, cursor.copy(csv) as copy:
        copy.write(b'id,name\n10,"a, b"\n11,\n')
    assert conn.execute("SELECT id, name FROM items ORDER BY id").fetchall() == [
        (10, "a, b"),
        (11, None),
    ]


def test_bad_lines_are_left_out_with_a_warning(conn):
    notices = []
    conn.add_notice_handler(lambda diagnostic: notices.append(diagnostic.message_primary))
    with conn.cursor() as cursor:
        with cursor.copy("COPY items (id, price) FROM STDIN") as copy:
            copy.write(b"1\t1.00\nnot a number\t2\n3\t3.00\n")
        assert cursor.rowcount == 2
    assert totals(conn) == (2, pytest.approx(4))
    assert len(notices) == 1 and notices[0].startswith("line left out: STDIN:2:")


def test_copy_fail_changes_nothing(conn):
    # psycopg sends CopyFail (the server answers 57014) and raises the error again
    cursor = conn.cursor()
    with pytest.raises(RuntimeError), cursor.copy("COPY items FROM STDIN") as copy:
        copy.write(b"1\tpen\t1.50\tt\n")
        raise RuntimeError("the client gives up")
    assert totals(conn)[0] == 0
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the session goes on


def test_unknown_table_and_file_copies_are_refused(conn):
    with pytest.raises(errors.UndefinedTable), conn.cursor().copy("COPY nope FROM STDIN"):
        pass
    with pytest.raises(errors.InsufficientPrivilege, match="server's files"):
        conn.execute("COPY items FROM '/etc/passwd'")
    assert totals(conn)[0] == 0


def test_psql_backslash_copy(server, conn, tmp_path):
    data = tmp_path / "items.csv"
    data.write_text('id,name,price,ok\n7,psql,7.70,true\n8,"q,r",0.30,false\n')
    done = server.psql("-c", f"\\copy items FROM '{data}' WITH (FORMAT csv, HEADER)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "COPY 2"
    text = tmp_path / "items.txt"
    text.write_text("9\tplain\t1.00\tt\n")
    done = server.psql("-c", f"\\copy items FROM '{text}'")
    assert done.returncode == 0 and done.stdout.strip() == "COPY 1", done.stderr
    shown = server.psql("-At", "-c", "SELECT n, total FROM item_totals")
    assert shown.stdout.strip() == "3|9.00"
    server.psql("-c", "DELETE FROM items")


def test_psql_copy_from_stdin_inline(server, conn):
    script = (
        "COPY items (id, name) FROM STDIN;\n41\tinline\n42\ttoo\n\\.\nSELECT count(*) FROM items;\n"
    )
    done = server.psql("-At", input=script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["COPY", "2", "2"]
    server.psql("-c", "DELETE FROM items")
