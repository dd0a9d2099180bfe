"""The dialect's cursor, COPY, settings and transaction statements (sql.cursor_statements,
sql.session_statements): what they parse to, that they print back to what parses the same,
and that anything they do not handle is an error with a SQLSTATE, never dropped."""

from __future__ import annotations

import pytest
from sqlglot import exp

from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    INVALID_PARAMETER_VALUE,
    SYNTAX_ERROR,
)
from tidal.sql.cursor_statements import CloseCursor, CopyToStdout, DeclareCursor, FetchCursor
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement
from tidal.sql.session_statements import (
    Deallocate,
    Discard,
    Notification,
    ResetSetting,
    Savepoint,
    SetRole,
    SetSetting,
    SetTransaction,
    StartTransaction,
)
from tidal.sql.subscribe import Subscribe


@pytest.mark.parametrize(
    ("sql", "cursor", "binary", "hold", "inner"),
    [
        ("DECLARE c CURSOR FOR SUBSCRIBE v", "c", False, False, Subscribe),
        ('DECLARE "My C" BINARY CURSOR WITH HOLD FOR SELECT 1', "My C", True, True, exp.Select),
        ("declare C insensitive no scroll cursor without hold for select 1", "c", False, False,
         exp.Select),
    ],
)  # fmt: skip
def test_declare(sql, cursor, binary, hold, inner):
    node = parse_statement(sql)
    assert isinstance(node, DeclareCursor)
    assert (node.cursor, node.binary, node.hold) == (cursor, binary, hold)
    assert isinstance(node.expression, inner)


@pytest.mark.parametrize(
    ("sql", "cursor", "count", "timeout", "move"),
    [
        ("FETCH 100 c WITH (timeout='1s')", "c", 100, 1.0, False),
        ("FETCH ALL FROM c WITH (timeout = '500ms')", "c", None, 0.5, False),
        ("FETCH c", "c", 1, None, False),
        ("FETCH NEXT IN c", "c", 1, None, False),
        ("FETCH FORWARD c", "c", 1, None, False),
        ("FETCH FORWARD 5 FROM c", "c", 5, None, False),
        ("FETCH FORWARD ALL c WITH (timeout = 2)", "c", None, 2.0, False),
        ("FETCH next", "next", 1, None, False),  # a cursor called next
        ('MOVE 3 "C"', "C", 3, None, True),
    ],
)
def test_fetch_and_move(sql, cursor, count, timeout, move):
    node = parse_statement(sql)
    assert isinstance(node, FetchCursor)
    assert (node.cursor, node.count, node.timeout, node.move) == (cursor, count, timeout, move)


def test_close():
    assert parse_statement("CLOSE c").cursor == "c"
    assert parse_statement("close ALL") == CloseCursor()


@pytest.mark.parametrize(
    ("sql", "options"),
    [
        ("COPY (SUBSCRIBE v) TO STDOUT", {}),
        ("COPY t TO STDOUT WITH CSV HEADER", {"format": "csv", "header": "true"}),
        ("COPY t TO STDOUT BINARY", {"format": "binary"}),
        (
            "COPY (SELECT 1) TO STDOUT WITH (FORMAT CSV, HEADER, DELIMITER '|', NULL '')",
            {"format": "csv", "header": "true", "delimiter": "|", "null": ""},
        ),
        ("COPY (SELECT 1) TO STDOUT (header false)", {"header": "false"}),
    ],
)
def test_copy_to_stdout(sql, options):
    node = parse_statement(sql)
    assert isinstance(node, CopyToStdout)
    assert {k: node.option(k) for k in ("format", "header", "delimiter", "null")} == {
        k: options.get(k) for k in ("format", "header", "delimiter", "null")
    }


def test_copy_of_a_relation_copies_all_its_rows():
    assert parse_statement("COPY t TO STDOUT").query.sql() == "SELECT * FROM t"


@pytest.mark.parametrize(
    ("sql", "name", "value"),
    [
        ("SET extra_float_digits = 3", "extra_float_digits", "3"),
        ("SET search_path TO \"$user\", 'public'", "search_path", '"$user", public'),
        ("SET LOCAL TimeZone = Europe/Paris", "TimeZone", "Europe/Paris"),
        ("SET x.y = -1", "x.y", "-1"),
        ("SET application_name = ''", "application_name", ""),
        ("SET statement_timeout TO DEFAULT", "statement_timeout", None),
        ("SET \"TimeZone\" = 'it''s'", "TimeZone", "it's"),
        ("SET TIME ZONE 'UTC'", "TimeZone", "UTC"),
        ("SET SESSION TIME ZONE LOCAL", "TimeZone", None),
        ("SET NAMES 'UTF8'", "client_encoding", "UTF8"),
    ],
)
def test_set(sql, name, value):
    node = parse_statement(sql)
    assert isinstance(node, SetSetting)
    assert (node.name, node.value) == (name, value)


