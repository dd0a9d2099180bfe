"""Arrangements: the integrated Z-set of a stream, indexed by a key, built once and shared.

Rows live in a few runs (Arrow tables), each sorted by a 64-bit hash of the key columns, so a
lookup of the rows for some keys is a binary search per run, not a scan. New changes become a
new run; runs of similar size merge (as in a log-structured merge tree), so there are
O(log n) runs, and a merge that sees retractions consolidates them away. Hash collisions only
make a lookup return a few extra rows; callers compare real key values where it matters.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.watermarks import micros
from tidal.engine.zset import WEIGHT, consolidate

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_hash_connection: duckdb.DuckDBPyConnection | None = None


def _splitmix(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def _fixed_width_bits(column: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """The column's values as uint64 bit patterns (nulls arbitrary), or None for other types."""
    arrow_type = column.type
    if pa.types.is_boolean(arrow_type):
        column = pc.cast(column, pa.int8())
    elif (
        pa.types.is_timestamp(arrow_type)
        or pa.types.is_date(arrow_type)
        or pa.types.is_time(arrow_type)
        or pa.types.is_duration(arrow_type)
    ):
        # Arrow casts temporal types only to the integer of their own width (date32 to int32).
        column = pc.cast(column, pa.int32() if arrow_type.bit_width == 32 else pa.int64())
    elif pa.types.is_floating(arrow_type):
        # -0.0 and 0.0 are equal in SQL: hash them the same.
        column = pc.add(column, pa.scalar(0.0, arrow_type))
        values = pc.fill_null(column, 0).to_numpy()
        return values.astype(np.float64).view(np.uint64)
    elif not pa.types.is_integer(column.type):
        return None
    values = pc.fill_null(column, 0).to_numpy()
    return values.astype(np.int64, copy=False).view(np.uint64)


def key_hash(table: pa.Table, key: tuple[int, ...] | list[str]) -> np.ndarray:
    """A uint64 hash of the key columns of each row; NULLs hash equal to each other."""
    names = [table.column_names[k] if isinstance(k, int) else k for k in key]
    result = np.full(table.num_rows, np.uint64(0x2545F4914F6CDD1D), dtype=np.uint64)
    others = []
    for name in names:
        column = table.column(name)
        bits = _fixed_width_bits(column)
        if bits is None:
            others.append(name)
            continue
        hashed = _splitmix(bits)
        if column.null_count:
            hashed = np.where(pc.is_null(column).to_numpy(zero_copy_only=False), _NULL_HASH, hashed)
        with np.errstate(over="ignore"):
            result = _splitmix(result ^ hashed)
    if others:
        with np.errstate(over="ignore"):
            result = _splitmix(result ^ _duckdb_hash(table.select(others)))
    return result


def _duckdb_hash(table: pa.Table) -> np.ndarray:
    global _hash_connection
    if _hash_connection is None:
        from tidal.sql.typeinfer import connect_locked

        _hash_connection = connect_locked()
    columns = ", ".join(f'"{n}"' for n in table.column_names)
    _hash_connection.register("keys", table)
    try:
        hashed = _hash_connection.sql(f"SELECT hash({columns}) AS h FROM keys").to_arrow_table()
    finally:
        _hash_connection.unregister("keys")
    return hashed.column(0).to_numpy().astype(np.uint64, copy=False)


