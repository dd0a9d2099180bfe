"""The two connector interfaces (SourceReader, SinkWriter) and the option checks they share.

A connector turns the ``WITH (...)`` options of a ``CREATE SOURCE`` / ``CREATE SINK`` into a
reader or a writer. Option problems are found when the connector is opened, never later, and
every ``ConnectorError`` says what to write instead (the valid values or options).
"""

from __future__ import annotations

import abc
import os
import pathlib
import secrets
from collections.abc import Iterable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.sqlstate import IO_ERROR, TidalError
from tidal.engine.zset import WEIGHT


class ConnectorError(TidalError):
    """A source or sink cannot be opened or read: bad options, a missing file, a bad header."""

    sqlstate = IO_ERROR


# How the rows a reader polls change its relation (``SourceReader.changes``).
APPEND = "append"  # every row is inserted
UPSERT = "upsert"  # every row carries an OP: see below; the relation is a table with a key

# The int8 column an UPSERT reader's rows carry after the declared columns, with one of:
OP = "__op"
UPSERT_ROW = 1  # insert the row, or replace the row that has its key
DELETE_ROW = 0  # delete the row with this row's key (the other columns are not read)
TRUNCATE = 2  # delete every row (no column is read); later rows of the batch apply after it


class SourceReader(abc.ABC):
    """Reads one source as Arrow tables of its declared columns, resumable from a snapshot.

    ``schema`` is exactly the declared columns and their Arrow types; ``bounded`` is True when the
    input is finite as of now (files; datagen with a row count). ``errors`` collects the records
    that were skipped (``file:line: what is wrong``) so that nothing bad is dropped silently.
    ``name`` is the source's name, for messages.

    ``changes``: APPEND (rows are inserted) or UPSERT (rows carry an OP column; the rows of
    one poll apply in their order, per key the last one wins). ``logged``: the rows cannot be
    read again after a restart (a replication stream, HTTP requests), so the tick log keeps
    them, as it keeps DML, and ``acknowledge`` says when they are durable; such a reader's
    ``replay`` is never called (``restore`` is, with each logged position).
    """

    schema: pa.Schema
    bounded: bool
    errors: list[str]
    name: str = ""
    changes: str = APPEND
    logged: bool = False

    @abc.abstractmethod
    def poll(self, max_rows: int, drain: bool = False) -> pa.Table | None:
        """The next rows available now, at most ``max_rows``, cast to ``schema`` exactly.

        None when nothing new is available right now. ``drain=True`` ignores the rate limit of a
        bounded source (a finite datagen produces its remaining rows as fast as possible); an
        unbounded datagen stays rate-limited even when draining.
        """

    @abc.abstractmethod
    def snapshot(self) -> dict:
        """The read position as a JSON-serialisable dict (file offsets, rows generated), a copy
        that later polls do not change."""

    @abc.abstractmethod
    def restore(self, state: dict) -> None:
        """Resume exactly after a position returned by ``snapshot``."""

    def replay(self, position: dict) -> pa.Table | None:
        """The rows from the current position up to ``position`` (what ``snapshot`` returned
        after a later poll), exactly as the polls gave them, for recovery.

        The rate limit does not apply and rows added to the input since are not read; afterwards
        ``snapshot() == position``. None when the range holds no rows (as ``poll``). Raises
        ConnectorError when the input no longer holds the rows (a file removed or cut short),
        or when the source cannot be read again at all.
        """
        raise ConnectorError(
            f"source {self.name or type(self).__name__} cannot be replayed: its rows cannot "
            "be read again after a restart"
        )

    def validate(self) -> None:
        """Check the options against the outside now (connect, look the input up), when the
        relation is created; not when recovery creates it again (the outside may be down
        then, and is read once it is back). Raises ConnectorError."""

    def progress(self) -> tuple[int, int] | None:
        """How far a bounded input has been read, as (done, total) in the reader's own unit
        (bytes of files, rows generated), for a progress display; None when the size is not
        known."""
        return None

    def acknowledge(self, position: dict) -> None:
        """The rows up to ``position`` (what ``snapshot`` returned) are durable: in the fsynced
        tick log, or the engine keeps no data directory. A ``logged`` reader may let its
        upstream forget them now (confirm a replication slot's position, answer a request)."""

    def close(self) -> None:
        """Release what the reader holds (the process stops, or the reader is replaced)."""

    def discard(self) -> None:
        """The relation was dropped: release also what was made upstream for it (a
        replication slot), then close."""
        self.close()


