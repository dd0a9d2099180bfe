"""Operators recomputed per partition: DISTINCT, INTERSECT / EXCEPT, TopN, window functions.

Each is a keyed recompute (recompute.py) whose output is kept in state by the same key:

- Distinct, INTERSECT, EXCEPT: key = the whole row. Distinct: (a,+2) -> (a,+1).
- TopN (ORDER BY ... LIMIT n in a view): key = () (one partition); ties broken by all columns.
- OverWindow: key = PARTITION BY columns; a touched partition's rows are renumbered or re-summed:
  ROW_NUMBER() OVER (PARTITION BY k ORDER BY v):
      {(a,5,1)} + (a,3,+1)  ->  (a,5,1,-1) (a,3,1,+1) (a,5,2,+1)

State: the input rows and output rows, bounded by the input size.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from tidal.engine.keys import canonical
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.operators.recompute import RecomputeOperator
from tidal.engine.zset import WEIGHT, consolidate
from tidal.sql.plan import Distinct, OverWindow, SetOp, TopN


def _distinct_rows(inputs: list[pa.Table]) -> pa.Table:
    (rows,) = inputs
    rows = rows.filter(pa.compute.greater(rows.column(WEIGHT), 0))
    # -0.0 and 0.0 are one value: keep one row for both.
    columns = [
        c if name == WEIGHT else canonical(c) for name, c in zip(rows.column_names, rows.columns)
    ]
    rows = consolidate(pa.Table.from_arrays(columns, schema=rows.schema))
    return rows.set_column(
        rows.schema.get_field_index(WEIGHT),
        WEIGHT,
        pa.array(np.ones(rows.num_rows, dtype=np.int64)),
    )


def distinct_operator(node: Distinct) -> Operator:
    schema = change_schema(node.schema)
    everything = tuple(range(len(node.schema)))
    return RecomputeOperator([schema], [everything], schema, _distinct_rows, output_key=everything)


def set_operator(node: SetOp, compute) -> Operator:
    """INTERSECT [ALL] and EXCEPT [ALL]; UNION is built from union-all and distinct."""
    everything = tuple(range(len(node.schema)))
    inputs = [change_schema(node.left.schema), change_schema(node.right.schema)]
    return RecomputeOperator(
        inputs, [everything, everything], change_schema(node.schema), compute, output_key=everything
    )


def top_n_operator(node: TopN, compute) -> Operator:
    schema = change_schema(node.schema)
    return RecomputeOperator(
        [change_schema(node.input.schema)], [()], schema, compute, output_key=()
    )


def over_window_operator(node: OverWindow, compute) -> Operator:
    partition = node.calls[0].partition
    if any(c.partition != partition for c in node.calls):
        partition = tuple(sorted(set.intersection(*(set(c.partition) for c in node.calls))))
    return RecomputeOperator(
        [change_schema(node.input.schema)],
        [partition],
        change_schema(node.schema),
        compute,
        output_key=partition,
    )
