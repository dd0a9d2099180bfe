"""Answers the catalog queries tools send (psql's ``\\d``, JDBC metadata, Grafana's pickers).

The session asks ``CatalogQueries(catalog).handles(sql)`` before handing a statement to the
engine; if true, ``run(sql)`` answers it from pg_catalog and information_schema as
``tidal.catalog.pg_catalog`` generates them. The statement is rewritten from PostgreSQL to
DuckDB (``rewrite``) and run on a private, locked DuckDB connection: no file access,
no settings, nothing registered but the catalog's rows. Result columns are named as
PostgreSQL names them (psql prints those names as headers).

>>> from tidal.catalog import Catalog, Column, Table
>>> catalog = Catalog(); catalog.add(Table("orders", (Column("id", "BIGINT"),)))
>>> queries = CatalogQueries(catalog)
>>> queries.handles("SELECT * FROM orders"), queries.handles("SELECT current_database()")
(False, True)
>>> queries.run("SELECT relname, relkind FROM pg_class WHERE relnamespace = 2200").to_pylist()
[{'relname': 'orders', 'relkind': 'r'}]
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import exp

from tidal.catalog import sqlstate
from tidal.catalog.catalog import Catalog
from tidal.catalog.pg_catalog import PgCatalog
from tidal.shell.pgwire.catalog import macros
from tidal.shell.pgwire.catalog.rewrite import (
    FUNCTION_SIGNATURES,
    INDEX_DEFINITIONS,
    VIEW_DEFINITIONS,
    CatalogRewriter,
    Rewritten,
    function_name,
    is_catalog_query,
    registered_name,
)
from tidal.sql.dialect import CatalogPostgres
from tidal.sql.errors import SqlError
from tidal.sql.parameters import numbers
from tidal.sql.typeinfer import LOCKED_CONFIG

_instance: duckdb.DuckDBPyConnection | None = None
_instance_lock = threading.Lock()


def _connection() -> duckdb.DuckDBPyConnection:
    """A new connection to the private catalog database (its macros made on first use)."""
    global _instance
    with _instance_lock:
        if _instance is None:
            instance = duckdb.connect(config=dict(LOCKED_CONFIG))
            for statement in macros.create_statements():
                instance.execute(statement)
            _instance = instance
        return _instance.cursor()


@functools.lru_cache(maxsize=256)
def _parse(sql: str) -> exp.Expression | None:
    """The one statement of ``sql`` (PostgreSQL), or None if it is not exactly one we parse."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=CatalogPostgres) if s is not None]
    except (sqlglot.errors.SqlglotError, RecursionError):
        return None
    return statements[0] if len(statements) == 1 else None


@functools.lru_cache(maxsize=1024)
def _is_catalog(sql: str) -> bool:
    tree = _parse(sql)
    return tree is not None and is_catalog_query(tree)


@functools.lru_cache(maxsize=256)
def _names(sql: str) -> list[str] | None:
    tree = _parse(sql)
    return column_names(tree) if tree is not None else None


@functools.lru_cache(maxsize=256)
def _rewrite(sql: str, user: str, oids: tuple[tuple[str, int], ...]) -> Rewritten:
    """The DuckDB form of a catalog query: it depends on the text, the user (``current_user``)
    and the oids of the user's objects (``'orders'::regclass``), so it is kept per those."""
    tree = _parse(sql)
    assert tree is not None
    return CatalogRewriter(dict(oids), user).rewrite(tree)


