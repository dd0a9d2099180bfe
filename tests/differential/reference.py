"""The reference side of the differential tests: DuckDB in batch, and the comparison of results.

``Reference`` holds the same tables as the tidal database under test (same DDL, same DML text)
and defines every view as a plain DuckDB view with the original SQL text, so reading a view
runs the query over all the rows accumulated so far. ``assert_same_rows`` compares two results
as multisets of rows: exactly, or with floats within a tolerance.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

import duckdb
import pyarrow as pa

from tidal.catalog import types
from tidal.sql.typeinfer import POSTGRES_SETTINGS

REL_TOL = 1e-9
ABS_TOL = 1e-9
# A statistic computed by cancellation (a covariance that is exactly 0 over values near 3e9)
# carries an absolute error of the rounding of its largest intermediate, and the row shows how
# large those are (its variance): within ROUNDOFF of the row's largest value counts as equal.
ROUNDOFF = 1e-15


_instance: duckdb.DuckDBPyConnection | None = None
_schemas = itertools.count()


class Reference:
    """A DuckDB database with PostgreSQL semantics, changed by the same SQL as tidal.

    Each reference is a schema of its own in one shared in-memory DuckDB (a new DuckDB costs
    about 30 ms, a connection and a schema almost nothing).
    """

    def __init__(self) -> None:
        global _instance
        if _instance is None:
            _instance = duckdb.connect(config={"threads": 1})
        self.connection = _instance.cursor()
        for statement in POSTGRES_SETTINGS:
            self.connection.execute(statement)
        self.schema = f"reference{next(_schemas)}"
        self.connection.execute(f"CREATE SCHEMA {self.schema}")
        self.connection.execute(f"USE {self.schema}")

    def execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def create_view(self, name: str, sql: str) -> None:
        self.connection.execute(f"CREATE VIEW {name} AS {sql}")

    def query(self, sql: str) -> tuple[pa.Table, list[str]]:
        """The rows of a query and their SQL types (tidal's spelling)."""
        relation = self.connection.sql(sql)
        sql_types = [types.normalize(str(t)) for t in relation.types]
        return relation.to_arrow_table(), sql_types

    def rows(self, table: str) -> pa.Table:
        return self.connection.sql(f"SELECT * FROM {table}").to_arrow_table()

    def close(self) -> None:
        self.connection.execute(f"DROP SCHEMA {self.schema} CASCADE")
        self.connection.close()


def _is_float(value) -> bool:
    return isinstance(value, float)


def _exact_key(value):
    """A hashable, totally ordered stand-in for a value compared exactly."""
    if value is None:
        return (0,)
    if isinstance(value, float) and math.isnan(value):
        return (1,)
    if isinstance(value, float) and value == 0.0:
        return (2, 0.0)  # -0.0 and 0.0 are the same value in SQL
    if isinstance(value, (list, tuple)):  # an array, a map (entries), an entry
        return (3, tuple(_exact_key(v) for v in value))
    if isinstance(value, dict):  # a struct: its fields in order
        return (4, tuple((k, _exact_key(v)) for k, v in value.items()))
    return (2, value)


def _row_key(row: tuple, approx: bool) -> tuple:
    """The part of a row compared exactly (with ``approx``, floats are left out)."""
    return tuple(("~",) if approx and _is_float(v) else _exact_key(v) for v in row)


def _close(a, b, abs_tol: float = ABS_TOL) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=abs_tol)


def _rows_close(a: tuple, b: tuple) -> bool:
    floats = [abs(v) for v in (*a, *b) if _is_float(v) and math.isfinite(v)]
    abs_tol = max(ABS_TOL, ROUNDOFF * max(floats, default=0.0))
    return all(
        _close(x, y, abs_tol) if _is_float(x) or _is_float(y) else _exact_key(x) == _exact_key(y)
        for x, y in zip(a, b)
    )


def difference(actual: list[tuple], expected: list[tuple], approx: bool) -> tuple[list, list]:
    """Rows only in ``actual`` and rows only in ``expected`` (multisets; floats within the
    tolerance when ``approx``)."""
    buckets: dict[tuple, list[tuple]] = defaultdict(list)
    for row in expected:
        buckets[_row_key(row, approx)].append(row)
    extra = []
    for row in actual:
        candidates = buckets.get(_row_key(row, approx), [])
        match = next((i for i, c in enumerate(candidates) if _rows_close(row, c)), None)
        if match is None:
            extra.append(row)
        else:
            candidates.pop(match)
    missing = [row for rows in buckets.values() for row in rows]
    return extra, missing


def as_rows(table: pa.Table) -> list[tuple]:
    return [tuple(row.values()) for row in table.to_pylist()] if table.num_columns else []


def _sorted(rows: list[tuple]) -> list[tuple]:
    return sorted(rows, key=lambda row: _row_key(row, approx=False))


def assert_same_rows(actual: pa.Table, expected: pa.Table, approx: bool, what: str) -> None:
    """``actual`` and ``expected`` hold the same multiset of rows."""
    assert actual.num_columns == expected.num_columns, (
        f"{what}: {actual.num_columns} columns, expected {expected.num_columns}"
    )
    extra, missing = difference(as_rows(actual), as_rows(expected), approx)
    if extra or missing:
        raise AssertionError(
            f"{what}: rows differ from DuckDB's\n"
            f"  unexpected: {_sorted(extra)}\n  missing:    {_sorted(missing)}\n"
            f"  got ({actual.num_rows} rows): {_sorted(as_rows(actual))[:20]}\n"
            f"  expected ({expected.num_rows} rows): {_sorted(as_rows(expected))[:20]}"
        )
