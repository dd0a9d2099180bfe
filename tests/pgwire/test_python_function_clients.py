"""Python functions over pgwire with psycopg: the three on_error modes as a client sees them,
and the serve-time rule (LANGUAGE python only with --allow-python-functions, and then only for
a superuser; LANGUAGE sql for everyone)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from conftest import DEMO, start_server
from psycopg import errors

FAIL, NULL, DEAD_LETTER = "fail", "null", "dead_letter"
ALLOW = "--allow-python-functions"


def inverse(name: str, on_error: str) -> str:
    """``name(x) = 10 // x``, failing on 0, with ``on_error``."""
    options = f"on_error = '{on_error}'"
    if on_error == DEAD_LETTER:
        options += f", dead_letter_table = 'bad_{name}'"
    return (
        f"CREATE FUNCTION {name}(x BIGINT) RETURNS BIGINT LANGUAGE python WITH ({options}) "
        f"AS $$\ndef {name}(x):\n    return 10 // x\n$$"
    )


SQL_FUNCTION = "CREATE FUNCTION plus_one(x BIGINT) RETURNS BIGINT LANGUAGE sql RETURN x + 1"
PYTHON_FUNCTION = inverse("inv", FAIL)
TOTAL = """
def create_state():
    return 0
def accumulate(state, x):
    return state + x
def finish(state):
    return state
"""
# Every kind of Python function: scalar, table, aggregate (and the language quoted, any case).
PYTHON_FUNCTIONS = [
    PYTHON_FUNCTION,
    (
        "CREATE FUNCTION pairs(x BIGINT) RETURNS TABLE (y BIGINT) LANGUAGE python AS $$\n"
        "def pairs(x):\n    yield (x,)\n    yield (x,)\n$$"
    ),
    f"CREATE AGGREGATE total(x BIGINT) RETURNS BIGINT LANGUAGE python AS $${TOTAL}$$",
    "CREATE FUNCTION same(x BIGINT) RETURNS BIGINT LANGUAGE 'Python' AS $$def same(x): return x$$",
]


@pytest.fixture(scope="module")
def allowed(tmp_path_factory):
    """A server that allows Python functions, with no users: every client acts as superuser."""
    running = start_server(tmp_path_factory.mktemp("python"), ALLOW)
    yield running
    running.stop()


def connect(server, user: str = "tester") -> psycopg.Connection:
    return psycopg.connect(
        f"host={server.host} port={server.port} user={user} dbname=tidal connect_timeout=5",
        autocommit=True,
    )


def rows(conn: psycopg.Connection, sql: str) -> list[tuple]:
    return sorted(conn.execute(sql).fetchall(), key=repr)


# --- the three on_error modes -----------------------------------------------------------------


def test_fail_reports_the_function_and_row_and_changes_nothing(allowed):
    with connect(allowed) as conn:
        conn.execute("CREATE TABLE fail_in (x BIGINT, s VARCHAR)")
        conn.execute(inverse("fail_inv", FAIL))
        conn.execute("CREATE MATERIALIZED VIEW fail_out AS SELECT s, fail_inv(x) AS y FROM fail_in")
        conn.execute("INSERT INTO fail_in VALUES (1, 'a')")
        with pytest.raises(psycopg.Error) as caught:
            conn.execute("INSERT INTO fail_in VALUES (2, 'b'), (0, 'c'), (5, 'd')")
        assert caught.value.sqlstate == "22000"
        message = caught.value.diag.message_primary or ""
        assert message.startswith("function fail_inv failed on (0): ZeroDivisionError"), message
        assert rows(conn, "SELECT * FROM fail_out") == [("a", 10)]
        assert rows(conn, "SELECT * FROM fail_in") == [(1, "a")]
        conn.execute("INSERT INTO fail_in VALUES (2, 'b')")  # the session goes on
        assert rows(conn, "SELECT * FROM fail_out") == [("a", 10), ("b", 5)]
        with pytest.raises(psycopg.Error) as caught:  # ad hoc, computed by DuckDB: the same
            conn.execute("SELECT s, fail_inv(x - 2) FROM fail_in")
        assert caught.value.sqlstate == "22000"
        assert "function fail_inv failed on (0)" in (caught.value.diag.message_primary or "")


def test_null_gives_the_failing_row_null(allowed):
    with connect(allowed) as conn:
        conn.execute("CREATE TABLE null_in (x BIGINT, s VARCHAR)")
        conn.execute(inverse("null_inv", NULL))
        conn.execute("CREATE MATERIALIZED VIEW null_out AS SELECT s, null_inv(x) AS y FROM null_in")
        conn.execute("INSERT INTO null_in VALUES (2, 'a'), (0, 'b'), (NULL, 'c')")
        expected = [("a", 5), ("b", None), ("c", None)]
        assert rows(conn, "SELECT * FROM null_out") == expected
        assert rows(conn, "SELECT s, null_inv(x) FROM null_in") == expected  # ad hoc: the same
        for value, result in ((5, 2), (0, None)):  # a parameter, in a prepared statement
            assert conn.execute("SELECT null_inv(%s)", [value], prepare=True).fetchone() == (
                result,
            )


