"""Simple ad hoc plans over one relation, run with pyarrow kernels instead of DuckDB.

A plan qualifies when it reads one relation through Filter, Project (of columns), Sort and
Limit nodes, and its conditions compare columns with each other or with constants and
statement parameters: ``=, <>, <, <=, >, >=``, ``BETWEEN``, ``IN`` (a list of constants),
``IS [NOT] NULL``, ``AND``, ``OR``, ``NOT``. Every kernel keeps DuckDB's meaning: three-valued
logic, NaN equal to NaN and above every number, strings compared by their bytes, NULLs last
ascending and first descending. ``compile_plan`` returns None for anything else, which then
runs on DuckDB as before. ``tests/engine/test_native.py`` checks both agree on random tables
and predicates.

    >>> import pyarrow as pa
    >>> from tidal.sql.plan import Field, Filter, Scan, ref
    >>> scan = Scan("t", "table", (Field("k", "BIGINT"), Field("v", "VARCHAR")))
    >>> plan = Filter(scan, exp.EQ(this=ref(0), expression=parameter(1, "BIGINT")))
    >>> rows = pa.table({"k": [1, 2, None], "v": ["a", "b", "c"]})
    >>> compile_plan(plan).run(rows, [2]).to_pylist()
    [{'k': 2, 'v': 'b'}]

Parameters (``$1``...) are typed NULLs marked as such (``parameter``): the binder types them
like any constant, and each run takes their values (Python values: int, float, str, bool or
None) as its arguments, so one compiled plan serves every execution of a prepared statement.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.catalog import types
from tidal.engine.expressions import COMPARISONS
from tidal.sql.plan import (
    Filter,
    Limit,
    Plan,
    Project,
    Scan,
    Sort,
    SortKey,
    conjuncts,
    ref_index,
)

PARAMETER = "parameter"  # the meta key of a statement parameter's stand-in

# Column categories the comparisons handle, by SQL type. FLOAT (REAL) and the 64-bit unsigned
# and decimal types are left to DuckDB: their comparisons with other types widen in ways
# pyarrow's kernels do not copy.
_CATEGORIES = {
    **dict.fromkeys(
        ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"),
        "integer",
    ),
    "DOUBLE": "double",
    "VARCHAR": "text",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
}
# Types whose Arrow form is what DuckDB returns for them too, so that a native result has the
# very types of the DuckDB one.
_PLAIN_OUTPUTS = {*_CATEGORIES, "UBIGINT", "HUGEINT", "FLOAT", "BLOB", "TIME"}
_MIRRORED = {"greater": "less", "less": "greater", "greater_equal": "less_equal"}
_MIRRORED |= {v: k for k, v in _MIRRORED.items()} | {"equal": "equal", "not_equal": "not_equal"}
_EXACT_DOUBLE = 2**53  # integers a double holds exactly
_EXACT_DIGITS = 15  # decimal digits a double holds exactly
SORT_AFTER = 4  # lookups on one snapshot's column before it is worth sorting

Arguments = Sequence[object]  # the Python value of each parameter $1, $2, ... (None: NULL)
Values = Callable[[pa.Table, Arguments], "pa.Array | pa.ChunkedArray | pa.Scalar"]


class NotNative(Exception):
    """A plan (or a run's argument) that the native path does not handle: use DuckDB."""


def parameter(number: int, sql_type: str) -> exp.Expression:
    """The stand-in for parameter ``$number`` of type ``sql_type``: a marked typed NULL."""
    node = exp.cast(exp.Null(), sql_type, dialect="duckdb")
    node.meta[PARAMETER] = number
    return node


@dataclass(frozen=True)
class NativePlan:
    """A compiled plan: ``run(rows, arguments)`` with the relation's rows (any column names,
    in the relation's order) gives the plan's result, named as the plan names it."""

    names: tuple[str, ...]
    relation: str
    evaluate: Callable[[pa.Table, Arguments, dict], pa.Table]
    sorts: bool  # whether a run sorts (worth keeping its result for the same arguments)

    def run(self, rows: pa.Table, arguments: Arguments = (), cache: dict | None = None):
        """The result over ``rows``; ``cache`` keeps what runs over the same rows can share
        (numpy views of key columns), e.g. one dict per snapshot."""
        result = self.evaluate(rows, arguments, {} if cache is None else cache)
        return result.rename_columns(self.names)


def compile_plan(plan: Plan) -> NativePlan | None:
    """``plan`` compiled to pyarrow kernels, or None where it needs DuckDB."""
    if any(f.type not in _PLAIN_OUTPUTS and not f.type.startswith("DECIMAL") for f in plan.schema):
        return None
    try:
        evaluate, scan = _node(plan)
    except NotNative:
        return None
    sorts = any(isinstance(node, Sort) for node in plan.walk())
    return NativePlan(tuple(plan.names), scan.relation, evaluate, sorts)


# --- plan nodes ---------------------------------------------------------------------------------


def _node(plan: Plan) -> tuple[Callable[[pa.Table, Arguments, dict], pa.Table], Scan]:
    if isinstance(plan, Scan):
        return (lambda rows, arguments, cache: rows), plan
    if not isinstance(plan, (Filter, Project, Sort, Limit)):
        raise NotNative(type(plan).__name__)
    below, scan = _node(plan.input)
    if isinstance(plan, Filter):
        return _filter(plan, below), scan
    if isinstance(plan, Project):
        if not all(isinstance(e, exp.Column) for e in plan.exprs):
            raise NotNative("an expression in the select list")
        positions = [ref_index(e) for e in plan.exprs]
        return (
            lambda rows, arguments, cache: below(rows, arguments, cache).select(positions)
        ), scan
    if isinstance(plan, Sort):
        return _sorted(below, plan.order, plan.schema, None), scan
    if isinstance(plan.input, Sort) and plan.limit is not None:  # ORDER BY ... LIMIT: top k
        sort = plan.input
        inner, _ = _node(sort.input)
        top = _sorted(inner, sort.order, sort.schema, plan.offset + plan.limit)
        return _sliced(top, plan.offset, plan.limit), scan
    return _sliced(below, plan.offset, plan.limit), scan


def _filter(plan: Filter, below):
    """A Filter; right above the scan, ``integer column = constant`` is looked up with numpy
    (the rest of the condition then filters the few rows found)."""
    predicates = _Predicates(plan.input.schema)
    parts = conjuncts(plan.predicate)
    if isinstance(plan.input, Scan):
        for i, part in enumerate(parts):
            lookup = predicates.lookup(part)
            if lookup is not None:
                rest = [predicates.condition(p) for p in parts[:i] + parts[i + 1 :]]
                return _filtered(lookup, _all(rest) if rest else None)
    return _filtered(below, predicates.condition(plan.predicate))


def _all(conditions: list[Values]) -> Values:
    def run(rows: pa.Table, arguments: Arguments):
        result = conditions[0](rows, arguments)
        for condition in conditions[1:]:
            result = pc.and_kleene(result, condition(rows, arguments))
        return result

    return run


def _filtered(below, condition: Values | None):
    def run(rows: pa.Table, arguments: Arguments, cache: dict) -> pa.Table:
        table = below(rows, arguments, cache)
        if condition is None:
            return table
        mask = condition(table, arguments)
        if isinstance(mask, pa.Scalar):
            return table if mask.as_py() else table.slice(0, 0)
        return table.filter(mask)  # NULL drops the row, as WHERE does

    return run


def _sliced(below, offset: int, limit: int | None):
    def run(rows: pa.Table, arguments: Arguments, cache: dict) -> pa.Table:
        table = below(rows, arguments, cache)
        return table.slice(offset, limit) if limit is not None else table.slice(offset)

    return run


def _sorted(below, order: tuple[SortKey, ...], fields, top: int | None):
    for key in order:
        arrow_type = types.to_arrow(fields[key.column].type)
        if not _sortable(arrow_type):
            raise NotNative(f"ORDER BY a column of type {fields[key.column].type}")

    def run(rows: pa.Table, arguments: Arguments, cache: dict) -> pa.Table:
        table = below(rows, arguments, cache)
        if top is not None and top < table.num_rows and len(order) == 1:
            values = table.column(order[0].column)
            if not values.null_count and (
                pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
            ):
                return table.take(_top(values.to_numpy(), top, order[0].descending))
        keys, directions = _sort_keys(table, order)
        names = [f"k{i}" for i in range(len(keys))]
        by = pa.Table.from_arrays(keys, names=names)
        return table.take(pc.sort_indices(by, list(zip(names, directions))))

    return run


def _top(values: np.ndarray, k: int, descending: bool) -> np.ndarray:
    """Positions of the ``k`` smallest (largest) values, in order. numpy sorts NaN above every
    number, as DuckDB does (Arrow's select_k is much slower on some inputs)."""
    n = len(values)
    if descending:
        part = np.argpartition(values, n - k)[n - k :]
        return part[np.argsort(values[part], kind="stable")[::-1]]
    part = np.argpartition(values, k - 1)[:k]
    return part[np.argsort(values[part], kind="stable")]


def _sortable(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or arrow_type in (pa.string(), pa.binary(), pa.bool_(), pa.date32())
        or (pa.types.is_timestamp(arrow_type) and arrow_type.tz is None)
    )


def _sort_keys(table: pa.Table, order: tuple[SortKey, ...]) -> tuple[list, list[str]]:
    """Sort columns in DuckDB's order: a NULL flag puts NULLs first or last, a NaN flag puts
    NaN above every number, then the values."""
    keys, directions = [], []
    for key in order:
        values = table.column(key.column)
        direction = "descending" if key.descending else "ascending"
        if values.null_count:
            keys.append(pc.is_null(values))
            directions.append("descending" if key.nulls_first else "ascending")
        if pa.types.is_floating(values.type):
            nan = pc.fill_null(pc.is_nan(values), False)
            if pc.any(nan).as_py():
                keys.append(nan)
                directions.append(direction)
        keys.append(values)
        directions.append(direction)
    return keys, directions


# --- conditions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Constant:
    """A constant or a parameter: its category (None for an untyped NULL) and its value."""

    category: str | None
    value: Callable[[Arguments], object]  # the Python value (None for NULL) of a run
    parameter: bool = False


class _Predicates:
    """Compiles a condition over rows with ``fields`` to a function giving its BOOLEAN values."""

    def __init__(self, fields) -> None:
        self.fields = fields

    def condition(self, node: exp.Expression) -> Values:
        if isinstance(node, exp.Paren):
            return self.condition(node.this)
        if isinstance(node, (exp.And, exp.Or)):
            kernel = pc.and_kleene if isinstance(node, exp.And) else pc.or_kleene
            left, right = self.condition(node.this), self.condition(node.expression)
            return lambda rows, arguments: kernel(left(rows, arguments), right(rows, arguments))
        if isinstance(node, exp.Not):
            inner = self.condition(node.this)
            return lambda rows, arguments: pc.invert(inner(rows, arguments))
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            return self._is_null(node.this)
        if type(node) in COMPARISONS:
            return self._comparison(node.this, COMPARISONS[type(node)], node.expression)
        if isinstance(node, exp.Between) and not node.args.get("symmetric"):
            low = self._comparison(node.this, "greater_equal", node.args["low"])
            high = self._comparison(node.this, "less_equal", node.args["high"])
            return lambda rows, arguments: pc.and_kleene(
                low(rows, arguments), high(rows, arguments)
            )
        if isinstance(node, exp.In) and not node.args.get("query") and not node.args.get("unnest"):
            return self._in(node)
        if isinstance(node, exp.Column) and self._category(node) == "boolean":
            index = ref_index(node)
            return lambda rows, arguments: rows.column(index)
        constant = constant_of(node)
        if constant is not None and constant.category in ("boolean", None):
            return lambda rows, arguments: pa.scalar(constant.value(arguments), pa.bool_())
        raise NotNative(f"condition {node.sql()[:60]}")

    def lookup(self, node: exp.Expression):
        """For ``integer column = constant``: a function from (rows, arguments, cache) to the
        rows where it holds, found with numpy; None for any other condition."""
        if not isinstance(node, exp.EQ):
            return None
        column, other = node.this, node.expression
        if not isinstance(column, exp.Column):
            column, other = other, column
        if not isinstance(column, exp.Column) or self._category(column) != "integer":
            return None
        constant = constant_of(other)
        if constant is None or constant.category not in ("integer", None):
            return None
        index = ref_index(column)

        def run(rows: pa.Table, arguments: Arguments, cache: dict) -> pa.Table:
            value = constant.value(arguments)
            values, valid, low, high = _numpy_column(rows, index, cache)
            if value is None or not low <= value <= high:
                return rows.slice(0, 0)
            positions = _equal_positions(values, value, index, cache)
            if valid is not None:
                positions = positions[valid[positions]]
            if len(positions) <= 1:  # slices cost far less than take
                return rows.slice(int(positions[0]), 1) if len(positions) else rows.slice(0, 0)
            return rows.take(positions)

        return run

    def _category(self, column: exp.Column) -> str | None:
        return _CATEGORIES.get(self.fields[ref_index(column)].type)

    def _is_null(self, node: exp.Expression) -> Values:
        if isinstance(node, exp.Column):
            index = ref_index(node)
            return lambda rows, arguments: pc.is_null(rows.column(index))
        constant = constant_of(node)
        if constant is None:
            raise NotNative("IS NULL of an expression")
        return lambda rows, arguments: pa.scalar(constant.value(arguments) is None)

    def _comparison(self, left: exp.Expression, kernel: str, right: exp.Expression) -> Values:
        if not isinstance(left, exp.Column):
            left, right, kernel = right, left, _MIRRORED[kernel]
        if not isinstance(left, exp.Column):
            raise NotNative("a comparison of two constants")
        category = self._category(left)
        if category is None:
            raise NotNative(f"comparing a {self.fields[ref_index(left)].type}")
        index = ref_index(left)
        if isinstance(right, exp.Column):
            if self._category(right) != category:
                raise NotNative("comparing columns of different types")
            other = ref_index(right)
            return _compare(kernel, category, lambda rows, arguments: rows.column(other), index)
        constant = constant_of(right)
        if constant is None or not _comparable(category, constant.category):
            raise NotNative(f"comparing a {category} column with {right.sql()[:40]}")
        scalar = _scalar_of(constant, category)
        return _compare(kernel, category, lambda rows, arguments: scalar(arguments), index)

    def _in(self, node: exp.In) -> Values:
        probe = node.this
        category = self._category(probe) if isinstance(probe, exp.Column) else None
        if category in (None, "double") or not node.expressions:
            raise NotNative("IN over this expression")
        constants = [constant_of(item) for item in node.expressions]
        if any(c is None or c.category != category for c in constants):
            raise NotNative("IN with a list of other types")
        index = ref_index(probe)
        arrow_type = types.to_arrow(self.fields[index].type)

        def value_set(arguments: Arguments) -> pa.Array:
            found = [c.value(arguments) for c in constants]
            if any(v is None for v in found):
                raise NotNative("NULL in an IN list")
            try:
                return pa.array(found, arrow_type)
            except (pa.ArrowInvalid, OverflowError):
                raise NotNative("an IN value outside the column's type") from None

        fixed = None if any(c.parameter for c in constants) else value_set(())

        def run(rows: pa.Table, arguments: Arguments):
            values = rows.column(index)
            found = fixed if fixed is not None else value_set(arguments)
            contained = pc.is_in(values, value_set=found)
            return pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), contained)

        return run


