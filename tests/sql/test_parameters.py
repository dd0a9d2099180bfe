"""Statement parameters (tidal.sql.parameters): types inferred where they stand, values read
as PostgreSQL's input functions read them, and what a statement looks like ready to compile."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlglot import exp

from tidal.catalog import Catalog, Column, Table
from tidal.sql.errors import SqlError
from tidal.sql.parameters import constant_numbers, infer_types, read_value, stand_ins
from tidal.sql.parser import parse_statement
from tidal.sql.plan import TypedParameter, parameter, parameter_number


@pytest.fixture
def catalog():
    catalog = Catalog()
    columns = (Column("k", "BIGINT"), Column("d", "DATE"), Column("p", "DECIMAL(10,2)"))
    catalog.add(Table("t", columns))
    return catalog


@pytest.mark.parametrize(
    ("text", "declared", "types"),
    [
        ("SELECT * FROM t WHERE k = $1 AND d > $2", [], ["BIGINT", "DATE"]),
        ("SELECT * FROM t AS x WHERE x.p BETWEEN $1 AND 5", [], ["DECIMAL(10,2)"]),
        ("INSERT INTO t (d, k) VALUES ($1, $2)", [], ["DATE", "BIGINT"]),
        ("SELECT $1::int4, $2 || 'x', $3 LIMIT $4", [], ["INTEGER", "VARCHAR", None, "BIGINT"]),
        ("SELECT * FROM t WHERE k = $1", ["INTEGER", "VARCHAR"], ["INTEGER", "VARCHAR"]),
        ("SELECT $1::pg_catalog.jsonb", [], ["JSON"]),
    ],
)
def test_types_are_declared_else_inferred_where_the_parameter_stands(
    catalog, text, declared, types
):
    assert infer_types(parse_statement(text), catalog, declared) == types


def test_values_are_read_as_postgresql_reads_them():
    assert read_value("BOOLEAN", " On ") == ("BOOLEAN", True)
    assert read_value("SMALLINT", "-32768") == ("SMALLINT", -32768)
    assert read_value("DOUBLE", "NaN")[1] != read_value("DOUBLE", "NaN")[1]  # a NaN
    assert read_value("DECIMAL", "-0.050") == ("DECIMAL(4,3)", Decimal("-0.050"))
    assert read_value("DECIMAL", "Infinity") == ("DOUBLE", float("inf"))
    assert read_value("BLOB", "ab") == ("BLOB", b"ab")
    assert read_value("TIMESTAMP", "2026-01-01 10:00") == ("TIMESTAMP", "2026-01-01 10:00")
    assert read_value(None, b"x") == (None, "x")
    assert read_value("DECIMAL", None) == ("DECIMAL(38,10)", None)


@pytest.mark.parametrize(
    ("sql_type", "text", "sqlstate"),
    [
        ("INTEGER", "12x", "22P02"),
        ("SMALLINT", "32768", "22003"),
        ("BOOLEAN", "maybe", "22P02"),
        ("DECIMAL", "1.2.3", "22P02"),
        ("DOUBLE", "", "22P02"),
    ],
)
def test_a_value_that_is_not_of_its_type_is_refused_with_a_code(sql_type, text, sqlstate):
    with pytest.raises(SqlError) as refused:
        read_value(sql_type, text)
    assert refused.value.sqlstate == sqlstate


def test_a_statement_ready_to_compile_has_stand_ins_and_constants():
    statement = parse_statement("SELECT $1 + k, $2, $3 FROM t WHERE d > $4 LIMIT $5")
    types = ["BIGINT", None, "DECIMAL(3,1)", "DATE", "BIGINT"]
    assert constant_numbers(statement, types) == {2, 5}
    ready = stand_ins(statement, types, {2: "x", 5: 3})
    assert sorted(parameter_number(p) for p in ready.find_all(TypedParameter)) == [1, 3, 4]
    assert ready.args["limit"].expression.this == "3"
    assert ready.expressions[1] == exp.Literal.string("x")
    date = ready.args["where"].this.expression  # a DATE is cast from its text
    assert isinstance(date, exp.Cast) and date.this == parameter(4, "VARCHAR")
    assert statement.find(TypedParameter) is None  # the statement itself is unchanged
