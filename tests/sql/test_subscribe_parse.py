"""Parsing SUBSCRIBE: options, defaults, AS OF in either place, and errors with SQLSTATEs."""

from __future__ import annotations

import pytest

from tidal.sql import SqlError, parse_statement
from tidal.sql.subscribe import Subscribe


def parsed(sql: str) -> tuple:
    node = parse_statement(sql)
    assert isinstance(node, Subscribe)
    return node.name, node.snapshot, node.progress, node.as_of


@pytest.mark.parametrize(
    "sql, expected",
    [
        ("SUBSCRIBE v", ("v", True, False, None)),
        ("SUBSCRIBE TO v", ("v", True, False, None)),
        ("subscribe to v with (snapshot = false)", ("v", False, False, None)),
        ("SUBSCRIBE v WITH (PROGRESS)", ("v", True, True, None)),
        ("SUBSCRIBE v WITH (Progress = TRUE, SNAPSHOT = False)", ("v", False, True, None)),
        ("SUBSCRIBE v WITH (snapshot = 'false')", ("v", False, False, None)),
        ("SUBSCRIBE v AS OF 12", ("v", True, False, 12)),
        ("SUBSCRIBE v WITH (SNAPSHOT = false) AS OF 3", ("v", False, False, 3)),
        ("SUBSCRIBE v AS OF 3 WITH (SNAPSHOT = false, PROGRESS)", ("v", False, True, 3)),
        ("SUBSCRIBE to", ("to", True, False, None)),  # a relation called "to"
        ('SUBSCRIBE "My View"', ("My View", True, False, None)),
    ],
)
def test_subscribe_parses_options_and_defaults(sql, expected):
    assert parsed(sql) == expected


def test_subscribe_generates_sql_that_parses_back_the_same():
    node = parse_statement("subscribe to v as of 4 with (progress)")
    text = node.sql(dialect="tidal")
    assert text == "SUBSCRIBE v WITH (SNAPSHOT = true, PROGRESS = true) AS OF 4"
    assert parsed(text) == ("v", True, True, 4)


def test_subscribe_is_still_a_column_name_elsewhere():
    assert parse_statement("SELECT subscribe FROM t").sql() == "SELECT subscribe FROM t"


def error(sql: str) -> SqlError:
    with pytest.raises(SqlError) as raised:
        parse_statement(sql)
    return raised.value


def test_unknown_option_is_22023_naming_the_allowed_ones_at_its_position():
    e = error("SUBSCRIBE v WITH (SNAPSHOT, heartbeat = true)")
    assert e.sqlstate == "22023"
    assert "'heartbeat'" in e.message
    assert "SNAPSHOT" in e.message and "PROGRESS" in e.message
    assert (e.line, e.column) == (1, 29)


@pytest.mark.parametrize(
    "sql, code",
    [
        ("SUBSCRIBE v WITH (SNAPSHOT = 1)", "22023"),
        ("SUBSCRIBE v WITH (PROGRESS = maybe)", "22023"),
        ("SUBSCRIBE v WITH (SNAPSHOT, SNAPSHOT = false)", "22023"),
    ],
)
def test_bad_option_values_are_22023(sql, code):
    assert error(sql).sqlstate == code


@pytest.mark.parametrize(
    "sql, column",
    [
        ("SUBSCRIBE", 1),
        ("SUBSCRIBE v AS OF x", 19),
        ("SUBSCRIBE v AS OF -1", 19),
        ("SUBSCRIBE v AS OF 1.5", 19),
        ("SUBSCRIBE v WITH SNAPSHOT", 18),
        ("SUBSCRIBE v WITH (SNAPSHOT", None),
        ("SUBSCRIBE v WITH ()", 19),
        ("SUBSCRIBE v AS OF 1 AS OF 2", 24),
        ("SUBSCRIBE v trailing", 13),
    ],
)
def test_malformed_subscribe_is_42601_with_a_position(sql, column):
    e = error(sql)
    assert e.sqlstate == "42601"
    assert e.line == 1
    if column is not None:
        assert e.column == column


def test_subscribe_to_a_query_is_refused_with_what_to_do():
    e = error("SUBSCRIBE (SELECT 1)")
    assert e.sqlstate == "0A000"
    assert "CREATE MATERIALIZED VIEW" in e.message