def _comparable(column: str, constant: str | None) -> bool:
    return constant in (column, None) or (column == "double" and constant == "integer")


def _scalar_of(constant: _Constant, category: str) -> Callable[[Arguments], pa.Scalar]:
    arrow_type = {"integer": pa.int64(), "double": pa.float64(), "text": pa.string()}.get(
        category, pa.bool_()
    )

    def scalar(arguments: Arguments) -> pa.Scalar:
        value = constant.value(arguments)
        if value is None:
            return pa.scalar(None, arrow_type)
        if category == "double" and isinstance(value, int):
            if abs(value) > _EXACT_DOUBLE:
                raise NotNative("an integer a double cannot hold exactly")
            value = float(value)
        try:
            return pa.scalar(value, arrow_type)
        except (pa.ArrowInvalid, OverflowError):
            raise NotNative("a constant outside BIGINT") from None

    return scalar


def _compare(kernel_name: str, category: str, other: Values, index: int) -> Values:
    kernel = getattr(pc, kernel_name)
    if category != "double":
        return lambda rows, arguments: kernel(rows.column(index), other(rows, arguments))

    def floats(rows: pa.Table, arguments: Arguments):
        # DuckDB's order of doubles: NaN equals NaN and is above every number.
        left, right = rows.column(index), other(rows, arguments)
        left_nan, right_nan = _nan_flag(left), _nan_flag(right)
        by_flag = kernel(pc.cast(left_nan, pa.int8()), pc.cast(right_nan, pa.int8()))
        return pc.if_else(pc.or_(left_nan, right_nan), by_flag, kernel(left, right))

    return floats


