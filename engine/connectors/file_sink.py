"""The file sink: writes a view's changes to a JSON lines, CSV or Parquet file, one row per change.

Options (``CREATE SINK s FROM v WITH (connector = 'file', ...)``):

- ``path`` (required): the file to append to (jsonl, csv), or the directory that receives one
  Parquet file per tick (``part-<tick, 10 digits>.parquet``). Relative to the script's directory;
  missing parent directories are created.
- ``format`` (required): ``jsonl`` (alias ``json``) | ``csv`` | ``parquet``.
- ``mode`` (default ``changelog``): ``changelog`` writes Flink's change kinds ``+I -U +U -D``
  (an update is ``-U`` old row then ``+U`` new row, paired by the view's unique key);
  ``upsert`` writes ``upsert`` (full new row) or ``delete`` (old row) per key, and needs a view
  with a unique key.
- ``header`` (csv, default ``'true'``): write a header line when the file is created.
- ``delimiter`` (csv, default ``','``).

Each written row is ``op`` (the change kind) followed by the view's columns, in order. Values are
written as DuckDB prints them: timestamps ``2026-01-01 10:00:00`` (fraction only when not zero,
``+00`` appended WITH TIME ZONE), dates ``2026-01-01``; in JSON decimals and integers are
numbers, NaN and infinities the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``, NULL
``null``; in CSV NULL is an empty field and the empty string is ``""``. Parquet keeps the Arrow
types. Each tick's write is flushed before ``write`` returns (not fsynced).
"""
from __future__ import annotations

import io
import json
import os
import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tidal.catalog.objects import Sink
from tidal.engine.changelog import OP, to_changelog, to_upsert
from tidal.engine.connectors.base import (
    ConnectorError,
    SinkWriter,
    canonical_options,
    check_known,
    choice,
    flag,
    required,
    resolve_path,
)

FORMATS = {"jsonl": "jsonl", "json": "jsonl", "csv": "csv", "parquet": "parquet"}
MODES = {"changelog": "changelog", "upsert": "upsert"}
_COMMON_OPTIONS = {"connector", "path", "format", "mode"}
_CSV_OPTIONS = {"header", "delimiter"}


def open_file_sink(sink: Sink, schema: pa.Schema, key_columns: list[str],
                   base_dir: pathlib.Path) -> FileSink:
    """A FileSink for ``sink`` after checking its options (see the module docstring)."""
    what = f"sink {sink.name} (connector 'file')"
    options = canonical_options(what, sink.options)
    fmt = choice(what, options, "format", FORMATS)
    check_known(what, options, _COMMON_OPTIONS | (_CSV_OPTIONS if fmt == "csv" else set()))
    mode = choice(what, options, "mode", MODES, default="changelog")
    if mode == "upsert" and not key_columns:
        raise ConnectorError(f"{what}: mode 'upsert' needs a unique key, and {sink.source} has "
                             "none; use mode 'changelog'")
    if OP in schema.names:
        raise ConnectorError(f"{what}: {sink.source} has a column named '{OP}', which the sink "
                             "uses for the change kind; rename that column in the view")
    path = resolve_path(required(what, options, "path", "a file, or a directory for parquet"),
                        base_dir)
    delimiter = options.get("delimiter", ",").replace("\\t", "\t")
    if len(delimiter) != 1:
        raise ConnectorError(f"{what}: delimiter = '{delimiter}' must be one character (or '\\t')")
    return FileSink(what, schema, key_columns, fmt, mode, path,
                    header=flag(what, options, "header", True), delimiter=delimiter)


class FileSink(SinkWriter):
    """Appends each tick's changes to one file, or adds one Parquet file per tick."""

    def __init__(self, what: str, schema: pa.Schema, key_columns: list[str], fmt: str,
                 mode: str, path: pathlib.Path, header: bool = True, delimiter: str = ",") -> None:
        self.schema, self.fmt, self.mode, self.path = schema, fmt, mode, path
        self._keys, self._delimiter = list(key_columns), delimiter
        self._last_tick: int | None = None
        self._file: io.BufferedWriter | None = None
        if fmt == "parquet":
            if path.exists() and not path.is_dir():
                raise ConnectorError(f"{what}: path {path} is a file; parquet needs a directory")
            path.mkdir(parents=True, exist_ok=True)
            return
        if path.is_dir():
            raise ConnectorError(f"{what}: path {path} is a directory; {fmt} needs a file name")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 - held open across ticks, closed in close()
        if header and fmt == "csv" and self._file.tell() == 0:
            self._file.write(self._csv_bytes(self._layout().empty_table(), include_header=True))
            self._file.flush()

    def write(self, changes: pa.Table, tick: int) -> None:
        if changes.num_rows == 0:
            return
        show = to_upsert if self.mode == "upsert" else to_changelog
        rows = show(changes, self._keys).select([OP, *self.schema.names])
        if self.fmt == "parquet":
            self._write_part(rows, tick)
        else:
            data = _jsonl_bytes(rows) if self.fmt == "jsonl" else self._csv_bytes(rows)
            self._file.write(data)
            self._file.flush()
        self._last_tick = tick

    def snapshot(self) -> dict:
        if self._file is not None:
            return {"bytes": self._file.tell()}
        return {"tick": self._last_tick}

    def restore(self, state: dict) -> None:
        """Drop what was written after the snapshot, so a replayed tick is not written twice."""
        if self._file is not None:
            if state.get("bytes", 0) < self._file.tell():
                self._file.truncate(state.get("bytes", 0))
            return
        last = state.get("tick")
        for part in self.path.glob("part-*.parquet"):
            if last is None or int(part.stem.removeprefix("part-")) > last:
                part.unlink()
        self._last_tick = last

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _layout(self) -> pa.Schema:
        return pa.schema([pa.field(OP, pa.string()), *self.schema])

    def _write_part(self, rows: pa.Table, tick: int) -> None:
        """One Parquet file per tick, renamed into place so that readers never see half of it."""
        final = self.path / f"part-{tick:010d}.parquet"
        hidden = self.path / f".{final.name}.tmp"
        pq.write_table(rows, hidden)
        os.replace(hidden, final)

    def _csv_bytes(self, rows: pa.Table, include_header: bool = False) -> bytes:
        columns = [_csv_values(column) for column in rows.columns]
        buffer = io.BytesIO()
        pa_csv.write_csv(pa.table(columns, names=rows.column_names), buffer,
                         pa_csv.WriteOptions(include_header=include_header,
                                             delimiter=self._delimiter))
        return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Values as text, vectorized with Arrow kernels


