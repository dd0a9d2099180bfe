"""The relation registry: what the engine keeps for each table, source, materialized view and sink.

A table or source is a ``Base``: its contents (None for a source with ``retain = 'false'``) and
for a source the connector reading it. A materialized view is its dataflow, whose operators hold
its rows where one holds the whole result (aggregates, TopN, ...), else a ``Collection`` of them.
A sink is its writer, and for a sink of a query that query's dataflow. The catalog says what
exists; the registry holds what runs. It has no lock of its own: the tick loop
(tidal.engine.ticks) serializes every change to it, and reads go through snapshots
(tidal.engine.reads).
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog import Catalog, CatalogError, types
from tidal.catalog.objects import Function, Relation, Sink, Source, Table, View
from tidal.catalog.sqlstate import (
    DUPLICATE_TABLE,
    INVALID_PARAMETER_VALUE,
    INVALID_TABLE_DEFINITION,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    WRONG_OBJECT_TYPE,
)
from tidal.engine.batch import BatchBackend, BatchError, plain_rows
from tidal.engine.collection import Collection
from tidal.engine.connectors import (
    PUSHED_CONNECTORS,
    UPSERT,
    ConnectorError,
    SinkWriter,
    SourceReader,
    open_sink,
    open_source,
)
from tidal.engine.dataflow import Dataflow
from tidal.engine.errors import DataError
from tidal.engine.expressions import EvaluationError
from tidal.engine.operators.base import change_schema
from tidal.engine.primary_keys import rows_with_keys
from tidal.engine.udf import dead_letters, registry
from tidal.engine.upserts import upsert_changes
from tidal.engine.watermarks import EventTime, Watermarks
from tidal.engine.zset import WEIGHT, concat, consolidate, negate, rename_positional, with_weight
from tidal.sql.changes import insert_only, unique_key
from tidal.sql.ddl import EVENT_TIME_OPTIONS
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.plan import Field, Plan
from tidal.sql.python_functions import DEAD_LETTER_TABLE

# A source option: whether the source keeps the rows it has read, so that they can be queried
# and a new view can start from them. Off for pure streams, whose history would not fit.
RETAIN = "retain"

log = logging.getLogger(__name__)


@dataclass
class Base:
    """A table or source: its contents (None for a source with retain = 'false'), and for a
    source the connector reading it."""

    relation: Relation
    contents: Collection | None
    reader: SourceReader | None = None


@dataclass
class MaterializedView:
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
class SinkEntry:
    """A sink and its writer; a sink of a query also has the query's plan and dataflow (it keeps
    no rows of its own, only the operators' state)."""

    sink: Sink
    writer: SinkWriter
    names: list[str]
    plan: Plan | None = None
    dataflow: Dataflow | None = None
    appends: bool = False  # only ever insertions: written as they come, not consolidated
    rows_written: int = 0  # change rows handed to the writer (tidal_sinks, /metrics)
    last_tick: int = 0  # the last tick that had changes for it

    def write(self, change: pa.Table, tick: int) -> None:
        if change.num_rows:
            self.writer.write(change.rename_columns([*self.names, WEIGHT]), tick)
            self.rows_written += change.num_rows
            self.last_tick = tick