def _numpy_column(rows: pa.Table, index: int, cache: dict):
    """(values, validity or None, the type's least and greatest value) of an integer column,
    as numpy arrays kept in ``cache``."""
    key = ("numpy", index)
    found = cache.get(key)
    if found is None:
        column = rows.column(index)
        valid = None
        if column.null_count:
            valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
            column = pc.fill_null(column, 0)
        values = column.to_numpy()
        info = np.iinfo(values.dtype)
        found = cache[key] = (values, valid, int(info.min), int(info.max))
    return found


def _equal_positions(values: np.ndarray, value: int, index: int, cache: dict) -> np.ndarray:
    """The positions (ascending) where ``values`` (column ``index``) equals ``value``. The
    first lookups scan; from the ``SORT_AFTER``-th on the same rows, a sorted copy made once
    answers each by binary search."""
    key = ("sorted", index)
    ordered = cache.get(key)
    if ordered is None:
        lookups = cache[("lookups", index)] = cache.get(("lookups", index), 0) + 1
        if lookups < SORT_AFTER:
            return np.flatnonzero(values == value)
        order = np.argsort(values, kind="stable")  # stable: equal values keep their order
        ordered = cache[key] = (order, values[order])
    order, sorted_values = ordered
    start = sorted_values.searchsorted(value, "left")
    return order[start : sorted_values.searchsorted(value, "right")]


