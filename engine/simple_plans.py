"""Simple ad hoc plans over one relation, run with Arrow and numpy kernels instead of DuckDB.

A plan qualifies when it reads one relation through Filter, Project (of columns), Sort and
Limit nodes, its output types come back from DuckDB as the same Arrow types, and each condition
compiles to kernels alone (tidal.engine.expressions, ``kernels_only``): the evaluator gives them
DuckDB's meaning. This module only matches that shape, looks up ``integer column = constant``
with numpy, and sorts (NULLs last ascending and first descending, NaN above every number, as
DuckDB). ``compile_plan`` returns None for anything else, which then runs on DuckDB.
``tests/engine/test_simple_plans.py`` checks both agree on random tables and predicates.

    >>> import pyarrow as pa
    >>> from tidal.sql.plan import Field, Filter, Scan, parameter, ref
    >>> scan = Scan("t", "table", (Field("k", "BIGINT"), Field("v", "VARCHAR")))
    >>> plan = Filter(scan, exp.EQ(this=ref(0), expression=parameter(1, "BIGINT")))
    >>> rows = pa.table({"k": [1, 2, None], "v": ["a", "b", "c"]})
    >>> compile_plan(plan).run(rows, [2]).to_pylist()
    [{'k': 2, 'v': 'b'}]

Statement parameters (``$1``...) are typed stand-ins (tidal.sql.plan.parameter): each run
takes their values (Python values: int, float, str, bool or None) as its arguments, so one
compiled plan serves every execution of a prepared statement. A value that is not one of its
parameter's type raises NotNative: the caller then runs the statement the usual way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.catalog import types
from tidal.engine.arguments import ArgumentError, Arguments
from tidal.engine.expressions import (
    NeedsDuckDB,
    compile_constant,
    compile_predicate,
)
from tidal.sql.plan import (
    Filter,
    Limit,
    Plan,
    Project,
    Scan,
    Sort,
    SortKey,
    conjunction,
    conjuncts,
    ref_index,
)

# Types whose Arrow form is what DuckDB returns for them too, so that a result has the very
# types of the DuckDB one.
_PLAIN_OUTPUTS = {
    *("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"),
    *("UBIGINT", "HUGEINT", "FLOAT", "DOUBLE", "VARCHAR", "BLOB", "BOOLEAN"),
    *("DATE", "TIME", "TIMESTAMP"),
}
# Integer types a numpy lookup compares by value (UBIGINT's numpy values and Python ints mix
# through float64).
_LOOKED_UP = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER")
SORT_AFTER = 4  # lookups on one snapshot's column before it is worth sorting

Rows = Callable[[pa.Table, Arguments, dict], pa.Table]


class NotNative(Exception):
    """A plan (or a run's argument) that this path does not handle: use DuckDB."""


@dataclass(frozen=True)
class NativePlan:
    """A compiled plan: ``run(rows, arguments)`` with the relation's rows (any column names,
    in the relation's order) gives the plan's result, named as the plan names it. Two compiled
    from equal plans are equal, so results kept for one serve the other."""

    plan: Plan
    relation: str
    evaluate: Rows = field(compare=False)
    sorts: bool = False  # whether a run sorts (worth keeping its result for the same arguments)

    def run(self, rows: pa.Table, arguments: Arguments = (), cache: dict | None = None):
        """The result over ``rows``; ``cache`` keeps what runs over the same rows can share
        (numpy views of key columns), e.g. one dict per snapshot."""
        try:
            result = self.evaluate(rows, arguments, {} if cache is None else cache)
        except ArgumentError as error:
            raise NotNative(str(error)) from None
        return result.rename_columns(self.plan.names)


def compile_plan(plan: Plan) -> NativePlan | None:
    """``plan`` compiled to kernels, or None where it needs DuckDB."""
    if any(f.type not in _PLAIN_OUTPUTS and not f.type.startswith("DECIMAL") for f in plan.schema):
        return None
    try:
        evaluate, scan = _node(plan)
    except (NotNative, NeedsDuckDB):
        return None
    sorts = any(isinstance(node, Sort) for node in plan.walk())
    return NativePlan(plan, scan.relation, evaluate, sorts)


# --- plan nodes ---------------------------------------------------------------------------------


def _node(plan: Plan) -> tuple[Rows, Scan]:
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


def _filter(plan: Filter, below: Rows) -> Rows:
    """A Filter; right above the scan, ``integer column = constant`` is looked up with numpy
    (the rest of the condition then filters the few rows found)."""
    fields = plan.input.schema
    parts = conjuncts(plan.predicate)
    if isinstance(plan.input, Scan):
        for i, part in enumerate(parts):
            lookup = _lookup(part, fields)
            if lookup is not None:
                rest = conjunction(parts[:i] + parts[i + 1 :])
                return _filtered(lookup, None if rest is None else _condition(rest, fields))
    return _filtered(below, _condition(plan.predicate, fields))


def _condition(predicate: exp.Expression, fields):
    return compile_predicate(predicate, fields, kernels_only=True)


def _filtered(below: Rows, condition) -> Rows:
    def run(rows: pa.Table, arguments: Arguments, cache: dict) -> pa.Table:
        table = below(rows, arguments, cache)
        if condition is None:
            return table
        return table.filter(condition(table, arguments))

    return run


def _sliced(below: Rows, offset: int, limit: int | None) -> Rows:
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


# --- point lookups ------------------------------------------------------------------------------


def _lookup(node: exp.Expression, fields) -> Rows | None:
    """For ``integer column = integer constant`` (or parameter): a function from (rows,
    arguments, cache) to the rows where it holds, found with numpy; None for anything else."""
    if not isinstance(node, exp.EQ):
        return None
    column, other = node.this, node.expression
    if not isinstance(column, exp.Column):
        column, other = other, column
    if not isinstance(column, exp.Column) or fields[ref_index(column)].type not in _LOOKED_UP:
        return None
    constant = compile_constant(other)
    if constant is None or constant[0] not in _LOOKED_UP:
        return None
    value_of = constant[1]
    index = ref_index(column)

    def run(rows: pa.Table, arguments: Arguments, cache: dict) -> pa.Table:
        value = value_of(arguments)
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
