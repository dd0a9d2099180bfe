"""The Kafka source: reads a topic's messages as rows, JSON or CSV values, or upserts by key.

Options (``CREATE SOURCE s (...) WITH (connector = 'kafka', ...)``, RisingWave's spelling):

- ``topic`` (required) and ``properties.bootstrap.server`` (required, ``host:port,...``);
  other ``properties.<name>`` options go to librdkafka (see ``kafka_common``).
- ``format`` (required): ``json`` (alias ``jsonl``): each message value is one JSON object;
  ``csv``: each value is one CSV record, fields by position (``delimiter``, default ``,``);
  ``upsert-json`` (``FORMAT UPSERT ENCODE JSON``): for ``CREATE TABLE ... PRIMARY KEY``: the
  message key holds the key columns, the value the row, a null value deletes the key's row.
- ``scan.startup.mode``: ``earliest`` (default) or ``latest``: where partitions never read
  start (``latest``: their ends when the reader first needs a position).
- ``partitions``: the partition numbers to read (``'0,2'``); default all of the topic's.

Partitions are assigned explicitly (no consumer group, nothing committed to Kafka): the
position is the next offset of each partition, kept in ``snapshot()``; ``restore`` seeks there
and ``replay`` reads exactly the messages between two positions again (Kafka keeps them, so the
source is not ``logged``). A poll returns messages partition by partition, each in offset
order, as ``replay`` does.

Values are parsed vectorized (pyarrow, a batch of values joined by newlines, as the file source
parses lines); a batch that fails is split in halves until each bad message is found: it is
skipped and reported in ``errors`` as ``topic/partition@offset: problem``.

Upsert keys: a key that is a JSON object gives the key columns by name; otherwise, for a key of
one column, the key's text is the value (``42``, ``ann``). The key columns are read from the
message key only (fields of the same name in the value are ignored).
"""

from __future__ import annotations

import functools
import json
import logging
import time

import numpy as np
import pyarrow as pa

from tidal.engine.connectors.base import (
    DELETE_ROW,
    OP,
    UPSERT,
    UPSERT_ROW,
    ConnectorError,
    SourceReader,
    canonical_options,
    check_known,
    choice,
    flag,
    required,
)
from tidal.engine.connectors.file_formats import (
    Parse,
    parse_csv,
    parse_jsonl,
    parse_lines,
    read_type,
)
from tidal.engine.connectors.kafka_common import (
    ALIASES,
    BOOTSTRAP,
    client_config,
    connector_options,
    kafka_client,
    kafka_error,
    topic_partitions,
)
from tidal.engine.watermarks import micros

FORMATS = {"json": "json", "jsonl": "json", "csv": "csv", "upsert-json": "upsert-json"}
STARTUP = {"earliest": "earliest", "latest": "latest"}
MAX_ERRORS = 1000  # the newest skipped-message reports kept
REPLAY_TIMEOUT = 60.0  # seconds to read a logged range again before giving up
RETRY_WAIT = 10.0  # seconds between tries to look the topic up while the brokers are away
_OPTIONS = {"connector", "topic", "format", "scan.startup.mode", "partitions", BOOTSTRAP}
_CSV_OPTIONS = {"delimiter", "header"}
_SOURCE_ALIASES = {**ALIASES, "csv.field-delimiter": "delimiter"}