def _nan_flag(values):
    if isinstance(values, pa.Scalar):
        value = values.as_py()
        return pa.scalar(None if value is None else math.isnan(value), pa.bool_())
    return pc.is_nan(values)


# --- constants ----------------------------------------------------------------------------------


def constant_of(node: exp.Expression) -> _Constant | None:
    """A constant the native path understands (a literal, a typed literal, a parameter)."""
    if PARAMETER in node.meta:
        number = node.meta[PARAMETER]
        category = _CATEGORIES.get(types.normalize(node.to.sql(dialect="duckdb")))
        if category not in ("integer", "double", "text", "boolean"):
            return None
        return _Constant(category, lambda arguments: _argument(arguments, number, category), True)
    found = _literal(node)
    if found is None:
        return None
    category, value = found
    return _Constant(category, lambda arguments: value)


_PYTHON_TYPES = {"integer": (int,), "double": (float, int), "text": (str,), "boolean": (bool,)}


def _argument(arguments: Arguments, number: int, category: str):
    value = arguments[number - 1]
    if value is None:
        return None
    if isinstance(value, bool) and category != "boolean":
        raise NotNative(f"parameter ${number}")
    if not isinstance(value, _PYTHON_TYPES[category]):
        raise NotNative(f"parameter ${number}")
    return value


