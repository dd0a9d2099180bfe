"""Prepared statements: compiled once, run many times with their parameters' values.

    >>> from tidal.engine import Database
    >>> from tidal.sql.parser import parse_statement
    >>> db = Database()
    >>> _ = db.execute("CREATE TABLE t (k BIGINT, v VARCHAR)")
    >>> insert = db.prepare(parse_statement("INSERT INTO t VALUES ($1, $2)"), ["BIGINT", "VARCHAR"])
    >>> insert.run([1, "a"]), insert.run([2, "b"])
    (INSERT 0 1, INSERT 0 1)
    >>> read = db.prepare(parse_statement("SELECT v FROM t WHERE k = $1"), ["BIGINT"])
    >>> read.run([2]).to_pylist(), read.columns()
    ([{'v': 'b'}], [('v', 'VARCHAR')])

This is the one road for a statement with parameters: the compiler (tidal.sql.compiler) turns
it into a plan once per catalog version, each ``$n`` a typed stand-in (tidal.sql.parameters),
and every run passes the values as arguments, never as SQL text:

- a query's plan runs like any read (tidal.engine.reads): a simple plan over one relation
  (tidal.engine.simple_plans) over the relation's snapshot, without taking the lock when the
  snapshot is of the latest tick; any other plan on DuckDB, as a prepared statement;
- INSERT, UPDATE and DELETE run the plan of the rows they change the same way, and apply them in
  one tick (tidal.engine.statements);
- any other statement runs as it is, and may not have parameters.

Parameters in LIMIT and OFFSET and those of unknown type are constants of a plan
(tidal.sql.parameters.constant_numbers): a statement is compiled once per distinct values of
those. With ``wait=False`` a run never waits for the engine's lock and returns ``MISS`` where it
would have to (its first run, the first after a DDL statement or a tick, a plan that runs on
DuckDB, any change), so that a caller on an event loop can hand it to a thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp

from tidal.engine.arguments import ArgumentError, Arguments
from tidal.engine.reads import MISS, Reads
from tidal.engine.simple_plans import NativePlan, compile_plan
from tidal.engine.statements import Result, Statements, Status
from tidal.engine.transactions import Transaction, run_in
from tidal.sql.dialect import EmitOnWindowClose
from tidal.sql.dml import Change
from tidal.sql.errors import unsupported
from tidal.sql.parameters import constant_numbers, numbers, shape_numbers, stand_ins
from tidal.sql.plan import Plan

__all__ = ["MISS", "PreparedStatement"]

QUERIES = (exp.Query, exp.Values, EmitOnWindowClose)
CHANGES = (exp.Insert, exp.Update, exp.Delete)
KEPT_PLANS = 64  # plans kept per statement, one per distinct values of its constants


@dataclass(frozen=True)
class _Compiled:
    """A statement's plan under catalog ``version``: a query's (``simple`` where it runs without
    DuckDB) or the rows a change changes (``change``)."""

    version: int
    plan: Plan
    simple: NativePlan | None = None
    change: Change | None = None


class PreparedStatement:
    """``statement`` with parameters of SQL types ``parameter_types`` (None: unknown, taken as
    text). Thread-safe: a server runs one from many sessions at once."""

    def __init__(
        self,
        statements: Statements,
        reads: Reads,
        statement: exp.Expression,
        parameter_types: Sequence[str | None],
    ) -> None:
        self.statements = statements
        self.reads = reads
        self.statement = statement
        self.parameter_types = tuple(parameter_types)
        self.compiles = isinstance(statement, QUERIES + CHANGES)
        if not self.compiles and numbers(statement):
            raise unsupported(
                f"parameters in {statement.key.upper()}: only queries, INSERT, UPDATE and "
                "DELETE take them"
            )
        self._count = max(numbers(statement), default=0)
        self._constants = sorted(constant_numbers(statement, self.parameter_types))
        self._compiled: OrderedDict[tuple, _Compiled] = OrderedDict()
        self._guard = threading.Lock()

    def run(
        self, arguments: Arguments = (), wait: bool = True, transaction: Transaction | None = None
    ) -> Result | object:
        """The statement's result with ``arguments`` (the Python value of each ``$n``; values
        of constants as their text): rows, a Status, a Subscription; or ``MISS``. Inside
        ``transaction`` it reads and changes through it (tidal.engine.transactions)."""
        if transaction is not None and not self.compiles:
            return run_in(self.statements, transaction, self.statement.copy())
        if not self.compiles:
            return MISS if not wait else self.statements.run(self.statement.copy())
        if len(arguments) < self._count:
            raise ArgumentError(
                f"parameter ${len(arguments) + 1} has no value: the statement takes "
                f"{self._count} values"
            )
        key = tuple(arguments[n - 1] for n in self._constants)
        if transaction is not None:
            return self._run_in(transaction, key, arguments)
        compiled = self._kept(key)
        if compiled is None:
            if not wait:
                return MISS
            with self.statements.ticks.exclusive():
                compiled = self._kept(key) or self._compile(key, arguments)
        if compiled.simple is not None:
            rows = self.reads.read_simple(compiled.simple, compiled.version, arguments, wait)
            if rows is not None:
                return rows
        if not wait:
            return MISS
        with self.statements.ticks.exclusive():
            compiled = self._kept(key) or self._compile(key, arguments)
            if compiled.change is not None:
                return Status(self.statements.apply_change(compiled.change, arguments))
            read = self.reads.read(compiled.plan, arguments)
        return read()  # off the lock: a long query holds up nothing else

    def _run_in(self, transaction: Transaction, key: tuple, arguments: Arguments) -> Result:
        with self.statements.ticks.exclusive():
            compiled = self._kept(key) or self._compile(key, arguments)
            if compiled.change is not None:
                return Status(self.statements.apply_change(compiled.change, arguments, transaction))
            read = transaction.read(compiled.plan, arguments)
        return read()  # off the lock, as outside a block

    def columns(self) -> list[tuple[str, str]] | None:
        """The names and SQL types of the columns a query returns, learnt without running it
        (None for other statements)."""
        if not isinstance(self.statement, QUERIES):
            return None
        types = [t or "VARCHAR" for t in self.parameter_types]  # unknown: text, typed NULL here
        constants = dict.fromkeys(shape_numbers(self.statement), 0)  # a row count, an offset
        with self.statements.ticks.exclusive():
            plan = self.statements.compiler.query(stand_ins(self.statement, types, constants)).plan
        return [(f.name, f.type) for f in plan.schema]

    def _kept(self, key: tuple) -> _Compiled | None:
        """The plan compiled for these constants, if the catalog has not changed since."""
        with self._guard:
            compiled = self._compiled.get(key)
            if compiled is not None:
                self._compiled.move_to_end(key)
        version = self.statements.catalog.version
        return compiled if compiled is not None and compiled.version == version else None

    def _compile(self, key: tuple, arguments: Arguments) -> _Compiled:
        """Compile for these constants (hold the lock)."""
        constants = {n: arguments[n - 1] for n in self._constants}
        ready = stand_ins(self.statement, self.parameter_types, constants)
        compiler, version = self.statements.compiler, self.statements.catalog.version
        if isinstance(ready, CHANGES):
            change = compiler.change(ready)
            compiled = _Compiled(version, change.plan, change=change)
        else:
            plan = compiler.query(ready).plan
            compiled = _Compiled(version, plan, simple=compile_plan(plan))
        with self._guard:
            self._compiled[key] = compiled
            if len(self._compiled) > KEPT_PLANS:
                self._compiled.popitem(last=False)
        return compiled
