"""The memory budget: how much state tidal may hold, and when sources must wait.

    >>> budget = MemoryBudget(parse_size("100MB"))
    >>> budget.limit, format_size(budget.limit)
    (104857600, '100 MiB')
    >>> said = budget.update(Usage(95 << 20, (("view v", 90 << 20), ("table t", 5 << 20))))
    >>> budget.paused, said.split(":")[1]
    (True, ' 95 MiB of 100 MiB held (95%), most by view v (90 MiB), table t (5 MiB)')

One budget per Database (``--memory-limit``, ``Database(memory_limit=...)``; by default half
of the machine's memory, or of the cgroup's limit if lower). It bounds two things:

- DuckDB: the engine's DuckDB work and clients' ad hoc queries each run in a DuckDB instance
  of their own (tidal.sql.typeinfer.ENGINE, AD_HOC) whose ``memory_limit`` is
  ``DUCKDB_SHARE`` of the budget (``duckdb_limit``; in batch mode, where the engine keeps no
  state, the whole budget), with no spilling to disk: a query that needs more fails with
  53200 instead of growing without end, and the state and DuckDB together stay within
  about 1.4 times the budget.
- The state the engine keeps between ticks: the Arrow bytes of tables' and sources' contents,
  of views' contents and of their operators' state, measured as held (``measure``), after
  every tick and before every poll: a sum over batches and operators, not a walk over rows.

When the state reaches ``PAUSE_SHARE`` of the budget the tick loop stops reading sources
(backpressure) and says so once; queries, DML and DDL go on, so a DROP or a DELETE can make
room. Below ``RESUME_SHARE`` sources are read again. Past the whole budget a statement that
would add state is refused with 53200 (out of memory), naming what holds the memory.
"""

from __future__ import annotations

import os
import pathlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE, OUT_OF_MEMORY, TidalError
from tidal.sql.typeinfer import ENGINE, LOCKED_CONFIG, new_instance

PAUSE_SHARE = 0.9  # sources wait from this share of the budget on
RESUME_SHARE = 0.85  # and are read again below this one (not at once: no flapping every tick)
DEFAULT_SHARE = 0.5  # of the machine's (or cgroup's) memory, when no limit is given
DUCKDB_SHARE = 0.25  # of the budget, for each DuckDB instance (the engine's, ad hoc queries')
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(?:([kmgt]?)(?:i?b)?)?\s*", re.IGNORECASE)
# Where the cgroup (v2, then v1) that holds this process states its memory limit.
_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


class OutOfMemory(TidalError):
    """A statement would take the state past the memory budget."""

    sqlstate = OUT_OF_MEMORY


def parse_size(text: str) -> int:
    """Bytes from a size as ``--memory-limit`` takes it: units in powers of 1024, as
    PostgreSQL's (``kB``, ``MB``, ``GB``, ``TB``; ``MiB`` and the like too).

    >>> parse_size("1GB"), parse_size("512 MB"), parse_size("64mib"), parse_size("1000")
    (1073741824, 536870912, 67108864, 1000)
    """
    match = _SIZE.fullmatch(text)
    if match is None or float(match.group(1)) <= 0:
        raise TidalError(
            f"memory limit {text!r} is not a size: write e.g. 512MB, 2GB or 1.5GB",
            INVALID_PARAMETER_VALUE,
        )
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def format_size(size: int) -> str:
    """A size for messages, in the largest binary unit that keeps it at least 1.

    >>> format_size(3 << 30), format_size(1536 << 20), format_size(100)
    ('3 GiB', '1.5 GiB', '100 B')
    """
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f}".removesuffix(".0") + f" {unit}"
    return f"{size} B"


