"""The Kafka sink: a view's changes as JSON messages, each tick published once, in a transaction.

``CREATE SINK k FROM v WITH (connector = 'kafka', topic = 't', 'properties.bootstrap.server' =
'host:port', type = 'append-only' | 'upsert', format = 'json', primary_key = 'a,b')``, or
RisingWave's ``... WITH (...) FORMAT UPSERT ENCODE JSON`` (type upsert):

- ``append-only``: one message per inserted row (n for a row inserted n times), the row as a
  JSON object; a retraction is an error (``force_append_only = 'true'`` drops them instead).
- ``upsert``: one message per key changed in a tick, the key's columns as a JSON object in the
  message key and the new row as the value; a key whose row is gone gets a tombstone (a null
  value). The key is the view's unique key, or ``primary_key``.

Values are JSON as DuckDB writes them (as the file sink's): numbers, text, timestamps as
``2026-01-01 10:00:00``; NaN and infinities as the strings ``"NaN"``, ``"Infinity"``.

The writer ``stages``: a tick's changes are kept until the tick is durable, then ``publish``
writes each staged tick in one Kafka transaction (``transactional.id`` = ``tidal-<sink>``)
together with a progress record ``{sink, run, tick}`` (key: the sink's name) on the progress
topic (``progress_topic``, default ``tidal_sink_progress``, created compacted if missing),
Materialize's pattern. Before publishing anything the writer reads that topic (read_committed)
for its last record, and skips the ticks of the same run up to its tick: a tick replayed after
a crash is not published twice. ``run`` is drawn when the sink is created and kept in
checkpoints, as the PostgreSQL sink does. With ``exactly_once = 'false'`` (brokers without
transactions) the data and then the progress record are written with an idempotent producer:
a crash between the two publishes the tick again (at least once).

A tick that cannot be published (brokers down) stays staged; the next tries wait 1, 2, 4 ... up
to 30 seconds, so that ticks are not held up by a timeout each.
"""

from __future__ import annotations

import json
import logging
import time

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.objects import Sink
from tidal.engine.changelog import OP, to_upsert
from tidal.engine.connectors.base import (
    ConnectorError,
    StagingWriter,
    canonical_options,
    check_known,
    choice,
    flag,
    required,
    sink_key,
)
from tidal.engine.connectors.kafka_common import (
    ALIASES,
    BOOTSTRAP,
    METADATA_TIMEOUT,
    client_config,
    connector_options,
    kafka_client,
    kafka_error,
    topic_partitions,
)
from tidal.engine.zset import expand

TYPES = {"append-only": "append-only", "append_only": "append-only", "upsert": "upsert"}
# FORMAT PLAIN ENCODE JSON is 'jsonl'; FORMAT UPSERT ENCODE JSON is 'upsert-json' (type upsert)
FORMATS = {"json": "json", "jsonl": "json", "upsert-json": "upsert-json"}
PROGRESS_TOPIC = "tidal_sink_progress"
COMMIT_TIMEOUT = 30.0  # seconds a transaction's commit (or a flush) may take
ABORT_TIMEOUT = 5.0
MAX_BACKOFF = 30.0  # the longest wait between tries to publish after failures
_OPTIONS = {
    "connector",
    "topic",
    "type",
    "format",
    "primary_key",
    "force_append_only",
    "exactly_once",
    "progress_topic",
    BOOTSTRAP,
}


def open_kafka_sink(sink: Sink, schema: pa.Schema, key_columns: list[str], _base_dir):
    """A KafkaSink for ``sink`` after checking its options (see the module docstring)."""
    what = f"sink {sink.name} (connector 'kafka')"
    options = canonical_options(what, sink.options, ALIASES)
    check_known(what, options, _OPTIONS | connector_options(options))
    topic = required(what, options, "topic", "the Kafka topic to write")
    fmt = choice(what, options, "format", FORMATS, default="json")
    implied = "upsert" if fmt == "upsert-json" else None
    mode = choice(what, options, "type", TYPES, default=implied)
    if fmt == "upsert-json" and mode != "upsert":
        raise ConnectorError(f"{what}: FORMAT UPSERT writes type 'upsert', not '{mode}'")
    key = sink_key(what, options, schema, key_columns, mode, sink.source or "the query")
    if OP in schema.names and mode == "upsert":
        raise ConnectorError(f"{what}: the view has a column named '{OP}'; rename it")
    kafka_client(what)
    return KafkaSink(
        what,
        sink.name,
        schema,
        topic,
        client_config(what, options),
        mode,
        key,
        force_append_only=flag(what, options, "force_append_only", False),
        exactly_once=flag(what, options, "exactly_once", True),
        progress_topic=options.get("progress_topic", PROGRESS_TOPIC),
    )