def test_dead_letters_appear_and_go_with_their_rows(allowed):
    with connect(allowed) as conn:
        conn.execute("CREATE TABLE dl_in (x BIGINT, s VARCHAR)")
        conn.execute(inverse("dl_inv", DEAD_LETTER))
        conn.execute("CREATE MATERIALIZED VIEW dl_out AS SELECT s, dl_inv(x) AS y FROM dl_in")
        conn.execute("INSERT INTO dl_in VALUES (2, 'a'), (0, 'b')")
        conn.execute("INSERT INTO dl_in VALUES (0, 'c'), (5, 'd')")
        assert rows(conn, "SELECT * FROM dl_out") == [("a", 5), ("d", 2)]
        letters = rows(conn, "SELECT view, function, arguments, error FROM bad_dl_inv")
        error = "ZeroDivisionError: integer division or modulo by zero"
        assert letters == [("dl_out", "dl_inv", "[0]", error)] * 2
        conn.execute("DELETE FROM dl_in WHERE s = 'b'")
        assert rows(conn, "SELECT arguments FROM bad_dl_inv") == [("[0]",)]
        conn.execute("DELETE FROM dl_in WHERE x = 0")
        assert rows(conn, "SELECT * FROM bad_dl_inv") == []
        assert rows(conn, "SELECT * FROM dl_out") == [("a", 5), ("d", 2)]


# --- who may create Python functions ------------------------------------------------------------


def test_refused_without_the_flag(make_server):
    init = "CREATE FUNCTION from_init(x BIGINT) RETURNS BIGINT LANGUAGE python AS $$\n" + (
        "def from_init(x):\n    return x * 3\n$$;\n"
    )
    server = make_server(init=init)
    with connect(server) as conn:
        for statement in PYTHON_FUNCTIONS:
            with pytest.raises(errors.InsufficientPrivilege) as caught:
                conn.execute(statement)
            assert caught.value.sqlstate == "42501"
            assert ALLOW in (caught.value.diag.message_primary or ""), statement
        with pytest.raises(psycopg.Error, match="does not exist"):
            conn.execute("SELECT inv(1)")
        conn.execute(SQL_FUNCTION)  # LANGUAGE sql stays allowed
        assert conn.execute("SELECT plus_one(41)").fetchone() == (42,)
        # the server's owner may: a function from the --init script is there for clients
        assert conn.execute("SELECT from_init(14)").fetchone() == (42,)


USERS = """
CREATE USER admin WITH PASSWORD 'a' SUPERUSER;
CREATE USER bob WITH PASSWORD 'b' NOSUPERUSER;
"""


def test_with_the_flag_only_a_superuser(make_server):
    server = make_server(ALLOW, init=DEMO + USERS)
    for user in ("bob", "tester"):  # a user who is not a superuser; a name that is no user
        with connect(server, user) as conn:
            for statement in PYTHON_FUNCTIONS:
                with pytest.raises(errors.InsufficientPrivilege) as caught:
                    conn.execute(statement)
                message = caught.value.diag.message_primary or ""
                assert "superuser" in message, (user, statement)
    with connect(server, "bob") as conn:
        conn.execute(SQL_FUNCTION)
        assert conn.execute("SELECT plus_one(1)").fetchone() == (2,)
    with connect(server, "admin") as conn:
        for statement in PYTHON_FUNCTIONS:
            conn.execute(statement)
        assert conn.execute("SELECT inv(5)").fetchone() == (2,)
        assert conn.execute("SELECT total(v) FROM t").fetchone() == (6,)
    with connect(server, "bob") as conn:  # calling one is not creating one
        assert conn.execute("SELECT inv(2)").fetchone() == (5,)


def test_with_the_flag_and_no_superuser_anyone(allowed):
    with connect(allowed, "anyone") as conn:
        conn.execute(inverse("anyones", FAIL))
        assert conn.execute("SELECT anyones(10)").fetchone() == (1,)


def test_no_spelling_gets_past_the_refusal(make_server, tmp_path):
    server = make_server()
    marker = tmp_path / "ran"
    body = f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n{TOTAL}"
    spellings = ['LANGUAGE "python"', "LANGUAGE /* a comment */ python", "LANGUAGE -- a\n python"]
    allowed = []
    with connect(server) as conn:
        for number, language in enumerate(spellings):
            try:
                conn.execute(
                    f"CREATE AGGREGATE total{number}(x BIGINT) RETURNS BIGINT {language} "
                    f"AS $${body}$$"
                )
                allowed.append(language)
            except errors.InsufficientPrivilege:
                pass
    assert (allowed, marker.exists()) == ([], False)


# --- cancelling a slow function ------------------------------------------------------------------

SLOW = (
    "CREATE FUNCTION slow(x BIGINT) RETURNS BIGINT LANGUAGE python AS $$\n"
    "import time\ndef slow(x):\n    time.sleep(0.05)\n    return x\n$$"
)
ROWS = 100  # 5 seconds of calls


@pytest.mark.parametrize("where", ["ad hoc", "view"])
def test_cancel_stops_a_slow_row_function(allowed, where):
    with connect(allowed) as conn:
        if conn.execute("SELECT count(*) FROM pg_proc WHERE proname = 'slow'").fetchone() == (0,):
            conn.execute(SLOW)
        table = f"slow_in_{where.replace(' ', '_')}"
        conn.execute(f"CREATE TABLE {table} (x BIGINT)")
        if where == "view":
            conn.execute(f"CREATE MATERIALIZED VIEW {table}_v AS SELECT slow(x) AS y FROM {table}")
            statement = f"INSERT INTO {table} SELECT * FROM generate_series(1, {ROWS})"
        else:
            conn.execute(f"INSERT INTO {table} SELECT * FROM generate_series(1, {ROWS})")
            statement = f"SELECT sum(slow(x)) FROM {table}"
        timer = threading.Timer(0.3, conn.cancel)
        timer.start()
        started = time.monotonic()
        with pytest.raises(errors.QueryCanceled):
            conn.execute(statement)
        timer.join()
        assert time.monotonic() - started < 2.5, "the cancel waited for the calls"