def open_kafka_source(source, base_dir) -> KafkaSource:
    """A KafkaSource for ``source`` (a Source, or a Table with a primary key for upserts)
    after checking its options; ``validate`` asks the brokers for the topic."""
    what = f"source {source.name} (connector 'kafka')"
    options = canonical_options(what, source.options, _SOURCE_ALIASES)
    fmt = choice(what, options, "format", FORMATS)
    csv_options = _CSV_OPTIONS if fmt == "csv" else set()
    check_known(what, options, _OPTIONS | csv_options | connector_options(options))
    topic = required(what, options, "topic", "the Kafka topic to read")
    key = tuple(getattr(source, "primary_key", ()))
    if fmt == "upsert-json" and not key:
        raise ConnectorError(
            f"{what}: format 'upsert-json' (FORMAT UPSERT) needs a table with a key: "
            "CREATE TABLE t (..., PRIMARY KEY (k)) WITH (...)"
        )
    if flag(what, options, "header", False):
        raise ConnectorError(
            f"{what}: each message is one CSV record without a header; "
            "its fields go by position (leave out 'header')"
        )
    delimiter = options.get("delimiter", ",").replace("\\t", "\t")
    if len(delimiter) != 1:
        raise ConnectorError(f"{what}: delimiter = '{delimiter}' must be one character (or '\\t')")
    client_errors: list = []  # the client's errors outside messages (brokers down)
    return KafkaSource(
        source.name,
        source.arrow_schema(),
        _consumer(what, client_config(what, options), source.name, client_errors),
        topic,
        _partition_numbers(what, options.get("partitions")),
        fmt,
        choice(what, options, "scan.startup.mode", STARTUP, default="earliest"),
        key_columns=key,
        delimiter=delimiter,
        time_column=source.watermark.column if source.watermark else None,
        client_errors=client_errors,
    )


