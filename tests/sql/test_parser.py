from __future__ import annotations

import pytest

from tidal.sql import SqlError, parse_statement, split_statements


def test_statements_split_on_semicolons_outside_strings_and_comments():
    script = "SELECT ';' AS a; -- not; a statement\nSELECT 2;\n\n  SELECT 'x;y'"
    statements = split_statements(script)
    assert [s.text for s in statements] == ["SELECT ';' AS a", "SELECT 2", "SELECT 'x;y'"]
    assert [s.line for s in statements] == [1, 2, 4]


def test_parse_error_has_line_and_column():
    with pytest.raises(SqlError) as error:
        parse_statement("SELECT a\nFROM t WHERE (")
    assert error.value.line == 2
    assert error.value.column == 14
    assert error.value.sqlstate == "42601"


def test_show_and_explain_parse_as_statements():
    assert parse_statement("SHOW materialized  views").name == "MATERIALIZED VIEWS"
    assert parse_statement("EXPLAIN SELECT 1").this.sql() == "SELECT 1"