def _literal(node: exp.Expression) -> tuple[str | None, object] | None:
    """(category, Python value) of a literal or a typed literal, None if not understood."""
    if isinstance(node, exp.Paren):
        return _literal(node.this)
    if isinstance(node, exp.Null):
        return None, None
    if isinstance(node, exp.Boolean):
        return "boolean", bool(node.this)
    if isinstance(node, exp.Literal):
        return ("text", node.this) if node.is_string else _number(node.this)
    if isinstance(node, exp.Neg):
        inner = _literal(node.this)
        if inner is None or inner[0] not in ("integer", "double") or inner[1] is None:
            return None
        return inner[0], -inner[1]
    if isinstance(node, exp.Cast) and PARAMETER not in node.meta:
        return _cast_literal(node)
    return None


def _number(text: str) -> tuple[str, object] | None:
    if text.isdigit():
        return "integer", int(text)
    digits = sum(ch.isdigit() for ch in text.split("e")[0].split("E")[0])
    if digits > _EXACT_DIGITS and not any(ch in text for ch in "eE"):
        return None  # DuckDB reads it as a DECIMAL first, which may round differently
    try:
        value = float(text)
    except ValueError:
        return None
    return ("double", value) if math.isfinite(value) else None


def _cast_literal(node: exp.Cast) -> tuple[str | None, object] | None:
    try:
        sql_type = types.normalize(node.to.sql(dialect="duckdb"))
    except types.TypeError_:
        return None
    category = _CATEGORIES.get(sql_type)
    inner = node.this
    if isinstance(inner, exp.Null):
        return (category, None) if category else None
    found = _literal(inner)
    if found is None:
        return None
    kind, value = found
    if category == kind == "integer":
        try:  # out of the type's range is DuckDB's error to raise
            pa.scalar(value, types.to_arrow(sql_type))
        except (pa.ArrowInvalid, OverflowError):
            return None
        return category, value
    if category == kind or (category == "double" and kind == "integer"):
        return category, float(value) if category == "double" else value
    if category == "double" and kind == "text" and value in ("NaN", "Infinity", "-Infinity"):
        return "double", float(value)
    return None
