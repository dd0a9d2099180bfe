"""The Database: the one entry point every front door uses.

    >>> db = Database()
    >>> db.execute("CREATE TABLE t (k VARCHAR, v INTEGER)")
    CREATE TABLE
    >>> _ = db.execute("CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k")
    >>> _ = db.execute("INSERT INTO t VALUES ('a', 1), ('a', 2), ('b', 5)")
    >>> db.execute("SELECT * FROM s ORDER BY k").to_pylist()
    [{'k': 'a', 'total': Decimal('3')}, {'k': 'b', 'total': Decimal('5')}]

Time advances in ticks. In a tick every source contributes at most one batch and DML contributes
its changes; every materialized view's dataflow runs once, in creation order (so a view sees
the same tick's changes of the views it reads); then sinks write. Readers see all views at the
same completed tick. A statement that fails changes nothing: if a view cannot process a tick
(say, a division by zero in its expression), the tick's changes are undone and every view is
rebuilt from its inputs.
"""

from __future__ import annotations

import dataclasses
import pathlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from tidal.catalog import Catalog, CatalogError, types
from tidal.catalog.objects import Relation, Sink, Source, Table, View
from tidal.catalog.sqlstate import WRONG_OBJECT_TYPE, TidalError
from tidal.engine import statements
from tidal.engine.batch import BatchBackend, BatchError, plain_rows
from tidal.engine.collection import Collection
from tidal.engine.connectors import ConnectorError, SinkWriter, SourceReader, open_sink, open_source
from tidal.engine.dataflow import Dataflow
from tidal.engine.expressions import EvaluationError
from tidal.engine.operators.base import change_schema
from tidal.engine.reads import Reads
from tidal.engine.stats import DatabaseStats, database_stats
from tidal.engine.subscriptions import Feeds, Subscription, subscribable
from tidal.engine.watermarks import NOW, EventTime, Watermarks
from tidal.engine.zset import WEIGHT, concat, consolidate, negate, rename_positional, with_weight
from tidal.sql import rules
from tidal.sql.binder import Binder
from tidal.sql.changes import insert_only, unique_key
from tidal.sql.ddl import EVENT_TIME_OPTIONS
from tidal.sql.errors import SqlError
from tidal.sql.eventtime import emit_as_filter
from tidal.sql.parser import parse_statement, split_statements
from tidal.sql.plan import Field, Plan
from tidal.sql.temporal import at_time

DEFAULT_BATCH_ROWS = 65_536
# A source option: whether the source keeps the rows it has read, so that they can be queried
# and a new view can start from them. Off for pure streams, whose history would not fit.
RETAIN = "retain"


@dataclass(frozen=True)
class Status:
    """The outcome of a statement that returns no rows, as a PostgreSQL command tag."""

    tag: str

    def __repr__(self) -> str:
        return self.tag

    __str__ = __repr__


class DataError(TidalError):
    """A statement failed on the data (a bad value, division by zero); nothing was changed.

    ``sqlstate`` is PostgreSQL's code for the kind of failure, read from the message.
    """

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message, sqlstate or _data_sqlstate(message))


_DATA_SQLSTATES = (
    ("division by zero", "22012"),
    ("divide by zero", "22012"),
    ("overflow", "22003"),
    ("out of range", "22003"),
    ("could not convert", "22P02"),
    ("conversion error", "22P02"),
    ("invalid input", "22P02"),
)


def _data_sqlstate(message: str) -> str:
    lowered = message.lower()
    return next((code for text, code in _DATA_SQLSTATES if text in lowered), "22000")


@dataclass
class _Base:
    """A table or source: its contents (None for a source with retain = 'false'), and for a
    source the connector reading it."""

    relation: Relation
    contents: Collection | None
    reader: SourceReader | None = None


@dataclass
class _MaterializedView:
    """A view's dataflow and its rows: read from the dataflow's state where an operator holds
    the result (aggregates, TopN, ...), else kept in ``contents``."""

    view: View
    plan: Plan
    dataflow: Dataflow | None  # None in batch mode
    contents: Collection | None
    key: list[int]

    def rows(self) -> pa.Table:
        """The view's consolidated rows (positional columns and weights)."""
        if self.contents is not None:
            return self.contents.rows()
        held = self.dataflow.output_rows()
        return held if self.key else consolidate(held)  # rows with a key are unique already


@dataclass
class _Sink:
    """A sink and its writer; a sink of a query also has the query's plan and dataflow (it keeps
    no rows of its own, only the operators' state)."""

    sink: Sink
    writer: SinkWriter
    names: list[str]
    plan: Plan | None = None
    dataflow: Dataflow | None = None
    appends: bool = False  # only ever insertions: written as they come, not consolidated


