"""Durability: a database whose state survives a crash (kill -9) exactly, in a data directory.

The tick is the epoch. Every tick is logged (tidal.engine.durability.tick_log) with what it took
in: its tables' DML, the sources' positions after it, the watermarks and clock it ran with, and
a count and hash of its views' changes. A tick with DML is acknowledged only once its record is
fsynced: ``sync`` runs when a statement releases the engine's lock, so one fsync covers every
client that wrote meanwhile (group commit). Source-only ticks are not synced on their own: a
lost one is read again from the source.

Checkpoints (tidal.engine.durability.checkpoints) hold the whole state at a tick boundary
(tidal.engine.durability.engine_state). They are written by a background thread, off a frozen
copy taken under the lock, every ``checkpoint_interval`` seconds or ``checkpoint_log_bytes`` of
log, at ``CHECKPOINT`` and at a clean close. DDL is committed by a checkpoint taken before the
statement returns: the catalog in a checkpoint is the DDL that made it, re-run over empty
relations at recovery, so the log holds ticks only.

Recovery: load the newest checkpoint, re-run its DDL with nothing polled, put its state back,
then replay every logged tick after it (tidal.engine.ticks.TickLoop.replay: sources read again
up to their logged positions), checking each replayed tick's count and hash against the log.
Anything that does not match refuses to open, naming the tick: never a silent difference.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog import Catalog
from tidal.engine.arrangement import key_hash
from tidal.engine.durability import checkpoints, engine_state, state_files
from tidal.engine.durability.data_dir import DataDir, DurabilityError
from tidal.engine.durability.tick_log import TickLog
from tidal.engine.relations import Relations
from tidal.engine.subscriptions import Feeds
from tidal.engine.ticks import Replayed, TickLoop
from tidal.engine.watermarks import Watermarks
from tidal.engine.zset import WEIGHT

log = logging.getLogger(__name__)

DEFAULT_CHECKPOINT_INTERVAL = 10.0  # seconds
DEFAULT_CHECKPOINT_LOG_BYTES = 64 << 20


class Durability:
    def __init__(
        self,
        data_dir: DataDir,
        catalog: Catalog,
        relations: Relations,
        ticks: TickLoop,
        watermarks: Watermarks,
        feeds: Feeds,
        checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        checkpoint_log_bytes: int = DEFAULT_CHECKPOINT_LOG_BYTES,
    ) -> None:
        self.data_dir = data_dir
        self.catalog = catalog
        self.relations = relations
        self.ticks = ticks
        self.watermarks = watermarks
        self.feeds = feeds
        self.checkpoint_interval = checkpoint_interval
        self.checkpoint_log_bytes = checkpoint_log_bytes
        self.ddl: list[str] = []  # the statements that made the catalog, in order
        self.log = TickLog(data_dir.log_dir)
        self.last_checkpoint = time.monotonic()
        self._positions: dict[str, dict] = {}  # each source's last logged position
        self._expected: dict | None = None  # the logged record of the tick being replayed
        self._pending = threading.local()  # this thread's DML record to sync before returning
        self._writer: threading.Thread | None = None  # the background checkpoint, if running
        self._writer_error: BaseException | None = None

    # --- recovery ---------------------------------------------------------------------------------

    def holds_catalog(self) -> bool:
        """Whether the data directory holds a catalog (any DDL)."""
        return bool(self.ddl)

    def recover(self, run_ddl: Callable[[str], None]) -> None:
        """Bring the engine to the last logged tick: checkpoint, then the log after it."""
        started = time.perf_counter()
        folder = checkpoints.current(self.data_dir.checkpoint_dir)
        if folder is not None:
            state = checkpoints.load(folder)
            # Relative paths in the DDL resolve as they did when it first ran.
            self.relations.base_dir = state["base_dir"]
            self.ticks.replaying = self.relations.recovering = True
            try:
                for text in state["ddl"]:
                    self._run_ddl(run_ddl, text)
            finally:
                self.ticks.replaying = self.relations.recovering = False
            engine_state.restore(
                state, self.catalog.users, self.relations, self.watermarks, self.feeds
            )
            self.ddl = list(state["ddl"])
            self.ticks.ticks = state["tick"]
        self.ticks.journal = self
        for record in self.log.records():
            if record["tick"] <= self.ticks.ticks:
                continue  # in the checkpoint already
            self._replay(record)
        self._positions = self._source_positions()
        self.log.rotate()
        if folder is not None:
            log.info(
                "recovered %s: %s, then the log to tick %d, in %.3f s",
                self.data_dir.path,
                folder.name,
                self.ticks.ticks,
                time.perf_counter() - started,
            )

    def _run_ddl(self, run_ddl: Callable[[str], None], text: str) -> None:
        try:
            run_ddl(text)
        except Exception as error:
            raise DurabilityError(
                f"cannot recover {self.data_dir.path}: the statement that made part of its "
                f"catalog fails now: {error}\n  {text.strip()}"
            ) from error

    def _replay(self, record: dict) -> None:
        tick = record["tick"]
        if tick != self.ticks.ticks + 1:
            raise DurabilityError(
                f"cannot recover {self.data_dir.path}: the log goes from tick "
                f"{self.ticks.ticks} to tick {tick}; ticks in between are missing"
            )
        self._expected = record
        try:
            self.ticks.replay(
                Replayed(
                    record["changes"],
                    record["positions"],
                    record["watermarks"],
                    record["values"],
                    record["applied"],
                )
            )
        except DurabilityError:
            raise
        except Exception as error:
            raise DurabilityError(
                f"cannot recover {self.data_dir.path}: tick {tick} could not be run again: {error}"
            ) from error
        finally:
            self._expected = None

    # --- the journal of ticks (tidal.engine.ticks.Journal) ----------------------------------------

    def record(
        self,
        tick: int,
        changes: dict[str, pa.Table],
        values: dict[str, int | None],
        outputs: dict[str, pa.Table],
        sync: bool,
    ) -> None:
        segment, end = self.log.append(
            {
                "tick": tick,
                "applied": True,
                "changes": changes,
                "positions": self._moved_positions(),
                "watermarks": self.watermarks.snapshot(),
                "values": values,
                "check": self._check(outputs),
            }
        )
        if sync or (not changes and self.feeds.subscriptions()):
            # Someone outside learns of this tick (an upstream that forgets its rows, a sink
            # that publishes it, a subscriber that may resume AS OF it after a crash): it must
            # not be one that recovery would run again differently (a source-only tick is not
            # synced else).
            segment.sync(end)
        elif changes:  # DML: not acknowledged before this record is durable
            self._pending.record = (segment, end)

    def record_failed(self, tick: int) -> None:
        positions = self._moved_positions()
        if positions:
            record = {"tick": tick, "applied": False, "changes": {}, "positions": positions}
            self.log.append({**record, "watermarks": {}, "values": {}, "check": None})

    def check(self, tick: int, outputs: dict[str, pa.Table]) -> None:
        logged = self._expected["check"]
        found = self._check(outputs)
        if found != logged:
            raise DurabilityError(
                f"cannot recover {self.data_dir.path}: tick {tick} came out differently when "
                f"run again ({found[0]} changed view rows, hash {found[1]:016x}; logged "
                f"{logged[0]} rows, hash {logged[1]:016x})"
            )

    def sync(self) -> None:
        """Make this thread's last DML record durable (called once the lock is released)."""
        pending = getattr(self._pending, "record", None)
        if pending is not None:
            self._pending.record = None
            segment, end = pending
            segment.sync(end)

    def _moved_positions(self) -> dict[str, dict]:
        moved = {}
        for name, position in self._source_positions().items():
            if self._positions.get(name) != position:
                moved[name] = self._positions[name] = position
        return moved

    def _source_positions(self) -> dict[str, dict]:
        return {
            name: base.reader.snapshot()
            for name, base in self.relations.bases.items()
            if base.reader is not None
        }

    def _check(self, outputs: dict[str, pa.Table]) -> tuple[int, int]:
        """The views' changed rows in a tick and a hash of them that depends neither on
        their order nor on how they are split or consolidated (see ``_as_numbers``)."""
        rows, total = 0, np.uint64(0)
        for name, change in outputs.items():
            if name not in self.relations.views or not change.num_rows:
                continue
            numbers = _as_numbers(change)
            hashes = (
                key_hash(numbers, numbers.column_names)
                if numbers.num_columns
                else np.zeros(change.num_rows, np.uint64)
            )
            weights = change.column(WEIGHT).to_numpy().astype(np.uint64)
            with np.errstate(over="ignore"):
                total += (hashes * weights).sum(dtype=np.uint64)
            rows += change.num_rows
        return rows, int(total)

    # --- DDL and checkpoints ----------------------------------------------------------------------

    def catalog_changed(self, text: str | None) -> None:
        """After a DDL statement (``text``; None for one the catalog keeps otherwise, as roles):
        it is committed by a checkpoint before the statement returns."""
        if text is not None:
            self.ddl.append(text)
        self.checkpoint(wait=True)

    def after_tick(self, tick: int, _changes: dict[str, pa.Table]) -> None:
        """A tick listener: start a background checkpoint when one is due."""
        due = (
            time.monotonic() - self.last_checkpoint >= self.checkpoint_interval
            or self.log.bytes_since_rotation >= self.checkpoint_log_bytes
        )
        if due and not self.writing():
            try:
                self.checkpoint(wait=False, tick=tick)
            except (DurabilityError, OSError) as error:
                # The tick stands (it is logged); the log keeps growing until one succeeds.
                self.last_checkpoint = time.monotonic()
                self.ticks.report(f"checkpoint: {error}")
                log.warning("checkpoint at tick %d failed: %s", tick, error)

    def writing(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    def checkpoint(self, wait: bool = True, tick: int | None = None) -> None:
        """Checkpoint the state as it is now (call under the engine's lock); ``wait``: return
        once it is durable, else write it from a background thread."""
        started = time.perf_counter()
        self.join_writer()
        tick = self.ticks.ticks if tick is None else tick
        state = engine_state.capture(
            tick, self.ddl, self.catalog.users, self.relations, self.watermarks, self.feeds
        )
        frozen = state_files.freeze(state)
        first_kept = self.log.rotate()
        self.last_checkpoint = time.monotonic()
        if wait:
            self._write(frozen, first_kept, started)
            return
        self._writer = threading.Thread(
            target=self._write_in_background, args=(frozen, first_kept, started), daemon=True
        )
        self._writer.start()

    def _write(self, frozen: state_files.Frozen, first_kept: int, started: float) -> None:
        """Write a checkpoint whose state was captured at ``started`` (perf_counter)."""
        folder = checkpoints.write(self.data_dir.checkpoint_dir, frozen)
        self.log.remove_before(first_kept)
        size = sum(f.stat().st_size for f in folder.iterdir())
        seconds = time.perf_counter() - started
        self.ticks.telemetry.checkpoint_done(seconds, size)
        log.info("checkpoint %s: %d bytes in %.3f s", folder.name, size, seconds)

    def _write_in_background(
        self, frozen: state_files.Frozen, first_kept: int, started: float
    ) -> None:
        try:
            self._write(frozen, first_kept, started)
        except OSError as error:  # said at the next checkpoint; the log still holds all
            self._writer_error = error

    def join_writer(self) -> None:
        """Wait for the background checkpoint, if one is being written; raise its error."""
        if self._writer is not None:
            self._writer.join()
            self._writer = None
        error, self._writer_error = self._writer_error, None
        if error is not None:
            raise DurabilityError(f"the last checkpoint could not be written: {error}")

    def forget(self) -> None:
        """Empty the data directory (keeping its lock and format) and let go of it: what a
        failed ``--init`` leaves, so that the next start runs the fixed script again."""
        self.join_writer()
        self.log.close()
        for folder in (self.data_dir.log_dir, self.data_dir.checkpoint_dir):
            shutil.rmtree(folder)
            folder.mkdir()
        self.data_dir.close()

    def close(self) -> None:
        """A last checkpoint (so that the next start replays nothing), then let go of the
        directory."""
        try:
            self.checkpoint(wait=True)
        finally:
            self.log.close()
            self.data_dir.close()


def _as_numbers(change: pa.Table) -> pa.Table:
    """A change's columns as numbers a hash takes without DuckDB: fixed-width values as they
    are, decimals as doubles, text and lists by their lengths; other nested values are left
    to the row count. The check is for catching a replay that went another way, cheaply (it
    runs every tick), not for telling every value apart."""
    columns = {}
    for name, column in zip(change.column_names, change.columns, strict=True):
        kind = column.type
        if name == WEIGHT:
            continue
        if pa.types.is_decimal(kind):
            columns[name] = pc.cast(column, pa.float64())
        elif (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
        ):
            columns[name] = pc.binary_length(column)
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
            columns[name] = pc.list_value_length(column)
        elif pa.types.is_primitive(kind) and not pa.types.is_interval(kind):
            columns[name] = column
    return pa.table(columns) if columns else pa.table({}).select([])
