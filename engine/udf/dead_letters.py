"""Dead letters: the rows a Python function with ``on_error = 'dead_letter'`` failed on.

Such a row leaves the view (a projection or filter drops it) and is kept in the function's
dead-letter table, one row per failure: the view, the function, the arguments (a JSON array),
the error, the row the view's operator was given (a JSON array), and the tick it first failed
in. The rows carry the input row's weight, so when the
input row is deleted its call fails again and its dead letter goes too (functions are
deterministic; the retraction takes the tick of the row it cancels).

Three scopes meet here, all on the thread stepping a view:

- ``collecting(view, tick)``, around one view's (or sink's) dataflow step
  (tidal.engine.relations): the dead letters it produced, by table;
- ``evaluating()``, around one operator's expressions over one batch (Project, Filter): the
  failing rows the calls reported;
- ``report(...)``, called by a failing call (tidal.engine.udf.registry). Where no operator is
  evaluating (an UPDATE's SET, an ad hoc query), it reports nothing and the call fails.

>>> import pyarrow as pa
>>> with collecting("v", tick=3) as step:
...     with evaluating() as failed:
...         report("bad", "f", [(1, "[0]", "ZeroDivisionError: division by zero")])
...     leave_out(pa.table({"c0": [5, 0], "__weight": [1, 1]}), failed).to_pylist()
True
[{'c0': 5, '__weight': 1}]
>>> step.deltas()["bad"].to_pylist()[0]["c4"], step.deltas()["bad"].to_pylist()[0]["c5"]
('[0]', 3)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.objects import Column
from tidal.engine.collection import Collection
from tidal.engine.zset import WEIGHT, take

COLUMNS = (
    Column("view", "VARCHAR"),
    Column("function", "VARCHAR"),
    Column("arguments", "VARCHAR"),
    Column("error", "VARCHAR"),
    Column("input_row", "VARCHAR"),
    Column("tick", "BIGINT"),
)
_SCHEMA = pa.schema(
    [(f"c{i}", pa.string()) for i in range(5)] + [("c5", pa.int64()), (WEIGHT, pa.int64())]
)
_IDENTITY = 5  # the columns that say which dead letter a retraction cancels (all but the tick)

# (row of the batch, dead-letter table, function, arguments, error)
Letter = tuple[int, str, str, str, str]


@dataclass
class Failed:
    """The failing rows calls reported while one operator evaluated one batch."""

    letters: list[Letter] = field(default_factory=list)


@dataclass
class Step:
    """The dead letters one view's step produced."""

    view: str
    tick: int
    rows: dict[str, list[tuple]] = field(default_factory=dict)  # table -> rows with weights

    def deltas(self) -> dict[str, pa.Table]:
        """Per dead-letter table, its change: positional columns and weights."""
        return {
            table: pa.Table.from_pylist(
                [dict(zip(_SCHEMA.names, row)) for row in rows], schema=_SCHEMA
            )
            for table, rows in self.rows.items()
        }


_evaluation: ContextVar[Failed | None] = ContextVar("tidal_dead_letter_evaluation", default=None)
_step: ContextVar[Step | None] = ContextVar("tidal_dead_letter_step", default=None)


@contextmanager
def collecting(view: str, tick: int) -> Iterator[Step]:
    step = Step(view, tick)
    token = _step.set(step)
    try:
        yield step
    finally:
        _step.reset(token)


@contextmanager
def evaluating() -> Iterator[Failed]:
    failed = Failed()
    token = _evaluation.set(failed)
    try:
        yield failed
    finally:
        _evaluation.reset(token)


def report(table: str, function: str, failures: list[tuple[int, str, str]]) -> bool:
    """Keep ``failures`` (row, arguments, error) of ``function`` for the operator evaluating;
    False when none is, or no view step collects them."""
    failed = _evaluation.get()
    if failed is None or _step.get() is None:
        return False
    failed.letters.extend(
        (row, table, function, arguments, error) for row, arguments, error in failures
    )
    return True


def leave_out(batch: pa.Table, failed: Failed, inputs: pa.Table | None = None) -> pa.Table:
    """``batch`` without the rows that failed; their dead letters, with the input rows
    (``inputs``, row for row, else ``batch``) and their weights, go to the view step
    collecting them."""
    if not failed.letters:
        return batch
    step = _step.get()
    assert step is not None  # report() keeps nothing without one
    inputs = batch if inputs is None else inputs
    weights = inputs.column(WEIGHT)
    data = [inputs.column(c) for c in inputs.column_names if c != WEIGHT]
    for row, table, function, arguments, error in failed.letters:
        weight = weights[row].as_py()
        input_row = json.dumps([c[row].as_py() for c in data], default=str)
        step.rows.setdefault(table, []).append(
            (step.view, function, arguments, error, input_row, step.tick, weight)
        )
    keep = np.ones(batch.num_rows, dtype=bool)
    keep[[letter[0] for letter in failed.letters]] = False
    return batch.filter(pa.array(keep))


def with_first_ticks(delta: pa.Table, contents: Collection) -> pa.Table:
    """``delta`` with each retraction taken from the dead letters it cancels in ``contents``
    (the same view, function, arguments, error and input row), the earliest ticks first: a
    retraction of weight -2 over letters of ticks 1 and 2 becomes -1 at tick 1 and -1 at
    tick 2. Only the letters of the retracted input rows are read."""
    weights = delta.column(WEIGHT).to_pylist()
    if min(weights, default=0) >= 0:
        return delta
    rows = contents.rows()
    retracted = delta.filter(pc.less(delta.column(WEIGHT), 0)).column(_IDENTITY - 1)
    candidates = rows.filter(pc.is_in(rows.column(_IDENTITY - 1), value_set=retracted))
    delta_rows = delta.to_pylist()
    kept = [list(r.values()) for r in candidates.to_pylist()]
    held: dict[tuple, list[list[int]]] = {}  # identity -> [[tick, weight], ...], earliest first
    kept += [list(r.values()) for r, w in zip(delta_rows, weights) if w > 0]  # this step's too
    for values in sorted(kept, key=lambda v: v[_IDENTITY]):
        held.setdefault(tuple(values[:_IDENTITY]), []).append(values[_IDENTITY:])
    rows = []
    for row, weight in zip(delta_rows, weights):
        if weight > 0:
            rows.append(row)
            continue
        letters = held.get(tuple(row[f"c{i}"] for i in range(_IDENTITY)), [])
        # (a retraction of a letter no longer there has nothing to take)
        rows.extend(
            {**row, f"c{_IDENTITY}": tick, WEIGHT: -taken} for tick, taken in take(letters, -weight)
        )
    return pa.Table.from_pylist(rows, schema=delta.schema)
