"""Running statements: one handler per statement node, over the engine's parts.

``Statements.run`` takes a parsed statement; the compiler (tidal.sql.compiler) turns queries,
view definitions and DML into plans, the relation registry (tidal.engine.relations) creates and
drops what runs, the tick loop (tidal.engine.ticks) applies changes, and reads
(tidal.engine.reads) answer queries. SHOW, DESCRIBE and EXPLAIN are answered by
tidal.engine.introspection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.catalog import CatalogError
from tidal.catalog.objects import Function, Sink, Table, View
from tidal.catalog.sqlstate import (
    DEPENDENT_OBJECTS_STILL_EXIST,
    DUPLICATE_TABLE,
    INVALID_SCHEMA_NAME,
    IO_ERROR,
    NOT_NULL_VIOLATION,
    UNDEFINED_FUNCTION,
    WRONG_OBJECT_TYPE,
)
from tidal.catalog.types import normalize
from tidal.engine.arguments import Arguments
from tidal.engine.copy_from import read_rows
from tidal.engine.dml_targets import Autocommit, Target
from tidal.engine.introspection import describe, explain, show
from tidal.engine.primary_keys import check_keys, key_names, resolve_insert
from tidal.engine.reads import PendingRead, Reads
from tidal.engine.relations import Relations
from tidal.engine.schema_changes import SchemaChanges
from tidal.engine.subscriptions import Feeds, Subscription, subscribable
from tidal.engine.ticks import TickLoop
from tidal.engine.zset import WEIGHT
from tidal.sql import ddl
from tidal.sql.compiler import Compiler
from tidal.sql.cursor_statements import CopyFrom
from tidal.sql.dialect import EmitOnWindowClose, Explain, Tidal
from tidal.sql.dml import CONFLICTS, Change, table_conflict
from tidal.sql.errors import SqlError, undefined_table, unsupported
from tidal.sql.known_settings import checked
from tidal.sql.parser import parse_statement
from tidal.sql.python_functions import python_aggregate
from tidal.sql.roles import apply_role, parse_role, role_of
from tidal.sql.session_statements import Checkpoint, ResetSetting, SetSetting
from tidal.sql.subscribe import Subscribe


@dataclasses.dataclass(frozen=True)
class Status:
    """The outcome of a statement that returns no rows, as a PostgreSQL command tag, with
    ``notices`` for the user (the lines a COPY left out)."""

    tag: str
    notices: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return self.tag

    __str__ = __repr__


Result = pa.Table | Status | Subscription


class Statements:
    def __init__(
        self,
        compiler: Compiler,
        relations: Relations,
        ticks: TickLoop,
        reads: Reads,
        feeds: Feeds,
    ) -> None:
        self.compiler = compiler
        self.catalog = compiler.catalog
        self.relations = relations
        self.ticks = ticks
        self.reads = reads
        self.feeds = feeds
        self.autocommit = Autocommit(reads, relations, ticks)
        self.schema_changes = SchemaChanges(compiler, relations, feeds, self._select)
        self._handlers: dict[type, Callable[[exp.Expression], object]] = {
            **dict.fromkeys(
                (exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.Values),
                self._query,
            ),
            EmitOnWindowClose: self._query,
            exp.Create: self._create,
            exp.Insert: self._change,
            exp.Delete: self._change,
            exp.Update: self._change,
            exp.Drop: self._drop,
            exp.Alter: lambda statement: self.schema_changes.alter(statement),
            CopyFrom: self.copy_file,
            exp.Show: lambda statement: show(statement, self.catalog, self.relations),
            exp.Describe: lambda statement: describe(statement, self.compiler),
            Explain: lambda statement: explain(statement, self.compiler, self.relations),
            Subscribe: self._subscribe,
            exp.Command: self._command,
            SetSetting: self._set,
            ResetSetting: self._reset,
            Checkpoint: lambda _: self.checkpoint() or "CHECKPOINT",
        }
        # With a data directory (tidal.engine.durability): called after each statement that
        # changed the catalog, with its text (None for roles, kept as users), and by CHECKPOINT.
        self.catalog_changed: Callable[[str | None], None] | None = None
        self.checkpoint: Callable[[], None] = lambda: None

    def run(self, statement: exp.Expression) -> Result:
        """Run one parsed statement: a query's rows, a Subscription, or a Status."""
        handler = self._handlers.get(type(statement))
        if handler is None and isinstance(
            statement, (exp.Condition, exp.Alias, exp.Paren, exp.Tuple)
        ):
            # e.g. "SELEC x" parses as the expression "SELEC AS x": not a statement at all
            first = statement.sql(dialect=Tidal).split()[0] if statement.sql() else ""
            raise SqlError(f"syntax error at or near {first!r}: not a statement", line=1, column=1)
        if handler is None:
            raise unsupported(f"statement {statement.sql(dialect=Tidal)[:60]!r}")
        with self.ticks.exclusive():
            result = handler(statement)
            if self.catalog_changed is not None and isinstance(statement, _CATALOG_STATEMENTS):
                self.catalog_changed(self._catalog_text(statement))
        if isinstance(result, PendingRead):
            return result()  # off the lock: a long query holds up nothing else
        return Status(result) if isinstance(result, str) else result

    @staticmethod
    def _catalog_text(statement: exp.Expression) -> str | None:
        """The DDL as written, to re-run at recovery; None for a role (the catalog keeps its
        verifier, never the password in the statement)."""
        if role_of(statement) is not None:
            return None
        return statement.meta.get("sql") or statement.sql(dialect=Tidal)

    def subscribe(self, name: str, **options) -> Subscription:
        """A relation's rows at the latest tick, then every later tick's changes (see
        tidal.engine.subscriptions.Feeds.subscribe)."""
        with self.ticks.exclusive():
            relation = subscribable(self.catalog.find(name), name, self.relations.batch_mode)
            key = relation.name.lower()
            self.ticks.catch_up()
            return self.feeds.subscribe(
                relation.name,
                relation.arrow_schema(),
                self.ticks.ticks,
                (lambda: self.relations.changes_of(key)) if self.relations.retained(key) else None,
                **options,
            )

    # --- queries ----------------------------------------------------------------------------------

    def _query(self, statement: exp.Expression) -> PendingRead:
        return self.reads.read(self.compiler.query(statement).plan)

    def _select(self, sql: str) -> pa.Table:
        """The rows of a query tidal runs for itself (hold the lock)."""
        return self.reads.query(self.compiler.query(parse_statement(sql)).plan)

    def _subscribe(self, statement: Subscribe) -> Subscription:
        return self.subscribe(
            statement.name,
            snapshot=statement.snapshot,
            progress=statement.progress,
            as_of=statement.as_of,
        )

    # --- CREATE -----------------------------------------------------------------------------------

    def _create(self, create: exp.Create) -> str:
        kind = (create.args.get("kind") or "").upper()
        target = (
            create.this.this
            if isinstance(create.this, (exp.Schema, exp.UserDefinedFunction))
            else create.this
        )
        name = target.name
        schema = target.args.get("db") if isinstance(target, exp.Table) else None
        if schema is not None and schema.name.lower() not in ("public", "tidal"):
            raise SqlError(
                f"schema {schema.name!r} does not exist; tidal has one schema, public",
                sqlstate=INVALID_SCHEMA_NAME,
            )
        if create.args.get("exists") and name in self.catalog:
            return f"CREATE {kind}"
        existing = self.catalog.find(name)
        if create.args.get("replace"):
            if kind != "VIEW":
                raise unsupported(f"CREATE OR REPLACE {kind}: DROP it and create it again")
            if existing is not None:
                materialized = create.find(exp.MaterializedProperty) is not None
                if not isinstance(existing, View):
                    raise SqlError(
                        f"{existing.name!r} is a {existing.kind}, not a view",
                        sqlstate=WRONG_OBJECT_TYPE,
                    )
                return self.schema_changes.replace_view(create, existing, materialized)
        if existing is not None:
            raise SqlError(
                f"{existing.kind} {existing.name!r} already exists: choose another name or "
                "DROP it first",
                sqlstate=DUPLICATE_TABLE,
            )
        if kind == "TABLE":
            if create.expression is not None:
                raise unsupported(
                    "CREATE TABLE ... AS SELECT: create the table, then INSERT INTO ... SELECT"
                )
            self.relations.create_table(ddl.table(create))
        elif kind == "SOURCE":
            self.relations.create_source(ddl.source(create))
        elif kind == "SINK":
            self._create_sink(ddl.sink(create))
        elif kind == "FUNCTION":
            function = self.compiler.function(create)
            if function.language == "python":
                self.relations.create_python_function(function)
            else:
                self.catalog.add(function)
        elif kind == "VIEW":
            materialized = create.find(exp.MaterializedProperty) is not None
            view, plan = self.compiler.view(create, name, materialized)
            self._refuse_unkept_functions(view.name, view.inputs)
            if not materialized:
                self.catalog.add(view)
                return "CREATE VIEW"
            # Rows a non-retaining source has not read yet are left for the new view to see.
            self.ticks.catch_up(retained_only=True)
            self.relations.create_materialized_view(view, plan, self.ticks.ticks)
            self.ticks.check_new_state(
                "materialized view", view.name, lambda: self.relations.drop(view.name, False)
            )
            return "CREATE MATERIALIZED VIEW"
        else:
            raise unsupported(f"CREATE {kind}")
        return f"CREATE {kind}"

    def _refuse_unkept_functions(self, name: str, uses: tuple[str, ...]) -> None:
        """With a data directory, what a view or sink calls must be in its catalog: a function
        registered from Python is not (its callable is the program's), so the directory would
        not open again."""
        if self.catalog_changed is None:
            return
        for used in uses:
            function = self.catalog.find(used)
            if (
                isinstance(function, Function)
                and function.language == "python"
                and not function.body
            ):
                raise unsupported(
                    f"{name} calling {function.name}, a function registered from Python, in a "
                    "database with a data directory: it would not open again; create the "
                    "function with CREATE FUNCTION ... LANGUAGE python, whose text the catalog keeps"
                )

    def _create_sink(self, sink: Sink) -> None:
        relation = self.catalog.find(sink.source) if sink.source else None
        if isinstance(relation, View) and not relation.materialized:  # a plain view: its query
            sink = dataclasses.replace(sink, query=relation.definition)
        if sink.query:
            compiled = self.compiler.query(parse_statement(sink.query), ad_hoc=False)
            inputs = set(compiled.referenced) | ({relation.name} if relation else set())
            self.catalog.refuse_maintaining(inputs, f"sink {sink.name!r}")
            sink = dataclasses.replace(sink, source="", inputs=tuple(sorted(inputs)))
            self._refuse_unkept_functions(sink.name, sink.inputs)
            self.ticks.catch_up(retained_only=True)
            return self.relations.create_query_sink(sink, compiled.plan, self.ticks.ticks)
        try:
            self.catalog.relation(sink.source)
        except CatalogError as error:
            raise undefined_table(str(error)) from None
        self.catalog.refuse_maintaining([sink.source], f"sink {sink.name!r}")
        self.ticks.catch_up(retained_only=True)
        self.relations.create_sink(sink, self.ticks.ticks)

    # --- DML --------------------------------------------------------------------------------------

    def _change(self, statement: exp.Insert | exp.Update | exp.Delete) -> str:
        return self.apply_change(self.compiler.change(statement))

    def apply_change(
        self, change: Change, arguments: Arguments = (), target: Target | None = None
    ) -> str:
        """Compute the rows ``change`` changes (with its parameters' values ``arguments``) and
        apply them in one tick, or add them to ``target``, a transaction; returns the command
        tag. Hold the lock (``exclusive``)."""
        target = target or self.autocommit
        return self.apply_rows(change, target.query(change.plan, arguments), arguments, target)

    def apply_rows(
        self,
        change: Change,
        rows: pa.Table,
        arguments: Arguments = (),
        target: Target | None = None,
    ) -> str:
        """Apply ``rows``, the result of ``change``'s plan, in one tick (see apply_change)."""
        target = target or self.autocommit
        table = change.table
        count = rows.num_rows
        if change.kind == "UPDATE":
            width = len(table.columns)
            deletions = _plain(table, rows.select(list(range(width))))
            insertions = _plain(table, rows.select(list(range(width, 2 * width))))
            _check_not_null(table, insertions)
            if table.primary_key:
                self._check_updated_keys(table, deletions, insertions, target)
        elif change.kind == "INSERT":
            insertions = _plain(table, rows)
            deletions = insertions.schema.empty_table()
            _check_not_null(table, insertions)
            if change.conflict is not None:
                deletions, insertions, count = self._resolve(change, insertions, arguments, target)
        else:
            deletions = _plain(table, rows)
            insertions = deletions.schema.empty_table()
        changes = pa.concat_tables([_weighted(deletions, -1), _weighted(insertions, 1)])
        # An UPDATE is a tick, rows or not; a transaction notes each table a statement read
        # to change, for COMMIT to check.
        if changes.num_rows or change.kind == "UPDATE" or target is not self.autocommit:
            target.apply(table, changes)
        return f"INSERT 0 {count}" if change.kind == "INSERT" else f"{change.kind} {count}"

    def _resolve(
        self, change: Change, rows: pa.Table, arguments: Arguments, target: Target
    ) -> tuple[pa.Table, pa.Table, int]:
        """An INSERT into a keyed table: its conflicts resolved, its key checked (rows out, rows
        in, and the rows the tag counts)."""
        table, conflict = change.table, change.conflict

        def lookup(keys: pa.Table) -> pa.Table:
            return target.rows_with_keys(table, keys)

        def run_update(conflicts: pa.Table) -> pa.Table:
            return self.relations.backend.run(conflict.update, {CONFLICTS: conflicts}, arguments)

        resolved = resolve_insert(table, rows, conflict, lookup, run_update)
        _check_not_null(table, resolved.insertions)
        if resolved.unchecked:
            check_keys(table, resolved.deletions, resolved.insertions, lookup)
        return resolved.deletions, resolved.insertions, resolved.count

    def _check_updated_keys(
        self, table: Table, old: pa.Table, new: pa.Table, target: Target
    ) -> None:
        """An UPDATE that changes keys keeps them unique (rows whose key stays are fine)."""
        moved = None
        for name in key_names(table):
            differs = pc.fill_null(pc.not_equal(old.column(name), new.column(name)), True)
            moved = differs if moved is None else pc.or_(moved, differs)
        if pc.any(moved).as_py():
            check_keys(
                table,
                old.filter(moved),
                new.filter(moved),
                lambda keys: target.rows_with_keys(table, keys),
            )

    # --- COPY FROM (tidal.engine.copy_from) --------------------------------------------------------

    def copy_file(self, node: CopyFrom, target: Target | None = None) -> Status:
        """COPY ... FROM 'file' (relative to the base directory); see copy_rows."""
        if node.args.get("file") is None:
            raise unsupported(
                "COPY ... FROM STDIN here: the rows come from a pgwire client (psql's \\copy); "
                "write COPY ... FROM 'file'"
            )
        path = self.relations.base_dir / node.text("file")
        try:
            data = path.read_bytes()
        except OSError as error:
            raise SqlError(
                f"could not read file {node.text('file')!r} for COPY: {error.strerror}",
                sqlstate=IO_ERROR,
            ) from None
        return self.copy_rows(node, data, node.text("file"), target)

    def copy_rows(
        self, node: CopyFrom, data: bytes, where: str, target: Target | None = None
    ) -> Status:
        """COPY's ``data`` (text or CSV, from ``where``) into its table in one tick; the lines
        that do not parse or fit are left out and listed in the Status's notices. Hold the
        lock (``exclusive``). ``target``: a transaction to add the rows to."""
        table = self.copy_target(node)
        rows, skipped = read_rows(data, table, node, where)
        columns = []
        for column in table.columns:
            if column.name in rows.column_names:
                columns.append(rows.column(column.name))
            else:
                columns.append(self._default_values(column, rows.num_rows))
        full = pa.Table.from_arrays(columns, schema=table.arrow_schema())
        change = Change(table, "INSERT", None, table_conflict(table))
        tag = self.apply_rows(change, full, (), target)
        notices = tuple(f"line left out: {line}" for line in skipped)
        return Status(f"COPY {tag.split()[-1]}", notices)

    def copy_target(self, node: CopyFrom) -> Table:
        """The table a COPY FROM fills (42P01, 42809 if there is none)."""
        table = self.catalog.find(node.this.name)
        if table is None:
            raise undefined_table(f"relation {node.this.name!r} does not exist")
        if not isinstance(table, Table):
            raise SqlError(
                f"cannot copy to {table.kind} {table.name!r}: COPY FROM fills a table",
                sqlstate=WRONG_OBJECT_TYPE,
            )
        if table.connector is not None:
            raise SqlError(
                f"cannot copy to {table.name!r}: it is fed by connector '{table.connector}'",
                sqlstate=WRONG_OBJECT_TYPE,
            )
        return table

    def _default_values(self, column, count: int) -> pa.Array:
        if column.default is None:
            return pa.nulls(count, column.arrow_type)
        value = self._select(f"SELECT CAST({column.default} AS {column.type})")
        return pa.array([value.column(0)[0].as_py()] * count, column.arrow_type)

    # --- settings (tidal.sql.known_settings) -------------------------------------------------------

    def _set(self, statement: SetSetting) -> str:
        checked(statement.name, statement.value)
        return "SET"

    def _reset(self, statement: ResetSetting) -> str:
        if statement.this is not None:
            checked(statement.name, None)
        return "RESET"

    # --- DROP and users ---------------------------------------------------------------------------

    def _drop(self, drop: exp.Drop) -> str:
        kind = (drop.args.get("kind") or "").upper()
        if kind == "VIEW" and drop.args.get("materialized"):
            kind = "MATERIALIZED VIEW"
        if kind not in _DROP_KINDS:
            raise unsupported(f"DROP {kind}")
        # DROP FUNCTION f(INTEGER): the name is in tables, the argument types in expressions
        names = drop.args.get("tables") or drop.expressions or []
        for table in names:
            obj = self.catalog.find(table.name)
            if self.catalog.is_system(table.name):
                raise SqlError(
                    f"cannot drop {table.name!r}: it is a system relation of tidal (read-only)",
                    sqlstate=WRONG_OBJECT_TYPE,
                )
            if obj is None:
                if drop.args.get("exists"):
                    continue
                message = f"{kind.lower()} {table.name!r} does not exist"
                if kind == "FUNCTION":
                    raise SqlError(message, sqlstate=UNDEFINED_FUNCTION)
                raise undefined_table(message)
            if kind == "FUNCTION" and obj.kind == "function" and names is not drop.expressions:
                _check_signature(obj, drop.expressions)
            if obj.kind != _DROP_KINDS[kind]:
                raise SqlError(
                    f"{table.name!r} is a {obj.kind}, not a {kind.lower()}: use DROP "
                    f"{obj.kind.upper()}",
                    sqlstate=WRONG_OBJECT_TYPE,
                )
            try:
                dropped = self.relations.drop(table.name, bool(drop.args.get("cascade")))
            except CatalogError as error:
                raise SqlError(str(error), sqlstate=DEPENDENT_OBJECTS_STILL_EXIST) from None
            for name in dropped:
                self.feeds.end(name.lower(), f"relation {name} was dropped")
        return f"DROP {kind}"

    def _command(self, command: exp.Command) -> str:
        """Statements sqlglot keeps as raw commands; tidal runs CREATE/ALTER/DROP USER (or
        ROLE)."""
        rest = command.expression
        rest = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
        if command.this.upper() == "ALTER":
            renamed = self.schema_changes.alter_command(rest)
            if renamed is not None:
                return renamed
        words = rest.split(None, 1)
        if words and words[0].upper() == "AGGREGATE":
            if command.this.upper() == "CREATE":
                self.relations.create_python_function(python_aggregate(command))
                return "CREATE AGGREGATE"
            if command.this.upper() == "DROP":
                self._drop(parse_statement(f"DROP FUNCTION {words[1] if len(words) > 1 else ''}"))
                return "DROP AGGREGATE"
        role = parse_role(command.this, rest)
        if role is None:
            raise unsupported(f"statement {command.sql(dialect=Tidal)[:60]!r}")
        apply_role(role, self.catalog.users)
        return f"{role.verb} ROLE"