class Relations:
    """Tables, sources, materialized views and sinks by lower-cased name.

    ``compute`` runs a plan over the current contents: in batch mode a materialized view keeps
    nothing and is computed by it whenever it is read.
    """

    def __init__(
        self,
        catalog: Catalog,
        backend: BatchBackend,
        watermarks: Watermarks,
        base_dir: pathlib.Path,
        batch_mode: bool,
        compute: Callable[[Plan], pa.Table],
    ) -> None:
        self.catalog = catalog
        self.backend = backend
        self.watermarks = watermarks
        self.base_dir = base_dir
        self.batch_mode = batch_mode
        self.compute = compute
        self.bases: dict[str, Base] = {}
        self.views: dict[str, MaterializedView] = {}
        self.sinks: dict[str, SinkEntry] = {}
        self.recovering = False  # recovery re-runs DDL: connectors are not checked outside
        # Called with a table whose rows a connector pushes in (PUSHED_CONNECTORS: a webhook)
        # before it is created: checks its options and gets ready to receive its rows (the
        # Database starts its webhook listener); raising refuses the table.
        self.accept_pushed: Callable[[Table], None] = lambda table: None
        # the tick's dead letters put in their tables, for undo
        self._dead_letters_applied: list[tuple[str, pa.Table]] = []

    # --- reading --------------------------------------------------------------------------------

    def contents(self, name: str) -> pa.Table:
        """The rows of a table, source or materialized view, with its column names."""
        key = name.lower()
        if key in self.views and self.batch_mode:
            return self.compute(self.views[key].plan)
        if key in self.views:
            return plain_rows(self.views[key].rows(), fields(self.views[key].view))
        if key not in self.bases:
            raise CatalogError(
                f"{name!r} holds no rows: only tables, sources and materialized views do",
                WRONG_OBJECT_TYPE,
            )
        state, relation = self.bases[key].contents, self.bases[key].relation
        if state is None:
            raise SqlError(
                f"source {relation.name!r} does not keep its rows (retain = 'false'): "
                "query a materialized view over it instead",
                sqlstate=OBJECT_NOT_IN_PREREQUISITE_STATE,
            )
        return plain_rows(state.rows(), fields(relation))

    def rows_with_keys(self, table: Table, keys: pa.Table) -> pa.Table:
        """The rows of a keyed table whose primary key is a row of ``keys`` (the key's
        columns), with the table's column names: one pass over its contents, no
        consolidation of them."""
        contents = self.bases[table.name.lower()].contents
        found = rows_with_keys(contents.changes(), table.key_positions(), keys)
        return plain_rows(found, fields(table))

    def changes_of(self, name: str) -> pa.Table:
        """The current contents of a relation as insertions (positional columns)."""
        if name in self.views and self.batch_mode:
            return rename_positional(with_weight(self.compute(self.views[name].plan)))
        if name in self.views:
            return self.views[name].rows()
        contents = self.bases[name].contents
        if contents is None:  # a view over a non-retaining source starts from now
            return change_schema(fields(self.bases[name].relation)).empty_table()
        return contents.rows()

    def retained(self, name: str) -> bool:
        """Whether a relation's rows can be read (all but sources with retain = 'false')."""
        base = self.bases.get(name.lower())
        return base is None or base.contents is not None

    def polled_changes(self, name: str, batch: pa.Table) -> pa.Table:
        """A reader's polled rows as the weighted changes they make to its relation: APPEND
        rows are inserted, UPSERT rows applied by key (tidal.engine.upserts); an upsert whose
        key has a NULL is left out, and said in the reader's errors."""
        base = self.bases[name]
        if base.reader.changes != UPSERT:
            return rename_positional(with_weight(batch))
        key = base.relation.key_positions()
        return upsert_changes(batch, key, base.contents, base.reader.errors)

    def staging(self) -> bool:
        """Whether a sink publishes only durable ticks (tidal.engine.connectors.base)."""
        return any(sink.writer.stages for sink in self.sinks.values())

    def uses_clock(self) -> bool:
        """Whether some view changes as time passes (a temporal filter)."""
        return any(v.dataflow and v.dataflow.uses_clock for v in self.views.values())

    # --- tables and sources ---------------------------------------------------------------------

    def create_table(self, table: Table) -> None:
        """A table; with a connector (other than a webhook, which POSTs its rows as DML), the
        reader that feeds it."""
        reader = None
        if table.connector is not None and table.connector.lower() not in PUSHED_CONNECTORS:
            if table.name in self.catalog:
                self.catalog.add(table)  # raises the "already exists" error
            reader = self._reader(table)
            if reader.changes == UPSERT and not table.primary_key:
                reader.close()
                raise SqlError(
                    f"table {table.name}: connector '{table.connector}' upserts and deletes "
                    "rows by key: declare a PRIMARY KEY",
                    sqlstate=INVALID_TABLE_DEFINITION,
                )
            self._validate(reader)
        elif table.connector is not None:
            self.accept_pushed(table)
        event_time = self._event_time(table)
        self.catalog.add(table)
        contents = Collection(change_schema(fields(table)))
        self.bases[table.name.lower()] = Base(table, contents, reader)
        if event_time is not None:
            self.watermarks.add(table.name, event_time)
        self._created(table)

    def create_source(self, source: Source) -> None:
        if source.name in self.catalog:
            self.catalog.add(source)  # raises the "already exists" error
        retain = source.option(RETAIN, "true").lower()
        if retain not in ("true", "false"):
            raise SqlError(
                f"source {source.name}: option '{RETAIN}' is 'true' or 'false'",
                sqlstate=INVALID_PARAMETER_VALUE,
            )
        reader = self._reader(source)
        self._validate(reader)
        event_time = self._event_time(source)
        if event_time is not None:
            event_time.bound = getattr(reader, "event_time_bound", None)  # a Kafka source's
            self.watermarks.add(source.name, event_time)
        self.catalog.add(source)
        contents = Collection(change_schema(fields(source))) if retain == "true" else None
        self.bases[source.name.lower()] = Base(source, contents, reader)
        self._created(source)

    def _reader(self, relation: Table | Source) -> SourceReader:
        """The connector reading ``relation``, given only the connector's own options."""
        engine_options = (RETAIN, *EVENT_TIME_OPTIONS)
        connector_options = tuple((k, v) for k, v in relation.options if k not in engine_options)
        try:
            return open_source(
                dataclasses.replace(relation, options=connector_options), self.base_dir
            )
        except ConnectorError as error:
            raise SqlError(str(error), sqlstate=INVALID_PARAMETER_VALUE) from None

    def _validate(self, connector: SourceReader | SinkWriter) -> None:
        if self.recovering:
            return
        try:
            connector.validate()
        except ConnectorError as error:
            connector.close()
            raise SqlError(str(error), sqlstate=INVALID_PARAMETER_VALUE) from None

    def reshape_table(self, table: Table, rows: pa.Table) -> Base:
        """Give ``table`` (its new columns) the contents ``rows`` (positional columns and
        weights); returns what it had, for ``put_back``."""
        key = table.name.lower()
        old = self.bases[key]
        contents = Collection(change_schema(fields(table)))
        contents.apply(rows)
        self.bases[key] = Base(table, contents, old.reader)
        return old

    def put_back(self, base: Base) -> None:
        """Undo ``reshape_table``."""
        self.bases[base.relation.name.lower()] = base

    def rename(self, old_name: str, renamed: Relation | Sink) -> None:
        """Keep what runs for ``old_name`` under ``renamed``'s name (nothing reads it)."""
        key, new = old_name.lower(), renamed.name.lower()
        if key in self.bases:
            self.bases[new] = dataclasses.replace(self.bases.pop(key), relation=renamed)
        if key in self.views:
            self.views[new] = dataclasses.replace(self.views.pop(key), view=renamed)
        if key in self.sinks:
            self.sinks[new] = dataclasses.replace(self.sinks.pop(key), sink=renamed)

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
                    sqlstate=DUPLICATE_TABLE,
                )
            columns = tuple(dataclasses.replace(c, nullable=True) for c in relation.columns)
            self.create_table(Table(late_table, columns))
        return event_time

    # --- Python functions ------------------------------------------------------------------------

    def create_python_function(self, function: Function, callable_=None) -> Function:
        """Make a Python function callable (its source loaded, or ``callable_``), with its
        dead-letter table if it keeps them; adds it to the catalog."""
        if function.name in self.catalog:
            self.catalog.add(function)  # raises the "already exists" error
        table = function.option(DEAD_LETTER_TABLE)
        existing = self.catalog.find(table) if table is not None else None
        # A dead-letter table left by a dropped function is taken on again.
        reused = isinstance(existing, Table) and existing.columns == dead_letters.COLUMNS
        if existing is not None and not reused:
            raise SqlError(
                f"dead_letter_table {table!r}: a relation of that name exists; name a new table "
                "for the failing rows",
                sqlstate=DUPLICATE_TABLE,
            )
        function = registry.register(function, callable_)
        if table is not None and not reused:
            self.create_table(Table(table, dead_letters.COLUMNS))
        self.catalog.add(function)
        return function

    # --- materialized views and sinks -----------------------------------------------------------

    def create_materialized_view(self, view: View, plan: Plan, tick: int) -> None:
        """A new view, backfilled; the dead letters of its backfill count as of ``tick``."""
        materialized = self._materialize(view, plan, letters_tick=tick)
        if materialized.dataflow is not None:
            self._refuse_dead_letter_input(view.name, materialized.dataflow.relations)
        self.catalog.add(view)
        self.views[view.name.lower()] = materialized
        self._created(view)

    def rebuild_views(self, views: list[tuple[View, Plan]]) -> None:
        """Replace materialized views (given in an order their inputs come first) by new
        definitions, each backfilled from its inputs' current contents: they move to the end
        of the tick order, which stays topological. All or nothing: on an error the old
        views are back in place."""
        before = dict(self.views)
        try:
            for view, _ in views:
                self.views.pop(view.name.lower(), None)
            for view, plan in views:
                self.views[view.name.lower()] = self._materialize(view, plan)
        except BaseException:
            self.views.clear()
            self.views.update(before)
            raise

    def _materialize(
        self, view: View, plan: Plan, letters_tick: int | None = None
    ) -> MaterializedView:
        """A view's dataflow, with its state backfilled from its inputs' current contents (its
        dead letters kept as of ``letters_tick``, if given: a rebuild has them already)."""
        key = unique_key(plan)
        if self.batch_mode:
            return MaterializedView(view, plan, None, None, key)
        dataflow, output = self._dataflow(
            plan, f"cannot create {view.name}", view.name, letters_tick
        )
        contents = None
        if dataflow.output_rows() is None:
            contents = Collection(change_schema(plan.schema))
            contents.apply(output)
        return MaterializedView(view, plan, dataflow, contents, key)

    def run_once(self, plan: Plan, name: str) -> Dataflow:
        """A plan's dataflow run once over its inputs' current contents, as a new view's
        backfill, then left (EXPLAIN ANALYZE of a query; ``name``: what runs it, for errors)."""
        return self._dataflow(plan, f"{name} failed", name)[0]

    def _dataflow(
        self, plan: Plan, failure: str, name: str, letters_tick: int | None = None
    ) -> tuple[Dataflow, pa.Table]:
        """A plan's dataflow, backfilled from its inputs' contents, and its first output."""
        dataflow = Dataflow(plan, self.backend)
        initial = {read: self.changes_of(read) for read in dataflow.relations}
        try:
            with dead_letters.collecting(name, letters_tick or 0) as step:
                output = dataflow.step(initial, self.watermarks.values())
        except (EvaluationError, BatchError) as error:
            raise DataError(f"{failure}: {error}") from None
        if letters_tick is not None:
            self._keep_dead_letters(step, {})
        return dataflow, output

    # --- dead letters -----------------------------------------------------------------------------

    def _dead_letter_tables(self) -> set[str]:
        """The names (lower case) of the functions' dead-letter tables."""
        return {
            f.option(DEAD_LETTER_TABLE, "").lower()  # type: ignore[union-attr]
            for f in self.catalog.objects("function")
        } - {""}

    def _refuse_dead_letter_input(self, name: str, reads: set[str]) -> None:
        tables = self._dead_letter_tables()
        for read in reads:
            if read.lower() in tables:
                raise unsupported(
                    f"materialized view {name} reading the dead-letter table {read}: its rows "
                    "appear while views step; query it, SUBSCRIBE to it, or sink it instead"
                )

    def _forget_dead_letters(self, name: str) -> None:
        """Take a dropped view's (or sink's) dead letters out of their tables."""
        for table in self._dead_letter_tables():
            base = self.bases.get(table)
            if base is None or base.contents is None or table == name.lower():
                continue
            rows = base.contents.rows()
            mine = rows.filter(pc.equal(rows.column(0), name))
            if mine.num_rows:
                base.contents.apply(negate(mine))

    def _keep_dead_letters(self, step: dead_letters.Step, deltas: dict[str, pa.Table]) -> None:
        """Put a view step's dead letters in their tables (and in the tick's ``deltas``); a
        retraction takes the tick of the dead letter it cancels."""
        for table, delta in step.deltas().items():
            base = self.bases.get(table.lower())
            if base is None or base.contents is None:
                continue  # the table was dropped: the failures are only left out
            delta = dead_letters.with_first_ticks(delta, base.contents)
            base.contents.apply(delta)
            self._dead_letters_applied.append((table.lower(), delta))
            key = table.lower()
            deltas[key] = concat([deltas[key], delta]) if key in deltas else delta

    def create_sink(self, sink: Sink, tick: int) -> None:
        """A sink of a table, source or materialized view (a plain view's sink is a sink of its
        query)."""
        source = self.catalog.relation(sink.source)
        key = source.name.lower()
        unique = self.views[key].key if key in self.views else source.key_positions()
        names = source.column_names()
        schema = pa.schema([pa.field(c.name, c.arrow_type) for c in source.columns])
        entry = SinkEntry(sink, self._writer(sink, schema, [names[k] for k in unique]), names)
        self.catalog.add(sink)
        self.sinks[sink.name.lower()] = entry
        if not self.batch_mode:  # batch mode writes each sink's final contents at close
            entry.write(self.changes_of(key), tick)
        self._created(sink)

    def create_query_sink(self, sink: Sink, plan: Plan, tick: int) -> None:
        """A sink of a query (``plan``, compiled from ``sink.query``)."""
        unique = unique_key(plan)
        schema = pa.schema([pa.field(f.name, types.to_arrow(f.type)) for f in plan.schema])
        writer = self._writer(sink, schema, [plan.names[k] for k in unique])
        entry = SinkEntry(sink, writer, plan.names, plan, appends=insert_only(plan))
        if not self.batch_mode:
            entry.dataflow, initial = self._dataflow(
                plan, "cannot create the sink", sink.name, tick
            )
            entry.write(consolidate(initial), tick)
        self.catalog.add(sink)
        self.sinks[sink.name.lower()] = entry
        self._created(sink)

    def _writer(self, sink: Sink, schema: pa.Schema, key: list[str]) -> SinkWriter:
        try:
            writer = open_sink(sink, schema, key, self.base_dir)
        except ConnectorError as error:
            raise SqlError(str(error), sqlstate=INVALID_PARAMETER_VALUE) from None
        self._validate(writer)
        return writer

    # --- ticks ------------------------------------------------------------------------------------

    def step(
        self, deltas: dict[str, pa.Table], watermarks: Mapping[str, int | None], tick: int
    ) -> dict[str, pa.Table]:
        """Apply one tick's changes of tables and sources (positional columns and weights):
        every view's dataflow runs once, in creation order (so a view sees the same tick's
        changes of the views it reads), then sinks write. Returns every relation's changes."""
        self._dead_letters_applied = []
        for name, delta in deltas.items():
            if self.bases[name].contents is not None:
                self.bases[name].contents.apply(delta)
        deltas = dict(deltas)
        for name, view in self.views.items():
            if view.dataflow is None:
                continue
            # Not consolidated here: operators and contents take raw changes, and
            # consolidating every view's output every tick is the costliest step there is.
            with dead_letters.collecting(view.view.name, tick) as step:
                output = view.dataflow.step(deltas, watermarks)
            if view.contents is not None:
                view.contents.apply(output)
            deltas[name] = output
            self._keep_dead_letters(step, deltas)
        changes = {}
        for name, sink in self.sinks.items():
            with dead_letters.collecting(sink.sink.name, tick) as step:
                changes[name] = sink.dataflow.step(deltas, watermarks) if sink.dataflow else None
            self._keep_dead_letters(step, deltas)
        for name, sink in self.sinks.items():
            change = changes[name] if sink.dataflow else deltas.get(sink.sink.source.lower())
            if change is not None and change.num_rows:
                sink.write(change if sink.appends else consolidate(change), tick)
        return deltas

    def undo(self, deltas: dict[str, pa.Table]) -> None:
        """Take a failed tick's changes out of the tables and sources, and rebuild every view
        from its inputs' contents (an operator may have taken part of the tick)."""
        for name, delta in deltas.items():
            if self.bases[name].contents is not None:
                self.bases[name].contents.apply(negate(delta))
        for name, delta in self._dead_letters_applied:
            if name in self.bases:
                self.bases[name].contents.apply(negate(delta))
        self._dead_letters_applied = []
        for name, view in list(self.views.items()):
            self.views[name] = self._materialize(view.view, view.plan)
        for sink in self.sinks.values():
            if sink.dataflow is not None:  # its output up to now is written already
                sink.dataflow, _ = self._dataflow(
                    sink.plan, "cannot rebuild the sink", sink.sink.name
                )

    # --- dropping and closing ---------------------------------------------------------------------

    def drop(self, name: str, cascade: bool) -> list[str]:
        """Drop ``name`` (and with ``cascade`` what depends on it); returns the names dropped."""
        dropped = []
        for obj in self.catalog.drop_order(name, cascade):
            key = obj.name.lower()
            base = self.bases.pop(key, None)
            if base is not None and base.reader is not None:
                base.reader.discard()
            self.views.pop(key, None)
            self.watermarks.remove(key)
            for event_time in self.watermarks.relations.values():
                if event_time.late_table and event_time.late_table.lower() == key:
                    event_time.late_table = None  # its late rows are only counted from now on
            sink = self.sinks.pop(key, None)
            if sink is not None:
                sink.writer.close()
            self._forget_dead_letters(obj.name)
            if isinstance(obj, Function) and obj.runtime_name:
                registry.unregister(obj.runtime_name)
            self.catalog.remove(obj.name)
            dropped.append(obj.name)
            log.info("%s %s dropped", obj.kind, obj.name)
        return dropped

    def _created(self, obj: Relation | Sink) -> None:
        # Recovery creates everything again: said only at debug level then.
        log.log(
            logging.DEBUG if self.recovering else logging.INFO, "%s %s created", obj.kind, obj.name
        )

    def close(self, tick: int) -> None:
        """Close every reader and writer; in batch mode, write each sink's final contents."""
        if self.batch_mode:
            for sink in self.sinks.values():
                rows = (
                    rename_positional(with_weight(self.compute(sink.plan)))
                    if sink.plan is not None
                    else self.changes_of(sink.sink.source.lower())
                )
                sink.write(rows, tick)
        for base in self.bases.values():
            if base.reader is not None:
                base.reader.close()
        for sink in self.sinks.values():
            sink.writer.close()
        for function in self.catalog.objects("function"):
            if function.runtime_name:  # type: ignore[union-attr]
                registry.unregister(function.runtime_name)  # type: ignore[union-attr]


def fields(relation: Relation) -> tuple[Field, ...]:
    return tuple(Field(c.name, c.type) for c in relation.columns)
