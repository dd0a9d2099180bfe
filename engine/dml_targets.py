"""Where DML reads and writes: ``Autocommit`` (each statement over the current contents, in a
tick of its own) or a transaction (tidal.engine.transactions: over its snapshot and its own
changes, kept for its COMMIT). tidal.engine.statements computes a statement's changes the same
way for both.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

from tidal.catalog.objects import Table
from tidal.engine.arguments import Arguments
from tidal.engine.reads import Reads
from tidal.engine.relations import Relations
from tidal.engine.ticks import TickLoop
from tidal.sql.plan import Plan


class Target(Protocol):
    """Where DML reads and writes: ``Autocommit``, or a transaction (tidal.engine.transactions)
    that keeps the changes for its COMMIT."""

    def query(self, plan: Plan, arguments: Arguments = ()) -> pa.Table:
        """A plan's rows over the contents the statement sees."""

    def rows_with_keys(self, table: Table, keys: pa.Table) -> pa.Table:
        """The rows of a keyed table with these keys (Relations.rows_with_keys)."""

    def apply(self, table: Table, changes: pa.Table) -> None:
        """A statement's changes of ``table`` (plain rows and ``__weight``)."""


class Autocommit:
    """Where DML reads and writes outside a transaction: the current contents, and a tick of
    its own for each statement."""

    def __init__(self, reads: Reads, relations: Relations, ticks: TickLoop) -> None:
        self.reads = reads
        self.relations = relations
        self.ticks = ticks

    def query(self, plan: Plan, arguments: Arguments = ()) -> pa.Table:
        return self.reads.query(plan, arguments)

    def rows_with_keys(self, table: Table, keys: pa.Table) -> pa.Table:
        return self.relations.rows_with_keys(table, keys)

    def apply(self, table: Table, changes: pa.Table) -> None:
        self.ticks.apply_changes(table.name, changes)
