"""The Nexmark scripts (queries/nexmark/qN.sql) as ``tidal bench nexmark`` runs them, and the
answers to compare theirs with.

A ``Script`` is a query's file, parsed, with the options of every nexmark source overridden
(``events``, ...), so the files keep a small default (100,000 events) for ``tidal run``. Its
``setup`` is the statements up to the one creating ``qN`` (a materialized view or a sink); the
queries after it are there to show a result under ``tidal run``. The answers: DuckDB's own SQL
(queries/nexmark/duckdb/qN.sql) over the events exported once, and tidal's DuckDB lowering
(``Database(batch_mode=True)``).

    >>> Script.load("q0", 10).is_sink
    True
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from tidal.engine.connectors.nexmark import OPTION_ALIASES
from tidal.shell.bench.harness import REPO, duckdb_best_of, duckdb_connection, same_rows

QUERY_DIR = REPO / "queries" / "nexmark"
GENERATOR = "generator"  # queries/nexmark/sources.sql: the three streams, every column, no query
QUERIES = [f"q{i}" for i in range(23)]
REFUSED = {"q12": "processing time (PROCTIME())"}
# DuckDB has no CREATE FUNCTION ... LANGUAGE SQL; q14's function as a DuckDB macro.
DUCKDB_MACROS = ("CREATE MACRO count_char(s, c) AS length(s) - length(replace(s, c, ''))",)


# --- scripts -----------------------------------------------------------------------------------


def _option_key(prop: exp.Property) -> str:
    key = prop.name if isinstance(prop.this, exp.Literal) else prop.this.sql()
    return OPTION_ALIASES.get(key.lower(), key.lower())


def _options(create: exp.Create) -> dict[str, str]:
    props = create.args.get("properties")
    return {
        _option_key(p): p.args["value"].name
        for p in (props.expressions if props else [])
        if type(p) is exp.Property
    }


def _set_options(create: exp.Create, overrides: dict[str, str]) -> None:
    """Set ``WITH (key = 'value')`` options on a parsed CREATE, replacing any of the same key."""
    props = create.args["properties"]
    for key, value in overrides.items():
        for prop in props.expressions:
            if type(prop) is exp.Property and _option_key(prop) == key:
                prop.set("value", exp.Literal.string(value))
                break
        else:
            props.append(
                "expressions", exp.Property(this=exp.var(key), value=exp.Literal.string(value))
            )


def _is(statement: exp.Expression, *kinds: str) -> bool:
    return isinstance(statement, exp.Create) and (statement.args.get("kind") or "").upper() in kinds


@dataclass
class Script:
    """A Nexmark script's statements, parsed, with the nexmark sources' options overridden."""

    name: str
    statements: list[exp.Expression]

    @classmethod
    def load(
        cls, name: str, events: int | None = None, retain: bool | None = None, **options: str
    ) -> Script:
        """queries/nexmark/<name>.sql. ``events`` and ``options`` (e.g. ``first_event_rate``)
        override the options of every nexmark source; ``retain`` sets every source's."""
        from tidal.sql.parser import parse_statement, split_statements

        path = QUERY_DIR / ("sources.sql" if name == GENERATOR else f"{name}.sql")
        overrides = dict(options, **({"events": str(events)} if events is not None else {}))
        statements = []
        for statement in split_statements(path.read_text()):
            parsed = parse_statement(statement.text)
            if _is(parsed, "SOURCE"):
                if _options(parsed).get("connector", "").lower() == "nexmark" and overrides:
                    _set_options(parsed, overrides)
                if retain is not None:
                    _set_options(parsed, {"retain": "true" if retain else "false"})
            statements.append(parsed)
        return cls(name, statements)

    def _query_index(self) -> int:
        for index, statement in enumerate(self.statements):
            if _is(statement, "VIEW", "SINK") and statement.this.name.lower() == self.name:
                return index
        raise ValueError(f"{self.name}.sql creates no view or sink named {self.name}")

    @property
    def is_sink(self) -> bool:
        return _is(self.statements[self._query_index()], "SINK")

    def setup(self, as_view: bool = False) -> list[exp.Expression]:
        """The statements up to the one creating the query; with ``as_view``, a sink of a query
        becomes a materialized view of the same query (to read its rows)."""
        if self.name == GENERATOR:
            return self.sources()
        index = self._query_index()
        query = self.statements[index]
        if as_view and _is(query, "SINK"):
            query = query.copy()
            query.set("kind", "VIEW")
            query.set("properties", exp.Properties(expressions=[exp.MaterializedProperty()]))
        return self.statements[:index] + [query]

    def sources(self) -> list[exp.Expression]:
        """What the query needs besides itself: sources, tables, functions, inserts."""
        end = len(self.statements) if self.name == GENERATOR else self._query_index()
        return [s for s in self.statements[:end] if not _is(s, "VIEW", "SINK") and _is_ddl(s)]

    def source_names(self) -> list[str]:
        return [s.this.this.name for s in self.sources() if _is(s, "SOURCE")]

    def nexmark_sources(self) -> dict[str, dict[str, str]]:
        """The options of each nexmark source the query reads, by source name."""
        return {
            s.this.this.name: _options(s)
            for s in self.sources()
            if _is(s, "SOURCE") and _options(s).get("connector", "").lower() == "nexmark"
        }


def _is_ddl(statement: exp.Expression) -> bool:
    return isinstance(statement, (exp.Create, exp.Insert))


def execute(db, statements: list[exp.Expression]) -> None:
    for statement in statements:
        db.execute_statement(statement)


# --- answers to compare -------------------------------------------------------------------------


def export_events(name: str, events: int, **options: str) -> dict[str, pa.Table]:
    """Every source of the script, generated once and read whole: the tables DuckDB reads."""
    from tidal.engine import Database

    db = Database()
    execute(db, Script.load(name, events, retain=True, **options).sources())
    return {source: db.read(source) for source in Script.load(name).source_names()}


def duckdb_answer(name: str, tables: dict[str, pa.Table], runs: int = 1) -> tuple[pa.Table, list]:
    """queries/nexmark/duckdb/<name>.sql over ``tables``; the answer and each run's seconds."""
    connection = duckdb_connection(tables)
    for macro in DUCKDB_MACROS:
        connection.execute(macro)
    return duckdb_best_of(connection, (QUERY_DIR / "duckdb" / f"{name}.sql").read_text(), runs)


def batch_answer(name: str, events: int, **options: str) -> tuple[pa.Table, float]:
    """The query through tidal's DuckDB lowering (``batch_mode``), and the read's seconds."""
    from tidal.engine import Database

    db = Database(batch_mode=True)
    execute(db, Script.load(name, events, retain=True, **options).setup(as_view=True))
    start = time.perf_counter()
    answer = db.read(name)
    return answer, time.perf_counter() - start


def float_columns(table: pa.Table) -> tuple[str, ...]:
    return tuple(f.name for f in table.schema if pa.types.is_floating(f.type))


def compare(ours: pa.Table, theirs: pa.Table) -> str | None:
    """None if the two answers hold the same rows (floats within 1e-9 relative), else why."""
    if ours.column_names == theirs.column_names:
        theirs = theirs.select(ours.column_names)
    return same_rows(ours, theirs, float_columns(ours))