class CatalogQueries:
    """pg_catalog and information_schema queries over one catalog, for one session's user."""

    def __init__(self, catalog: Catalog, user: str = "tidal") -> None:
        self.catalog = catalog
        self.user = user

    def handles(self, sql: str) -> bool:
        """True if ``sql`` reads catalog relations or calls catalog functions (``version()``,
        ``current_database()``, ``'t'::regclass``, ...) and reads none of the user's relations."""
        return _is_catalog(sql)

    def parameter_count(self, sql: str) -> int:
        """The highest ``$n`` in a statement ``handles`` accepted (0: none)."""
        tree = _parse(sql)
        return max(numbers(tree), default=0) if tree is not None else 0

    def run(self, sql: str, parameters: Sequence[object] | None = None) -> pa.Table:
        """The result of a statement ``handles`` accepted; ``$1``.. take ``parameters``.

        Raises SqlError (with a SQLSTATE) if the statement cannot be answered.
        """
        if not _is_catalog(sql):
            raise SqlError("not a catalog query", sqlstate=sqlstate.FEATURE_NOT_SUPPORTED)
        pg = PgCatalog(self.catalog, self.user)
        rewritten = _rewrite(sql, self.user, tuple(sorted(pg.oids.items())))
        connection = _connection()
        try:
            for name in rewritten.relations:
                connection.register(registered_name(name), _relation(pg, name))
            params = list(parameters) if parameters else None
            result = connection.sql(rewritten.sql, params=params).to_arrow_table()
        except duckdb.Error as error:
            raise _sql_error(error) from None
        finally:
            connection.close()
        return _postgres_shaped(result, _names(sql))


def _relation(pg: PgCatalog, name: str) -> pa.Table:
    """A catalog relation's rows, or one of the private helpers the lookups read."""
    if name == VIEW_DEFINITIONS:
        return _oid_keyed(list(pg.view_definitions().items()), ["oid", "definition"])
    if name == FUNCTION_SIGNATURES:
        return _oid_keyed(pg.function_signatures(), ["oid", "result", "arguments"])
    if name == INDEX_DEFINITIONS:
        return _oid_keyed(pg.index_definitions(), ["oid", "conoid", "indexdef", "constraintdef"])
    return pg.table(name)


def _oid_keyed(rows: list[tuple], names: list[str]) -> pa.Table:
    kinds = [pa.int64() if name.endswith("oid") else pa.string() for name in names]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    arrays = [pa.array(column, kind) for column, kind in zip(columns, kinds, strict=True)]
    return pa.table(arrays, names=names)


def _sql_error(error: duckdb.Error) -> SqlError:
    message = str(error).split("\n")[0]
    if isinstance(error, duckdb.CatalogException):
        return SqlError(
            message,
            sqlstate=sqlstate.UNDEFINED_TABLE
            if "Table" in message
            else sqlstate.UNDEFINED_FUNCTION,
        )
    if isinstance(error, duckdb.BinderException):
        return SqlError(
            message,
            sqlstate=sqlstate.UNDEFINED_COLUMN
            if "column" in message.lower()
            else sqlstate.UNDEFINED_FUNCTION,
        )
    if isinstance(error, duckdb.PermissionException):
        return SqlError(message, sqlstate=sqlstate.INSUFFICIENT_PRIVILEGE)
    if isinstance(error, duckdb.ConversionException):
        return SqlError(message, sqlstate=sqlstate.INVALID_TEXT_REPRESENTATION)
    return SqlError(message, sqlstate=sqlstate.INTERNAL_ERROR)


# --- result shape -------------------------------------------------------------------------


def column_names(tree: exp.Expression) -> list[str] | None:
    """The names PostgreSQL gives a query's result columns, or None where a ``*`` leaves them
    to the relations (then DuckDB's names are the same).

    >>> column_names(sqlglot.parse_one("SELECT c.oid::regclass, 1, pg_catalog.version(), "
    ...     "n.nspname AS \\"Schema\\", count(*), CASE WHEN true THEN 1 END, '1'::int",
    ...     read="postgres"))
    ['oid', '?column?', 'version', 'Schema', 'count', 'case', 'int4']
    """
    while isinstance(tree, exp.SetOperation):
        tree = tree.this
    if isinstance(tree, exp.Subquery):
        return column_names(tree.this)
    if not isinstance(tree, exp.Select) or any(isinstance(e, exp.Star) for e in tree.expressions):
        return None
    if any(isinstance(e, exp.Column) and isinstance(e.this, exp.Star) for e in tree.expressions):
        return None
    return [_column_name(e)[0] or "?column?" for e in tree.expressions]


