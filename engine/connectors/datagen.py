"""The datagen source: deterministic generated rows, rate-limited, with Flink's option names.

Options (``CREATE SOURCE s (...) WITH (connector = 'datagen', ...)``):

- ``rows-per-second`` (default 10000; aliases ``rows_per_second``, ``datagen.rows.per.second``)
- ``number-of-rows`` (default: unbounded, or the length of the shortest sequence column)
- ``seed`` (default 0): the same seed gives the same rows
- ``fields.<col>.kind``: ``random`` (default) | ``sequence``
- ``fields.<col>.start`` / ``fields.<col>.end`` (sequence, both required): integers; row i has
  ``start + i``, and the source ends after ``end``. Integer, floating, decimal and text columns.
- ``fields.<col>.min`` / ``fields.<col>.max`` (random numbers, dates and timestamps, inclusive):
  defaults are the type's range for integers, 0..1 for FLOAT/DOUBLE, 0..the largest value of
  at most 18 digits for DECIMAL, 2000-01-01..2030-12-31 for DATE and TIMESTAMP.
- ``fields.<col>.length`` (random text, default 10): letters and digits.
- ``fields.<col>.null-rate`` (default 0): the fraction of NULLs, e.g. ``0.1``.

A datagen of at most ``READ_AT_ONCE_ROWS`` rows is bounded: ``tidal run`` and a query in the
shell read it to its end first, as fast as it can be generated. A longer one (a sequence of
1..10^12) is read at its rate like an unbounded one, so a view over it fills tick by tick
within the memory budget (tidal.engine.memory) instead of reading it all before answering.

Every value is a function of (seed, column position, row number) through a counter-based
splitmix64 hash, computed for whole batches with numpy: the rows are identical whatever the
poll sizes, and identical across runs (so the batch backend and the engine see the same data).
"""

from __future__ import annotations

import math
import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.objects import Column, Source
from tidal.engine.connectors.base import (
    ConnectorError,
    SourceReader,
    canonical_options,
    cast_text,
    check_known,
    choice,
)

_ALIASES = {"rows_per_second": "rows-per-second", "datagen.rows.per.second": "rows-per-second"}
_SOURCE_OPTIONS = {"connector", "rows-per-second", "number-of-rows", "seed"}
_KINDS = {"random": "random", "sequence": "sequence"}
_SEQUENCE_PROPERTIES = {"kind", "start", "end", "null-rate"}
_DEFAULT_RANGES = {
    "date": ("2000-01-01", "2030-12-31"),
    "timestamp": ("2000-01-01 00:00:00", "2030-12-31 23:59:59"),
}
_ALPHABET = np.frombuffer(
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8
)
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MASK64 = (1 << 64) - 1
_STREAMS_PER_COLUMN = 1 << 20  # hash streams: 0 values, 1 NULL mask, 2.. characters of text
READ_AT_ONCE_ROWS = 1_000_000  # the most rows a datagen may have to count as bounded


@dataclass(frozen=True)
class _ColumnSpec:
    """How one column is generated; ``low``/``high`` are in storage units (days, micros, ...)."""

    index: int
    field: pa.Field
    category: str
    kind: str
    low: int | float
    high: int | float
    length: int = 10
    null_rate: float = 0.0