def default_limit() -> int:
    """``DEFAULT_SHARE`` of the memory this process may use: the machine's physical memory,
    or its cgroup's limit if that is lower (a container)."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return int(min([physical, *_cgroup_limits()]) * DEFAULT_SHARE)


def _cgroup_limits() -> list[int]:
    limits = []
    for path in _CGROUP_LIMITS:
        try:
            text = pathlib.Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit():  # "max" (v2) or a huge number (v1): no limit
            limits.append(int(text))
    return limits


# ---------------------------------------------------------------------------------------------
# DuckDB

_instances: dict[tuple[str, int], duckdb.DuckDBPyConnection] = {}
_instances_lock = threading.Lock()


def duckdb_connection(limit: int, purpose: str = ENGINE) -> duckdb.DuckDBPyConnection:
    """A locked DuckDB connection (tidal.sql.typeinfer.LOCKED_CONFIG) whose instance may use at
    most ``limit`` bytes. One instance per purpose (``ENGINE``, ``AD_HOC``) and limit: its
    settings are fixed when it starts, and a new connection to it costs microseconds (a new
    instance about 30 ms)."""
    with _instances_lock:
        instance = _instances.get((purpose, limit))
        if instance is None:
            # Nothing spills to disk: DuckDB would write it under the working directory.
            config = {**LOCKED_CONFIG, "memory_limit": f"{limit}B", "max_temp_directory_size": "0B"}
            instance = _instances[purpose, limit] = new_instance(config)
        return instance.cursor()


# ---------------------------------------------------------------------------------------------
# State


@dataclass(frozen=True)
class Usage:
    """The state's bytes in all (``total``) and per holder (``holders``: ("view v", bytes)),
    largest first."""

    total: int
    holders: tuple[tuple[str, int], ...] = ()

    def largest(self, count: int = 2) -> str:
        """The largest holders for a message: ``view v (40 MiB), source s (9 MiB)``."""
        shown = [f"{name} ({format_size(size)})" for name, size in self.holders[:count] if size]
        return ", ".join(shown) or "nothing"


def measure(holders: Iterable[tuple[str, Iterable[object]]]) -> Usage:
    """The bytes held by each holder: (name, its parts), a part being anything with a
    ``held_bytes()`` (collections, dataflows) or None."""
    sizes = [
        (name, sum(part.held_bytes() for part in parts if part is not None))
        for name, parts in holders
    ]
    sizes.sort(key=lambda pair: -pair[1])
    return Usage(sum(size for _, size in sizes), tuple(sizes))


class MemoryBudget:
    """The budget (``limit`` bytes), the state's last measured ``usage``, and whether sources
    are ``paused``; ``duckdb_limit``: what each DuckDB instance may use (``batch_mode``: the
    engine keeps no state, DuckDB does all the work)."""

    def __init__(self, limit: int | None = None, batch_mode: bool = False) -> None:
        self.limit = default_limit() if limit is None else limit
        if self.limit <= 0:
            raise TidalError(
                f"memory limit {limit} is not positive", sqlstate=INVALID_PARAMETER_VALUE
            )
        self.duckdb_limit = self.limit if batch_mode else int(self.limit * DUCKDB_SHARE)
        self.usage = Usage(0)
        self.paused = False

    def update(self, usage: Usage) -> str | None:
        """Take a new measure; returns what to say if sources pause or resume because of it."""
        self.usage = usage
        if not self.paused and usage.total >= self.limit * PAUSE_SHARE:
            self.paused = True
            return (
                f"memory budget: {self.held()}, most by {usage.largest()}: sources are "
                "paused until the state shrinks (DROP a view or a source that keeps its rows, "
                "DELETE rows, or restart with a larger --memory-limit)"
            )
        if self.paused and usage.total < self.limit * RESUME_SHARE:
            self.paused = False
            return f"memory budget: {self.held()}: sources are read again"
        return None

    def held(self) -> str:
        """``95 MiB of 100 MiB held (95%)``."""
        share = round(100 * self.usage.total / self.limit)
        return f"{format_size(self.usage.total)} of {format_size(self.limit)} held ({share}%)"

    def refuse(self, what: str) -> OutOfMemory:
        """The error of a statement (``what``: "INSERT into t") that would grow the state past
        the budget."""
        return OutOfMemory(
            f"out of memory: {what} would take the state past the memory budget "
            f"({self.held()}, most by {self.usage.largest()}); DROP a view or a source that "
            "keeps its rows, DELETE rows, or restart with a larger --memory-limit"
        )