class SinkWriter(abc.ABC):
    """Writes the changes of one relation to the outside, one consolidated delta per tick.

    A writer whose output cannot be taken back (a database's committed transaction, a Kafka
    transaction) ``stages``: ``write`` only keeps the tick's changes, and ``publish`` writes the
    staged ticks once they are durable (their tick log record fsynced), each exactly once by
    the tick's number (a progress record written in the same transaction), so that a tick
    replayed after a crash is not applied twice.
    """

    stages: bool = False

    def validate(self) -> None:
        """Check the options against the outside now (connect, look the target up), when the
        sink is created; not when recovery creates it again. Raises ConnectorError."""

    @abc.abstractmethod
    def write(self, changes: pa.Table, tick: int) -> None:
        """Write one tick's changes now (flushed before returning).

        ``changes`` holds the relation's columns plus an int64 ``__weight`` column (+n inserts n
        copies, -n retracts n copies), already consolidated.
        """

    def snapshot(self) -> dict:
        """What the sink has written so far, as a JSON-serialisable dict (for checkpoints)."""
        return {}

    def commit(self) -> dict:
        """Make what was written so far durable (flushed and fsynced) and return the state a
        checkpoint keeps, for ``restore`` after a crash."""
        return self.snapshot()

    def publish(self) -> None:
        """Write the staged ticks out, oldest first (``stages`` writers only). Raises
        ConnectorError if the outside cannot take them now: they stay staged, and the next
        tick (or checkpoint) tries again."""

    def restore(self, state: dict) -> None:
        """Forget what was written after ``commit`` (or ``snapshot``) returned ``state``, also
        in a writer just opened again on the same output, so that the ticks replayed after a
        checkpoint are written once (exactly-once)."""

    def close(self) -> None:
        """Flush and release what the writer holds."""


class StagingWriter(SinkWriter):
    """A sink that ``stages`` (see SinkWriter): the ticks kept until published, and the run
    its progress records are written under, drawn when the sink is opened and kept in
    checkpoints (a database without a data directory starts a new run, and writes all again).
    ``write`` keeps a tick's changes; a retraction into an ``append-only`` sink is refused, or
    dropped with ``force_append_only``."""

    stages = True

    def __init__(self, what: str, mode: str, force_append_only: bool) -> None:
        self.what, self.mode, self.force_append_only = what, mode, force_append_only
        self.run = secrets.token_hex(8)
        self.staged: list[tuple[int, pa.Table]] = []

    def write(self, changes: pa.Table, tick: int) -> None:
        retracted = pc.less(changes.column(WEIGHT), 0)
        if self.mode == "append-only" and pc.any(retracted).as_py():
            if not self.force_append_only:
                raise ConnectorError(
                    f"{self.what}: the view retracted rows, which an append-only sink cannot "
                    "write; use type = 'upsert', or force_append_only = 'true' to drop them"
                )
            changes = changes.filter(pc.invert(retracted))
        if changes.num_rows:
            self.staged.append((tick, changes))

    def commit(self) -> dict:
        return {"run": self.run, "staged": list(self.staged)}

    def restore(self, state: dict) -> None:
        self.run = state.get("run", self.run)
        self.staged = list(state.get("staged", []))


# ---------------------------------------------------------------------------------------------
# Option checks shared by the connectors


def sink_key(
    what: str, options: Mapping[str, str], schema: pa.Schema, key: list[str], mode: str, of: str
) -> list[str]:
    """The key a sink writes by: ``primary_key = 'a, b'`` if given (columns of ``schema``),
    else ``key``, the unique key of ``of`` (what the sink reads); upsert needs one."""
    if "primary_key" in options:
        key = [k.strip() for k in options["primary_key"].split(",") if k.strip()]
        unknown = [k for k in key if k not in schema.names]
        if unknown:
            raise ConnectorError(
                f"{what}: primary_key column {unknown[0]} is not a column of {of} (it has "
                f"{', '.join(schema.names)})"
            )
    if mode == "upsert" and not key:
        raise ConnectorError(
            f"{what}: type 'upsert' needs a key: {of} has no unique key, so name one with "
            "primary_key = 'column, ...', or use type 'append-only'"
        )
    return list(key)


