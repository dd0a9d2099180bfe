"""Result types of expressions, as DuckDB computes them.

DuckDB runs tidal's batch mode and is the reference the incremental engine must match, so its
type rules are tidal's (``SUM(INTEGER)`` is ``HUGEINT``, ``AVG`` is ``DOUBLE``, ...). The binder
asks a private, locked DuckDB connection to bind ``SELECT <exprs> FROM <empty relation>``: that
call only binds, it reads no data, and it also rejects unknown functions and type mismatches
with DuckDB's message. A statement parameter (``TypedParameter``) types as a NULL of its type;
in the SQL that runs (``duckdb_sql``) it is a prepared statement's ``$n``, its value passed
apart from the text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import duckdb
from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ErrorLevel, UnsupportedError

from tidal.catalog import types
from tidal.catalog.sqlstate import DATATYPE_MISMATCH
from tidal.sql.duckdb_messages import binding_message
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.limits import MAX_STRING_LENGTH
from tidal.sql.plan import Field, TypedParameter

POSTGRES_SETTINGS = (
    "SET integer_division = true",
    "SET default_null_order = 'nulls_last_on_asc_first_on_desc'",
)


# The settings every connection of connect_locked has, as DuckDB configuration options.
LOCKED_CONFIG = {
    "threads": 1,
    "integer_division": True,
    "default_null_order": "nulls_last_on_asc_first_on_desc",
    "enable_external_access": False,
    "lock_configuration": True,
}
ENGINE = "engine"  # the instance of the engine's own work (type inference, views' DuckDB steps)
AD_HOC = "ad hoc"  # the instance of clients' ad hoc queries, so one cannot starve the engine
_instances: dict[str, duckdb.DuckDBPyConnection] = {}
_instance_lock = threading.Lock()
# Every DuckDB instance tidal starts (here and in tidal.engine.memory), and what each gets
# before its first use: the engine's Python functions (tidal.engine.udf.registry) live in all.
ALL_INSTANCES: list[duckdb.DuckDBPyConnection] = []
INSTANCE_SETUP: list[Callable[[duckdb.DuckDBPyConnection], None]] = []


def new_instance(config: dict) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB with ``config``, set up by every ``INSTANCE_SETUP`` hook."""
    instance = duckdb.connect(config=config)
    for setup in INSTANCE_SETUP:
        setup(instance)
    ALL_INSTANCES.append(instance)
    return instance


def connect_locked(instance: str = ENGINE) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with PostgreSQL semantics and no access to files or settings.

    All of them are connections to one in-memory DuckDB per ``instance`` (``ENGINE`` or
    ``AD_HOC``) whose configuration is set at start and locked: a new connection costs
    microseconds (a new instance about 30 ms, and every Database needs several). Each
    connection still has its own registered tables.
    """
    with _instance_lock:
        if instance not in _instances:
            _instances[instance] = new_instance(dict(LOCKED_CONFIG))
        return _instances[instance].cursor()


class DuckDBPrepared(DuckDB):
    """DuckDB's SQL with each statement parameter as ``CAST($n AS type)``: run it with the
    parameters' values as the prepared statement's (``params={"n": value}``)."""

    # NULLs sort as the largest value on tidal's connections (default_null_order above), so
    # an ORDER BY spells out NULLS FIRST ascending and NULLS LAST descending.
    NULL_ORDERING = "nulls_are_large"

    class Generator(DuckDB.Generator):
        TRANSFORMS = {  # noqa: RUF012 - sqlglot's extension table
            **DuckDB.Generator.TRANSFORMS,
            TypedParameter: lambda self, e: f"CAST(${e.this.this} AS {self.sql(e, 'to')})",
            exp.Repeat: lambda self, e: (
                f"repeat({self.sql(e, 'this')}, {_bounded(self.sql(e, 'times'), 'repeat')})"
            ),
            exp.Pad: lambda self, e: self.func(
                "lpad" if e.args.get("is_left") else "rpad",
                e.this,
                _bounded(self.sql(e, "expression"), "lpad" if e.args.get("is_left") else "rpad"),
                e.args.get("fill_pattern") or exp.Literal.string(" "),
            ),
        }


class DuckDBTyping(DuckDB):
    """DuckDB's SQL with each statement parameter as a NULL of its type: typing needs no value."""

    NULL_ORDERING = "nulls_are_large"

    class Generator(DuckDB.Generator):
        TRANSFORMS = {  # noqa: RUF012 - sqlglot's extension table
            **DuckDB.Generator.TRANSFORMS,
            TypedParameter: lambda self, e: f"CAST(NULL AS {self.sql(e, 'to')})",
        }


def _bounded(count: str, function: str) -> str:
    """``count`` as DuckDB SQL that fails past ``MAX_STRING_LENGTH``: repeat('x', 1000000000)
    built a 1 GB value (and 100,000,000 took 6 s) before anything could refuse it."""
    message = (
        f"{function}: results are limited to {MAX_STRING_LENGTH:,} characters (past the limit "
        "of the server): ask for a shorter value"
    )
    return f"CASE WHEN ({count}) > {MAX_STRING_LENGTH} THEN error('{message}') ELSE ({count}) END"


_PREPARED = DuckDBPrepared()
_TYPING = DuckDBTyping()


def duckdb_sql(expression: exp.Expression) -> str:
    """``expression`` as DuckDB SQL, its parameters as ``$n`` (see ``DuckDBPrepared``)."""
    return expression.sql(dialect=_PREPARED, unsupported_level=ErrorLevel.RAISE)