class Database:
    def __init__(
        self,
        base_dir: str | pathlib.Path | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        batch_mode: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``base_dir``: where relative connector paths resolve (default: the working directory).

        ``batch_mode``: maintain nothing; a materialized view is computed by DuckDB, from its
        plan over the current contents, whenever it is read (``tidal run --batch``).

        ``clock``: seconds since the epoch: ``now()`` in temporal filters, and how long a
        source has been idle (``watermark_idle_timeout``).
        """
        self.catalog = Catalog()
        self.binder = Binder(self.catalog)
        self.backend = BatchBackend()
        self.base_dir = pathlib.Path(base_dir or ".")
        self.batch_rows = batch_rows
        self.batch_mode = batch_mode
        self.ticks = 0
        self._bases: dict[str, _Base] = {}
        self._views: dict[str, _MaterializedView] = {}
        self._sinks: dict[str, _Sink] = {}
        self._lock = threading.RLock()
        self.source_errors: list[str] = []
        self.watermarks = Watermarks(clock)
        self.feeds = Feeds()  # subscriptions and the history they resume from
        self.reads = Reads(self)  # snapshots per tick, prepared plans, the native path
        self.read_catch_up = True  # poll the sources before reads; off while a Ticker polls
        self.backlog = False  # the last tick() left rows waiting in a source

    # --- statements ---------------------------------------------------------------------------

    def execute(self, sql: str):
        """Run one or more statements; returns the last one's result.

        A query returns a ``pyarrow.Table``; other statements return a ``Status``.
        """
        result = None
        for statement in split_statements(sql):
            try:
                result = self.execute_statement(parse_statement(statement.text))
            except SqlError as error:
                if error.line is not None:  # from the statement's line to the script's
                    error.line += statement.line - 1
                raise
        return result

    def execute_statement(self, statement: exp.Expression):
        with self._lock:
            return statements.run(self, statement)

    # --- reading ------------------------------------------------------------------------------

    def query(self, plan: Plan) -> pa.Table:
        """Run an ad hoc query plan over the current contents (after bounded inputs are read)."""
        if self.read_catch_up:
            self.catch_up()
        watermarks = self.watermarks.values()
        plan = at_time(emit_as_filter(plan, watermarks), watermarks[NOW])
        try:
            return self.reads.run(plan)
        except BatchError as error:
            raise DataError(str(error)) from None

    def contents(self, name: str) -> pa.Table:
        """The rows of a table, source or materialized view, with its column names."""
        key = name.lower()
        if key in self._views and self.batch_mode:
            return self._computed(self._views[key])
        if key in self._views:
            return plain_rows(self._views[key].rows(), _fields(self._views[key].view))
        if key not in self._bases:
            raise CatalogError(
                f"{name!r} holds no rows: only tables, sources and materialized views do",
                WRONG_OBJECT_TYPE,
            )
        state, relation = self._bases[key].contents, self._bases[key].relation
        if state is None:
            raise SqlError(
                f"source {relation.name!r} does not keep its rows (retain = 'false'): "
                "query a materialized view over it instead",
                sqlstate="55000",
            )
        return plain_rows(state.rows(), _fields(relation))

    def read(self, name: str) -> pa.Table:
        """A materialized view's (or table's) rows at the latest completed tick."""
        with self._lock:
            self.catch_up()
            return self.contents(name)

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(self, name: str, **options) -> Subscription:
        """A materialized view's (table's, source's) rows at the latest tick, then every later
        tick's changes. ``options``: snapshot, progress, as_of, buffer_rows, stall_timeout (see
        tidal.engine.subscriptions.Feeds.subscribe and docs/subscriptions.md)."""
        with self._lock:
            relation = subscribable(self.catalog.find(name), name, self.batch_mode)
            key = relation.name.lower()
            self.catch_up()
            base = self._bases.get(key)
            retained = base is None or base.contents is not None
            return self.feeds.subscribe(
                relation.name,
                relation.arrow_schema(),
                self.ticks,
                (lambda: self._changes_of(key)) if retained else None,
                **options,
            )

    def subscribers_blocked(self) -> bool:
        """Whether a subscriber's buffer is full: the ticker then leaves the sources unread."""
        with self._lock:
            return self.feeds.blocked()

    # --- catalog changes ----------------------------------------------------------------------

    def create_table(self, table: Table) -> None:
        event_time = self._event_time(table)
        self.catalog.add(table)
        self._bases[table.name.lower()] = _Base(table, Collection(change_schema(_fields(table))))
        if event_time is not None:
            self.watermarks.add(table.name, event_time)

    def _event_time(self, relation: Table | Source) -> EventTime | None:
        """The event-time bookkeeping of a relation with a watermark; creates its late table."""
        if relation.watermark is None:
            return None
        if relation.name in self.catalog:
            self.catalog.add(relation)  # raises the "already exists" error
        event_time = EventTime.of(relation)
        late_table = event_time.late_table
        if late_table is not None:
            if late_table.lower() == relation.name.lower() or late_table in self.catalog:
                raise SqlError(
                    f"late_table {late_table!r}: a relation of that name exists; name a new "
                    "table for the late rows",
                    sqlstate="42P07",
                )
            columns = tuple(dataclasses.replace(c, nullable=True) for c in relation.columns)
            self.create_table(Table(late_table, columns))
        return event_time

    def create_source(self, source: Source) -> None:
        if source.name in self.catalog:
            self.catalog.add(source)  # raises the "already exists" error
        retain = source.option(RETAIN, "true").lower()
        if retain not in ("true", "false"):
            raise SqlError(
                f"source {source.name}: option '{RETAIN}' is 'true' or 'false'", sqlstate="22023"
            )
        engine_options = (RETAIN, *EVENT_TIME_OPTIONS)
        connector_options = tuple((k, v) for k, v in source.options if k not in engine_options)
        try:
            reader = open_source(
                dataclasses.replace(source, options=connector_options), self.base_dir
            )
        except ConnectorError as error:
            raise SqlError(str(error), sqlstate="22023") from None
        event_time = self._event_time(source)
        if event_time is not None:
            self.watermarks.add(source.name, event_time)
        self.catalog.add(source)
        contents = Collection(change_schema(_fields(source))) if retain == "true" else None
        self._bases[source.name.lower()] = _Base(source, contents, reader)

    def create_view(self, view: View) -> None:
        self.catalog.add(view)

    def create_materialized_view(self, view: View, plan: Plan) -> None:
        # Rows a non-retaining source has not read yet are left for the new view to see.
        self.catch_up(retained_only=True)
        plan = rules.optimize(plan)
        materialized = self._materialize(view, plan)
        self.catalog.add(view)
        self._views[view.name.lower()] = materialized

    def _materialize(self, view: View, plan: Plan) -> _MaterializedView:
        """A view's dataflow, with its state backfilled from its inputs' current contents."""
        key = unique_key(plan)
        if self.batch_mode:
            return _MaterializedView(view, plan, None, None, key)
        dataflow = Dataflow(plan, self.backend)
        initial = {name: self._changes_of(name) for name in dataflow.relations}
        try:
            output = dataflow.step(initial, self.watermarks.values())
        except (EvaluationError, BatchError) as error:
            raise DataError(f"cannot create {view.name}: {error}") from None
        contents = None
        if dataflow.output_rows() is None:
            contents = Collection(change_schema(plan.schema))
            contents.apply(output)
        return _MaterializedView(view, plan, dataflow, contents, key)

    def _computed(self, view: _MaterializedView) -> pa.Table:
        """A materialized view's rows computed in batch from its plan (batch mode)."""
        return self.query(view.plan)

    def _changes_of(self, name: str) -> pa.Table:
        """The current contents of a relation as insertions (positional columns)."""
        if name in self._views and self.batch_mode:
            return rename_positional(with_weight(self._computed(self._views[name])))
        if name in self._views:
            return self._views[name].rows()
        contents = self._bases[name].contents
        if contents is None:  # a view over a non-retaining source starts from now
            return change_schema(_fields(self._bases[name].relation)).empty_table()
        return contents.rows()

    def create_sink(self, sink: Sink, plan: Plan | None = None) -> None:
        """A sink of a relation, or of a query (``plan``, bound from ``sink.query``)."""
        if plan is not None:
            return self._create_query_sink(sink, rules.optimize(plan))
        source = self.catalog.relation(sink.source)
        if source.name.lower() not in self._views and source.name.lower() not in self._bases:
            raise SqlError(
                f"a sink reads a table, source or materialized view; {source.name!r} is a "
                "plain view: make it MATERIALIZED"
            )
        self.catch_up(retained_only=True)
        key = self._views[source.name.lower()].key if source.name.lower() in self._views else []
        names = source.column_names()
        schema = pa.schema([pa.field(c.name, c.arrow_type) for c in source.columns])
        try:
            writer = open_sink(sink, schema, [names[k] for k in key], self.base_dir)
        except ConnectorError as error:
            raise SqlError(str(error), sqlstate="22023") from None
        self.catalog.add(sink)
        entry = _Sink(sink, writer, names)
        self._sinks[sink.name.lower()] = entry
        if not self.batch_mode:  # batch mode writes each sink's final contents at close
            self._write_sink(entry, self._changes_of(source.name.lower()))

    def _create_query_sink(self, sink: Sink, plan: Plan) -> None:
        self.catch_up(retained_only=True)
        key = unique_key(plan)
        schema = pa.schema([pa.field(f.name, types.to_arrow(f.type)) for f in plan.schema])
        try:
            writer = open_sink(sink, schema, [plan.names[k] for k in key], self.base_dir)
        except ConnectorError as error:
            raise SqlError(str(error), sqlstate="22023") from None
        entry = _Sink(sink, writer, plan.names, plan, appends=insert_only(plan))
        if not self.batch_mode:
            entry.dataflow, initial = self._sink_dataflow(plan)
            self._write_sink(entry, consolidate(initial))
        self.catalog.add(sink)
        self._sinks[sink.name.lower()] = entry

    def _sink_dataflow(self, plan: Plan) -> tuple[Dataflow, pa.Table]:
        """A sink's dataflow, backfilled from its inputs' contents, and its first output."""
        dataflow = Dataflow(plan, self.backend)
        initial = {name: self._changes_of(name) for name in dataflow.relations}
        try:
            return dataflow, dataflow.step(initial, self.watermarks.values())
        except (EvaluationError, BatchError) as error:
            raise DataError(f"cannot create the sink: {error}") from None

    def drop(self, name: str, cascade: bool) -> list[str]:
        dropped = []
        for obj in self.catalog.drop_order(name, cascade):
            key = obj.name.lower()
            base = self._bases.pop(key, None)
            if base is not None and base.reader is not None:
                base.reader.close()
            self._views.pop(key, None)
            self.feeds.end(key, f"relation {obj.name} was dropped")
            self.watermarks.remove(key)
            for event_time in self.watermarks.relations.values():
                if event_time.late_table and event_time.late_table.lower() == key:
                    event_time.late_table = None  # its late rows are only counted from now on
            sink = self._sinks.pop(key, None)
            if sink is not None:
                sink.writer.close()
            self.catalog.remove(obj.name)
            dropped.append(obj.name)
        return dropped

    # --- ticks --------------------------------------------------------------------------------

    def apply_changes(self, table: str, changes: pa.Table) -> None:
        """Apply DML changes (plain rows with ``__weight``) to a table in one tick."""
        self._tick({table.lower(): rename_positional(changes)})

    def tick(self) -> bool:
        """Poll every source once and run a tick if any had rows, or if an idle source's
        watermark moved (windows may close); True if one ran. ``backlog``: a source filled
        its batch, so more rows are waiting."""
        with self._lock:
            deltas = self._poll(drain=False)
            self.backlog = any(d.num_rows >= self.batch_rows for d in deltas.values())
            clocked = any(v.dataflow and v.dataflow.uses_clock for v in self._views.values())
            if deltas or self.watermarks.advance({}) or clocked:
                self._tick(deltas)
                return True
            return False

    def catch_up(self, retained_only: bool = False) -> None:
        """Read every bounded input to its end (files present now, finite datagen), and what
        unbounded sources have produced by now."""
        with self._lock:
            while True:
                deltas = self._poll(drain=True, bounded_only=True, retained_only=retained_only)
                if not deltas:
                    break
                self._tick(deltas)
            deltas = self._poll(drain=False, retained_only=retained_only)
            if deltas:
                self._tick(deltas)

    def _poll(
        self, drain: bool, bounded_only: bool = False, retained_only: bool = False
    ) -> dict[str, pa.Table]:
        deltas = {}
        for name, base in self._bases.items():
            reader = base.reader
            if (
                reader is None
                or (bounded_only and not reader.bounded)
                or (retained_only and base.contents is None)
            ):
                continue
            try:
                batch = reader.poll(self.batch_rows, drain=drain)
            except ConnectorError as error:
                # A source that cannot be read (a missing file) must not stop the others or
                # every query: report it, and try again at the next poll.
                self._report(str(error))
                continue
            self._collect_reader_errors(base)
            if batch is not None and batch.num_rows:
                deltas[name] = rename_positional(with_weight(batch))
        return deltas

    def _collect_reader_errors(self, base: _Base) -> None:
        errors = getattr(base.reader, "errors", None)
        if errors:
            for error in errors:
                self._report(f"source {base.relation.name}: {error}")
            errors.clear()

    def _report(self, message: str) -> None:
        if message not in self.source_errors:  # the same failure at every poll is said once
            self.source_errors.append(message)

    def take_source_errors(self) -> list[str]:
        """Problems sources met since the last call (bad lines skipped, unreadable files)."""
        with self._lock:
            errors, self.source_errors = self.source_errors, []
            return errors

    def _tick(self, base_deltas: dict[str, pa.Table]) -> None:
        watermarks_before = self.watermarks.snapshot()
        base_deltas = self._without_late_rows(base_deltas)
        self.watermarks.advance(base_deltas)
        watermarks = self.watermarks.values()
        deltas = dict(base_deltas)
        for name, delta in base_deltas.items():
            if self._bases[name].contents is not None:
                self._bases[name].contents.apply(delta)
        try:
            for name, view in self._views.items():
                if view.dataflow is None:
                    continue
                # Not consolidated here: operators and contents take raw changes, and
                # consolidating every view's output every tick is the costliest step there is.
                output = view.dataflow.step(deltas, watermarks)
                if view.contents is not None:
                    view.contents.apply(output)
                deltas[name] = output
            changes = {
                name: sink.dataflow.step(deltas, watermarks) if sink.dataflow else None
                for name, sink in self._sinks.items()
            }
        except Exception as error:
            # Undo the tick at the tables and rebuild the views, whatever went wrong.
            for name, delta in base_deltas.items():
                if self._bases[name].contents is not None:
                    self._bases[name].contents.apply(negate(delta))
            self.watermarks.restore(watermarks_before)
            self._rebuild_views()
            if not isinstance(error, (EvaluationError, BatchError, ArithmeticError)):
                raise
            raise DataError(
                f"a view could not process the change, so it was not applied: {error}"
            ) from None
        for name, sink in self._sinks.items():
            change = changes[name] if sink.dataflow else deltas.get(sink.sink.source.lower())
            if change is not None and change.num_rows:
                self._write_sink(sink, change if sink.appends else consolidate(change))
        self.reads.refresh(self.ticks + 1)
        self.ticks += 1
        self.feeds.publish(self.ticks, deltas)

    def _without_late_rows(self, deltas: dict[str, pa.Table]) -> dict[str, pa.Table]:
        """The tick's changes with late rows taken out (and put in late tables, if named)."""
        on_time: dict[str, pa.Table] = {}
        for name, delta in deltas.items():
            kept, late = self.watermarks.split_late(name, delta)
            on_time[name] = kept
            late_table = self.watermarks.relations[name].late_table if late is not None else None
            if late_table is not None and late_table.lower() in self._bases:
                key = late_table.lower()
                on_time[key] = concat([on_time[key], late]) if key in on_time else late
        return on_time

    def _rebuild_views(self) -> None:
        """Every materialized view afresh from its inputs' contents (after an undone tick)."""
        for name, view in list(self._views.items()):
            self._views[name] = self._materialize(view.view, view.plan)
        for sink in self._sinks.values():
            if sink.dataflow is not None:  # its output up to now is written already
                sink.dataflow, _ = self._sink_dataflow(sink.plan)

    def _write_sink(self, sink: _Sink, change: pa.Table) -> None:
        if change.num_rows:
            names = sink.names + [WEIGHT]
            sink.writer.write(change.rename_columns(names), self.ticks)

    # --- introspection ------------------------------------------------------------------------

    def view_plan(self, name: str) -> Plan:
        return self._views[name.lower()].plan

    def state_rows(self, name: str) -> int:
        return self._views[name.lower()].dataflow.state_rows()

    def stats(self, held_bytes: bool = False, state_bytes: bool = False) -> DatabaseStats:
        with self._lock:  # what each relation holds, how far it got: see tidal.engine.stats
            relations = self._bases, self._views, self._sinks, self.watermarks.relations
            return database_stats(self.ticks, *relations, held_bytes, state_bytes)

    def close(self) -> None:
        with self._lock:
            if self.batch_mode:
                for sink in self._sinks.values():
                    rows = (
                        rename_positional(with_weight(self.query(sink.plan)))
                        if sink.plan is not None
                        else self._changes_of(sink.sink.source.lower())
                    )
                    self._write_sink(sink, rows)
            for base in self._bases.values():
                if base.reader is not None:
                    base.reader.close()
            for sink in self._sinks.values():
                sink.writer.close()
            self.feeds.end_all("the database was closed")


def _fields(relation: Relation) -> tuple[Field, ...]:
    return tuple(Field(c.name, c.type) for c in relation.columns)


__all__ = ["DataError", "Database", "Status"]
