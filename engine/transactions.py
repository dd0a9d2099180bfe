"""Transactions of tables: a session's DML kept aside, then applied at COMMIT as one tick.

    >>> from tidal.engine import Database
    >>> db = Database()
    >>> _ = db.execute("CREATE TABLE t (k INTEGER, v VARCHAR)")
    >>> db.execute("BEGIN")
    BEGIN
    >>> _ = db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    >>> db.execute("UPDATE t SET v = 'c' WHERE k = 1")
    UPDATE 1
    >>> db.read("t").num_rows  # nothing is applied before COMMIT
    0
    >>> db.execute("COMMIT")
    COMMIT
    >>> db.execute("SELECT * FROM t ORDER BY k").to_pylist()
    [{'k': 1, 'v': 'c'}, {'k': 2, 'v': 'b'}]

A ``Transaction`` is where the DML of a transaction block reads and writes (the other target is
tidal.engine.dml_targets.Autocommit):

- **Snapshot.** At its first statement that reads or writes it records the completed tick and
  each table's changes so far (``Collection.changes``: the Arrow parts as they are, nothing is
  copied or consolidated). A table inside the transaction is that snapshot plus the
  transaction's own changes, consolidated when a statement reads it. Materialized views and
  sources do not include the pending changes: each is read as committed at the transaction's
  first read of it, and stays so until the end of the transaction (docs/sql.md, Transactions).
- **No lock between statements.** Each statement holds the engine's lock only while it runs,
  as any statement does; an idle transaction holds nothing but references to immutable tables.
- **COMMIT** checks every table the transaction changed (or read for an UPDATE or DELETE): if
  another session changed it after the snapshot, or dropped or altered it, the commit fails with
  40001 and nothing is applied (first committer wins, as PostgreSQL's REPEATABLE READ). Else all
  its changes go in one ``TickLoop.apply_all``: one tick, all or nothing. So retractions were
  computed against the very contents they are applied to, and never go negative.
- **ROLLBACK** drops the pending changes; ``ROLLBACK TO SAVEPOINT`` drops those made since.

``Session`` runs one client's statements with BEGIN, COMMIT, ROLLBACK and SAVEPOINT (the
Database API and the embedded shell; the pgwire server keeps the transaction status of each
connection itself and hands its Transaction to every statement). ``TableChanges`` is the tick
listener that tells when each table last changed.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
from sqlglot import exp

from tidal.catalog.objects import Table
from tidal.catalog.sqlstate import (
    FEATURE_NOT_SUPPORTED,
    IN_FAILED_SQL_TRANSACTION,
    INVALID_SAVEPOINT_SPECIFICATION,
    NO_ACTIVE_SQL_TRANSACTION,
    SERIALIZATION_FAILURE,
)
from tidal.engine.arguments import Arguments
from tidal.engine.batch import plain_rows
from tidal.engine.primary_keys import rows_with_keys
from tidal.engine.reads import PendingRead, Reads
from tidal.engine.relations import Base, Relations, fields
from tidal.engine.statements import Result, Statements, Status
from tidal.engine.ticks import TickLoop
from tidal.engine.zset import concat, consolidate, rename_positional
from tidal.sql.cursor_statements import CopyFrom
from tidal.sql.dialect import EmitOnWindowClose, Explain, Tidal
from tidal.sql.errors import SqlError
from tidal.sql.plan import Plan, scans
from tidal.sql.session_statements import (
    Checkpoint,
    ResetSetting,
    Savepoint,
    SetSetting,
    StartTransaction,
)
from tidal.sql.subscribe import Subscribe

QUERIES = (exp.Query, exp.Values, EmitOnWindowClose)
CHANGES = (exp.Insert, exp.Update, exp.Delete)
# Statements that change no data and run inside a block as they do outside it.
PASSING = (exp.Show, exp.Describe, Explain, Subscribe, SetSetting, ResetSetting, Checkpoint)

ABORTED = "current transaction is aborted, commands ignored until end of transaction block"
ALREADY_OPEN = "there is already a transaction in progress"
NONE_OPEN = "there is no transaction in progress"


class TableChanges:
    """The last tick that changed each relation (a TickLoop listener): what COMMIT checks."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def record(self, tick: int, deltas: dict[str, pa.Table]) -> None:
        for name, delta in deltas.items():
            if delta.num_rows:
                self._last[name] = tick

    def last(self, name: str) -> int:
        """The tick that last changed ``name`` (lower-cased), 0 if none did."""
        return self._last.get(name, 0)