def open_datagen(
    source: Source,
    base_dir: pathlib.Path | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DatagenSource:
    """A DatagenSource for ``source`` after checking its options (see the module docstring)."""
    what = f"{source.kind} {source.name} (connector 'datagen')"
    options = canonical_options(what, source.options, _ALIASES)
    check_known(
        what,
        {k: v for k, v in options.items() if not k.startswith("fields.")},
        _SOURCE_OPTIONS | {"fields.<column>.<property>"},
    )
    fields = _field_options(what, source, options)
    specs = [
        _column_spec(what, i, col, fields.get(col.name, {})) for i, col in enumerate(source.columns)
    ]
    rate = _number(what, "rows-per-second", options.get("rows-per-second", "10000"), float)
    if not (rate > 0 and math.isfinite(rate)):
        raise ConnectorError(f"{what}: rows-per-second must be positive, got {rate}")
    limits = [int(s.high - s.low + 1) for s in specs if s.kind == "sequence"]
    if "number-of-rows" in options:
        limits.append(_number(what, "number-of-rows", options["number-of-rows"], int, low=0))
    seed = _number(what, "seed", options.get("seed", "0"), int)
    total = min(limits, default=None)
    return DatagenSource(source.arrow_schema(), specs, rate, total, seed, clock, source.name)


class DatagenSource(SourceReader):
    """Generates rows on demand; its position is the number of rows generated so far."""

    def __init__(
        self,
        schema: pa.Schema,
        specs: list[_ColumnSpec],
        rows_per_second: float,
        total: int | None,
        seed: int,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        self.schema, self.errors, self.name = schema, [], name
        self.bounded = total is not None and total <= READ_AT_ONCE_ROWS
        self._specs, self._rate, self._total, self._seed = specs, rows_per_second, total, seed
        self._clock = clock
        self._produced = 0
        self._started: tuple[float, int] | None = None  # (clock at first poll, rows then)

    def poll(self, max_rows: int, drain: bool = False) -> pa.Table | None:
        count = max_rows
        if self._total is not None:
            count = min(count, self._total - self._produced)
        if not (drain and self.bounded):
            count = min(count, self._due() - self._produced)
        if count <= 0:
            return None
        first, self._produced = self._produced, self._produced + count
        return self.generate(first, count)

    def generate(self, first: int, count: int) -> pa.Table:
        """Rows ``first`` .. ``first + count - 1``, whatever was polled before."""
        rows = np.arange(first, first + count, dtype=np.uint64)
        columns = [_generate(spec, self._seed, rows) for spec in self._specs]
        return pa.Table.from_arrays(columns, schema=self.schema)

    def progress(self) -> tuple[int, int] | None:
        return None if self._total is None else (self._produced, self._total)

    def snapshot(self) -> dict:
        return {"rows": self._produced}

    def restore(self, state: dict) -> None:
        self._produced = int(state["rows"])
        self._started = None  # the rate restarts from the next poll

    def replay(self, position: dict) -> pa.Table | None:
        """Rows up to row ``position["rows"]``: generated again, without the rate limit."""
        end = int(position["rows"])
        if end < self._produced or (self._total is not None and end > self._total):
            raise ConnectorError(
                f"source {self.name}: cannot replay up to row {end}: it is at row "
                f"{self._produced} of {'unbounded' if self._total is None else self._total}"
            )
        first, self._produced = self._produced, end
        self._started = None
        return self.generate(first, end - first) if end > first else None

    def _due(self) -> int:
        """How many rows the rate allows by now, counted from the first poll."""
        now = self._clock()
        if self._started is None:
            self._started = (now, self._produced)
        started_at, produced_then = self._started
        return produced_then + math.floor(self._rate * (now - started_at) + 1e-9)


# ---------------------------------------------------------------------------------------------
# Options


def _field_options(what: str, source: Source, options: dict[str, str]) -> dict[str, dict]:
    """``fields.<col>.<property>`` options grouped by declared column name."""
    by_lower = {c.name.lower(): c.name for c in source.columns}
    fields: dict[str, dict[str, str]] = {}
    for key, value in options.items():
        if not key.startswith("fields."):
            continue
        column, _, prop = key[len("fields.") :].rpartition(".")
        if column.lower() not in by_lower:
            raise ConnectorError(
                f"{what}: option '{key}' names no column; columns: "
                f"{', '.join(c.name for c in source.columns)}"
            )
        fields.setdefault(by_lower[column.lower()], {})[prop] = value
    return fields


def _category(arrow_type: pa.DataType) -> str | None:
    for name, test in (
        ("integer", pa.types.is_integer),
        ("floating", pa.types.is_floating),
        ("decimal", pa.types.is_decimal),
        ("text", pa.types.is_string),
        ("boolean", pa.types.is_boolean),
        ("date", pa.types.is_date32),
        ("timestamp", pa.types.is_timestamp),
    ):
        if test(arrow_type):
            return name
    return None


def _column_spec(what: str, index: int, column: Column, props: dict[str, str]) -> _ColumnSpec:
    field = pa.field(column.name, column.arrow_type)
    category = _category(field.type)
    if category is None:
        raise ConnectorError(
            f"{what}: column {column.name} has type {column.type}, which datagen cannot generate; "
            "supported: integers, FLOAT, DOUBLE, DECIMAL, VARCHAR, BOOLEAN, DATE, TIMESTAMP"
        )
    where = f"{what}, column {column.name} ({column.type})"
    kind = choice(where, props, "kind", _KINDS, default="random")
    allowed = _SEQUENCE_PROPERTIES if kind == "sequence" else _random_properties(category)
    if kind == "sequence" and category not in ("integer", "floating", "decimal", "text"):
        raise ConnectorError(
            f"{where}: kind 'sequence' needs a number or text column; use kind 'random'"
        )
    check_known(where, props, allowed)
    null_rate = _number(where, "null-rate", props.get("null-rate", "0"), float, low=0, high=1)
    if kind == "sequence":
        if "start" not in props or "end" not in props:
            raise ConnectorError(
                f"{where}: kind 'sequence' needs fields.{column.name}.start "
                f"and fields.{column.name}.end"
            )
        low, high = (_number(where, p, props[p], int) for p in ("start", "end"))
        if high < low:
            raise ConnectorError(f"{where}: end ({high}) is before start ({low})")
        _check_fits(where, field.type, low, high)
        return _ColumnSpec(index, field, category, kind, low, high, null_rate=null_rate)
    low, high = _random_range(where, field.type, category, props)
    length = _number(where, "length", props.get("length", "10"), int, low=0, high=1 << 16)
    return _ColumnSpec(index, field, category, kind, low, high, length, null_rate)


def _random_properties(category: str) -> set[str]:
    extra = {"text": {"length"}, "boolean": set()}.get(category, {"min", "max"})
    return {"kind", "null-rate"} | extra


def _random_range(
    where: str, arrow_type: pa.DataType, category: str, props: dict[str, str]
) -> tuple[int | float, int | float]:
    """The inclusive range of a random column in storage units, checked against the type."""
    if category == "integer":
        info = np.iinfo(arrow_type.to_pandas_dtype())
        low, high = (
            _number(where, p, props.get(p, str(d)), int, low=int(info.min), high=int(info.max))
            for p, d in (("min", info.min), ("max", info.max))
        )
    elif category == "floating":
        low, high = (
            _number(where, p, props.get(p, d), float) for p, d in (("min", "0"), ("max", "1"))
        )
    elif category == "decimal":
        largest = 10 ** min(arrow_type.precision, 18) - 1
        low, high = (
            _decimal_units(where, p, props[p], arrow_type) if p in props else d
            for p, d in (("min", 0), ("max", largest))
        )
    elif category in ("date", "timestamp"):
        defaults = _DEFAULT_RANGES[category]
        low, high = (
            _temporal_units(where, p, props.get(p, d), arrow_type)
            for p, d in zip(("min", "max"), defaults)
        )
    else:
        return 0, 0
    if high < low:
        raise ConnectorError(f"{where}: max ({props.get('max')}) is below min ({props.get('min')})")
    return low, high


def _number(where: str, key: str, text: str, kind: type, low=None, high=None):
    """An option's value as an int or a float, checked against an inclusive range."""
    try:
        value = kind(text)
    except ValueError:
        expected = "an integer" if kind is int else "a number"
        raise ConnectorError(f"{where}: {key} = '{text}' is not {expected}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConnectorError(f"{where}: {key} = {text} is outside {low} .. {high}")
    return value


def _decimal_units(where: str, key: str, text: str, arrow_type: pa.Decimal128Type) -> int:
    """A decimal option value as an integer count of 10^-scale (the decimal's storage)."""
    try:
        scaled = Decimal(text).scaleb(arrow_type.scale)
    except InvalidOperation:
        raise ConnectorError(f"{where}: {key} = '{text}' is not a number") from None
    if scaled != scaled.to_integral_value() or abs(scaled) >= 10 ** min(arrow_type.precision, 18):
        raise ConnectorError(
            f"{where}: {key} = {text} does not fit {arrow_type} "
            "(at most 18 digits, and no more decimals than the scale)"
        )
    return int(scaled)


def _temporal_units(where: str, key: str, text: str, arrow_type: pa.DataType) -> int:
    """A date or timestamp option value as days or as the timestamp's unit since the epoch."""
    try:
        value = cast_text(pa.chunked_array([[text]]), arrow_type)
        storage = pa.int64() if pa.types.is_timestamp(arrow_type) else pa.int32()
        return value.cast(storage)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        example = "2026-01-01 10:00:00" if pa.types.is_timestamp(arrow_type) else "2026-01-01"
        raise ConnectorError(
            f"{where}: {key} = '{text}' is not a {arrow_type}; write e.g. '{example}'"
        ) from None


def _check_fits(where: str, arrow_type: pa.DataType, low: int, high: int) -> None:
    """Refuse a sequence whose values the column's type cannot hold."""
    if pa.types.is_decimal(arrow_type):
        digits = min(arrow_type.precision, 18) - arrow_type.scale
        fits = max(abs(low), abs(high)) < 10**digits
    else:  # other types are computed as int64 first
        bounds = np.iinfo(
            arrow_type.to_pandas_dtype() if pa.types.is_integer(arrow_type) else np.int64
        )
        fits = bounds.min <= low and high <= bounds.max
    if not fits:
        raise ConnectorError(f"{where}: start..end ({low}..{high}) does not fit the type")


# ---------------------------------------------------------------------------------------------
# Generation: vectorized, one hash stream per (seed, column, purpose)


def _mix(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer (uint64 arithmetic wraps, as intended)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash(keys: np.ndarray | int, rows: np.ndarray) -> np.ndarray:
    """The ``rows``-th outputs of the splitmix64 streams seeded with ``keys`` (broadcast)."""
    return _mix(np.asarray(keys, dtype=np.uint64) + (rows + np.uint64(1)) * _GAMMA)


def _stream_keys(seed: int, spec: _ColumnSpec, purposes: np.ndarray) -> np.ndarray:
    ids = np.uint64(spec.index * _STREAMS_PER_COLUMN) + purposes.astype(np.uint64)
    return _hash(seed & _MASK64, ids)


def _uniform(bits: np.ndarray) -> np.ndarray:
    """Floats in [0, 1) from the top 53 bits of each hash."""
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _generate(spec: _ColumnSpec, seed: int, rows: np.ndarray) -> pa.Array:
    if spec.kind == "sequence":
        array = _sequence(rows, int(spec.low), spec.field.type)
    else:
        bits = _hash(_stream_keys(seed, spec, np.array([0]))[0], rows)
        array = _RANDOM[spec.category](spec, bits, seed, rows)
    if spec.null_rate > 0:
        mask = _uniform(_hash(_stream_keys(seed, spec, np.array([1]))[0], rows)) < spec.null_rate
        array = pc.if_else(pa.array(mask), pa.scalar(None, spec.field.type), array)
    return array


def _offset_integers(offsets: np.ndarray, low: int, arrow_type: pa.DataType) -> pa.Array:
    """``low + offsets`` computed in wrapping uint64 (exact for results inside the type)."""
    values = offsets + np.uint64(low & _MASK64)
    if not pa.types.is_unsigned_integer(arrow_type):
        values = values.view(np.int64)
    return pa.array(values)


def _sequence(rows: np.ndarray, start: int, arrow_type: pa.DataType) -> pa.Array:
    """``start + row`` as the column's type (a decimal gets the integer, scaled)."""
    integers = _offset_integers(rows, start, arrow_type)
    if pa.types.is_decimal(arrow_type):
        return _decimals(np.asarray(integers) * 10**arrow_type.scale, arrow_type)
    return integers.cast(arrow_type)


def _random_integers(spec: _ColumnSpec, bits: np.ndarray) -> pa.Array:
    span = int(spec.high) - int(spec.low) + 1
    offsets = bits if span > _MASK64 else bits % np.uint64(span)
    return _offset_integers(offsets, int(spec.low), spec.field.type)


def _random_text(spec: _ColumnSpec, seed: int, rows: np.ndarray) -> pa.Array:
    """Strings of ``spec.length`` letters and digits: a uint8 matrix, one hash stream per place."""
    keys = _stream_keys(seed, spec, np.arange(2, 2 + spec.length))
    bits = _hash(keys[np.newaxis, :], rows[:, np.newaxis])
    chars = _ALPHABET[bits % np.uint64(len(_ALPHABET))]
    offsets = np.arange(len(rows) + 1, dtype=np.int64) * spec.length
    return pa.Array.from_buffers(
        pa.large_string(), len(rows), [None, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes())]
    ).cast(spec.field.type)


def _decimals(units: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """Decimal128 values from int64 unscaled values (two's complement, low word first)."""
    words = np.empty((len(units), 2), dtype=np.int64)
    words[:, 0] = units
    words[:, 1] = units >> 63
    return pa.Array.from_buffers(arrow_type, len(units), [None, pa.py_buffer(words)])


_RANDOM: dict[str, Callable[[_ColumnSpec, np.ndarray, int, np.ndarray], pa.Array]] = {
    "integer": lambda s, bits, seed, rows: _random_integers(s, bits).cast(s.field.type),
    "floating": lambda s, bits, seed, rows: pa.array(
        s.low + _uniform(bits) * (s.high - s.low)
    ).cast(s.field.type),
    "decimal": lambda s, bits, seed, rows: _decimals(
        np.asarray(_random_integers(s, bits)), s.field.type
    ),
    "text": lambda s, bits, seed, rows: _random_text(s, seed, rows),
    "boolean": lambda s, bits, seed, rows: pa.array((bits >> np.uint64(63)).astype(bool)),
    "date": lambda s, bits, seed, rows: (
        _random_integers(s, bits).cast(pa.int32()).cast(pa.date32())
    ),
    "timestamp": lambda s, bits, seed, rows: _random_integers(s, bits).cast(s.field.type),
}
