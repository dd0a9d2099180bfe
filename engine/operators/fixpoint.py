"""WITH RECURSIVE, maintained: the fixpoint's rows are kept and changed as its inputs change.

The operator's inputs are the changes of the relations its base and step read: it keeps those
relations' rows and runs the sub-plans itself, on DuckDB (tidal.engine.batch).

- A tick that only inserts rows, into a UNION (set) recursion whose every node only grows with
  its inputs (inner and semi joins, filters, projections, DISTINCT, UNION: see
  ``tidal.sql.recursive.grows_with_inputs``), is **semi-naive**: the new rows are the base's and
  one step's over the old result that the result does not have yet; then the step runs over
  only the rows the last iteration added, until it adds none. Its cost is one step over the
  whole result plus steps over the new rows, a DuckDB query each.
- Any other tick (a deletion, UNION ALL, a base or step with EXCEPT, an aggregate or an outer
  join, or a semi-naive evaluation past ``SEMI_NAIVE_ITERATIONS``) **recomputes** the fixpoint
  from the kept rows, as DuckDB's own WITH RECURSIVE (the plan's batch lowering,
  tidal.sql.lower), and emits the difference with the old result: the cost of the whole
  recursion per tick. That lowering stops with SQLSTATE 54001 past
  ``tidal.sql.recursive.MAX_ITERATIONS`` iterations or ``MAX_ROWS`` rows instead of running on.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.batch import BatchBackend, plain_rows
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.zset import WEIGHT, concat, consolidate, negate, with_weight
from tidal.sql.errors import unsupported
from tidal.sql.plan import Emit, Field, Filter, Plan, Recursive, Scan, SetOp, WorkingTable
from tidal.sql.recursive import grows_with_inputs, over
from tidal.sql.temporal import is_temporal

_WORK = "recursive working rows"  # names no catalog relation can have (they hold spaces)
_ROWS = "recursive rows"
# Iterations of semi-naive evaluation in one tick before recomputing instead: each is a DuckDB
# query (about 15 ms however few its rows), where DuckDB's WITH RECURSIVE iterates in one.
SEMI_NAIVE_ITERATIONS = 32


class RecursiveOperator(Operator):
    def __init__(self, node: Recursive, backend: BatchBackend) -> None:
        for inner in node.walk():
            if isinstance(inner, Emit) or (isinstance(inner, Filter) and is_temporal(inner)):
                raise unsupported(
                    "EMIT ON WINDOW CLOSE or a condition on now() inside WITH RECURSIVE"
                )
        self.node = node
        self.backend = backend
        self.schema = change_schema(node.schema)
        self._rows_schema = pa.schema(list(self.schema)[:-1])
        scans: dict[str, Scan] = {}
        for inner in node.walk():
            if isinstance(inner, Scan):
                scans.setdefault(inner.relation.lower(), inner)
        self.inputs = list(scans.values())  # the relations whose changes ``step`` receives
        self.contents = [change_schema(s.schema).empty_table() for s in self.inputs]
        self.result = self.empty()
        self._started = False  # the first tick computes the fixpoint, even of no changes
        self.semi_naive = (
            not node.all and grows_with_inputs(node.base) and grows_with_inputs(node.step)
        )
        positional = tuple(Field(f"c{i}", f.type) for i, f in enumerate(node.schema))
        work, rows = Scan(_WORK, "input", positional), Scan(_ROWS, "input", positional)
        working = WorkingTable(node.name, node.schema)
        # One iteration under UNION: the step over the last iteration's rows, less all rows.
        self._next = SetOp("except", False, over(node.step, working, work), rows, node.schema)
        # After insertions: the base and one step over the old rows, less the old rows.
        grown = SetOp("union", False, node.base, over(node.step, working, rows), node.schema)
        self._grown = SetOp("except", False, grown, rows, node.schema)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        changed = [d is not None and d.num_rows > 0 for d in inputs]
        if not any(changed) and self._started:
            return self.empty()
        inserts_only = all(
            pc.min(d.column(WEIGHT)).as_py() > 0 for d, c in zip(inputs, changed) if c
        )
        for i, delta in enumerate(inputs):
            if changed[i]:
                self.contents[i] = consolidate(concat([self.contents[i], delta]))
        relations = {
            scan.relation.lower(): plain_rows(rows, scan.schema)
            for scan, rows in zip(self.inputs, self.contents)
        }
        if inserts_only and self.semi_naive and self._started:
            added = self._semi_naive(relations)
            if added is not None:
                self.result = concat([self.result, added])
                return added
        new = consolidate(with_weight(self._run(self.node, relations)))
        self._started = True
        delta = consolidate(concat([new, negate(self.result)]))
        self.result = new
        return delta

    def _semi_naive(self, relations: dict[str, pa.Table]) -> pa.Table | None:
        """The rows insertions add under UNION: those of the base and of one step over the old
        rows that are new, then of the step over each iteration's new rows, until none. None
        after ``SEMI_NAIVE_ITERATIONS``: a long recursion is cheaper, and its iteration limit
        checked, as DuckDB's own WITH RECURSIVE."""
        rows = self.result.drop_columns([WEIGHT])
        work = self._run(self._grown, relations, rows=rows)
        added = [work]
        for _ in range(SEMI_NAIVE_ITERATIONS):
            if not work.num_rows:
                return with_weight(concat(added, self._rows_schema))
            rows = concat([rows, work])
            work = self._run(self._next, relations, work=work, rows=rows)
            added.append(work)
        return None

    def _run(
        self,
        plan: Plan,
        relations: dict[str, pa.Table],
        work: pa.Table | None = None,
        rows: pa.Table | None = None,
    ) -> pa.Table:
        """``plan``'s rows (columns ``c0``..), the working and the accumulated rows given."""
        extra = {name: t for name, t in ((_WORK, work), (_ROWS, rows)) if t is not None}
        result = self.backend.run(plan, {**relations, **extra})
        return result.rename_columns(self._rows_schema.names).cast(self._rows_schema)

    def output_rows(self) -> pa.Table | None:
        return self.result

    def snapshot(self) -> dict:
        return {"contents": list(self.contents), "result": self.result, "started": self._started}

    def restore(self, state: dict) -> None:
        self.contents = list(state["contents"])
        self.result = state["result"]
        self._started = state["started"]

    def state_rows(self) -> int:
        return self.result.num_rows + sum(t.num_rows for t in self.contents)
