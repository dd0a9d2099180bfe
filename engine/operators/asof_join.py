"""ASOF join, maintained: each left row's match re-judged only where a change can move it.

State: both inputs, arranged by their equality keys. For changes dL, dR in a tick,

    d(L asof R) = (L asof R') - (L asof R)  +  dL asof R'       (R' = R + dR)

and a left row's match moves only if a right row changed at the time it matches: with U the
right rows of its key in R or in dR (NULL keys and times left out), its match lies at the
nearest time of U on the inequality's side (``>=``: the greatest U time at or below its own),
and if no right row changed at that time, the rows there are the same in R and R', and so is the
match. So a right change re-joins only the left rows whose nearest U time it touched, not the
whole key: a quote arriving in time order touches the trades after it, up to the next quote.

The matches themselves are computed by the node's lowering on DuckDB (sql/lower.py, the same
tie-breaking as batch mode), over just those rows:

    R = {(a, t=5, v=1)};  L = {(a, 4), (a, 6), (a, 9)};  dR = +(a, t=7, v=2)
    U times of a: 5, 7;  nearest at or below: 4 -> none, 6 -> 5, 9 -> 7 (changed)
    only (a, 9) is re-joined:  -(a, 9, a, 5, 1) +(a, 9, a, 7, 2)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.arrangement import Arrangement, key_hash
from tidal.engine.keys import canonical
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.zset import WEIGHT, concat, consolidate, negate
from tidal.sql.asof_joins import AsofJoin

Compute = Callable[[list[pa.Table]], pa.Table]


class AsofJoinOperator(Operator):
    def __init__(self, node: AsofJoin, compute: Compute) -> None:
        self.schema = change_schema(node.schema)
        self.compute = compute
        self.left_keys, self.right_keys = tuple(node.left_keys), tuple(node.right_keys)
        self.left_time, self.right_time, self.op = node.left_time, node.right_time, node.op
        self.left = Arrangement(change_schema(node.left.schema), self.left_keys)
        self.right = Arrangement(change_schema(node.right.schema), self.right_keys)

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        delta_left, delta_right = inputs
        out = []
        if delta_right.num_rows:
            hashes = key_hash(delta_right, self.right_keys)
            wanted = np.unique(hashes)
            old_right = self.right.lookup(wanted)
            new_right = consolidate(concat([old_right, delta_right]))
            left = self.left.lookup(wanted)
            moved = (
                left.filter(self._moved(left, old_right, delta_right)) if left.num_rows else left
            )
            if moved.num_rows:
                out += [self._run(moved, new_right), negate(self._run(moved, old_right))]
            self.right.insert(delta_right, hashes)
        if delta_left.num_rows:
            hashes = key_hash(delta_left, self.left_keys)
            out.append(self._run(delta_left, self.right.lookup(np.unique(hashes))))
            self.left.insert(delta_left, hashes)
        return consolidate(concat(out, self.schema))

    def _run(self, left: pa.Table, right: pa.Table) -> pa.Table:
        return join_left_linear(self.compute, left, right, self.schema)

    def _moved(self, left: pa.Table, old_right: pa.Table, delta_right: pa.Table) -> np.ndarray:
        """Which rows of ``left`` may match another right row after ``delta_right``: those whose
        nearest right time (over the old rows and the changed ones) is a changed one's."""
        sides = [
            (left, self.left_keys, self.left_time),
            (old_right, self.right_keys, self.right_time),
            (delta_right, self.right_keys, self.right_time),
        ]
        tables = [t.select([*keys, time]) for t, keys, time in sides]
        width = len(self.left_keys)
        names = [f"k{i}" for i in range(width)] + ["t"]
        every = pa.concat_tables(
            [t.rename_columns(names) for t in tables], promote_options="permissive"
        )
        valid = np.ones(every.num_rows, dtype=bool)
        for name in names:
            valid &= pc.is_valid(every.column(name)).to_numpy(zero_copy_only=False)
        codes = _dense_codes([every.column(n) for n in names[:-1]], every.num_rows)
        times = _dense_codes([every.column("t")], every.num_rows, ordered=True)
        stride = int(times.max(initial=0)) + 2
        composite = codes * stride + times
        n_left, n_old = left.num_rows, old_right.num_rows
        probe, probe_valid = composite[:n_left], valid[:n_left]
        changed = composite[n_left + n_old :][valid[n_left + n_old :]]
        candidates = np.sort(composite[n_left:][valid[n_left:]])
        if not len(candidates):
            return np.zeros(n_left, dtype=bool)
        if self.op in (">=", ">"):
            position = np.searchsorted(candidates, probe, "right" if self.op == ">=" else "left")
            position -= 1
            found = position >= 0
        else:
            position = np.searchsorted(candidates, probe, "left" if self.op == "<=" else "right")
            found = position < len(candidates)
        nearest = candidates[np.clip(position, 0, len(candidates) - 1)]
        same_key = nearest // stride == codes[:n_left]
        return probe_valid & found & same_key & np.isin(nearest, changed)

    def snapshot(self) -> dict:
        return {"left": self.left.snapshot(), "right": self.right.snapshot()}

    def restore(self, state: dict) -> None:
        self.left.restore(state["left"])
        self.right.restore(state["right"])

    def state_rows(self) -> int:
        return len(self.left) + len(self.right)


def join_left_linear(
    compute: Compute, left: pa.Table, right: pa.Table, schema: pa.Schema
) -> pa.Table:
    """``compute`` (a join evaluated on DuckDB, over positive weights) of ``left``, whose
    weights may have either sign, with ``right``: the join is linear in its left input, each
    left row joined on its own, so each sign is joined apart."""
    weights = left.column(WEIGHT)
    out = []
    for sign in (1, -1):
        part = left.filter(pc.greater(pc.multiply(weights, sign), 0))
        if part.num_rows:
            part = part.set_column(
                part.num_columns - 1, WEIGHT, pc.multiply(part.column(WEIGHT), sign)
            )
            result = compute([part, right])
            result = result.cast(schema) if result.schema != schema else result
            out.append(result if sign == 1 else negate(result))
    return concat(out, schema)


def _dense_codes(columns: list[pa.ChunkedArray], rows: int, ordered: bool = False) -> np.ndarray:
    """An int64 code per row, equal for equal values of ``columns`` (as SQL compares them);
    with ``ordered``, of the one column, and in its order (NaN above every number)."""
    codes = np.zeros(rows, dtype=np.int64)
    for column in columns:
        column = canonical(column)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if ordered:
            ranks = pc.rank(column, sort_keys="ascending", tiebreaker="dense")
            own = np.asarray(ranks, dtype=np.int64)
        else:
            encoded = pc.dictionary_encode(column)
            own = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        _, codes = np.unique(np.stack([codes, own]), axis=1, return_inverse=True)
        codes = codes.reshape(-1).astype(np.int64)
    return codes