class KafkaSource(SourceReader):
    """Reads the assigned partitions of one topic; its position is the next offset of each."""

    bounded = False

    def __init__(
        self,
        name: str,
        schema: pa.Schema,
        consumer,
        topic: str,
        partitions: list[int] | None,
        fmt: str,
        startup: str = "earliest",
        key_columns: tuple[str, ...] = (),
        delimiter: str = ",",
        time_column: str | None = None,
        client_errors: list | None = None,
    ) -> None:
        self.name, self.schema, self.topic, self.fmt = name, schema, topic, fmt
        self.errors: list[str] = []
        self.changes = UPSERT if fmt == "upsert-json" else self.changes
        self._consumer, self._startup = consumer, startup
        self._chosen = partitions  # the partitions option, None for all of the topic's
        self._partitions: list[int] | None = None  # looked up when first needed
        self._offsets: dict[int, int] = {}  # partition -> next offset; empty until resolved
        self._started: dict[int, int] = {}  # partition -> the offset reading it started at
        self._assigned = False
        self._retry_at = 0.0  # after the brokers could not be reached, when to try again
        self._said: set = set()  # the kinds of error reported since the last message
        self._client_errors = client_errors if client_errors is not None else []
        self._parse_value = _value_parser(schema, "csv" if fmt == "csv" else "jsonl", delimiter)
        names = [n.lower() for n in schema.names]
        key_schema = pa.schema([schema.field(names.index(k.lower())) for k in key_columns])
        self._key_schema = key_schema
        self._parse_key = _value_parser(key_schema, "jsonl", ",") if key_columns else None
        # Event time per partition (WATERMARK FOR): the newest of each, in microseconds; the
        # partitions that had messages since the watermarks last asked; when each last did.
        self._time_column = time_column
        self._newest: dict[int, int] = {}
        self._fresh: set[int] = set()
        self._active_at: dict[int, float] = {}
        self._started_at: float | None = None

    # -- the SourceReader interface ---------------------------------------------------------

    def validate(self) -> None:
        """The brokers have the topic (and the partitions named)."""
        self._partition_list()

    def poll(self, max_rows: int, drain: bool = False) -> pa.Table | None:
        if time.monotonic() < self._retry_at:
            return None  # the brokers could not be reached: not every poll waits for them
        try:
            self._assign()
        except ConnectorError:
            self._retry_at = time.monotonic() + RETRY_WAIT
            raise
        messages = []
        for message in self._consume(max_rows, timeout=0):
            messages.append(message)
            self._offsets[message.partition()] = message.offset() + 1
            self._fresh.add(message.partition())
        return self._rows(messages)

    def snapshot(self) -> dict:
        try:
            self._resolve()
        except ConnectorError:  # brokers away: the position holds what is known (see replay)
            pass
        position = {
            "offsets": {str(p): o for p, o in sorted(self._offsets.items())},
            "started": {str(p): o for p, o in sorted(self._started.items())},
        }
        if self._time_column is not None:
            position["event_times"] = {str(p): t for p, t in sorted(self._newest.items())}
        return position

    def restore(self, state: dict) -> None:
        self._offsets = {int(p): int(o) for p, o in state.get("offsets", {}).items()}
        self._started = {int(p): int(o) for p, o in state.get("started", {}).items()}
        self._newest = {int(p): int(t) for p, t in state.get("event_times", {}).items()}
        self._assigned = False

    def event_time_bound(self, now: float, idle_timeout: float | None) -> int | None:
        """The newest event time every partition has reached (the smallest of the partitions'
        newest), leaving out partitions without messages for ``idle_timeout`` seconds; None
        while a partition that is not idle has given no row yet (tidal.engine.watermarks)."""
        if self._started_at is None:
            self._started_at = now
        for partition in self._fresh:
            self._active_at[partition] = now
        self._fresh.clear()
        newest = []
        for partition in self._partitions or ():
            quiet = now - self._active_at.get(partition, self._started_at)
            if idle_timeout is not None and quiet >= idle_timeout:
                continue
            if partition not in self._newest:
                return None
            newest.append(self._newest[partition])
        return min(newest) if newest else None

    def replay(self, position: dict) -> pa.Table | None:
        """The messages from the current offsets up to ``position``'s, exactly as polled.

        A partition the current position has no offset for (a checkpoint taken while the
        brokers were away) starts where ``position`` says reading it started."""
        for p, o in position.get("started", {}).items():
            self._offsets.setdefault(int(p), int(o))
            self._started.setdefault(int(p), int(o))
        self._resolve()
        targets = {int(p): int(o) for p, o in position.get("offsets", {}).items()}
        behind = {p: o for p, o in targets.items() if o > self._offsets.get(p, o)}
        for p, o in targets.items():
            if p in self._offsets and o < self._offsets[p]:
                raise ConnectorError(
                    f"source {self.name}: cannot read {self.topic}/{p} again up to offset "
                    f"{o}: it is already at offset {self._offsets[p]}"
                )
        for p, end in behind.items():
            kept_from = self._watermarks(p)[0]
            if kept_from > self._offsets[p]:
                raise ConnectorError(
                    f"source {self.name}: cannot read {self.topic}/{p} again from offset "
                    f"{self._offsets[p]} to {end}: the topic keeps it only from offset "
                    f"{kept_from} now (retention removed the rest)"
                )
        messages = self._read_range(behind) if behind else []
        self._offsets.update(targets)
        self._assigned = False
        rows = self._rows(messages)
        self._newest = {int(p): int(t) for p, t in position.get("event_times", {}).items()}
        return rows

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    # -- positions --------------------------------------------------------------------------

    def _resolve(self) -> None:
        """Give the partitions without an offset their start (``scan.startup.mode``)."""
        missing = [p for p in self._partition_list() if p not in self._offsets]
        if not missing:
            return
        if self._startup == "earliest":
            starts = {p: self._watermarks(p)[0] for p in missing}
        else:
            starts = self._ends(missing)
        self._offsets.update(starts)
        self._started.update(starts)

    def _partition_list(self) -> list[int]:
        if self._partitions is None:
            what = f"source {self.name} (connector 'kafka')"
            found = topic_partitions(what, self._consumer, self.topic)
            unknown = [p for p in self._chosen or () if p not in found]
            if unknown:
                raise ConnectorError(
                    f"{what}: topic '{self.topic}' has no partition {unknown[0]} (it has 0 to "
                    f"{max(found)})"
                )
            self._partitions = self._chosen or found
        return self._partitions

    def _watermarks(self, partition: int) -> tuple[int, int]:
        confluent_kafka = kafka_client(self.name)
        try:
            return self._consumer.get_watermark_offsets(
                confluent_kafka.TopicPartition(self.topic, partition), timeout=10, cached=False
            )
        except confluent_kafka.KafkaException as error:
            raise kafka_error(f"source {self.name}: {self.topic}/{partition}", error) from None

    def _ends(self, partitions: list[int]) -> dict[int, int]:
        """The end offset of each partition, read where a fetch reaches it: some brokers
        (Tansu) answer ListOffsets with the last batch's start, not the partition's end."""
        confluent_kafka = kafka_client(self.name)
        end = confluent_kafka.OFFSET_END
        self._consumer.assign(
            [confluent_kafka.TopicPartition(self.topic, p, end) for p in partitions]
        )
        self._assigned = False
        ends: dict[int, int] = {}
        deadline = time.monotonic() + REPLAY_TIMEOUT
        while len(ends) < len(partitions):
            if time.monotonic() > deadline:
                raise ConnectorError(
                    f"source {self.name}: could not find the end of {self.topic} in "
                    f"{REPLAY_TIMEOUT:g} s; is the broker reachable?"
                )
            for message in self._consumer.consume(500, timeout=0.05):
                if _is_end(message, confluent_kafka):
                    ends[message.partition()] = message.offset()
        return ends

    def _assign(self) -> None:
        if self._assigned:
            return
        self._resolve()
        confluent_kafka = kafka_client(self.name)
        self._consumer.assign(
            [confluent_kafka.TopicPartition(self.topic, p, o) for p, o in self._offsets.items()]
        )
        self._assigned = True

    def _consume(self, max_rows: int, timeout: float) -> list:
        """Data messages, partition by partition in offset order; errors other than a
        partition's end are reported."""
        confluent_kafka = kafka_client(self.name)
        messages = []
        for message in self._consumer.consume(max(1, max_rows), timeout=timeout):
            error = message.error()
            if error is None:
                messages.append(message)
                self._said.clear()
            elif not _is_end(message, confluent_kafka):
                where = f"{self.topic}/{message.partition()}"
                self._say((where, error.code()), f"{where}: {error.str()}")
        for error in self._client_errors:
            self._say(error.code(), f"{self.topic}: {error.str()}")
        self._client_errors.clear()
        messages.sort(key=lambda m: m.partition())  # stable: offsets stay in order
        return messages

    def _read_range(self, ranges: dict[int, int]) -> list:
        """The messages of each partition from its current offset up to the given one."""
        confluent_kafka = kafka_client(self.name)
        start = self._offsets
        self._consumer.assign(
            [confluent_kafka.TopicPartition(self.topic, p, start[p]) for p in ranges]
        )
        self._assigned = False
        messages: list = []
        pending, deadline = dict(ranges), time.monotonic() + REPLAY_TIMEOUT
        while pending:
            if time.monotonic() > deadline:
                p, end = next(iter(pending.items()))
                raise ConnectorError(
                    f"source {self.name}: cannot read {self.topic}/{p} again from offset "
                    f"{start[p]} to {end} in {REPLAY_TIMEOUT:g} s (were its messages deleted?)"
                )
            for message in self._consumer.consume(1000, timeout=0.05):
                p, offset = message.partition(), message.offset()
                if p not in pending:
                    continue
                if _is_end(message, confluent_kafka) and offset >= pending[p]:
                    del pending[p]
                elif message.error() is None and offset < pending[p]:
                    messages.append(message)
                    if offset + 1 >= pending[p]:
                        del pending[p]
                elif message.error() is None:
                    del pending[p]  # past a gap (compaction, transaction markers)
        messages.sort(key=lambda m: m.partition())
        return messages

    # -- rows from messages -----------------------------------------------------------------

    def _rows(self, messages: list) -> pa.Table | None:
        if not messages:
            return None
        if self.changes == UPSERT:
            table, partitions = self._upsert_rows(messages)
        else:
            kept = [m for m in messages if self._has_value(m)]
            texts = [m.value().rstrip(b"\r\n") for m in kept]
            table, good = self._parse(self._parse_value, kept, texts)
            partitions = [kept[i].partition() for i in good]
        if table is not None and self._time_column is not None:
            self._note_event_times(table, partitions)
        return table

    def _note_event_times(self, table: pa.Table, partitions: list[int]) -> None:
        times = micros(table.column(self._time_column))
        for partition in set(partitions):
            rows = np.asarray(partitions) == partition
            newest = int(times[rows].max())
            if newest > self._newest.get(partition, newest - 1):
                self._newest[partition] = newest

    def _upsert_rows(self, messages: list) -> tuple[pa.Table | None, list[int]]:
        keys, messages = self._parse_keys(messages)
        if not messages:
            return None, []
        changed = [i for i, m in enumerate(messages) if m.value() is not None]
        with_value = [messages[i] for i in changed if self._has_value(messages[i])]
        values, parsed = self._parse(self._parse_value, with_value, [m.value() for m in with_value])
        # Each output row: a tombstone (no value row) or an upsert whose value parsed.
        value_row = {id(with_value[i]): row for row, i in enumerate(parsed)}
        rows = [i for i, m in enumerate(messages) if m.value() is None or id(m) in value_row]
        if not rows:
            return None, []
        takes = pa.array([value_row.get(id(messages[i])) for i in rows], pa.int64())
        key_takes = pa.array(rows, pa.int64())
        key_names = {n.lower() for n in self._key_schema.names}
        columns = []
        for field in self.schema:
            if field.name.lower() in key_names:
                columns.append(keys.column(field.name).take(key_takes))
            elif values is None:
                columns.append(pa.nulls(len(rows), field.type))
            else:
                columns.append(values.column(field.name).take(takes))
        ops = [UPSERT_ROW if messages[i].value() is not None else DELETE_ROW for i in rows]
        columns.append(pa.array(ops, pa.int8()))
        schema = self.schema.append(pa.field(OP, pa.int8()))
        return pa.Table.from_arrays(columns, schema=schema), [messages[i].partition() for i in rows]

    def _parse_keys(self, messages: list) -> tuple[pa.Table | None, list]:
        """The key columns of the messages whose key reads, and those messages."""
        texts, kept = [], []
        single = len(self._key_schema) == 1
        for message in messages:
            key = message.key()
            if key is None or not key.strip():
                self._report(_where(message), "the message has no key (an upsert needs one)")
            elif key.lstrip().startswith(b"{"):
                texts.append(key)
                kept.append(message)
            elif single:
                texts.append(_json_object(self._key_schema.field(0), key))
                kept.append(message)
            else:
                names = ", ".join(self._key_schema.names)
                self._report(_where(message), f"the key must be a JSON object with {names}")
        keys, parsed = self._parse(self._parse_key, kept, texts, "key")
        kept = [kept[i] for i in parsed]
        if keys is None:
            return None, []
        for name in self._key_schema.names:
            null = keys.column(name).is_null().to_numpy(zero_copy_only=False)
            for message in (m for m, missing in zip(kept, null) if missing):
                self._report(_where(message), f"the key has no value for {name}")
            if null.any():
                kept = [m for m, missing in zip(kept, null) if not missing]
                keys = keys.filter(pa.array(~null))
        return keys, kept

    def _has_value(self, message) -> bool:
        value = message.value()
        if value is None or not value.strip():
            self._report(_where(message), "the message has no value")
            return False
        value = value.rstrip(b"\r\n")  # a record written with its line end is one record
        if self.fmt == "csv" and (b"\n" in value or b"\r" in value):
            self._report(_where(message), "a CSV message holds one record on one line")
            return False
        return True

    def _parse(
        self, parse: Parse, messages: list, texts: list[bytes], part: str = "value"
    ) -> tuple[pa.Table | None, list[int]]:
        """Parse one text per message at once; if that fails, find and skip the bad ones.
        Returns the rows and the positions (in ``messages``) of the messages they come from."""
        if not messages:
            return None, []
        # Line breaks in JSON are white space outside strings (escaped inside): one line each.
        lines = [t.replace(b"\n", b" ").replace(b"\r", b" ") for t in texts]
        bad: set[int] = set()

        def report(index: int, problem: str) -> None:
            bad.add(index)
            self._report(_where(messages[index]), f"{part}: {problem}")

        tables = parse_lines(functools.partial(_one_row_each, parse), lines, 0, report)
        good = [i for i in range(len(messages)) if i not in bad]
        return (pa.concat_tables(tables) if tables else None), good

    def _say(self, kind: object, said: str) -> None:
        """Report the client's error once while it lasts (brokers down), not at every poll."""
        if kind not in self._said:
            self._said.add(kind)
            self.errors.append(said)
            del self.errors[:-MAX_ERRORS]

    def _report(self, where: str, problem: str) -> None:
        self.errors.append(f"{where}: {problem}")
        del self.errors[:-MAX_ERRORS]


