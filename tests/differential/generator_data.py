"""Random schemas and changes for the query generator: tables of every column type, with NULLs.

A schema is up to three tables ``t0``, ``t1``, ``t2`` of two to five columns ``c0``, ``c1``, ...
Column ``c0`` is always an integer from a small domain (0 to 4), so that joins on it match and
groups collect several rows; the other columns take any of the generator's types. Values come
from small domains (duplicates, equal join keys, NULL about one time in six), doubles are
dyadic fractions (sums of them are exact in any order, so a sum of a column is the same in tidal
and DuckDB to the last bit), and now and then NaN, an infinity or -0.0. Every change is a SQL
statement, applied as written to both systems, one statement a tick.

    >>> import random
    >>> schema = random_schema(random.Random(1))
    >>> [t.name for t in schema.tables]
    ['t0', 't1', 't2']
    >>> schema.tables[0].columns[0].name, schema.tables[0].columns[0].kind
    ('c0', 'int')
    >>> literal("DATE", "2024-02-29"), literal("VARCHAR", "it's"), literal("BOOLEAN", None)
    ("DATE '2024-02-29'", "'it''s'", 'NULL')
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

# Kinds: what the expression generator needs to know of a type (which operators apply).
KINDS = {
    "INTEGER": "int",
    "BIGINT": "int",
    "DOUBLE": "float",
    "DECIMAL(10,2)": "dec",
    "VARCHAR": "text",
    "BOOLEAN": "bool",
    "DATE": "date",
    "TIMESTAMP": "ts",
}
TYPES = tuple(KINDS)

# The values of each type (NULL is added by ``value``). BIGINT has one value out of INTEGER's
# range, strings one with spaces and upper case, dates and timestamps straddle month, year and
# the epoch.
DOMAINS: dict[str, list] = {
    "INTEGER": [-2, 0, 1, 2, 3, 7],
    "BIGINT": [-5, 0, 1, 10, 3_000_000_000],
    "DOUBLE": [-1.5, 0.0, 0.25, 0.5, 2.5, 100.0],
    "DECIMAL(10,2)": ["-1.50", "0.00", "2.25", "10.10", "99.99"],
    "VARCHAR": ["a", "ab", "b", " B ", "", "abc", "x"],
    "BOOLEAN": [True, False],
    "DATE": ["1969-12-31", "2023-12-31", "2024-01-01", "2024-02-29", "2024-03-01"],
    "TIMESTAMP": [
        "1969-12-31 23:59:59.5",
        "2023-12-31 23:59:59",
        "2024-01-01 00:00:00",
        "2024-01-15 08:30:00",
        "2024-02-29 12:00:00",
        "2024-03-01 00:00:01",
    ],
}
KEY_DOMAIN = [0, 1, 2, 3, 4]
NULL_CHANCE = 1 / 6
# IEEE's special values, now and then: SQL (and DuckDB) makes NaN equal to itself and greater
# than every number, and -0.0 equal to 0.0; sums over infinities must retract exactly.
SPECIAL_DOUBLES = [float("nan"), float("inf"), float("-inf"), -0.0]
SPECIAL_CHANCE = 1 / 25


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    @property
    def kind(self) -> str:
        return KINDS[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    def ddl(self) -> str:
        columns = ", ".join(f"{c.name} {c.type}" for c in self.columns)
        return f"CREATE TABLE {self.name} ({columns})"


@dataclass(frozen=True)
class Schema:
    tables: tuple[Table, ...]

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def random_schema(rng: random.Random) -> Schema:
    """Three tables; ``c0`` of each an INTEGER or BIGINT key, the rest of random types."""
    tables = []
    for number in range(3):
        columns = [Column("c0", rng.choice(["INTEGER", "INTEGER", "BIGINT"]))]
        columns += [Column(f"c{i}", rng.choice(TYPES)) for i in range(1, rng.randint(2, 5))]
        tables.append(Table(f"t{number}", tuple(columns)))
    return Schema(tuple(tables))


def literal(sql_type: str, value) -> str:
    """A value of a column type as a SQL literal both tidal and DuckDB read the same way."""
    if value is None:
        return "NULL"
    if sql_type == "BOOLEAN":
        return "true" if value else "false"
    if sql_type in ("DATE", "TIMESTAMP"):
        return f"{sql_type} '{value}'"
    if sql_type == "VARCHAR":
        return "'" + value.replace("'", "''") + "'"
    if sql_type == "DOUBLE" and (not math.isfinite(value) or value == 0.0):
        return f"CAST('{value!r}' AS DOUBLE)"  # 'nan', 'inf', '-0.0' are read from text
    if sql_type == "DOUBLE":
        return f"CAST({value!r} AS DOUBLE)"
    if sql_type == "DECIMAL(10,2)":
        return f"CAST({value} AS DECIMAL(10,2))"
    return str(value)


def value(rng: random.Random, column: Column, nullable: bool = True):
    """A value for the column: from its domain, or None."""
    if nullable and rng.random() < NULL_CHANCE:
        return None
    if column.type == "DOUBLE" and rng.random() < SPECIAL_CHANCE:
        return rng.choice(SPECIAL_DOUBLES)
    return rng.choice(KEY_DOMAIN if column.name == "c0" else DOMAINS[column.type])


def row(rng: random.Random, table: Table) -> str:
    return "(" + ", ".join(literal(c.type, value(rng, c)) for c in table.columns) + ")"


def insert(rng: random.Random, table: Table, least: int = 1, most: int = 4) -> str:
    """One INSERT of ``least`` to ``most`` rows; the first row is sometimes repeated."""
    rows = [row(rng, table) for _ in range(rng.randint(least, most))]
    if rng.random() < 0.2:
        rows.append(rows[0])
    return f"INSERT INTO {table.name} VALUES {', '.join(rows)}"


def where(rng: random.Random, table: Table) -> str:
    """A selection of rows: one value, the NULLs, a range, everything."""
    column = rng.choice(table.columns)
    if column.type == "BOOLEAN":
        return rng.choice([column.name, f"NOT {column.name}", f"{column.name} IS NULL"])
    shape = rng.choice(["=", "=", "<", ">=", "IS NULL", "true"])
    if shape == "true":
        return "true"
    if shape == "IS NULL":
        return f"{column.name} IS NULL"
    return f"{column.name} {shape} {literal(column.type, value(rng, column, nullable=False))}"


# Assignments computed from the old value (kept inside every column's type's range).
_FROM_OLD = {
    "int": "{c} + 1",
    "float": "{c} * 2",
    "dec": "{c} - 1",
    "text": "upper({c})",
    "bool": "NOT {c}",
    "date": "{c} + 1",
    "ts": "{c} + INTERVAL '1 hour'",
}


def update(rng: random.Random, table: Table) -> str:
    column = rng.choice(table.columns)
    if rng.random() < 0.3:
        assignment = _FROM_OLD[column.kind].format(c=column.name)
    else:
        assignment = literal(column.type, value(rng, column))
    return f"UPDATE {table.name} SET {column.name} = {assignment} WHERE {where(rng, table)}"


def delete(rng: random.Random, table: Table) -> str:
    return f"DELETE FROM {table.name} WHERE {where(rng, table)}"


def copy(rng: random.Random, table: Table) -> str:
    """INSERT ... SELECT of some of the table's own rows (each copied row is now duplicated)."""
    return f"INSERT INTO {table.name} SELECT * FROM {table.name} WHERE {where(rng, table)}"


def changes(rng: random.Random, tables: list[Table], count: int) -> list[str]:
    """A first INSERT into each table (three to eight rows), then ``count`` changes of any
    kind (inserts the most)."""
    statements = [insert(rng, t, 3, 8) for t in tables]
    for _ in range(count):
        kind = rng.choice([insert, insert, insert, update, update, delete, copy])
        statements.append(kind(rng, rng.choice(tables)))
    return statements
