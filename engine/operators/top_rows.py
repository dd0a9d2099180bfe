"""The first k rows per partition of insert-only input: ``ROW_NUMBER() ... <= k``.

    SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn
                   FROM bids) WHERE rn <= 1

When rows are only ever inserted, a row that falls out of its partition's first k can never come
back, so the state is the current first k rows of each partition (with their numbers), not every
row: Nexmark q9 keeps one row per auction instead of every bid. The general path (a keyed
recompute of the window function over all of a partition's rows) is used otherwise.

A tick ranks the touched partitions' kept rows together with the new rows, natively (one Arrow
sort), and emits the difference. Ties in the ORDER BY are broken by the other columns, so the
result is deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.arrangement import Arrangement, key_hash
from tidal.engine.operators.base import Operator, change_schema
from tidal.engine.operators.recompute import StateExpiry
from tidal.engine.zset import WEIGHT, concat, consolidate, negate
from tidal.sql.plan import OverWindow


class TopRowsOperator(Operator):
    def __init__(self, node: OverWindow, limit: int) -> None:
        (call,) = node.calls
        width = len(node.input.schema)
        self.schema = change_schema(node.schema)
        self.partition = call.partition
        self.limit = limit
        ordered = [*call.partition, *(k.column for k in call.order)]
        self.sort_keys = (
            [(f"c{c}", "ascending", "at_end") for c in call.partition]
            + [
                (
                    f"c{k.column}",
                    "descending" if k.descending else "ascending",
                    "at_start" if k.nulls_first else "at_end",
                )
                for k in call.order
            ]
            + [(f"c{c}", "ascending", "at_end") for c in range(width) if c not in ordered]
        )
        self.number = f"c{width}"
        self.kept = Arrangement(self.schema, call.partition)
        self.expiry: list[StateExpiry] = []

    def step(self, inputs: list[pa.Table]) -> pa.Table:
        (delta,) = inputs
        if delta is None or delta.num_rows == 0:
            return self.empty()
        weights = delta.column(WEIGHT).to_numpy()
        if weights.min() < 0:
            raise AssertionError("top rows per partition over input with deletions")
        hashes = key_hash(delta, self.partition)
        old = self.kept.lookup(np.unique(hashes))
        if (weights != 1).any():  # a row inserted twice is two rows to rank
            delta = delta.take(pa.array(np.repeat(np.arange(delta.num_rows), weights)))
        candidates = concat([old.drop_columns([self.number, WEIGHT]), delta.drop_columns([WEIGHT])])
        new = self._first_rows(candidates)
        change = consolidate(concat([new, negate(old)]))
        self.kept.insert(change)
        return change

    def _first_rows(self, rows: pa.Table) -> pa.Table:
        """Each partition's first ``limit`` rows, numbered, as insertions."""
        rows = rows.take(pc.sort_indices(rows, sort_keys=self.sort_keys))
        hashes = key_hash(rows, self.partition)
        starts = np.flatnonzero(np.concatenate(([True], hashes[1:] != hashes[:-1])))
        lengths = np.diff(np.append(starts, len(hashes)))
        numbers = np.arange(len(hashes)) - np.repeat(starts, lengths) + 1
        first = numbers <= self.limit
        rows = rows.filter(pa.array(first))
        count = rows.num_rows
        return rows.append_column(self.number, pa.array(numbers[first])).append_column(
            WEIGHT, pa.array(np.ones(count, dtype=np.int64))
        )

    def on_watermark(self, watermarks: Mapping[str, int | None]) -> pa.Table | None:
        for expiry in self.expiry:
            watermark = expiry.bound.value(watermarks)
            if watermark is not None:
                self.kept.drop_below(expiry.column, watermark)
        return None

    def output_rows(self) -> pa.Table | None:
        return self.kept.rows() if not self.expiry else None

    def snapshot(self) -> dict:
        return {"kept": self.kept.snapshot()}

    def restore(self, state: dict) -> None:
        self.kept.restore(state["kept"])

    def state_rows(self) -> int:
        return len(self.kept)
