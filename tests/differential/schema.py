"""The tables of the differential tests and hypothesis strategies for changes to them.

Values come from small domains, so that joins match, groups collect several rows and the same
row arrives more than once; every column can be NULL (join keys too: SQL never matches those).
Every change is a SQL statement, applied as written to both tidal and the DuckDB reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from hypothesis import strategies as st

TABLES = {
    "t1": "CREATE TABLE t1 (k INTEGER, g VARCHAR, v INTEGER, d DOUBLE, m DECIMAL(10,2), "
    "ts TIMESTAMP, b BOOLEAN)",
    "t2": "CREATE TABLE t2 (k INTEGER, name VARCHAR, w BIGINT)",
    "t3": "CREATE TABLE t3 (k INTEGER, g VARCHAR, x INTEGER)",
}

# Column domains. Doubles include 0.1 (inexact in binary: sums depend on the order of addition),
# strings include a padded, an upper-case and an empty one, timestamps straddle day, month and
# year boundaries (one is before 1970, with a fraction of a second), and t2.w leaves the INTEGER
# range.
_K = [0, 1, 2, 3, 4]
_G = ["a", "ab", "b", " B ", "c", ""]
_V = [-2, 0, 1, 2, 3, 7]
_D = [-1.5, 0.0, 0.1, 0.25, 2.5, 100.0]
_M = [Decimal("-1.50"), Decimal("0.00"), Decimal("2.25"), Decimal("10.10"), Decimal("99.99")]
_TS = [
    "1969-12-31 23:59:59.5",
    "2023-12-31 23:59:59",
    "2024-01-01 00:00:00",
    "2024-01-15 08:30:00",
    "2024-02-29 12:00:00",
    "2024-03-01 00:00:01",
]
_NAME = ["x", "y", "z", "X"]
_W = [-5, 0, 1, 10, 3_000_000_000]
_X = [0, 1, 2, 3]


@dataclass(frozen=True)
class Timestamp:
    """A TIMESTAMP literal."""

    text: str


# IEEE special values: DuckDB orders NaN above every number and makes it equal to itself, and
# -0.0 equals 0.0. Only queries marked ``special_floats`` see them (others would fail on them in
# DuckDB too, e.g. CAST(NaN AS INTEGER)).
SPECIAL_D = [float("nan"), -0.0, float("inf"), float("-inf")]

COLUMNS: dict[str, dict[str, list]] = {
    "t1": {
        "k": _K,
        "g": _G,
        "v": _V,
        "d": _D,
        "m": _M,
        "ts": [Timestamp(t) for t in _TS],
        "b": [True, False],
    },
    "t2": {"k": _K, "name": _NAME, "w": _W},
    "t3": {"k": _K, "g": _G, "x": _X},
}


def literal(value) -> str:
    """A value as a SQL literal both tidal and DuckDB read the same way."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Timestamp):
        return f"TIMESTAMP '{value.text}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, float):
        return (
            f"CAST('{value!r}' AS DOUBLE)"
            if not math.isfinite(value) or value == 0.0
            else f"CAST({value!r} AS DOUBLE)"
        )
    return str(value)


def domain(table: str, column: str, special: bool = False) -> list:
    """A column's non-NULL values (with ``special``, doubles include NaN, -0.0 and infinities)."""
    extra = SPECIAL_D if special and (table, column) == ("t1", "d") else []
    return COLUMNS[table][column] + extra


def values(table: str, column: str, special: bool = False) -> st.SearchStrategy:
    """A column's values, NULL as likely as each other value."""
    return st.sampled_from([None, *domain(table, column, special)])


@st.composite
def rows(draw, table: str, special: bool = False) -> str:
    row = [literal(draw(values(table, c, special))) for c in COLUMNS[table]]
    return "(" + ", ".join(row) + ")"