class Transaction:
    """One transaction block's snapshot and pending changes. Call its methods under the
    engine's lock (``TickLoop.exclusive``), as statements do."""

    def __init__(
        self, reads: Reads, relations: Relations, ticks: TickLoop, changes: TableChanges
    ) -> None:
        self.reads = reads
        self.relations = relations
        self.ticks = ticks
        self.changes = changes
        self.start_tick: int | None = None  # the completed tick the snapshot is of
        self._tables: dict[str, tuple[Base, pa.Table]] = {}  # key -> (its Base, its changes)
        self._others: dict[str, pa.Table] = {}  # views and sources, as first read
        self._pending: list[tuple[str, pa.Table]] = []  # (table key, changes), in order
        self._savepoints: list[tuple[str, int]] = []  # (name, len(_pending) then)
        self._read: dict[str, pa.Table] = {}  # tables' rows as of the last change

    @property
    def changed(self) -> bool:
        """Whether a statement changed (or read for changing) some table."""
        return bool(self._pending)

    # --- reading --------------------------------------------------------------------------------

    def query(self, plan: Plan, arguments: Arguments = ()) -> pa.Table:
        """``plan``'s result over the snapshot and the transaction's changes."""
        with self.ticks.exclusive():
            return self.read(plan, arguments)()

    def read(self, plan: Plan, arguments: Arguments = ()) -> PendingRead:
        """``plan`` ready to run over the snapshot and the transaction's changes (hold the
        lock; run it after, as Reads.read)."""
        self._start()
        if all(self._as_latest(s.relation.lower()) for s in scans(plan)):
            return self.reads.read(plan, arguments)  # the shared snapshots, their caches
        return self.reads.read(plan, arguments, self.contents)

    def contents(self, name: str) -> pa.Table:
        """A relation's rows as the transaction sees them (plain rows, its column names)."""
        key = name.lower()
        if key in self._read:
            return self._read[key]
        entry = self._table(key)
        if entry is None:
            if key not in self._others:
                self._others[key] = self.reads.contents(key)
            return self._others[key]
        base, before = entry
        mine = self._changes_of(key)
        if not mine and self._unchanged(key, base):
            rows = self.reads.contents(key)  # the latest contents, consolidated once a tick
        else:
            rows = plain_rows(consolidate(concat([before, *mine])), fields(base.relation))
        self._read[key] = rows
        return rows

    def rows_with_keys(self, table: Table, keys: pa.Table) -> pa.Table:
        """The rows of a keyed table whose key is a row of ``keys``, as the transaction sees
        them (Relations.rows_with_keys)."""
        key = table.name.lower()
        _, before = self._table(key)
        found = rows_with_keys(
            concat([before, *self._changes_of(key)]), table.key_positions(), keys
        )
        return plain_rows(found, fields(table))

    # --- writing --------------------------------------------------------------------------------

    def apply(self, table: Table, changes: pa.Table) -> None:
        """Keep a statement's ``changes`` of ``table`` (plain rows and weights) for COMMIT; an
        UPDATE that changed no row still counts: it read the table."""
        key = table.name.lower()
        _, before = self._table(key)
        self._pending.append(
            (key, pa.Table.from_arrays(rename_positional(changes).columns, schema=before.schema))
        )
        self._read.pop(key, None)

    def savepoint(self, name: str) -> None:
        self._savepoints.append((name.lower(), len(self._pending)))

    def rollback_to(self, name: str) -> None:
        """Drop the changes made since savepoint ``name`` (which stays)."""
        index = self._savepoint(name)
        del self._pending[self._savepoints[index][1] :]
        del self._savepoints[index + 1 :]
        self._read.clear()

    def release(self, name: str) -> None:
        """Forget savepoint ``name`` and those after it (their changes stay)."""
        del self._savepoints[self._savepoint(name) :]

    def commit(self) -> None:
        """Apply every pending change in one tick, or fail with 40001 and apply nothing."""
        with self.ticks.exclusive():
            for key in dict.fromkeys(key for key, _ in self._pending):
                self._check(key)
            applied = {}
            for key in dict.fromkeys(key for key, _ in self._pending):
                changes = concat(self._changes_of(key))
                if changes.num_rows:
                    applied[self._tables[key][0].relation.name] = changes
            self._pending = []
            if applied:
                self.ticks.apply_all(applied)

    # --- the snapshot ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self.start_tick is not None:
            return
        self.start_tick = self.ticks.ticks
        for key, base in self.relations.bases.items():
            if isinstance(base.relation, Table) and base.contents is not None:
                self._tables[key] = (base, base.contents.changes())

    def _table(self, key: str) -> tuple[Base, pa.Table] | None:
        """A table's Base and its changes at the snapshot (None: not a table). A table created
        after the snapshot is taken as it is when first used."""
        self._start()
        entry = self._tables.get(key)
        if entry is None:
            base = self.relations.bases.get(key)
            if base is None or not isinstance(base.relation, Table) or base.contents is None:
                return None
            entry = self._tables[key] = (base, base.contents.changes())
        return entry

    def _changes_of(self, key: str) -> list[pa.Table]:
        return [changes for table, changes in self._pending if table == key]

    def _as_latest(self, key: str) -> bool:
        """Whether the transaction sees a table as its latest contents: nobody changed it since
        the snapshot, nor did the transaction."""
        entry = self._table(key)
        return entry is not None and not self._changes_of(key) and self._unchanged(key, entry[0])

    def _unchanged(self, key: str, base: Base) -> bool:
        """Whether nobody changed the table since the snapshot."""
        return self.relations.bases.get(key) is base and self.changes.last(key) <= self.start_tick

    def _check(self, key: str) -> None:
        base, _ = self._tables[key]
        name = base.relation.name
        if self.relations.bases.get(key) is not base:
            raise SqlError(
                f"could not serialize access: table {name!r} was dropped or altered after this "
                "transaction began; its changes were not applied",
                sqlstate=SERIALIZATION_FAILURE,
            )
        if self.changes.last(key) > self.start_tick:
            raise SqlError(
                "could not serialize access due to concurrent update: another transaction "
                f"changed table {name!r} after this one began; its changes were not applied, "
                "run it again",
                sqlstate=SERIALIZATION_FAILURE,
            )

    def _savepoint(self, name: str) -> int:
        for index in range(len(self._savepoints) - 1, -1, -1):
            if self._savepoints[index][0] == name.lower():
                return index
        raise SqlError(
            f'savepoint "{name}" does not exist', sqlstate=INVALID_SAVEPOINT_SPECIFICATION
        )


