"""Constants in compiled expressions: which nodes are constants, and their values as DuckDB
reads them. A plain literal is read in Python where that is exact (integers, strings, a
DECIMAL as a Decimal); any other constant (a typed literal, a DECIMAL converted to a float)
is computed once by DuckDB and kept.

>>> import pyarrow as pa
>>> node = exp.cast(exp.Literal.string("NaN"), "DOUBLE")
>>> is_constant(node), fold("CAST('NaN' AS DOUBLE)", pa.float64())
(True, <pyarrow.DoubleScalar: nan>)
>>> literal(exp.Literal.number("2.25"), pa.decimal128(3, 2))
<pyarrow.Decimal128Scalar: Decimal('2.25')>
"""

from __future__ import annotations

import decimal
import threading

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.sql.typeinfer import connect_locked

# The nodes a constant is made of: literals, and casts of them (the DataType under a cast).
CONSTANT_NODES = (
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Neg,
    exp.Paren,
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
)
_FOLDED: dict[str, pa.Scalar | None] = {}  # constant SQL -> its value (None: DuckDB refused)
_FOLDED_KEPT = 10_000
_LOCK = threading.Lock()
_CONNECTION: duckdb.DuckDBPyConnection | None = None


def is_constant(node: exp.Expression) -> bool:
    """A literal or a cast of one (a typed literal), whatever the nesting."""
    return all(isinstance(n, CONSTANT_NODES) for n in node.walk())


def literal(node: exp.Expression, arrow_type: pa.DataType) -> pa.Scalar | None:
    """A plain literal's (or a negated one's) value as ``arrow_type``, where Python reads it
    as DuckDB does; None otherwise (then ``fold`` it)."""
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this
    if isinstance(node, exp.Null):
        return pa.scalar(None, arrow_type)
    if isinstance(node, exp.Boolean):
        return pa.scalar(node.this) if pa.types.is_boolean(arrow_type) and not negative else None
    if not isinstance(node, exp.Literal):
        return None
    text = node.this
    if node.is_string:
        return None if negative or not pa.types.is_string(arrow_type) else pa.scalar(text)
    try:
        if pa.types.is_integer(arrow_type):
            value: object = int(text)
        elif pa.types.is_decimal(arrow_type):
            value = decimal.Decimal(text)
        elif pa.types.is_float64(arrow_type):
            value = float(text)
        else:
            return None
        return pa.scalar(-value if negative else value, arrow_type)  # type: ignore[operator]
    except (ValueError, ArithmeticError, pa.ArrowInvalid):
        return None


def fold(sql: str, arrow_type: pa.DataType) -> pa.Scalar | None:
    """The value of constant ``sql`` (DuckDB SQL) as ``arrow_type``, computed once by DuckDB;
    None if DuckDB fails (then the expression is evaluated with each batch, which reports the
    error where DuckDB would)."""
    global _CONNECTION
    with _LOCK:
        if sql not in _FOLDED:
            if _CONNECTION is None:
                _CONNECTION = connect_locked()
            try:
                column = _CONNECTION.sql(f"SELECT {sql} AS v").to_arrow_table().column(0)
                value: pa.Scalar | None = pc.cast(column, arrow_type)[0]
            except (duckdb.Error, pa.ArrowInvalid, pa.ArrowNotImplementedError):
                value = None
            if len(_FOLDED) >= _FOLDED_KEPT:
                _FOLDED.pop(next(iter(_FOLDED)))
            _FOLDED[sql] = value
        return _FOLDED[sql]
