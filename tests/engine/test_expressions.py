"""The expression evaluator (tidal.engine.expressions) against DuckDB, over random batches.

Each generated expression reads columns ``c0``.. of a random batch and, sometimes, statement
parameters. It is compiled by the evaluator and run with the parameters' values as arguments;
DuckDB runs the same expression with the values written as typed literals. Both must give the
same type and values, or both fail. NaN, -0.0, infinities, NULLs and integers at the edges of
their types are in the batches on purpose: those are where kernels and DuckDB could disagree.
"""

from __future__ import annotations

import math
import os
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from tidal.catalog import types
from tidal.engine.arguments import ArgumentError
from tidal.engine.batch import BatchBackend
from tidal.engine.expressions import (
    EvaluationError,
    NeedsDuckDB,
    compile_expression,
    compile_predicate,
)
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement
from tidal.sql.plan import Field, Filter, Project, Scan, parameter, ref
from tidal.sql.typeinfer import connect_locked

COLUMNS = {  # name -> (SQL type, values a row may hold)
    "i": ("INTEGER", [0, 1, -1, 2, 7, -7, 2**31 - 1, -(2**31)]),
    "b": ("BIGINT", [0, 1, -3, 5, 2**40, 2**53 + 1, -(2**62), 2**63 - 1]),
    "h": ("SMALLINT", [0, 2, -3, 32767, -32768]),
    "u": ("UINTEGER", [0, 1, 3, 2**32 - 1]),
    "d": ("DOUBLE", [0.0, -0.0, 1.5, -2.25, 0.1, math.nan, math.inf, -math.inf, 1e300, 2.0**53]),
    "r": ("FLOAT", [0.0, 1.5, -2.0, 0.1, math.nan, 16777217.0]),
    "s": ("VARCHAR", ["", "a", "A", "ab", "b", "é", "z", "a b"]),
    "f": ("BOOLEAN", [True, False]),
    "m": ("DECIMAL(10,2)", [Decimal("1.50"), Decimal("-2.00"), Decimal("0.01")]),
}
NAMES = list(COLUMNS)
FIELDS = tuple(Field(name, kind) for name, (kind, _) in COLUMNS.items())
NUMBERS = ["i", "b", "h", "u", "d", "r"]
INTEGERS = ["i", "b", "h", "u"]
PARAMETER_TYPES = {"BIGINT": "b", "INTEGER": "i", "DOUBLE": "d", "VARCHAR": "s", "BOOLEAN": "f"}
SETTINGS = settings(
    max_examples=int(os.environ.get("TIDAL_MAX_EXAMPLES", "60")) * 2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def column(name: str) -> str:
    return f'"c{NAMES.index(name)}"'


@st.composite
def batches(draw) -> pa.Table:
    n = draw(st.integers(0, 12))
    arrays = {}
    for i, (name, (kind, values)) in enumerate(COLUMNS.items()):
        cells = draw(st.lists(st.none() | st.sampled_from(values), min_size=n, max_size=n))
        arrays[f"c{i}"] = pa.array(cells, types.to_arrow(kind))
    return pa.table(arrays)


# --- generated expressions ----------------------------------------------------------------------


class Slots:
    """The parameters an expression uses: each ``$n`` with its SQL type and drawn value."""

    def __init__(self, draw) -> None:
        self.draw = draw
        self.kinds: list[str] = []
        self.values: list[object] = []

    def add(self, kind: str) -> str:
        values = COLUMNS[PARAMETER_TYPES[kind]][1]
        if kind == "INTEGER":
            values = [v for v in values if -(2**31) <= v < 2**31]
        self.kinds.append(kind)
        self.values.append(self.draw(st.none() | st.sampled_from(values)))
        return f"${len(self.kinds)}"


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def constant(draw, slots: Slots | None, like: str) -> str:
    """A constant to set beside column ``like``: a literal, a typed literal, NULL or a
    parameter."""
    kind = COLUMNS[like][0]
    if slots is not None and draw(st.integers(0, 3)) == 0:
        parameter_kind = {
            "VARCHAR": "VARCHAR",
            "BOOLEAN": "BOOLEAN",
            "DOUBLE": "DOUBLE",
            "FLOAT": "DOUBLE",
        }.get(kind, draw(st.sampled_from(["BIGINT", "INTEGER", "DOUBLE"])))
        return slots.add(parameter_kind)
    if draw(st.integers(0, 6)) == 0:
        return "NULL"
    if kind == "VARCHAR":
        return _text(draw(st.sampled_from(COLUMNS["s"][1])))
    if kind == "BOOLEAN":
        return draw(st.sampled_from(["true", "false"]))
    if kind.startswith("DECIMAL"):
        return draw(st.sampled_from(["1", "1.5", "-2", "0.01"]))
    return draw(
        st.sampled_from(
            ["0", "1", "-1", "3", "2147483648", "-3000000000", "1.5", "-2.25", "0.1", "1e10"]
            + ["CAST(2 AS BIGINT)", "CAST('NaN' AS DOUBLE)", "CAST('-Infinity' AS DOUBLE)"]
            + ["0.30000000000000004", "9007199254740993", "CAST(1.5 AS FLOAT)"]
        )
    )


@st.composite
def numeric(draw, slots: Slots | None, depth: int = 2, failing: bool = False) -> str:
    """A number-valued expression. With ``failing``, any arithmetic (integers overflow and
    divide by zero); else float arithmetic only (a float on the left at every level)."""
    name = draw(st.sampled_from(NUMBERS if failing else ["d", "r"]))
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        if failing and draw(st.booleans()):
            return constant(draw, slots, name)
        return column(name)
    left = draw(numeric(slots, depth - 1, failing))
    if draw(st.integers(0, 4)) == 0:
        return f"-({left})"
    right = draw(numeric(slots, depth - 1, True) if failing else _operand(slots))
    operator = draw(st.sampled_from(["+", "-", "*", "/", "%"] if failing else ["+", "-", "*"]))
    return f"({left} {operator} {right})"


@st.composite
def _operand(draw, slots: Slots | None) -> str:
    name = draw(st.sampled_from(NUMBERS))
    return column(name) if draw(st.booleans()) else constant(draw, slots, name)


@st.composite
def condition(draw, slots: Slots | None, depth: int = 2) -> str:
    if depth > 0 and draw(st.integers(0, 2)) == 0:
        kind = draw(st.sampled_from(["and", "or", "not"]))
        left = draw(condition(slots, depth - 1))
        if kind == "not":
            return f"NOT ({left})"
        return f"({left} {kind.upper()} {draw(condition(slots, depth - 1))})"
    name = draw(st.sampled_from(NAMES))
    target = column(name)
    form = draw(st.sampled_from(["compare", "columns", "null", "in", "between", "bool", "float"]))
    operator = draw(st.sampled_from(["=", "<>", "<", "<=", ">", ">="]))
    if form == "compare":
        return f"{target} {operator} {constant(draw, slots, name)}"
    if form == "columns":
        pairs = [("i", "b"), ("h", "u"), ("b", "u"), ("d", "r"), ("i", "d"), ("b", "d")]
        pairs += [("r", "i"), ("s", "s"), ("f", "f"), ("d", "d"), ("m", "m"), ("u", "r")]
        left, right = draw(st.sampled_from(pairs))
        return f"{column(left)} {operator} {column(right)}"
    if form == "null":
        return f"{target} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if form == "in":
        items = draw(st.lists(st.just(None), min_size=1, max_size=4))
        items = [constant(draw, slots, name) for _ in items]
        negated = draw(st.sampled_from(["", "NOT "]))
        return f"{target} {negated}IN ({', '.join(items)})"
    if form == "between":
        low, high = constant(draw, slots, name), constant(draw, slots, name)
        return f"{target} BETWEEN {low} AND {high}"
    if form == "float":
        return f"{draw(numeric(slots))} {operator} {draw(numeric(slots))}"
    return column("f")


@st.composite
def value(draw, slots: Slots | None) -> str:
    """A value: CASE, COALESCE or a float expression; with failing arithmetic only where
    CASE and COALESCE guard it."""
    form = draw(st.sampled_from(["case", "guarded", "coalesce", "numeric", "condition"]))
    if form == "case":
        name = draw(st.sampled_from(NAMES))
        branches = draw(st.integers(1, 3))
        parts = [f"WHEN {draw(condition(slots, 1))} THEN {column(name)}" for _ in range(branches)]
        default = draw(st.sampled_from(["", f" ELSE {constant(draw, slots, name)}"]))
        return f"CASE {' '.join(parts)}{default} END"
    if form == "guarded":
        a, b = draw(st.sampled_from(INTEGERS)), draw(st.sampled_from(INTEGERS))
        operator = draw(st.sampled_from(["/", "%", "*", "+"]))
        guarded = f"{column(a)} {operator} {column(b)}"
        if draw(st.booleans()):
            return f"CASE WHEN {column(b)} <> 0 AND {column(b)} < 10 THEN {guarded} END"
        return f"COALESCE({column(a)}, {guarded})"
    if form == "coalesce":
        name = draw(st.sampled_from(NAMES))
        return f"COALESCE({column(name)}, {constant(draw, slots, name)})"
    if form == "numeric":
        return draw(numeric(slots))
    return draw(condition(slots))


# --- running both -------------------------------------------------------------------------------


def _literal(value: object, kind: str) -> str:
    if value is None:
        return f"CAST(NULL AS {kind})"
    if isinstance(value, float):
        text = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}.get(repr(value), repr(value))
        return f"CAST('{text}' AS {kind})"
    if isinstance(value, str):
        return f"CAST({_text(value)} AS {kind})"
    return f"CAST({str(value).lower()} AS {kind})"