def test_set_transaction_role_and_reset():
    modes = parse_statement("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    assert isinstance(modes, SetTransaction)
    assert modes.modes == ["ISOLATION LEVEL REPEATABLE READ", "READ ONLY"]
    session = parse_statement("SET SESSION CHARACTERISTICS AS TRANSACTION NOT DEFERRABLE")
    assert session.args["session"] and session.modes == ["NOT DEFERRABLE"]
    role = parse_statement("SET SESSION AUTHORIZATION 'bob'")
    assert isinstance(role, SetRole) and (role.text("kind"), role.name) == (
        "SESSION AUTHORIZATION",
        "bob",
    )
    assert parse_statement("RESET ALL") == ResetSetting()
    assert parse_statement("RESET TIME ZONE").name == "TimeZone"
    assert parse_statement("RESET search_path").name == "search_path"


@pytest.mark.parametrize(
    ("sql", "node"),
    [
        ("BEGIN", exp.Transaction()),
        ("BEGIN WORK READ ONLY", exp.Transaction(modes=["READ ONLY"])),
        ("START TRANSACTION", StartTransaction()),
        ("COMMIT", exp.Commit()),
        ("END TRANSACTION AND NO CHAIN", exp.Commit(chain=False)),
        ("COMMIT AND CHAIN", exp.Commit(chain=True)),
        ("ROLLBACK", exp.Rollback()),
        ("ABORT WORK", exp.Rollback()),
        ("ROLLBACK TO SAVEPOINT s", exp.Rollback(savepoint=exp.to_identifier("s"))),
        ("SAVEPOINT s", Savepoint(this=exp.to_identifier("s"))),
        ("RELEASE s", Savepoint(this=exp.to_identifier("s"), release=True)),
        ("DISCARD TEMPORARY", Discard(this=exp.var("TEMP"))),
        ("DEALLOCATE ALL", Deallocate()),
        ("UNLISTEN *", Notification(kind=exp.var("UNLISTEN"))),
    ],
)
def test_transaction_control_and_housekeeping(sql, node):
    assert parse_statement(sql) == node


@pytest.mark.parametrize(
    "sql",
    [
        "DECLARE c BINARY INSENSITIVE SCROLL CURSOR WITHOUT HOLD FOR SELECT 1",
        "FETCH 10 FROM c WITH (timeout = '1s')",
        "MOVE ALL FROM c",
        "CLOSE ALL",
        "COPY (SELECT a FROM t) TO STDOUT WITH (FORMAT 'csv', HEADER 'true', NULL '-')",
        "COPY t TO STDOUT",
        "SET LOCAL search_path = '\"$user\"', 'public'",
        "SET TimeZone = DEFAULT",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
        "SET ROLE 'NONE'",
        "RESET ALL",
        "BEGIN ISOLATION LEVEL SERIALIZABLE, DEFERRABLE",
        "START TRANSACTION READ WRITE",
        "RELEASE SAVEPOINT s",
        'DEALLOCATE "S1"',
        "NOTIFY ch, 'payload'",
    ],
)
def test_statements_print_back_to_what_parses_the_same(sql):
    node = parse_statement(sql)
    assert parse_statement(node.sql(dialect="tidal")) == node


@pytest.mark.parametrize(
    ("sql", "sqlstate", "words"),
    [
        ("FETCH BACKWARD 1 c", FEATURE_NOT_SUPPORTED, "cursors only go forward"),
        ("FETCH PRIOR c", FEATURE_NOT_SUPPORTED, "cursors only go forward"),
        ("FETCH c WITH (wait = '1s')", SYNTAX_ERROR, "only option is timeout"),
        ("FETCH c WITH (timeout = '2x')", INVALID_PARAMETER_VALUE, "not a duration"),
        ("FETCH -1 c", SYNTAX_ERROR, "row count"),
        ("DECLARE c FOR SELECT 1", SYNTAX_ERROR, "expected CURSOR"),
        ("CLOSE", SYNTAX_ERROR, "a cursor name"),
        ("COPY t FROM STDIN (FORMAT binary)", FEATURE_NOT_SUPPORTED, "binary"),
        ("COPY t TO '/tmp/x'", FEATURE_NOT_SUPPORTED, "TO STDOUT"),
        ("COPY t TO STDOUT (FORMAT xml)", INVALID_PARAMETER_VALUE, 'format "xml"'),
        ("COPY t TO STDOUT (FREEZE)", FEATURE_NOT_SUPPORTED, "option freeze"),
        ("COPY t TO STDOUT WITH CSV QUOTE", SYNTAX_ERROR, "option QUOTE"),
        ("COPY t TO STDOUT (DELIMITER '||')", INVALID_PARAMETER_VALUE, "single one-byte"),
        ("SET x = a b", SYNTAX_ERROR, "no spaces"),
        ("SET x", SYNTAX_ERROR, "= or TO"),
        ("SET TRANSACTION ISOLATION LEVEL SOMETIMES", SYNTAX_ERROR, "isolation level"),
        ("BEGIN whenever", SYNTAX_ERROR, "ISOLATION LEVEL"),
        ("ROLLBACK AND CHAIN", FEATURE_NOT_SUPPORTED, "then BEGIN"),
        ("DISCARD EVERYTHING", SYNTAX_ERROR, "ALL, PLANS"),
        ("START", SYNTAX_ERROR, "TRANSACTION"),
    ],
)
def test_what_is_not_handled_is_an_error(sql, sqlstate, words):
    with pytest.raises(SqlError) as caught:
        parse_statement(sql)
    assert caught.value.sqlstate == sqlstate
    assert words in caught.value.message


def test_the_words_stay_usable_as_names():
    statement = parse_statement("CREATE TABLE t (close INT, reset INT, move INT, listen INT)")
    assert isinstance(statement, exp.Create)
    query = parse_statement("SELECT close, move FROM t ORDER BY 1 FETCH FIRST 5 ROWS ONLY")
    assert isinstance(query, exp.Select)


def test_a_query_with_emit_on_window_close_stays_whole_inside_declare_and_copy():
    declare = parse_statement("DECLARE c CURSOR FOR SELECT * FROM t EMIT ON WINDOW CLOSE")
    copy = parse_statement("COPY (SELECT * FROM t EMIT ON WINDOW CLOSE) TO STDOUT")
    assert declare.expression.key == copy.this.key == "emitonwindowclose"
