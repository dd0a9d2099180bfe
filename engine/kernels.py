"""What it takes for Arrow kernels to mean what DuckDB means: the types DuckDB compares and
computes numbers in, the types whose order Arrow shares, DuckDB's order of floats and its
remainder.

Used by the expression evaluator (tidal.engine.expressions), which runs an expression on
kernels only where these rules say the result is DuckDB's.

>>> common_type("INTEGER", "UINTEGER"), common_type("BIGINT", "FLOAT")
('BIGINT', 'FLOAT')
>>> common_type("UBIGINT", "INTEGER") is None  # HUGEINT: DuckDB's
True
>>> import pyarrow as pa
>>> greater = comparison("greater", floats=True)
>>> greater(pa.array([float("nan"), 1.0, None]), pa.scalar(2.0)).to_pylist()
[True, False, None]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

Values = pa.Array | pa.ChunkedArray | pa.Scalar

SIGNED = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")
UNSIGNED = ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
FLOATS = ("FLOAT", "DOUBLE")
# Types whose values Arrow's comparison kernels order exactly as DuckDB does (when both sides
# have the type). UUID and JSON travel as text but do not compare as text; DECIMAL, INTERVAL
# and nested types are DuckDB's.
ORDERED = {
    *SIGNED,
    *UNSIGNED,
    *FLOATS,
    "VARCHAR",
    "BLOB",
    "BOOLEAN",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
}


def plain_number(sql_type: str) -> bool:
    """An integer or float type (not DECIMAL, not HUGEINT)."""
    return sql_type in SIGNED or sql_type in UNSIGNED or sql_type in FLOATS


def common_type(a: str, b: str) -> str | None:
    """The type DuckDB compares (and computes) two plain numbers in, where a cast to it never
    fails: a float if either is one (FLOAT beside any integer), else the narrowest integer
    holding both; None for other types and for UBIGINT beside a signed type (HUGEINT)."""
    if a == b:
        return a
    if not (plain_number(a) and plain_number(b)):
        return None
    if a in FLOATS or b in FLOATS:
        return "DOUBLE" if "DOUBLE" in (a, b) else "FLOAT"
    if (a in SIGNED) == (b in SIGNED):
        order = SIGNED if a in SIGNED else UNSIGNED
        return order[max(order.index(a), order.index(b))]
    signed, unsigned = (a, b) if a in SIGNED else (b, a)
    rank = max(SIGNED.index(signed), UNSIGNED.index(unsigned) + 1)
    return SIGNED[rank] if rank < len(SIGNED) else None


def comparison(name: str, floats: bool) -> Callable[[Values, Values], Values]:
    """Arrow's comparison ``name`` (``equal``, ``less``, ...) of two sides of one type; for
    floats in DuckDB's order: NaN equals NaN and is above every number (IEEE comparisons with
    NaN are all false). Where a side is NaN, its NaN flag (1 = NaN) is compared instead."""
    kernel = getattr(pc, name)
    if not floats:
        return kernel
    flags = _nan_flags(name)

    def compare(a: Values, b: Values) -> Values:
        if isinstance(b, pa.Scalar) and not isinstance(a, pa.Scalar):
            return _against_constant(kernel, flags, a, b, constant_first=False)
        if isinstance(a, pa.Scalar) and not isinstance(b, pa.Scalar):
            return _against_constant(kernel, flags, b, a, constant_first=True)
        a_nan, b_nan = pc.is_nan(a), pc.is_nan(b)
        by_flag = kernel(pc.cast(a_nan, pa.int8()), pc.cast(b_nan, pa.int8()))
        return pc.if_else(pc.or_(a_nan, b_nan), by_flag, kernel(a, b))

    return compare


@functools.cache
def _nan_flags(name: str) -> dict[tuple[int, int], bool]:
    """``flags[(a, b)]``: comparison ``name`` of NaN flags a and b (NaN > 1.0 is 1 > 0)."""
    kernel = getattr(pc, name)
    return {(a, b): kernel(pa.scalar(a), pa.scalar(b)).as_py() for a in (0, 1) for b in (0, 1)}


def _against_constant(kernel, flags: dict, values, constant: pa.Scalar, constant_first: bool):
    """A float comparison of a column with a constant, in three kernels instead of seven."""
    found = constant.as_py()
    if found is None:  # NULL everywhere
        return kernel(constant, values) if constant_first else kernel(values, constant)

    def flag(value_nan: int, constant_nan: int) -> bool:
        return flags[(constant_nan, value_nan) if constant_first else (value_nan, constant_nan)]

    if math.isnan(found):
        return pc.if_else(pc.is_nan(values), flag(1, 1), flag(0, 1))
    compared = kernel(constant, values) if constant_first else kernel(values, constant)
    return pc.if_else(pc.is_nan(values), flag(1, 0), compared)


def broadcast(values: Values, n: int, arrow_type: pa.DataType):
    """A column of ``n`` values of ``arrow_type`` (a scalar is repeated)."""
    if isinstance(values, pa.Scalar):
        values = pa.repeat(values, n)
    return values if values.type == arrow_type else values.cast(arrow_type)


def remainder(a: Values, b: Values, n: int, result: pa.DataType) -> pa.Array:
    """``a % b`` over ``n`` rows in type ``result``, as DuckDB computes it: C's fmod (the sign
    of the dividend; a float ``% 0`` is NaN), an integer ``% 0`` raises ZeroDivisionError."""
    a, b = broadcast(a, n, result), broadcast(b, n, result)
    valid = pc.and_(pc.is_valid(a), pc.is_valid(b)).to_numpy(zero_copy_only=False)
    x = pc.fill_null(a, 0).to_numpy(zero_copy_only=False)
    y = pc.fill_null(b, 1).to_numpy(zero_copy_only=False)
    integer = pa.types.is_integer(result)
    if integer and (y[valid] == 0).any():
        raise ZeroDivisionError
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.fmod(x, np.where(valid, y, 1) if integer else y)
    return pa.array(values, type=result, mask=~valid)