def _with_literals(sql: str, slots: Slots | None) -> str:
    """``sql`` as DuckDB SQL (as the engine writes it), each parameter a typed literal."""
    node = parse_statement(f"SELECT {sql}").expressions[0]
    for found in list(node.find_all(exp.Parameter)):
        number = int(found.this.this)
        assert slots is not None
        literal = _literal(slots.values[number - 1], slots.kinds[number - 1])
        found.replace(parse_statement(f"SELECT {literal}").expressions[0])
    return node.sql(dialect="duckdb")


def _bound(sql: str, slots: Slots | None) -> exp.Expression:
    node = parse_statement(f"SELECT {sql}").expressions[0]
    for found in list(node.find_all(exp.Parameter)):
        number = int(found.this.this)
        found.replace(parameter(number, slots.kinds[number - 1]))  # type: ignore[union-attr]
    return node


def _duckdb(sql: str, batch: pa.Table):
    connection = connect_locked()
    connection.register("batch", batch)
    try:
        return connection.sql(f"SELECT {sql} AS v FROM batch").to_arrow_table().column(0)
    finally:
        connection.unregister("batch")


def _normal(values: list) -> list:
    return ["NaN" if isinstance(v, float) and math.isnan(v) else v for v in values]


def _check(sql: str, batch: pa.Table, slots: Slots | None = None) -> None:
    """The evaluator's values of ``sql`` over ``batch`` equal DuckDB's, or both fail."""
    node = _bound(sql, slots)
    arguments = slots.values if slots is not None else ()
    try:
        evaluate = compile_expression(node, FIELDS)
    except SqlError:
        assume(False)  # DuckDB does not bind it either (e.g. no such operator for the types)
    try:
        theirs = _duckdb(_with_literals(sql, slots), batch)
    except duckdb.Error:  # ours must fail too
        with pytest.raises(EvaluationError):
            evaluate(batch, arguments)
        return
    mine = evaluate(batch, arguments)
    assert mine.type == theirs.type, sql
    assert _normal(mine.to_pylist()) == _normal(theirs.to_pylist()), sql