class KafkaSink(StagingWriter):
    """Stages each tick's changes; publishes them with a progress record, once per tick."""

    def __init__(
        self,
        what: str,
        name: str,
        schema: pa.Schema,
        topic: str,
        config: dict[str, str],
        mode: str,
        key: list[str],
        force_append_only: bool = False,
        exactly_once: bool = True,
        progress_topic: str = PROGRESS_TOPIC,
    ) -> None:
        super().__init__(what, mode, force_append_only)
        self.name, self.schema, self.topic, self.key = name, schema, topic, key
        self.exactly_once, self.progress_topic = exactly_once, progress_topic
        self._config = config
        self._producer = None
        self._published: tuple[str, int] | None = None  # (run, tick) of the progress topic
        self._progress_read = False
        self._json = _JsonRows(schema)
        self._backoff, self._retry_at = 0.0, 0.0  # seconds to wait after a failed publish

    # --- SinkWriter -------------------------------------------------------------------------

    def validate(self) -> None:
        """The topic exists; the progress topic is created if missing."""
        admin = self._admin()
        topic_partitions(self.what, admin, self.topic)
        self._ensure_progress_topic(admin)

    def publish(self) -> None:
        if not self.staged or time.monotonic() < self._retry_at:
            return  # after a failure, the next tries wait (brokers down): ticks go on meanwhile
        confluent_kafka = kafka_client(self.what)
        try:
            self._start()
            while self.staged:
                tick, changes = self.staged[0]
                if self._published_already(tick):
                    self.staged.pop(0)
                    continue
                self._publish_tick(tick, changes)
                self._published = (self.run, tick)
                self.staged.pop(0)
            self._backoff = 0.0
        except (ConnectorError, confluent_kafka.KafkaException, duckdb.Error) as error:
            self._drop_producer()
            self._backoff = min(max(2 * self._backoff, 1.0), MAX_BACKOFF)
            self._retry_at = time.monotonic() + self._backoff
            if isinstance(error, ConnectorError):
                raise
            raise ConnectorError(
                f"{self.what}: tick {self.staged[0][0]} could not be published (kept for the "
                f"next try): {_text(error)}"
            ) from None

    def close(self) -> None:
        self._drop_producer()

    # --- publishing -------------------------------------------------------------------------

    def _start(self) -> None:
        """Once: the producer (its transactions initialised, which ends any transaction a
        crashed writer left open), then the last progress record."""
        if self._producer is None:
            confluent_kafka = kafka_client(self.what)
            config = {**self._config, "enable.idempotence": True}
            if self.exactly_once:
                config["transactional.id"] = config.get("transactional.id", f"tidal-{self.name}")
            try:
                producer = confluent_kafka.Producer(config, logger=logging.getLogger(__name__))
            except (confluent_kafka.KafkaException, ValueError, TypeError) as error:
                raise kafka_error(self.what, error) from None
            if self.exactly_once:
                try:
                    producer.init_transactions(COMMIT_TIMEOUT)
                except confluent_kafka.KafkaException as error:
                    raise ConnectorError(
                        f"{self.what}: the brokers did not start a transactional producer "
                        f"({_text(error)}); for brokers without transactions set "
                        "exactly_once = 'false'"
                    ) from None
            self._producer = producer
        if not self._progress_read:
            self._ensure_progress_topic(self._admin())
            self._published = self._read_progress()
            self._progress_read = True

    def _published_already(self, tick: int) -> bool:
        last = self._published
        return last is not None and last[0] == self.run and tick <= last[1]

    def _publish_tick(self, tick: int, changes: pa.Table) -> None:
        producer = self._producer
        progress = json.dumps({"sink": self.name, "run": self.run, "tick": tick})
        if self.exactly_once:
            producer.begin_transaction()
            try:
                self._produce_rows(changes)
                self._produce(self.progress_topic, self.name, progress)
                producer.commit_transaction(COMMIT_TIMEOUT)
            except BaseException:
                self._abort()
                raise
            return
        failed: list[str] = []
        self._produce_rows(changes, failed)
        self._flush(failed)
        self._produce(self.progress_topic, self.name, progress, failed)
        self._flush(failed)

    def _produce_rows(self, changes: pa.Table, failed: list[str] | None = None) -> None:
        if self.mode == "upsert":
            rows = to_upsert(changes, self.key)
            deleted = pc.equal(rows.column(OP), "delete").to_pylist()
            rows = rows.drop_columns([OP])
            values = self._json.rows(rows)
            values = [None if gone else v for v, gone in zip(values, deleted)]
        else:
            rows = expand(changes)
            values = self._json.rows(rows)
        keys = self._json.rows(rows.select(self.key)) if self.key else [None] * len(values)
        for key, value in zip(keys, values):
            self._produce(self.topic, key, value, failed)

    def _produce(self, topic: str, key, value, failed: list[str] | None = None) -> None:
        def delivered(error, _message) -> None:
            if error is not None and failed is not None:
                failed.append(error.str())

        while True:
            try:
                self._producer.produce(topic, value=value, key=key, on_delivery=delivered)
                return
            except BufferError:  # the client's queue is full: let it send, then go on
                self._producer.poll(0.1)

    def _flush(self, failed: list[str]) -> None:
        left = self._producer.flush(COMMIT_TIMEOUT)
        if left or failed:
            raise ConnectorError(
                f"{self.what}: the brokers did not take {left or len(failed)} message(s) in "
                f"{COMMIT_TIMEOUT:g} s ({failed[0] if failed else 'no answer'}); the tick "
                "is kept and published again (at least once)"
            )

    def _abort(self) -> None:
        confluent_kafka = kafka_client(self.what)
        try:
            self._producer.abort_transaction(ABORT_TIMEOUT)
        except confluent_kafka.KafkaException as error:  # the next try starts over anyway
            logging.getLogger(__name__).warning("%s: abort failed: %s", self.what, _text(error))
        self._drop_producer()

    def _read_progress(self) -> tuple[str, int] | None:
        """The (run, tick) of this sink's last committed progress record, if any."""
        confluent_kafka = kafka_client(self.what)
        consumer = confluent_kafka.Consumer(
            {
                **self._config,
                "group.id": f"tidal-{self.name}",  # required by the client; never joined
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 10,  # read to the end at once (some brokers wait)
                "isolation.level": "read_committed",
            },
            logger=logging.getLogger(__name__),
        )
        try:
            partitions = topic_partitions(self.what, consumer, self.progress_topic)
            topic_partition = confluent_kafka.TopicPartition
            start = confluent_kafka.OFFSET_BEGINNING
            consumer.assign([topic_partition(self.progress_topic, p, start) for p in partitions])
            found, ended = None, set()
            deadline = time.monotonic() + COMMIT_TIMEOUT
            while len(ended) < len(partitions):
                if time.monotonic() > deadline:
                    raise ConnectorError(
                        f"{self.what}: could not read the progress topic "
                        f"'{self.progress_topic}' to its end in {COMMIT_TIMEOUT:g} s"
                    )
                for message in consumer.consume(1000, timeout=0.05):
                    error = message.error()
                    if error is not None:
                        if error.code() == confluent_kafka.KafkaError._PARTITION_EOF:
                            ended.add(message.partition())
                        continue
                    if message.key() == self.name.encode() and message.value():
                        record = json.loads(message.value())
                        found = (record["run"], int(record["tick"]))
            return found
        finally:
            consumer.close()

    def _ensure_progress_topic(self, admin) -> None:
        confluent_kafka = kafka_client(self.what)
        try:
            topics = admin.list_topics(timeout=METADATA_TIMEOUT).topics
        except confluent_kafka.KafkaException as error:
            raise kafka_error(self.what, error) from None
        if self.progress_topic in topics:
            return
        new = confluent_kafka.admin.NewTopic(
            self.progress_topic, 1, 1, config={"cleanup.policy": "compact"}
        )
        for future in admin.create_topics([new]).values():
            try:
                future.result(timeout=METADATA_TIMEOUT)
            except confluent_kafka.KafkaException as error:
                code = error.args[0].code()
                if code != confluent_kafka.KafkaError.TOPIC_ALREADY_EXISTS:
                    raise ConnectorError(
                        f"{self.what}: cannot create the progress topic "
                        f"'{self.progress_topic}' ({error.args[0].str()}); create it (one "
                        "partition, cleanup.policy = compact) or name another with "
                        "progress_topic"
                    ) from None

    def _admin(self):
        confluent_kafka = kafka_client(self.what)
        try:
            return confluent_kafka.admin.AdminClient(
                self._config, logger=logging.getLogger(__name__)
            )
        except (confluent_kafka.KafkaException, ValueError, TypeError) as error:
            raise kafka_error(self.what, error) from None

    def _drop_producer(self) -> None:
        if self._producer is not None:
            self._producer.flush(1)
            self._producer = None
            self._progress_read = False


