"""The catalog rows of tables' primary keys: pg_constraint, pg_index, information_schema's
table_constraints and key_column_usage, and each key's index in pg_class.

As in PostgreSQL, a primary key is a constraint (``contype = 'p'``) backed by a unique index
of the same name (a ``pg_class`` row of relkind ``i``, access method btree), so psql's ``\\d t``
lists it under "Indexes:" and JDBC's ``getPrimaryKeys`` finds it. ``definitions`` gives what
``pg_get_indexdef`` and ``pg_get_constraintdef`` print.

>>> from tidal.catalog.objects import Column, Table
>>> t = Table("t", (Column("a", "INTEGER", False), Column("b", "INTEGER", False)),
...           primary_key=("b", "a"))
>>> keys = Keys([t], {"t": 16400, "t_pkey": 16401, "t_pkey constraint": 16402})
>>> [(r["conname"], r["contype"], r["conkey"]) for r in keys.pg_constraint()]
[('t_pkey', 'p', [2, 1])]
>>> keys.definitions()
[(16401, 16402, 'CREATE UNIQUE INDEX t_pkey ON public.t USING btree (b, a)', 'PRIMARY KEY (b, a)')]
"""

from __future__ import annotations

from tidal.catalog.objects import Table

BTREE = 403  # pg_am's oid of btree, the access method of every key's index
_SCHEMA, _NAMESPACE, _DATABASE = "public", 2200, "tidal"


def object_names(tables: list[Table]) -> list[str]:
    """The names that need oids: each key's index (its constraint's name, as in PostgreSQL)
    and the constraint itself."""
    return [name for t in tables if t.primary_key for name in (t.constraint, _constraint(t))]


class Keys:
    """The keys of ``tables`` (keyed or not), with the oids of the tables and ``object_names``."""

    def __init__(self, tables: list[Table], oids: dict[str, int]) -> None:
        self.tables = [t for t in tables if t.primary_key]
        self.oids = oids

    def index_classes(self) -> list[tuple[int, str, int]]:
        """(oid, name, number of columns) of each key's index, for pg_class."""
        return [(self._index(t), t.constraint, len(t.primary_key)) for t in self.tables]

    def pg_index(self) -> list[dict]:
        return [
            {"indexrelid": self._index(t), "indrelid": self._table(t),
             "indnatts": len(t.primary_key), "indnkeyatts": len(t.primary_key),
             "indisunique": True, "indnullsnotdistinct": False, "indisprimary": True,
             "indisexclusion": False, "indimmediate": True, "indisclustered": False,
             "indisvalid": True, "indcheckxmin": False, "indisready": True, "indislive": True,
             "indisreplident": False, "indkey": _numbers(t),
             "indcollation": [0] * len(t.primary_key), "indclass": [0] * len(t.primary_key),
             "indoption": [0] * len(t.primary_key)}
            for t in self.tables
        ]  # fmt: skip

    def pg_constraint(self) -> list[dict]:
        return [
            {"oid": self.oids[_constraint(t).lower()], "conname": t.constraint,
             "connamespace": _NAMESPACE, "contype": "p", "condeferrable": False,
             "condeferred": False, "convalidated": True, "conrelid": self._table(t),
             "contypid": 0, "conindid": self._index(t), "conparentid": 0, "confrelid": 0,
             "confupdtype": " ", "confdeltype": " ", "confmatchtype": " ", "conislocal": True,
             "coninhcount": 0, "connoinherit": True, "conkey": _numbers(t)}
            for t in self.tables
        ]  # fmt: skip

    def table_constraints(self) -> list[dict]:
        return [
            {"constraint_catalog": _DATABASE, "constraint_schema": _SCHEMA,
             "constraint_name": t.constraint, "table_catalog": _DATABASE,
             "table_schema": _SCHEMA, "table_name": t.name, "constraint_type": "PRIMARY KEY",
             "is_deferrable": "NO", "initially_deferred": "NO", "enforced": "YES"}
            for t in self.tables
        ]  # fmt: skip

    def key_column_usage(self) -> list[dict]:
        return [
            {"constraint_catalog": _DATABASE, "constraint_schema": _SCHEMA,
             "constraint_name": t.constraint, "table_catalog": _DATABASE,
             "table_schema": _SCHEMA, "table_name": t.name, "column_name": column,
             "ordinal_position": position}
            for t in self.tables
            for position, column in enumerate(_columns(t), start=1)
        ]  # fmt: skip

    def definitions(self) -> list[tuple[int, int, str, str]]:
        """(index oid, constraint oid, pg_get_indexdef's text, pg_get_constraintdef's text) of
        each key."""
        rows = []
        for t in self.tables:
            columns = ", ".join(_columns(t))
            index = f"CREATE UNIQUE INDEX {t.constraint} ON {_SCHEMA}.{t.name} USING btree"
            constraint = self.oids[_constraint(t).lower()]
            rows.append(
                (self._index(t), constraint, f"{index} ({columns})", f"PRIMARY KEY ({columns})")
            )
        return rows

    def _index(self, table: Table) -> int:
        return self.oids[table.constraint.lower()]

    def _table(self, table: Table) -> int:
        return self.oids[table.name.lower()]


def _constraint(table: Table) -> str:
    """The name a key's constraint has an oid under (its index takes the plain name)."""
    return f"{table.constraint} constraint"


def _columns(table: Table) -> list[str]:
    return [table.columns[p].name for p in table.key_positions()]


def _numbers(table: Table) -> list[int]:
    return [p + 1 for p in table.key_positions()]