@SETTINGS
@given(batch=batches(), data=st.data())
def test_conditions_equal_duckdb(batch, data):
    _check(data.draw(condition(None, 3)), batch)


@SETTINGS
@given(batch=batches(), data=st.data())
def test_conditions_with_parameters_equal_duckdb_with_the_values_as_literals(batch, data):
    slots = Slots(data.draw)
    _check(data.draw(condition(slots, 3)), batch, slots)


@SETTINGS
@given(batch=batches(), data=st.data())
def test_values_equal_duckdb(batch, data):
    slots = Slots(data.draw) if data.draw(st.booleans()) else None
    _check(data.draw(value(slots)), batch, slots)


@SETTINGS
@given(batch=batches(), data=st.data())
def test_arithmetic_equals_duckdb_and_fails_where_it_fails(batch, data):
    """Integer overflow and division by zero fail in both (DuckDB checks every operation)."""
    _check(data.draw(numeric(None, 2, failing=True)), batch)


def test_most_generated_conditions_run_on_kernels_alone():
    """The comparisons above are not vacuous: most conditions need no DuckDB at run time."""
    on_kernels = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(data=st.data())
    def count(data):
        slots = Slots(data.draw) if data.draw(st.booleans()) else None
        node = _bound(data.draw(condition(slots, 2)), slots)
        try:
            compile_predicate(node, FIELDS, kernels_only=True)
            on_kernels.append(True)
        except NeedsDuckDB:
            on_kernels.append(False)
        except SqlError:
            pass

    count()
    assert sum(on_kernels) >= 0.6 * len(on_kernels)


