"""The tables of the differential tests and hypothesis strategies for changes to them.

Values come from small domains, so that joins match, groups collect several rows and the same
row arrives more than once; every column can be NULL (join keys too: SQL never matches those).
Every change is a SQL statement, applied as written to both tidal and the DuckDB reference.
"""
from __future__ import annotations

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
# strings include a padded and an upper-case one for trim/upper/lower, timestamps straddle
# day, month and year boundaries, and t2.w leaves the INTEGER range.
_K = [0, 1, 2, 3, 4]
_G = ["a", "ab", "b", " B ", "c"]
_V = [-2, 0, 1, 2, 3, 7]
_D = [-1.5, 0.0, 0.1, 0.25, 2.5, 100.0]
_M = [Decimal("-1.50"), Decimal("0.00"), Decimal("2.25"), Decimal("10.10"), Decimal("99.99")]
_TS = ["2023-12-31 23:59:59", "2024-01-01 00:00:00", "2024-01-15 08:30:00",
       "2024-02-29 12:00:00", "2024-03-01 00:00:01"]
_NAME = ["x", "y", "z", "X"]
_W = [-5, 0, 1, 10, 3_000_000_000]
_X = [0, 1, 2, 3]


@dataclass(frozen=True)
class Timestamp:
    """A TIMESTAMP literal."""
    text: str


COLUMNS: dict[str, dict[str, list]] = {
    "t1": {"k": _K, "g": _G, "v": _V, "d": _D, "m": _M,
           "ts": [Timestamp(t) for t in _TS], "b": [True, False]},
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
        return f"CAST({value!r} AS DOUBLE)"
    return str(value)


def values(table: str, column: str) -> st.SearchStrategy:
    """A column's values, NULL included (about one in six)."""
    return st.one_of(st.none(), st.sampled_from(COLUMNS[table][column]))


@st.composite
def rows(draw, table: str) -> str:
    row = [literal(draw(values(table, c))) for c in COLUMNS[table]]
    return "(" + ", ".join(row) + ")"


@st.composite
def inserts(draw, table: str) -> str:
    """One INSERT of 1-5 rows (one mini-batch); a row may be repeated inside it."""
    batch = draw(st.lists(rows(table), min_size=1, max_size=5))
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
    "t1": ["k = {k}", "g = {g}", "v = {v}", "v = v + 1", "d = {d}", "d = d * 2", "m = {m}",
           "m = m + 1", "ts = ts + INTERVAL '1 day'", "ts = {ts}", "b = NOT b", "b = {b}"],
    "t2": ["k = {k}", "name = {name}", "w = w - 1", "w = {w}"],
    "t3": ["k = {k}", "g = {g}", "x = {x}"],
}


@st.composite
def _filled(draw, table: str, template: str, nullable: bool) -> str:
    """``template`` with each ``{column}`` replaced by a literal from that column's domain."""
    filled = {}
    for column in COLUMNS[table]:
        if "{" + column + "}" in template:
            domain = values(table, column) if nullable else st.sampled_from(COLUMNS[table][column])
            filled[column] = literal(draw(domain))
    return template.format(**filled)


@st.composite
def where_clauses(draw, table: str) -> str:
    return draw(_filled(table, draw(st.sampled_from(_WHERE[table])), nullable=False))


@st.composite
def updates(draw, table: str) -> str:
    assignment = draw(_filled(table, draw(st.sampled_from(_SET[table])), nullable=True))
    return f"UPDATE {table} SET {assignment} WHERE {draw(where_clauses(table))}"


@st.composite
def deletes(draw, table: str) -> str:
    return f"DELETE FROM {table} WHERE {draw(where_clauses(table))}"


def changes(table: str) -> st.SearchStrategy[str]:
    """One DML statement on ``table``; inserts are the most frequent."""
    return st.one_of(inserts(table), inserts(table), updates(table), deletes(table))


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
def scenarios(draw, tables: tuple[str, ...], max_statements: int = 8) -> Scenario:
    statements = draw(st.lists(st.sampled_from(tables).flatmap(changes), min_size=1,
                               max_size=max_statements))
    view_at = draw(st.integers(0, len(statements)))
    helpers_at = draw(st.integers(0, view_at))
    return Scenario(tuple(statements), helpers_at, view_at)