def _consumer(what: str, config: dict[str, str], name: str, errors: list):
    confluent_kafka = kafka_client(what)
    config = {
        **config,
        "group.id": config.get("group.id", f"tidal-{name}"),  # required, but never joined
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,  # replay and 'latest' see where a partition ends
        "auto.offset.reset": config.get("auto.offset.reset", "earliest"),
        # Some brokers (Tansu) hold every fetch this long, even with messages waiting.
        "fetch.wait.max.ms": config.get("fetch.wait.max.ms", "100"),
        "error_cb": errors.append,
    }
    try:
        return confluent_kafka.Consumer(config, logger=logging.getLogger(__name__))
    except (confluent_kafka.KafkaException, ValueError, TypeError) as error:
        raise kafka_error(what, error) from None


def _partition_numbers(what: str, option: str | None) -> list[int] | None:
    if option is None:
        return None
    try:
        return sorted({int(p) for p in option.split(",")})
    except ValueError:
        raise ConnectorError(
            f"{what}: partitions = '{option}' must be partition numbers, e.g. '0,2'"
        ) from None


def _value_parser(schema: pa.Schema, fmt: str, delimiter: str) -> Parse:
    read_types = {f.name: read_type(f, fmt, "kafka") for f in schema}
    if fmt == "jsonl":
        return functools.partial(parse_jsonl, read_types=read_types, schema=schema)
    return functools.partial(
        parse_csv,
        column_names=schema.names,
        delimiter=delimiter,
        read_types=read_types,
        schema=schema,
    )


def _one_row_each(parse: Parse, text: bytes) -> pa.Table:
    """Parse lines that must give one row each (``{}{}`` on one line gives two: refused)."""
    table = parse(text)
    if table.num_rows != text.count(b"\n"):
        raise pa.ArrowInvalid("a message must hold exactly one record")
    return table


def _json_object(field: pa.Field, key: bytes) -> bytes:
    """A raw key as the JSON object of a one-column key: numbers and booleans as written,
    anything else as a JSON string (its text).

    >>> _json_object(pa.field("k", pa.int64()), b"42"), _json_object(pa.field("k", pa.string()), b"a")
    (b'{"k": 42}', b'{"k": "a"}')
    """
    text = key.decode("utf-8", errors="replace").strip()
    kind = field.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return (json.dumps({field.name: None})[:-5] + text + "}").encode()
    return json.dumps({field.name: text}).encode()


def _is_end(message, confluent_kafka) -> bool:
    error = message.error()
    return error is not None and error.code() == confluent_kafka.KafkaError._PARTITION_EOF


def _where(message) -> str:
    return f"{message.topic()}/{message.partition()}@{message.offset()}"