# --- DuckDB's part, with parameters -------------------------------------------------------------

FALLBACK = [
    # (SQL with parameters, their types)
    (f"{column('s')} LIKE $1", ["VARCHAR"]),
    (f"CAST({column('i')} AS VARCHAR) = $1", ["VARCHAR"]),
    (f"{column('m')} > $1", ["DOUBLE"]),
    (f"abs({column('b')}) < $1 OR {column('s')} = $2", ["BIGINT", "VARCHAR"]),
    (f"{column('d')} / $1", ["DOUBLE"]),
    (f"CASE WHEN {column('f')} THEN {column('m')} * $1 END", ["INTEGER"]),
]


@pytest.mark.parametrize(("sql", "kinds"), FALLBACK)
@SETTINGS
@given(batch=batches(), data=st.data())
def test_duckdbs_part_takes_parameters_as_values_and_equals_duckdb(sql, kinds, batch, data):
    slots = Slots(data.draw)
    for kind in kinds:
        slots.add(kind)
    with pytest.raises(NeedsDuckDB):
        compile_expression(_bound(sql, slots), FIELDS, kernels_only=True)
    _check(sql, batch, slots)


def test_a_parameters_value_is_passed_to_duckdb_as_a_value_not_as_text():
    evaluate = compile_expression(_bound(f"{column('s')} LIKE $1", _slots(["VARCHAR"])), FIELDS)
    tricky = "x' OR 'a' = 'a' --"
    # Pasted into the SQL text, the second value would make the condition always true.
    assert evaluate(_one_row(s=tricky), [tricky]).to_pylist() == [True]
    assert evaluate(_one_row(s="y"), [tricky]).to_pylist() == [False]


def _slots(kinds: list[str]) -> Slots:
    slots = Slots(lambda strategy: None)
    for kind in kinds:
        slots.add(kind)
    return slots


def _one_row(**cells) -> pa.Table:
    return pa.table(
        {
            f"c{i}": pa.array([cells.get(f.name)], types.to_arrow(f.type))
            for i, f in enumerate(FIELDS)
        }
    )


# --- arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "argument"),
    [("BIGINT", "1"), ("BIGINT", True), ("BIGINT", 2**63), ("INTEGER", 2**31), ("VARCHAR", 1)],
)
def test_an_argument_of_another_type_is_refused(kind, argument):
    node = exp.EQ(this=ref(1), expression=parameter(1, kind))
    evaluate = compile_expression(node, FIELDS)
    with pytest.raises(ArgumentError):
        evaluate(_one_row(b=1), [argument])


def test_a_missing_argument_is_refused_and_a_double_takes_an_int():
    evaluate = compile_expression(exp.GT(this=ref(4), expression=parameter(2, "DOUBLE")), FIELDS)
    with pytest.raises(ArgumentError):
        evaluate(_one_row(d=1.0), [None])
    assert evaluate(_one_row(d=1.0), [None, 0]).to_pylist() == [True]


# --- plans --------------------------------------------------------------------------------------


def test_a_parameter_never_equals_a_null_of_its_type_in_a_plan():
    scan = Scan("t", "table", FIELDS)
    with_parameter = Filter(scan, exp.EQ(this=ref(1), expression=parameter(1, "BIGINT")))
    with_null = Filter(scan, exp.EQ(this=ref(1), expression=exp.cast(exp.null(), "BIGINT")))
    assert with_parameter != with_null
    assert hash(with_parameter.predicate) != hash(with_null.predicate)


def test_the_batch_backend_runs_a_plan_with_parameters_as_a_prepared_statement():
    scan = Scan("t", "table", FIELDS)
    condition = exp.and_(
        exp.GTE(this=ref(1), expression=parameter(2, "BIGINT")),
        exp.EQ(this=ref(6), expression=parameter(3, "VARCHAR")),
    )
    projected = (ref(1), exp.Add(this=ref(1), expression=parameter(2, "BIGINT")))
    plan = Project(
        Filter(scan, condition), projected, (Field("b", "BIGINT"), Field("b2", "BIGINT"))
    )
    rows = pa.table(
        {
            f.name: pa.array(
                [{"b": 1, "s": "a"}.get(f.name), {"b": 5, "s": "a'"}.get(f.name)],
                types.to_arrow(f.type),
            )
            for f in FIELDS
        }
    )
    backend = BatchBackend()
    result = backend.run(plan, {"t": rows}, ["unused", 2, "a'"])
    assert result.to_pylist() == [{"b": 5, "b2": 7}]
