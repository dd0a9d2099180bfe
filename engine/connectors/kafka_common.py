"""What the Kafka source and sink share: the client's configuration from the options, and topics.

Options written ``'properties.<name>' = '...'`` go to librdkafka as ``<name>`` (its
CONFIGURATION.md lists them: ``security.protocol``, ``sasl.*``, ``ssl.*``, ...), as in
RisingWave; ``properties.bootstrap.server`` (RisingWave's spelling, required) is librdkafka's
``bootstrap.servers``. The client library, confluent-kafka, is the optional extra ``kafka``.

>>> client_config("source s", {"properties.bootstrap.server": "h:9092", "topic": "t"})
{'bootstrap.servers': 'h:9092'}
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType

from tidal.engine.connectors.base import ConnectorError, required

BOOTSTRAP = "properties.bootstrap.server"
PROPERTIES = "properties."
ALIASES = {"properties.bootstrap.servers": BOOTSTRAP}
METADATA_TIMEOUT = 10.0  # seconds to wait for the broker's answer about a topic


def kafka_client(what: str) -> ModuleType:
    """The confluent_kafka module, or a ConnectorError saying how to install it."""
    try:
        import confluent_kafka
        import confluent_kafka.admin  # AdminClient, NewTopic: a submodule not imported with it
    except ImportError:
        raise ConnectorError(
            f"{what}: the Kafka connector needs the confluent-kafka package: "
            "pip install 'tidal[kafka]'"
        ) from None
    return confluent_kafka


def client_config(what: str, options: Mapping[str, str]) -> dict[str, str]:
    """librdkafka's configuration from the ``properties.*`` options (bootstrap required)."""
    required(what, options, BOOTSTRAP, "the brokers' host:port, comma-separated")
    config = {}
    for key, value in options.items():
        if key == BOOTSTRAP:
            config["bootstrap.servers"] = value
        elif key.startswith(PROPERTIES):
            config[key.removeprefix(PROPERTIES)] = value
    return config


def connector_options(options: Mapping[str, str]) -> set[str]:
    """The ``properties.*`` options given (valid for any Kafka connector)."""
    return {k for k in options if k.startswith(PROPERTIES)}


def topic_partitions(what: str, client, topic: str) -> list[int]:
    """The partition numbers of ``topic``, asked of the broker; ConnectorError if the broker
    cannot be reached or has no such topic."""
    confluent_kafka = kafka_client(what)
    try:
        metadata = client.list_topics(timeout=METADATA_TIMEOUT)  # naming it may create it
    except confluent_kafka.KafkaException as error:
        raise ConnectorError(
            f"{what}: cannot reach the Kafka brokers in {METADATA_TIMEOUT:g} s to look up "
            f"topic '{topic}' ({error.args[0].str()}); check '{BOOTSTRAP}'"
        ) from None
    found = metadata.topics.get(topic)
    if found is None or found.error is not None or not found.partitions:
        reason = f" ({found.error.str()})" if found is not None and found.error else ""
        raise ConnectorError(
            f"{what}: the Kafka brokers have no topic '{topic}'{reason}; create it first"
        )
    return sorted(found.partitions)


def kafka_error(what: str, error: Exception) -> ConnectorError:
    """A client's error (a KafkaException, or bad configuration) as a ConnectorError."""
    detail = error.args[0] if error.args else error
    text = detail.str() if hasattr(detail, "str") else str(detail)
    return ConnectorError(f"{what}: {text}")
