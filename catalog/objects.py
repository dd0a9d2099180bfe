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


@dataclass(frozen=True)
class Table(Relation):
    """A table fed by INSERT, UPDATE and DELETE."""

    watermark: Watermark | None = None
    options: tuple[tuple[str, str], ...] = ()  # event-time options only
    kind = "table"

    def option(self, key: str, default: str | None = None) -> str | None:
        return dict(self.options).get(key, default)


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
    """A scalar SQL function: ``CREATE FUNCTION f(a type, ...) RETURNS type ... RETURN expr``.

    Calls are expanded in place (a macro): ``body`` is the expression as SQL text, reading the
    parameters by name.
    """

    name: str
    parameters: tuple[Column, ...]
    returns: str
    body: str
    uses: tuple[str, ...] = ()  # the functions its body calls
    kind = "function"

    def depends_on(self) -> tuple[str, ...]:
        return self.uses