@st.composite
def inserts(draw, table: str, special: bool = False) -> str:
    """One INSERT of 1-5 rows (one mini-batch); a row may be repeated inside it."""
    batch = draw(st.lists(rows(table, special), min_size=1, max_size=5))
    if len(batch) > 1 and draw(st.booleans()):
        batch.append(batch[0])
    return f"INSERT INTO {table} VALUES {', '.join(batch)}"


# Row selections for UPDATE and DELETE: a key, a missing key, a group, a range, everything.
_WHERE = {
    "t1": ["k = {k}", "k IS NULL", "g = {g}", "v > {v}", "b", "d < {d}", "true"],
    "t2": ["k = {k}", "k IS NULL", "name = {name}", "w >= {w}", "true"],
    "t3": ["k = {k}", "g IS NULL", "x = {x}", "true"],
}

# Assignments: constants (NULL included) and expressions of the old value.
_SET = {
    "t1": [
        "k = {k}",
        "g = {g}",
        "v = {v}",
        "v = v + 1",
        "d = {d}",
        "d = d * 2",
        "m = {m}",
        "m = m + 1",
        "ts = ts + INTERVAL '1 day'",
        "ts = {ts}",
        "b = NOT b",
        "b = {b}",
    ],
    "t2": ["k = {k}", "name = {name}", "w = w - 1", "w = {w}"],
    "t3": ["k = {k}", "g = {g}", "x = {x}"],
}


@st.composite
def _filled(draw, table: str, template: str, nullable: bool, special: bool = False) -> str:
    """``template`` with each ``{column}`` replaced by a literal from that column's domain."""
    filled = {}
    for column in COLUMNS[table]:
        if "{" + column + "}" in template:
            drawn = (
                values(table, column, special)
                if nullable
                else st.sampled_from(domain(table, column, special))
            )
            filled[column] = literal(draw(drawn))
    return template.format(**filled)


@st.composite
def where_clauses(draw, table: str, special: bool = False) -> str:
    return draw(_filled(table, draw(st.sampled_from(_WHERE[table])), False, special))


@st.composite
def updates(draw, table: str, special: bool = False) -> str:
    assignment = draw(_filled(table, draw(st.sampled_from(_SET[table])), True, special))
    return f"UPDATE {table} SET {assignment} WHERE {draw(where_clauses(table, special))}"


@st.composite
def deletes(draw, table: str, special: bool = False) -> str:
    return f"DELETE FROM {table} WHERE {draw(where_clauses(table, special))}"


@st.composite
def copies(draw, table: str, special: bool = False) -> str:
    """INSERT ... SELECT of some of the table's own rows: every copied row is now duplicated."""
    return f"INSERT INTO {table} SELECT * FROM {table} WHERE {draw(where_clauses(table, special))}"


def changes(table: str, special: bool = False) -> st.SearchStrategy[str]:
    """One DML statement on ``table``; inserts are the most frequent."""
    return st.one_of(
        inserts(table, special),
        inserts(table, special),
        updates(table, special),
        deletes(table, special),
        copies(table, special),
    )


@dataclass(frozen=True)
class Scenario:
    """Changes to run one per tick, and when the views appear.

    The helper views (those a query's view reads) are created before ``statements[helpers_at]``,
    the query's own view before ``statements[view_at]`` (``len(statements)``: after all of them).
    """

    statements: tuple[str, ...]
    helpers_at: int
    view_at: int


@st.composite
def scenarios(
    draw, tables: tuple[str, ...], special: bool = False, max_statements: int = 7
) -> Scenario:
    """Statements: a first INSERT into each table (so joins have both sides), then any changes."""
    statements = [draw(inserts(t, special)) for t in tables]
    statements += draw(
        st.lists(
            st.sampled_from(tables).flatmap(lambda t: changes(t, special)), max_size=max_statements
        )
    )
    view_at = draw(st.integers(0, len(statements)))
    helpers_at = draw(st.integers(0, view_at))
    return Scenario(tuple(statements), helpers_at, view_at)