def run_in(statements: Statements, transaction: Transaction, statement: exp.Expression) -> Result:
    """Run ``statement`` inside ``transaction``: DML adds to it, queries read through it, DDL
    is refused (it would apply at once, and ROLLBACK could not undo it)."""
    if isinstance(statement, CHANGES):
        with statements.ticks.exclusive():
            change = statements.compiler.change(statement)
            return Status(statements.apply_change(change, (), transaction))
    if isinstance(statement, QUERIES):
        with statements.ticks.exclusive():
            read = transaction.read(statements.compiler.query(statement).plan)
        return read()  # off the lock, as outside a block
    if isinstance(statement, CopyFrom):
        with statements.ticks.exclusive():
            return statements.copy_file(statement, transaction)
    if isinstance(statement, PASSING):
        return statements.run(statement)
    raise SqlError(
        f"{_kind(statement)} cannot run inside a transaction block: tidal applies it at once, "
        "so ROLLBACK could not undo it; COMMIT or ROLLBACK first, then run it on its own",
        sqlstate=FEATURE_NOT_SUPPORTED,
    )


def _kind(statement: exp.Expression) -> str:
    """What a statement is, for a message: ``CREATE TABLE``, ``DROP VIEW``, ``ALTER TABLE``."""
    kind = statement.args.get("kind")
    if isinstance(statement, (exp.Create, exp.Drop, exp.Alter)) and isinstance(kind, str):
        return f"{statement.key.upper()} {kind.upper()}"
    words = statement.sql(dialect=Tidal).split()
    return " ".join(words[:2]).upper() or statement.key.upper()


