"""Catalog objects: plain frozen records of what a user declared."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from tidal.catalog.types import to_arrow


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # canonical SQL type name, see tidal.catalog.types
    nullable: bool = True  # False: NOT NULL, enforced on INSERT and UPDATE
    default: str | None = None  # DEFAULT (a constant, as SQL) for an INSERT that omits it

    @property
    def arrow_type(self) -> pa.DataType:
        return to_arrow(self.type)


@dataclass(frozen=True)
class Watermark:
    """``WATERMARK FOR column AS column - delay``: the event-time column, the expression as
    written, and the delay in microseconds."""

    column: str
    expression: str
    delay: int = 0


@dataclass(frozen=True)
class Relation:
    """Anything that can be read in FROM: a table, a source or a view."""

    name: str
    columns: tuple[Column, ...]

    kind = "relation"

    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    def depends_on(self) -> tuple[str, ...]:
        return ()

    def key_positions(self) -> list[int]:
        """The positions of the relation's primary key columns (none: it has no key)."""
        return []


# What a keyed table does with an inserted row whose key it holds already (RisingWave's
# table-level ``ON CONFLICT``): PostgreSQL's answer, an error, unless the table says otherwise.
CONFLICT_ERROR = "error"
CONFLICT_OVERWRITE = "overwrite"  # the new row replaces the old one
CONFLICT_IGNORE = "ignore"  # the old row stays, the new one is dropped
CONFLICT_UPDATE_IF_NOT_NULL = "do update if not null"  # the new row's non-NULL values win


@dataclass(frozen=True)
class Table(Relation):
    """A table fed by INSERT, UPDATE and DELETE.

    ``primary_key``: the key's columns (NOT NULL, unique), enforced on every change;
    ``constraint``: the key constraint's name. ``on_conflict``: what an INSERT does with a
    row whose key exists (one of the ``CONFLICT_*`` rules). ``append_only``: the table
    accepts INSERT only, so its rows are never retracted. A table with a ``connector`` option
    is fed by that connector (a replication stream, upserts from Kafka, webhooks), not by DML.

    >>> t = Table("t", (Column("k", "INTEGER", False), Column("v", "INTEGER")), primary_key=("k",))
    >>> t.key_positions(), t.constraint
    ([0], 't_pkey')
    """

    watermark: Watermark | None = None
    options: tuple[tuple[str, str], ...] = ()  # event-time options, and a connector's
    primary_key: tuple[str, ...] = ()
    key_constraint: str = ""  # as declared (CONSTRAINT name PRIMARY KEY ...), else empty
    on_conflict: str = CONFLICT_ERROR
    append_only: bool = False
    kind = "table"

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)

    @property
    def connector(self) -> str | None:
        """The connector feeding the table, or None for a table fed by DML."""
        return self.option("connector")

    @property
    def constraint(self) -> str:
        """The primary key constraint's name: as declared, else PostgreSQL's ``<table>_pkey``."""
        return self.key_constraint or f"{self.name}_pkey"

    def key_positions(self) -> list[int]:
        """The positions of the primary key's columns, in the key's order."""
        names = [c.name.lower() for c in self.columns]
        return [names.index(k.lower()) for k in self.primary_key]

    @property
    def inserts_only(self) -> bool:
        """Whether the table's rows are never retracted: APPEND ONLY, or an event stream (a
        table with a watermark)."""
        return self.append_only or self.watermark is not None


@dataclass(frozen=True)
class Source(Relation):
    """An append-only stream read by a connector (``WITH (connector = ...)``)."""

    options: tuple[tuple[str, str], ...] = ()
    watermark: Watermark | None = None
    kind = "source"

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)


@dataclass(frozen=True)
class View(Relation):
    """A named query; a materialized view is maintained incrementally and holds its rows."""

    definition: str = ""  # the SELECT, as the user wrote it
    materialized: bool = False
    inputs: tuple[str, ...] = ()  # relations the definition reads

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "materialized view" if self.materialized else "view"

    def depends_on(self) -> tuple[str, ...]:
        return self.inputs


@dataclass(frozen=True)
class SystemRelation(Relation):
    """A relation tidal computes from its own state when read (``tidal_sources``,
    ``tidal_ticks``, ...: tidal.engine.system_relations): read-only, never maintained."""

    kind = "system relation"


@dataclass(frozen=True)
class Sink:
    """Writes the changes of a relation (``CREATE SINK s FROM v WITH (...)``) or of a query
    (``CREATE SINK s AS SELECT ...``, then ``source`` is empty) to the outside."""

    name: str
    source: str
    options: tuple[tuple[str, str], ...] = field(default=())
    query: str = ""  # the SELECT, as written, for a sink of a query
    inputs: tuple[str, ...] = ()  # what the query reads
    kind = "sink"

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)

    def depends_on(self) -> tuple[str, ...]:
        return self.inputs if self.query else (self.source,)


@dataclass(frozen=True)
class Function:
    """A user-defined function: ``CREATE FUNCTION f(a type, ...) RETURNS type ...``.

    In LANGUAGE SQL, calls are expanded in place (a macro): ``body`` is the expression as SQL
    text, reading the parameters by name. In LANGUAGE python, ``body`` is the Python source
    (empty for a callable registered from Python) and calls run it (tidal.engine.udf): a
    ``role`` of ``scalar``, ``table`` (``RETURNS TABLE (columns)``: zero or more rows per call)
    or ``aggregate`` (``CREATE AGGREGATE``); ``options`` are its WITH (...) options, and
    ``runtime_name`` the name it is called by in plans and in DuckDB, unique in the process.
    """

    name: str
    parameters: tuple[Column, ...]
    returns: str
    body: str
    uses: tuple[str, ...] = ()  # the functions its body calls
    language: str = "sql"
    role: str = "scalar"
    columns: tuple[Column, ...] = ()  # a table function's result columns
    options: tuple[tuple[str, str], ...] = ()
    volatile: bool = False
    runtime_name: str = ""
    kind = "function"

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)

    def depends_on(self) -> tuple[str, ...]:
        dead_letters = self.option("dead_letter_table")  # DROP TABLE of it is refused meanwhile
        return self.uses + ((dead_letters,) if dead_letters else ())