def _jsonl_bytes(rows: pa.Table) -> bytes:
    """One JSON object per row, each followed by a newline, built column-wise."""
    pieces: list[pa.Array | str] = []
    for position, (name, column) in enumerate(zip(rows.column_names, rows.columns)):
        pieces.append(("{" if position == 0 else ",") + json.dumps(name) + ":")
        pieces.append(_json_values(column.combine_chunks()))
    pieces.append("}\n")
    lines = pc.binary_join_element_wise(*pieces, "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1,
                            offset=lines.offset * 4)
    return lines.buffers()[2][int(offsets[0]):int(offsets[-1])].to_pybytes()


def _json_values(array: pa.Array) -> pa.Array:
    """Each value as JSON text (``null`` for NULL)."""
    kind = array.type
    if pa.types.is_null(kind):
        text = pa.nulls(len(array), pa.string())
    elif pa.types.is_boolean(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        text = array.cast(pa.string())
    elif pa.types.is_floating(kind):
        text = _float_text(array)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _quoted(array.cast(pa.string()))
    elif _is_temporal(kind):
        text = _quoted(_temporal_text(array))
    else:  # lists, structs, binary, intervals: rare in sinks, so per value is acceptable here
        text = pa.array([None if v is None else json.dumps(v, default=str)
                         for v in array.to_pylist()], pa.string())
    return pc.fill_null(text, "null")


def _csv_values(column: pa.ChunkedArray) -> pa.Array:
    """A column ready for Arrow's CSV writer: temporal values as text, nested ones as JSON."""
    array = column.combine_chunks()
    kind = array.type
    if _is_temporal(kind):
        return _temporal_text(array)
    if pa.types.is_nested(kind) or pa.types.is_binary(kind) or pa.types.is_interval(kind):
        return pc.if_else(array.is_null(), pa.scalar(None, pa.string()), _json_values(array))
    return array


def _float_text(array: pa.Array) -> pa.Array:
    text = array.cast(pa.string())
    if pc.all(pc.is_finite(array)).as_py() is not False:
        return text
    for arrow_spelling, json_text in (("nan", '"NaN"'), ("inf", '"Infinity"'),
                                      ("-inf", '"-Infinity"')):
        text = pc.replace_substring_regex(text, f"^{arrow_spelling}$", json_text)
    return text


def _quoted(array: pa.Array) -> pa.Array:
    """Strings as JSON string literals (quotes, backslashes and control characters escaped)."""
    text = pc.replace_substring(array, "\\", "\\\\")
    text = pc.replace_substring(text, '"', '\\"')
    if pc.any(pc.match_substring_regex(text, r"[\x00-\x1f]")).as_py():
        for code in range(0x20):
            escaped = json.dumps(chr(code))[1:-1]
            text = pc.replace_substring(text, chr(code), escaped)
    return pc.binary_join_element_wise('"', text, '"', "")


def _is_temporal(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind)


def _temporal_text(array: pa.Array) -> pa.Array:
    """Dates, times and timestamps as DuckDB prints them: no all-zero fraction, '+00' for UTC."""
    kind = array.type
    zoned = pa.types.is_timestamp(kind) and kind.tz is not None
    if zoned:
        array = array.cast(pa.timestamp(kind.unit))
    text = array.cast(pa.string())
    if not pa.types.is_date(kind):
        text = pc.replace_substring_regex(text, r"\.0+$", "")
        text = pc.replace_substring_regex(text, r"(\.\d*[1-9])0+$", r"\1")
    if zoned:
        text = pc.binary_join_element_wise(text, "+00", "")
    return text