class Session:
    """One client's statements with transaction blocks, for the Database API and the embedded
    shell: BEGIN (START TRANSACTION), COMMIT (END), ROLLBACK (ABORT), SAVEPOINT, RELEASE and
    ROLLBACK TO, as PostgreSQL answers them. A failing statement aborts the block: later ones
    fail with 25P02 until ROLLBACK (a COMMIT then rolls back and says so)."""

    def __init__(self, statements: Statements, begin: Callable[[], Transaction]) -> None:
        self.statements = statements
        self.begin = begin
        self.transaction: Transaction | None = None
        self.failed = False

    def run(self, statement: exp.Expression) -> Result:
        control = _CONTROL.get(type(statement))
        if control is not None:
            return control(self, statement)
        if self.transaction is None:
            return self.statements.run(statement)
        if self.failed:
            raise SqlError(ABORTED, sqlstate=IN_FAILED_SQL_TRANSACTION)
        try:
            return run_in(self.statements, self.transaction, statement)
        except Exception:
            self.failed = True
            raise

    def _begin(self, node: exp.Transaction) -> Status:
        tag = "BEGIN" if type(node) is exp.Transaction else "START TRANSACTION"
        if self.transaction is not None:
            return Status(tag, (ALREADY_OPEN,))
        self.transaction, self.failed = self.begin(), False
        return Status(tag)

    def _commit(self, node: exp.Commit) -> Status:
        transaction, failed = self.transaction, self.failed
        self.transaction, self.failed = None, False
        if transaction is None:
            return Status("COMMIT", (NONE_OPEN,))
        if failed:
            tag = "ROLLBACK"
        else:
            transaction.commit()
            tag = "COMMIT"
        if node.args.get("chain"):  # AND CHAIN: a new block begins at once
            self.transaction = self.begin()
        return Status(tag)

    def _rollback(self, node: exp.Rollback) -> Status:
        savepoint = node.args.get("savepoint")
        if savepoint is not None:
            if self.transaction is None:
                raise SqlError(
                    "ROLLBACK TO SAVEPOINT can only be used in transaction blocks",
                    sqlstate=NO_ACTIVE_SQL_TRANSACTION,
                )
            self.transaction.rollback_to(savepoint.name)
            self.failed = False
            return Status("ROLLBACK")
        ended, self.transaction, self.failed = self.transaction, None, False
        return Status("ROLLBACK", () if ended is not None else (NONE_OPEN,))

    def _savepoint(self, node: Savepoint) -> Status:
        word = "RELEASE" if node.args.get("release") else "SAVEPOINT"
        if self.transaction is None:
            raise SqlError(
                f"{word} can only be used in transaction blocks",
                sqlstate=NO_ACTIVE_SQL_TRANSACTION,
            )
        if self.failed:
            raise SqlError(ABORTED, sqlstate=IN_FAILED_SQL_TRANSACTION)
        if node.args.get("release"):
            self.transaction.release(node.name)
        else:
            self.transaction.savepoint(node.name)
        return Status(word)


_CONTROL: dict[type, Callable[[Session, exp.Expression], Status]] = {
    exp.Transaction: Session._begin,
    StartTransaction: Session._begin,
    exp.Commit: Session._commit,
    exp.Rollback: Session._rollback,
    Savepoint: Session._savepoint,
}