def canonical_options(
    what: str, pairs: Iterable[tuple[str, str]], aliases: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The options as a dict under their canonical names; an option given twice is an error.

    >>> aliases = {"rows_per_second": "rows-per-second"}
    >>> canonical_options("source s", [("rows_per_second", "5")], aliases)
    {'rows-per-second': '5'}
    """
    aliases = aliases or {}
    options: dict[str, str] = {}
    for key, value in pairs:
        name = aliases.get(key.lower(), key.lower())
        if name in options:
            raise ConnectorError(f"{what}: option '{name}' is given twice (as '{key}' too)")
        options[name] = value
    return options


def check_known(what: str, options: Mapping[str, str], allowed: Iterable[str]) -> None:
    """Refuse options the connector does not use, listing the ones it does."""
    allowed = set(allowed)
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ConnectorError(
            f"{what}: option {', '.join(repr(k) for k in unknown)} does not apply here; "
            f"valid options: {', '.join(sorted(allowed))}"
        )


def required(what: str, options: Mapping[str, str], key: str, hint: str) -> str:
    """The value of a required option, or a ConnectorError saying how to give it."""
    value = options.get(key)
    if value is None or value == "":
        raise ConnectorError(f"{what}: option '{key}' is required ({hint})")
    return value


def choice(
    what: str,
    options: Mapping[str, str],
    key: str,
    choices: Mapping[str, str],
    default: str | None = None,
) -> str:
    """One of a fixed set of values (``choices`` maps accepted spellings to canonical values)."""
    value = options.get(key, default)
    if value is None:
        raise ConnectorError(f"{what}: option '{key}' is required; one of: {_listing(choices)}")
    canonical = choices.get(value.lower())
    if canonical is None:
        raise ConnectorError(
            f"{what}: {key} = '{value}' is not supported; use one of: {_listing(choices)}"
        )
    return canonical


def flag(what: str, options: Mapping[str, str], key: str, default: bool) -> bool:
    """A boolean option written 'true' or 'false'."""
    value = options.get(key)
    if value is None:
        return default
    if value.lower() not in ("true", "false"):
        raise ConnectorError(f"{what}: {key} = '{value}' must be 'true' or 'false'")
    return value.lower() == "true"


def resolve_path(value: str, base_dir: pathlib.Path) -> pathlib.Path:
    """A path option as a filesystem path: ``file://`` and ``~`` expanded, relative to base_dir."""
    value = value.removeprefix("file://")
    path = pathlib.Path(os.path.expanduser(value))
    return path if path.is_absolute() else pathlib.Path(base_dir) / path


def names_a_directory(value: str) -> bool:
    """Whether a path option is written as a directory (ends with a path separator)."""
    return value.endswith(("/", os.sep))


def cast_text(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """A column cast to ``target``, also from text where Arrow's cast alone cannot.

    Text becomes TIME through a timestamp on 1970-01-01, and text without a zone offset
    becomes a TIMESTAMP WITH TIME ZONE as UTC. Raises ArrowInvalid on a value that does not fit.
    """
    if column.type == target:
        return column
    if pa.types.is_string(column.type) and pa.types.is_time(target):
        stamped = pa.chunked_array(
            [pc.binary_join_element_wise("1970-01-01 ", chunk, "") for chunk in column.chunks],
            pa.string(),
        )
        return stamped.cast(pa.timestamp("ns")).cast(target)
    if pa.types.is_string(column.type) and pa.types.is_timestamp(target) and target.tz:
        try:
            return column.cast(target)
        except pa.ArrowInvalid:
            return column.cast(pa.timestamp(target.unit)).cast(target)
    return column.cast(target)


def _listing(choices: Mapping[str, str]) -> str:
    return ", ".join(f"'{c}'" for c in dict.fromkeys(choices))
