"""Numbers for the accumulating aggregate: Arrow values as int64 or float64 (decimals as their
unscaled integers, so sums are exact), results back to their Arrow types, and values as DuckDB
casts them to DOUBLE (the variance family).

>>> import pyarrow as pa
>>> from decimal import Decimal
>>> unscaled(pa.array([Decimal("12.34"), None], pa.decimal128(5, 2))).to_pylist()
[1234, None]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def as_numbers(values: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Values as int64 or float64; decimals as their unscaled integers (exact), timestamps and
    dates as their integer counts of units."""
    if pa.types.is_floating(values.type):
        return values.cast(pa.float64())
    if pa.types.is_decimal(values.type):
        return unscaled(values)
    if pa.types.is_date32(values.type):
        return values.cast(pa.int32()).cast(pa.int64())
    return values.cast(pa.int64())


def unscaled(values) -> pa.Array:
    """A decimal128 column's unscaled integers (12.34 at scale 2 is 1234), if they fit in int64."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    words = np.frombuffer(array.buffers()[1], dtype=np.int64)
    words = words[2 * array.offset : 2 * (array.offset + len(array))].reshape(-1, 2)
    low, high = words[:, 0], words[:, 1]
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    if ((high != (low >> 63)) & valid).any():
        raise ArithmeticError("a decimal value does not fit in 64 bits for SUM/AVG")
    return pa.array(low, mask=~valid)


def from_numbers(
    total: np.ndarray, value_type: pa.DataType, target: pa.DataType, empty: np.ndarray
) -> pa.Array:
    if pa.types.is_decimal(target):
        scale = value_type.scale if pa.types.is_decimal(value_type) else 0
        words = np.stack([total, total >> 63], axis=1).astype(np.int64).ravel()
        validity = pa.array(~empty).buffers()[1]
        return pa.Array.from_buffers(
            pa.decimal128(target.precision, scale),
            len(total),
            [validity, pa.py_buffer(words.tobytes())],
        ).cast(target)
    return pa.array(total, mask=empty).cast(target)


def count_non_finite(j: int, numbers, present, columns: dict):
    """Puts the weighted counts of +inf, -inf and NaN into ``columns``; returns the numbers with
    those values made 0, for the finite sum."""
    flags = {
        f"inf{j}": pc.equal(numbers, np.inf),
        f"neginf{j}": pc.equal(numbers, -np.inf),
        f"nan{j}": pc.is_nan(numbers),
    }
    for name, flag in flags.items():
        columns[name] = pc.if_else(pc.fill_null(flag, False), present, 0)
    return pc.if_else(pc.fill_null(pc.is_finite(numbers), True), numbers, 0.0)


def with_non_finite(total: np.ndarray, accumulators: dict[str, np.ndarray], j: int) -> np.ndarray:
    """A float sum with its counted infinities and NaNs put back (inf + -inf is NaN)."""
    positive, negative = accumulators[f"inf{j}"] > 0, accumulators[f"neginf{j}"] > 0
    nan = (accumulators[f"nan{j}"] > 0) | (positive & negative)
    return np.where(nan, np.nan, np.where(positive, np.inf, np.where(negative, -np.inf, total)))


def checked_add(before: np.ndarray, change: np.ndarray, name: str) -> np.ndarray:
    """``before + change``, refusing to wrap around on integer overflow."""
    after = before + change
    if after.dtype == np.int64 and (((before ^ after) & (change ^ after)) < 0).any():
        raise ArithmeticError(
            f"integer overflow in an aggregate ({name}): the sum does not fit in 64 bits"
        )
    return after


def extreme(name: str, accumulators: dict[str, np.ndarray], j: int, value_type, target) -> pa.Array:
    """MIN or MAX from the extreme of the non-NaN values and the NaN count (NaN is the largest
    value, as in DuckDB: MAX is NaN if there is one; MIN only if every value is NaN)."""
    count, value = accumulators[f"n{j}"], accumulators[f"m{j}"]
    if f"nan{j}" in accumulators:
        nan = accumulators[f"nan{j}"]
        value = np.where((nan > 0) if name == "max" else (nan == count), np.nan, value)
        return pa.array(value, mask=count == 0).cast(target)
    if pa.types.is_decimal(target):
        return from_numbers(value, value_type, target, count == 0)
    if value.dtype == object:
        return pa.array(value, target, mask=count == 0)
    numbers = pa.array(value, mask=count == 0)
    if pa.types.is_date32(target):
        numbers = numbers.cast(pa.int32())
    return numbers.cast(target)


def is_number(arrow_type: pa.DataType) -> bool:
    return (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
    )


def as_doubles(values: pa.ChunkedArray) -> np.ndarray:
    """Numbers as DuckDB casts them to DOUBLE for the variance family (no NULLs here)."""
    if pa.types.is_decimal(values.type):
        scale = 10.0**values.type.scale
        if values.type.precision <= 18:
            return unscaled(values).to_numpy().astype(np.float64) / scale
        return np.array([float(v.scaleb(values.type.scale)) for v in values.to_pylist()]) / scale
    return values.to_numpy().astype(np.float64)