def _typing_sql(expression: exp.Expression) -> str:
    """``expression`` as the DuckDB SQL that types it. What DuckDB's SQL cannot say (sqlglot
    would write it anyway, dropping a part, with a warning) is refused by name."""
    try:
        return expression.sql(dialect=_TYPING, unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as error:
        raise unsupported(str(error).split("\n")[0]) from None


def empty_relation_sql(fields: tuple[Field, ...]) -> str:
    """A zero-row relation with columns ``c0``.. of the given types."""
    if not fields:
        return "(SELECT 1 WHERE false) AS t"
    columns = ", ".join(f'CAST(NULL AS {f.type}) AS "c{i}"' for i, f in enumerate(fields))
    return f"(SELECT {columns} WHERE false) AS t"


# Inferences kept per binder, the oldest dropped first: enough for every expression of the
# catalog's views, bounded for the ad hoc statements a server binds without end.
_CACHED_INFERENCES = 10_000


class TypeInference:
    def __init__(self) -> None:
        self._connection = connect_locked()
        self._cache: dict[tuple[str, tuple[Field, ...]], list[str]] = {}

    def infer(self, exprs: list[exp.Expression | str], fields: tuple[Field, ...]) -> list[str]:
        """The SQL type of each expression (a node, or DuckDB SQL) over rows with ``fields``."""
        if not exprs:
            return []
        select = ", ".join(e if isinstance(e, str) else _typing_sql(e) for e in exprs)
        key = (select, fields)
        if key not in self._cache:
            query = f"SELECT {select} FROM {empty_relation_sql(fields)}"
            try:
                relation = self._connection.sql(query)
            except duckdb.Error as error:
                raise _as_sql_error(error) from None
            if len(self._cache) >= _CACHED_INFERENCES:  # a server binds literals without end
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = [types.normalize(str(t)) for t in relation.types]
        return self._cache[key]

    def values_types(self, rows: list[tuple[exp.Expression, ...]]) -> list[str]:
        """The column types of a VALUES list, unified across its rows as DuckDB does."""
        body = ", ".join("(" + ", ".join(_typing_sql(v) for v in row) + ")" for row in rows)
        try:
            return [
                types.normalize(str(t))
                for t in self._connection.sql(f"SELECT * FROM (VALUES {body})").types
            ]
        except duckdb.Error as error:
            raise _as_sql_error(error) from None

    def check_string_literals(self, expression: exp.Expression, fields: tuple[Field, ...]) -> None:
        """Refuse a comparison of a non-text expression with a string constant that is not one of
        its values (``v = 'x'`` for an INTEGER ``v``), as PostgreSQL does when it binds the query,
        rather than failing later on the first row (which would make a view refuse every insert)."""
        for target, literal in _compared_string_literals(expression):
            try:
                (target_type,) = self.infer([target], fields)
            except SqlError:
                continue  # the expression's own type error is reported where it is typed
            if target_type in _TEXT_TYPES or self._castable(literal, target_type):
                continue
            raise SqlError(
                f"type mismatch: {literal.sql()} is not a valid {target_type} value, "
                f"but it is compared with an expression of type {target_type}: write a "
                "constant of that type, or CAST the expression to VARCHAR to compare "
                "text",
                sqlstate=DATATYPE_MISMATCH,
            )

    def _castable(self, literal: exp.Literal, target_type: str) -> bool:
        text = literal.sql(dialect="duckdb")
        key = (f"literal {text}", (Field("", target_type),))
        if key not in self._cache:
            try:
                self._connection.execute(f"SELECT CAST({text} AS {target_type})")
                self._cache[key] = ["ok"]
            except duckdb.Error:
                self._cache[key] = []
        return bool(self._cache[key])

    def common_type(self, left: str, right: str) -> str:
        """The type both sides of a UNION (or CASE, COALESCE) are cast to."""
        query = (
            f"SELECT * FROM (SELECT CAST(NULL AS {left}) UNION ALL SELECT CAST(NULL AS {right}))"
        )
        try:
            return types.normalize(str(self._connection.sql(query).types[0]))
        except duckdb.Error as error:
            raise SqlError(
                f"cannot combine types {left} and {right}: {_as_sql_error(error).message}",
                sqlstate=DATATYPE_MISMATCH,
            ) from None


_TEXT_TYPES = ("VARCHAR", "JSON", "NULL")
_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE, exp.NullSafeEQ, exp.NullSafeNEQ)


def _compared_string_literals(expression: exp.Expression):
    """(expression, string literal) pairs that a comparison, IN list or BETWEEN compares."""
    for node in expression.find_all(*_COMPARISONS, exp.In, exp.Between):
        if isinstance(node, exp.In):
            pairs = [(node.this, item) for item in node.expressions]
        elif isinstance(node, exp.Between):
            pairs = [(node.this, node.args.get("low")), (node.this, node.args.get("high"))]
        else:
            pairs = [(node.this, node.expression), (node.expression, node.this)]
        for target, literal in pairs:
            if (
                isinstance(literal, exp.Literal)
                and literal.is_string
                and not (isinstance(target, exp.Literal) or target.find(exp.Subquery))
            ):
                yield target, literal


def _as_sql_error(error: duckdb.Error) -> SqlError:
    message, sqlstate = binding_message(str(error))
    return SqlError(message, sqlstate=sqlstate)
