"""Keyed tables for the differential tests: their DDL, views over them, and random changes.

Keys come from tiny domains, so that inserts collide with held keys and with each other, and
upserts, key-moving updates and deletes meet. Every statement is SQL both tidal and DuckDB
read; where they answer differently (tidal follows PostgreSQL: DO UPDATE meeting one key twice
in one statement is 21000, where DuckDB keeps the first row), the test allows exactly that.
"""

from __future__ import annotations

from hypothesis import strategies as st

from .schema import literal

KEYED_TABLES = {
    "kt": "CREATE TABLE kt (k INTEGER PRIMARY KEY, g VARCHAR, v INTEGER)",
    "kc": "CREATE TABLE kc (a INTEGER, b VARCHAR, x INTEGER, PRIMARY KEY (a, b))",
}

_DOMAINS = {
    "kt": {"k": [0, 1, 2, 3, 4], "g": ["a", "b", "c"], "v": [-1, 0, 1, 2, 3]},
    "kc": {"a": [0, 1, 2], "b": ["x", "y"], "x": [0, 1, 5]},
}
_KEYS = {"kt": ("k",), "kc": ("a", "b")}

# Views over the keyed tables: each keeps rows by key, or derives a key (GROUP BY, DISTINCT,
# a join on the other table's whole key), or has none.
KEYED_VIEWS = {
    "filtered": "SELECT k, v FROM kt WHERE v > 0",
    "renamed": "SELECT v + 1 AS w, k AS id, g FROM kt",
    "by_group": "SELECT g, count(*) AS n, sum(v) AS s, min(v) AS lo, max(k) AS hi FROM kt "
    "GROUP BY g",
    "totals": "SELECT count(*) AS n, sum(v) AS s, count(DISTINCT g) AS groups FROM kt",
    "joined": "SELECT kt.k, kt.v, kc.b, kc.x FROM kt JOIN kc ON kt.k = kc.a",
    "lookup": "SELECT kc.a, kc.b, kt.g FROM kc LEFT JOIN kt ON kc.a = kt.k",
    "top": "SELECT k, v FROM kt ORDER BY v DESC, k LIMIT 2",
    "distinct_v": "SELECT DISTINCT v FROM kt",
    "ranked": "SELECT k, g, row_number() OVER (PARTITION BY g ORDER BY v, k) AS r FROM kt",
    "composite": "SELECT a, b, x * 2 AS y FROM kc WHERE x IS NOT NULL",
}


def _value(draw, table: str, column: str, nullable: bool) -> str:
    choices = _DOMAINS[table][column]
    return literal(draw(st.sampled_from([None, *choices] if nullable else choices)))


@st.composite
def _rows(draw, table: str) -> str:
    """1-3 rows; a key column is NULL now and then (23502)."""
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        values = [
            _value(draw, table, c, nullable=c not in _KEYS[table] or draw(st.integers(0, 15)) == 0)
            for c in _DOMAINS[table]
        ]
        rows.append("(" + ", ".join(values) + ")")
    return ", ".join(rows)


def _conflicts(table: str) -> list[str]:
    keys = ", ".join(_KEYS[table])
    value = "v" if table == "kt" else "x"
    return [
        "",
        " ON CONFLICT DO NOTHING",
        f" ON CONFLICT ({keys}) DO NOTHING",
        f" ON CONFLICT ({keys}) DO UPDATE SET {value} = excluded.{value}",
        f" ON CONFLICT ({keys}) DO UPDATE SET {value} = {table}.{value} + excluded.{value}",
        (
            f" ON CONFLICT ({keys}) DO UPDATE SET {value} = excluded.{value} "
            f"WHERE {table}.{value} < excluded.{value}"
        ),
    ]


@st.composite
def keyed_inserts(draw, table: str) -> str:
    verb = draw(st.sampled_from(["INSERT", "INSERT", "INSERT OR REPLACE", "INSERT OR IGNORE"]))
    clause = draw(st.sampled_from(_conflicts(table))) if verb == "INSERT" else ""
    return f"{verb} INTO {table} VALUES {draw(_rows(table))}{clause}"


_UPDATES = {
    "kt": ["v = v + 1", "g = {g}", "k = k + 1", "k = {k}", "v = NULL", "k = 4 - k"],
    "kc": ["x = x + 1", "a = a + 1", "b = {b}", "x = {x}"],
}
_WHERES = {
    "kt": ["k = {k}", "g = {g}", "v > {v}", "true"],
    "kc": ["a = {a}", "b = {b}", "true"],
}


@st.composite
def _filled(draw, table: str, template: str) -> str:
    filled = {c: _value(draw, table, c, False) for c in _DOMAINS[table]}
    return template.format(**filled)


@st.composite
def keyed_changes(draw, table: str) -> str:
    """One statement on ``table``: upserts most often, then updates (keys too) and deletes."""
    kind = draw(st.sampled_from(["insert", "insert", "insert", "update", "delete", "copy"]))
    if kind == "insert":
        return draw(keyed_inserts(table))
    where = draw(_filled(table, draw(st.sampled_from(_WHERES[table]))))
    if kind == "update":
        assignment = draw(_filled(table, draw(st.sampled_from(_UPDATES[table]))))
        return f"UPDATE {table} SET {assignment} WHERE {where}"
    if kind == "delete":
        return f"DELETE FROM {table} WHERE {where}"
    # INSERT ... SELECT from the other table, with a conflict clause; one row per key, since
    # which of two rows of a key comes first is not defined for a query's rows
    if table == "kt":
        query = "SELECT a + 2, min(b), max(x) FROM kc GROUP BY a"
    else:
        query = (
            "SELECT k % 3, CASE WHEN g = 'a' THEN 'x' ELSE 'y' END, max(v) FROM kt GROUP BY 1, 2"
        )
    return f"INSERT INTO {table} {query}" + draw(st.sampled_from(_conflicts(table)))


@st.composite
def keyed_scenarios(draw) -> tuple[list[str], int]:
    """Statements (first an insert into each table), and when the views are created."""
    statements = [draw(keyed_inserts("kt")), draw(keyed_inserts("kc"))]
    statements += draw(
        st.lists(st.sampled_from(["kt", "kc"]).flatmap(keyed_changes), min_size=1, max_size=8)
    )
    return statements, draw(st.integers(0, len(statements)))