class _JsonRows:
    """Rows as JSON objects, one text per row, written by DuckDB (vectorized); NaN and
    infinities as strings, which JSON cannot hold as numbers."""

    def __init__(self, schema: pa.Schema) -> None:
        self._connection = duckdb.connect()
        self._connection.execute("SET enable_external_access = false")
        self._connection.execute("SET TimeZone = 'UTC'")
        self._floats = {f.name for f in schema if pa.types.is_floating(f.type)}

    def rows(self, rows: pa.Table) -> list[str]:
        if rows.num_rows == 0:
            return []
        fields = ", ".join(f"{_literal(name)}: {self._value(name)}" for name in rows.column_names)
        self._connection.register("tidal_rows", rows)
        try:
            query = f"SELECT to_json({{{fields}}})::VARCHAR FROM tidal_rows"
            return [text for (text,) in self._connection.execute(query).fetchall()]
        finally:
            self._connection.unregister("tidal_rows")

    def _value(self, name: str) -> str:
        column = '"' + name.replace('"', '""') + '"'
        if name not in self._floats:
            return column
        return (
            f"CASE WHEN isfinite({column}) OR {column} IS NULL THEN to_json({column}) "
            f"WHEN isnan({column}) THEN to_json('NaN') WHEN {column} > 0 "
            "THEN to_json('Infinity') ELSE to_json('-Infinity') END"
        )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text(error: Exception) -> str:
    detail = error.args[0] if error.args else error
    return detail.str() if hasattr(detail, "str") else str(detail)
