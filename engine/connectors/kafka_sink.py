"""The Kafka sink (placeholder until written)."""


def open_kafka_sink(sink, schema, key_columns, base_dir):
    raise NotImplementedError