class _Run:
    """Rows, and their key hashes sorted beside the row positions they belong to.

    The rows are never reordered: merging two runs concatenates them and merges the two
    sorted hash lists in linear time.
    """

    __slots__ = ("hashes", "positions", "retractions", "rows")

    def __init__(
        self,
        rows: pa.Table,
        hashes: np.ndarray,
        positions: np.ndarray | None = None,
        retractions: int | None = None,
    ) -> None:
        if positions is None:
            # Stable: equal hashes keep their rows' order, here and in merges, so a run rebuilt
            # from its rows (``Arrangement.restore``) looks its rows up in the same order.
            positions = np.argsort(hashes, kind="stable")
            hashes = hashes[positions]
        self.rows = rows
        self.hashes = hashes
        self.positions = positions
        if retractions is None:
            weights = rows.column(WEIGHT)
            retractions = pc.sum(pc.less(weights, 0)).as_py() or 0 if rows.num_rows else 0
        self.retractions = retractions

    @classmethod
    def merged(cls, older: _Run, newer: _Run) -> _Run:
        rows = pa.concat_tables([older.rows, newer.rows])
        if rows.column(0).num_chunks > 16:
            rows = rows.combine_chunks()  # keeps takes fast; amortized by the merge sizes
        # Where each newer hash goes among the older ones; equal hashes keep older first.
        slots = np.searchsorted(older.hashes, newer.hashes, "right") + np.arange(len(newer.hashes))
        total = len(older.hashes) + len(newer.hashes)
        from_newer = np.zeros(total, dtype=bool)
        from_newer[slots] = True
        hashes = np.empty(total, dtype=np.uint64)
        positions = np.empty(total, dtype=np.int64)
        hashes[slots], hashes[~from_newer] = newer.hashes, older.hashes
        positions[slots] = newer.positions + older.rows.num_rows
        positions[~from_newer] = older.positions
        return cls(rows, hashes, positions, older.retractions + newer.retractions)

    def lookup(self, wanted: np.ndarray) -> np.ndarray:
        """Positions of the rows whose hash is in ``wanted`` (sorted, unique)."""
        low = np.searchsorted(self.hashes, wanted, "left")
        high = np.searchsorted(self.hashes, wanted, "right")
        lengths = high - low
        total = int(lengths.sum())
        if total == 0:
            return np.empty(0, dtype=np.int64)
        starts = np.repeat(low - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        return self.positions[starts + np.arange(total)]


class Arrangement:
    """The integrated rows of a stream (columns ``c0``.. and ``__weight``), indexed by ``key``."""

    def __init__(self, schema: pa.Schema, key: tuple[int, ...]) -> None:
        self.schema = schema
        self.key = key
        self._runs: list[_Run] = []

    def __len__(self) -> int:
        return sum(run.rows.num_rows for run in self._runs)

    def held_bytes(self) -> int:
        """The bytes held as they are, before any consolidation: each run's rows (Arrow) and
        its uint64 key hashes."""
        return sum(run.rows.nbytes + run.hashes.nbytes for run in self._runs)

    def hashes(self, table: pa.Table) -> np.ndarray:
        return key_hash(table, self.key)

    def insert(self, delta: pa.Table, hashes: np.ndarray | None = None) -> None:
        if delta.num_rows == 0:
            return
        if hashes is None:
            hashes = self.hashes(delta)
        self._runs.append(_Run(delta, hashes))
        self._merge()

    def _merge(self) -> None:
        while (
            len(self._runs) > 1 and self._runs[-1].rows.num_rows * 4 >= self._runs[-2].rows.num_rows
        ):
            newer, older = self._runs.pop(), self._runs.pop()
            run = _Run.merged(older, newer)
            if run.retractions * 8 >= run.rows.num_rows:
                # Enough retractions to be worth it: drop them with what they retract. Below that
                # they stay (lookups consolidate, or multiply weights), which keeps a stream of
                # updates from consolidating the whole arrangement on every merge.
                rows = consolidate(run.rows)
                run = _Run(rows, self.hashes(rows))
            if run.rows.num_rows:
                self._runs.append(run)

    def lookup(self, hashes: np.ndarray, consolidated: bool = True) -> pa.Table:
        """The rows whose key hash is among ``hashes``; ``consolidated=False`` may return a row
        and its retraction separately (fine for anything that only multiplies weights)."""
        wanted = _distinct_sorted(hashes)
        parts = []
        for run in self._runs:
            positions = run.lookup(wanted)
            if len(positions):
                parts.append(run.rows.take(pa.array(positions)))
        if not parts:
            return self.schema.empty_table()
        found = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        return consolidate(found) if consolidated else found

    def drop_below(self, column: int, watermark: int) -> int:
        """Drop the rows whose timestamp ``column`` is below ``watermark`` (microseconds): state
        no future change can touch. Returns how many rows were dropped."""
        dropped = 0
        for i, run in enumerate(self._runs):
            keep = micros(run.rows.column(column)) >= watermark
            if keep.all():
                continue
            dropped += int((~keep).sum())
            renumbered = np.cumsum(keep) - 1
            kept = keep[run.positions]
            self._runs[i] = _Run(
                run.rows.filter(pa.array(keep)),
                run.hashes[kept],
                renumbered[run.positions[kept]],
            )
        self._runs = [run for run in self._runs if run.rows.num_rows]
        return dropped

    def rows(self) -> pa.Table:
        """Every row, consolidated."""
        if not self._runs:
            return self.schema.empty_table()
        return consolidate(pa.concat_tables([run.rows for run in self._runs]))

    def snapshot(self) -> list[pa.Table]:
        """The state for ``restore``: each run's rows as they are. Arrow tables are immutable,
        so this shares them (no copy, no consolidation) and later changes leave it as it was."""
        return [run.rows for run in self._runs]

    def restore(self, runs: list[pa.Table]) -> None:
        """Back to the runs of a ``snapshot``, the same runs, so that lookups and merges go on
        as they would have (their key hashes are computed again, not stored)."""
        self._runs = [_Run(rows, self.hashes(rows)) for rows in runs if rows.num_rows]


def _distinct_sorted(values: np.ndarray) -> np.ndarray:
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]
