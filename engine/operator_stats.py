"""Per-operator statistics of a dataflow: rows in and out, time in its own step, state held.

A dataflow counts, for each operator, once per step (never per row): the change rows it took
from its inputs and gave out (a retraction is a row too, with weight -1), and the time spent in
its ``step`` and ``on_watermark`` (its inputs ran before it, so that time is its own).
``Dataflow.operator_stats()`` reads them as frozen values, in plan order (the root first, then
each input below it, as EXPLAIN prints the plan):

    >>> counters = OperatorCounters()
    >>> counters.add(3, 2, 1_500)
    >>> counters.add(1, 0, 500)
    >>> stats = counters.stats("Filter #2", 1, state_rows=None, state_bytes=None)
    >>> stats.rows_in, stats.rows_out, stats.last_rows_in, stats.last_rows_out, stats.seconds
    (4, 2, 1, 0, 2e-06)
    >>> stats.actual()
    '(actual rows in=4 out=2, last tick in=1 out=0, time=0.002 ms)'

Counts start when the dataflow is built (the view's creation, or the server's start for a view
restored from a checkpoint), its backfill included. ``tree_prefixes`` and ``rate`` draw them
for ``EXPLAIN (ANALYZE, FORMAT TREE)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from tidal.engine.memory import format_size


@dataclass(frozen=True)
class OperatorStats:
    """One operator of a dataflow.

    ``operator``: its kind and position in plan order (``"AccumulatingAggregate #2"``; #1 is
    the root); ``depth``: how far below the root (for drawing the tree). Rows are change rows,
    in all and in the last tick; ``seconds``: time in its own step, excluding its inputs'.
    ``state_rows`` and ``state_bytes``: what it holds (None for an operator that keeps no state,
    and bytes None unless asked for).
    """

    operator: str
    depth: int
    rows_in: int
    rows_out: int
    last_rows_in: int
    last_rows_out: int
    seconds: float
    state_rows: int | None
    state_bytes: int | None

    def actual(self) -> str:
        """Its numbers as EXPLAIN ANALYZE prints them, after PostgreSQL's ``(actual ...)``."""
        text = (
            f"(actual rows in={self.rows_in} out={self.rows_out}, last tick "
            f"in={self.last_rows_in} out={self.last_rows_out}, time={self.seconds * 1e3:.3f} ms"
        )
        if self.state_rows is not None:
            text += f", state rows={self.state_rows}"
            if self.state_bytes is not None:
                text += f" bytes={format_size(self.state_bytes)}"
        return text + ")"


class OperatorCounters:
    """What a dataflow counts for one operator as it steps; mutable, a few additions a step."""

    __slots__ = ("last_rows_in", "last_rows_out", "nanoseconds", "rows_in", "rows_out")

    def __init__(self) -> None:
        self.rows_in = self.rows_out = self.last_rows_in = self.last_rows_out = 0
        self.nanoseconds = 0

    def add(self, rows_in: int, rows_out: int, nanoseconds: int) -> None:
        """One step: the change rows taken and given, and the time it took."""
        self.rows_in += rows_in
        self.rows_out += rows_out
        self.last_rows_in = rows_in
        self.last_rows_out = rows_out
        self.nanoseconds += nanoseconds

    def stats(
        self, operator: str, depth: int, state_rows: int | None, state_bytes: int | None
    ) -> OperatorStats:
        return OperatorStats(
            operator,
            depth,
            self.rows_in,
            self.rows_out,
            self.last_rows_in,
            self.last_rows_out,
            self.nanoseconds / 1e9,
            state_rows,
            state_bytes,
        )


def tree_prefixes(depths: list[int]) -> list[str]:
    """The box-drawing prefix of each line of a tree given in plan order by depth, as ``tree``
    draws it.

    >>> for prefix, name in zip(tree_prefixes([0, 1, 2, 2, 1]), "abcde"):
    ...     print(prefix + name)
    a
    ├── b
    │   ├── c
    │   └── d
    └── e
    """
    prefixes: list[str] = []
    open_levels: list[bool] = []  # per level above: whether a later sibling still comes
    for index, depth in enumerate(depths):
        del open_levels[max(depth - 1, 0) :]
        if depth == 0:
            prefixes.append("")
            continue
        later = _has_later_sibling(depths, index)
        bars = "".join("│   " if more else "    " for more in open_levels)
        prefixes.append(bars + ("├── " if later else "└── "))
        open_levels.append(later)
    return prefixes


def _has_later_sibling(depths: list[int], index: int) -> bool:
    for depth in depths[index + 1 :]:
        if depth <= depths[index]:
            return depth == depths[index]
    return False


def rate(rows: int, seconds: float) -> str:
    """Rows per second, short: ``rate(4500, 2.0)`` is ``'2.2k rows/s'``.

    >>> rate(3, 2.0), rate(4500, 2.0), rate(7_000_000, 1.0), rate(5, 0.0)
    ('1.5 rows/s', '2.2k rows/s', '7.0M rows/s', '0 rows/s')
    """
    per_second = rows / seconds if seconds > 0 else 0.0
    for unit, factor in (("M", 1e6), ("k", 1e3)):
        if per_second >= factor:
            return f"{per_second / factor:.1f}{unit} rows/s"
    return f"{per_second:.1f} rows/s" if per_second else "0 rows/s"
