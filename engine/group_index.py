"""Group keys to dense slot numbers, so per-group state can live in numpy arrays.

The index is a sorted array of 64-bit key hashes beside the slot of each key, and the key values
by slot. Looking up a batch of distinct keys is a binary search plus a vectorized comparison
of the stored key values (so a hash collision is detected, never silently merged); new keys get
the next slots.

>>> import pyarrow as pa
>>> index = GroupIndex()
>>> index.slots(pa.table({"k": ["a", None]}))[0].tolist()
[0, 1]
>>> index.slots(pa.table({"k": [None, "b"]}))[0].tolist()
[1, 2]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.arrangement import key_hash
from tidal.engine.keys import comparable


class GroupIndex:
    def __init__(self) -> None:
        self._hashes = np.empty(0, dtype=np.uint64)  # sorted
        self._slots = np.empty(0, dtype=np.int64)  # slot of each hash above
        self._keys: pa.Table | None = None  # key values, row i = slot i
        self.size = 0

    def slots(self, keys: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """The slot of each row of ``keys`` (rows distinct), and which of them are new."""
        n = keys.num_rows
        hashes = (
            key_hash(keys, list(range(keys.num_columns)))
            if keys.num_columns
            else np.zeros(n, dtype=np.uint64)
        )
        low = _search_sorted(self._hashes, hashes)
        size = len(self._hashes)
        bounded = np.minimum(low, max(size - 1, 0))
        found = (
            (low < size) & (self._hashes[bounded] == hashes) if size else np.zeros(n, dtype=bool)
        )
        slots = np.full(n, -1, dtype=np.int64)
        slots[found] = self._slots[low[found]]
        if found.any() and keys.num_columns:
            candidates = np.nonzero(found)[0]
            same = self._equal(keys.take(pa.array(candidates)), slots[candidates])
            following = np.minimum(low[candidates] + 1, size - 1)
            shared = (low[candidates] + 1 < size) & (self._hashes[following] == hashes[candidates])
            unsure = candidates[~same | shared]
            high = np.searchsorted(self._hashes, hashes[unsure], "right")
            slots[unsure] = [
                self._search(keys.slice(i, 1), low[i], h) for i, h in zip(unsure, high)
            ]
        new = slots < 0
        count = int(new.sum())
        if count:
            slots[new] = np.arange(self.size, self.size + count)
            self._add(keys.filter(pa.array(new)), hashes[new], slots[new])
        return slots, new

    def keys(self, slots: np.ndarray) -> pa.Table:
        return self._keys.take(pa.array(slots))

    def key_column(self, position: int) -> pa.ChunkedArray:
        """Key column ``position`` of every slot, in slot order."""
        return self._keys.column(position)

    def compacted(self, kept: np.ndarray) -> GroupIndex:
        """A new index of only the slots ``kept`` (ascending), renumbered 0, 1, ..."""
        index = GroupIndex()
        if len(kept):
            index.slots(self.keys(kept))
        return index

    def _equal(self, keys: pa.Table, slots: np.ndarray) -> np.ndarray:
        stored = self._keys.take(pa.array(slots))
        same = np.ones(keys.num_rows, dtype=bool)
        for a, b in zip(keys.columns, stored.columns):
            a, b = comparable(a), comparable(b)
            equal = pc.fill_null(pc.equal(a, b), False)
            both_null = pc.and_(pc.is_null(a), pc.is_null(b))
            if pa.types.is_floating(a.type):  # NaN keys are one group, as in DuckDB
                both_nan = pc.fill_null(pc.and_(pc.is_nan(a), pc.is_nan(b)), False)
                both_null = pc.or_(both_null, both_nan)
            same &= pc.or_(equal, both_null).to_numpy(zero_copy_only=False)
        return same

    def _search(self, key: pa.Table, low: int, high: int) -> int:
        """The slot among hash-equal candidates whose key equals ``key`` (rare: a collision)."""
        for position in range(low, high):
            slot = int(self._slots[position])
            if self._equal(key, np.array([slot]))[0]:
                return slot
        return -1

    def _add(self, keys: pa.Table, hashes: np.ndarray, slots: np.ndarray) -> None:
        self._keys = keys if self._keys is None else pa.concat_tables([self._keys, keys])
        if self._keys.column(0).num_chunks > 32 if self._keys.num_columns else False:
            self._keys = self._keys.combine_chunks()
        merged = np.concatenate([self._hashes, hashes])
        order = np.argsort(merged, kind="stable")
        self._hashes = merged[order]
        self._slots = np.concatenate([self._slots, slots])[order]
        self.size += len(slots)

    def snapshot(self) -> pa.Table | None:
        return self._keys

    def restore(self, keys: pa.Table | None) -> None:
        """Back to a ``snapshot``: slot i is the snapshot's row i again. The rows are distinct
        keys, so there is nothing to look up: hash them and sort the hashes once (stably, so
        equal hashes are in slot order, as ``_add`` leaves them)."""
        self.__init__()
        if keys is None or not keys.num_rows:
            return
        hashes = (
            key_hash(keys, list(range(keys.num_columns)))
            if keys.num_columns
            else np.zeros(keys.num_rows, dtype=np.uint64)
        )
        order = np.argsort(hashes, kind="stable")
        self._keys, self._hashes, self._slots = keys, hashes[order], order.astype(np.int64)
        self.size = keys.num_rows


def _search_sorted(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """``np.searchsorted(haystack, needles)``, with the needles sorted first: a search in order
    walks memory in order, which is several times faster than random probes."""
    order = np.argsort(needles, kind="stable")
    positions = np.empty(len(needles), dtype=np.int64)
    positions[order] = np.searchsorted(haystack, needles[order], "left")
    return positions