_CATALOG_STATEMENTS = (exp.Create, exp.Drop, exp.Alter, exp.Command)

_DROP_KINDS = {
    "TABLE": "table",
    "SOURCE": "source",
    "SINK": "sink",
    "VIEW": "view",
    "MATERIALIZED VIEW": "materialized view",
    "FUNCTION": "function",
}


def _check_signature(function, types: list[exp.DataType]) -> None:
    """``DROP FUNCTION f(types)`` names the function's own parameter types (PostgreSQL: the
    types pick one of several functions of the name; tidal has one per name)."""
    given = [normalize(t.sql(Tidal)) for t in types]
    taken = [p.type for p in function.parameters]
    if types and given != taken:
        raise SqlError(
            f"function {function.name}({', '.join(given)}) does not exist; "
            f"{function.name} takes ({', '.join(taken)})",
            sqlstate=UNDEFINED_FUNCTION,
        )


def _check_not_null(target: Table, rows: pa.Table) -> None:
    for column, values in zip(target.columns, rows.columns):
        if not column.nullable and values.null_count:
            raise SqlError(
                f"null value in column {column.name!r} of table {target.name!r} violates "
                "its NOT NULL constraint",
                sqlstate=NOT_NULL_VIOLATION,
            )


def _plain(table: Table, rows: pa.Table) -> pa.Table:
    """``rows`` (the table's columns, any names) with the table's column names and types."""
    schema = table.arrow_schema()
    columns = [rows.column(i).cast(f.type) for i, f in enumerate(schema)]
    return pa.Table.from_arrays(columns, schema=schema)


def _weighted(rows: pa.Table, weight: int) -> pa.Table:
    """A table's rows as changes with ``weight``."""
    return rows.append_column(WEIGHT, pa.array(np.full(rows.num_rows, weight, dtype=np.int64)))
