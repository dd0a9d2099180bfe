"""The blackhole sink: accepts every change and keeps none (Flink's and RisingWave's
``blackhole``), for benchmarks and for running a query only for its side effects on state.
It counts what it was given, so a benchmark can check the query produced output."""

from __future__ import annotations

import pathlib

import pyarrow as pa

from tidal.catalog.objects import Sink
from tidal.engine.connectors.base import SinkWriter, check_known


def open_blackhole(
    sink: Sink, schema: pa.Schema, key_columns: list[str], base_dir: pathlib.Path
) -> BlackholeSink:
    check_known(f"sink {sink.name} (connector 'blackhole')", dict(sink.options), {"connector"})
    return BlackholeSink()


class BlackholeSink(SinkWriter):
    def __init__(self) -> None:
        self.rows = 0  # change rows written

    def write(self, changes: pa.Table, tick: int) -> None:
        self.rows += changes.num_rows

    def snapshot(self) -> dict:
        return {"rows": self.rows}

    def restore(self, state: dict) -> None:
        self.rows = int(state.get("rows", 0))  # the replayed ticks count their rows again