_NAMED_NODES = {
    exp.Exists: "exists",
    exp.Boolean: "bool",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentCatalog: "current_catalog",
    exp.CurrentSchema: "current_schema",
    exp.Array: "array",
}
_TRIMS = {"LEADING": "ltrim", "TRAILING": "rtrim"}


def _column_name(e: exp.Expression) -> tuple[str | None, int]:
    """PostgreSQL's FigureColname: a name and its strength (2: a column or function, 1: a
    type or keyword, 0: none, where PostgreSQL says ``?column?``)."""
    if isinstance(e, exp.Alias):
        return _identifier(e.args["alias"]), 2
    if isinstance(e, exp.Column):
        return (None, 0) if isinstance(e.this, exp.Star) else (_identifier(e.this), 2)
    if isinstance(e, (exp.Dot, exp.Paren)):
        return _column_name(e.expression if isinstance(e, exp.Dot) else e.this)
    if isinstance(e, (exp.Bracket, exp.Window)):
        return _column_name(e.this)
    if isinstance(e, exp.Cast):
        name, strength = _column_name(e.this)
        return (name, strength) if strength > 1 else (_type_name(e.to), 1)
    if isinstance(e, exp.Case):
        name, strength = _column_name(e.args.get("default") or exp.Null())
        return (name, strength) if strength > 1 else ("case", 1)
    if isinstance(e, exp.Subquery):
        names = column_names(e.this)
        return (names[0], 2) if names else (None, 0)
    if isinstance(e, exp.Trim):
        return _TRIMS.get(str(e.args.get("position") or "").upper(), "btrim"), 2
    for kind, name in _NAMED_NODES.items():
        if isinstance(e, kind):
            return name, 2
    if isinstance(e, exp.Func):
        name = function_name(e) or _typed_function_name(e)
        return name, 2 if name else 0
    return None, 0


def _type_name(to: exp.Expression) -> str:
    name = to.sql(dialect="postgres").lower().split(".")[-1]
    return {"int": "int4", "integer": "int4", "bigint": "int8", "smallint": "int2"}.get(name, name)


def _identifier(identifier: exp.Expression) -> str:
    name = identifier.name
    return name if getattr(identifier, "quoted", False) else name.lower()


def _typed_function_name(e: exp.Func) -> str | None:
    text = e.sql(dialect="postgres")
    head = text.split("(", 1)[0].strip()
    return head.split(".")[-1].lower() if head.replace("_", "").replace(".", "").isalnum() else None


def _postgres_shaped(table: pa.Table, names: list[str] | None) -> pa.Table:
    """Names as PostgreSQL gives them; lists as PostgreSQL prints arrays (``{a,b}``), NULL
    columns as text."""
    if names is not None and len(names) == table.num_columns:
        table = table.rename_columns(names)
    for index, column in enumerate(table.columns):
        if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
            values = [_array_text(v) for v in column.to_pylist()]
            table = table.set_column(index, table.field(index).name, pa.array(values, pa.string()))
        elif pa.types.is_null(column.type) or pa.types.is_struct(column.type):
            text = pc.cast(column, pa.string()) if pa.types.is_null(column.type) else None
            if text is None:
                text = pa.array([None if v is None else str(v) for v in column.to_pylist()])
            table = table.set_column(index, table.field(index).name, text)
    return table


def _array_text(values: list | None) -> str | None:
    """A list as PostgreSQL's text output of an array: ``{a,"b c",NULL}``."""
    if values is None:
        return None
    return "{" + ",".join(_array_element(v) for v in values) + "}"


def _array_element(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    if text == "" or text.upper() == "NULL" or any(c in text for c in ' ,{}"\\'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text
