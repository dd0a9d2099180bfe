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
``null``; in CSV NULL is an empty field, the empty string ``""``, and a field is quoted only when it
holds the delimiter, a quote or a line break. Parquet keeps the Arrow
types. Each tick's lines are written whole in one unbuffered write before ``write`` returns
(not fsynced); a write that fails part way is cut back. Opening a file cuts a partial last
line that a process killed while writing left, so that the next line does not run on from it.

Exactly once: ``commit`` (at a checkpoint) fsyncs what was written and returns the state to
keep, the file's length or the last part's tick; ``restore`` of that state, in a writer opened
again on the same path after a crash, cuts the file back to that length or removes the later
parts, so that the ticks replayed after the checkpoint are written once.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pathlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
from tidal.engine.durability.data_dir import fsync_directory

FORMATS = {"jsonl": "jsonl", "json": "jsonl", "csv": "csv", "parquet": "parquet"}
MODES = {"changelog": "changelog", "upsert": "upsert"}
_COMMON_OPTIONS = {"connector", "path", "format", "mode"}
_CSV_OPTIONS = {"header", "delimiter"}
_OPS = ("+I", "-U", "+U", "-D", "upsert", "delete")  # the change kinds that start its lines
_BLOCK = 1 << 22  # bytes read at once when looking for the end of the last whole record


def open_file_sink(
    sink: Sink, schema: pa.Schema, key_columns: list[str], base_dir: pathlib.Path
) -> FileSink:
    """A FileSink for ``sink`` after checking its options (see the module docstring)."""
    what = f"sink {sink.name} (connector 'file')"
    options = canonical_options(what, sink.options)
    fmt = choice(what, options, "format", FORMATS)
    check_known(what, options, _COMMON_OPTIONS | (_CSV_OPTIONS if fmt == "csv" else set()))
    mode = choice(what, options, "mode", MODES, default="changelog")
    if mode == "upsert" and not key_columns:
        raise ConnectorError(
            f"{what}: mode 'upsert' needs a unique key, and {sink.source} has "
            "none; use mode 'changelog'"
        )
    if OP in schema.names:
        raise ConnectorError(
            f"{what}: {sink.source} has a column named '{OP}', which the sink "
            "uses for the change kind; rename that column in the view"
        )
    path = resolve_path(
        required(what, options, "path", "a file, or a directory for parquet"), base_dir
    )
    delimiter = options.get("delimiter", ",").replace("\\t", "\t")
    if len(delimiter) != 1:
        raise ConnectorError(f"{what}: delimiter = '{delimiter}' must be one character (or '\\t')")
    return FileSink(
        what,
        schema,
        key_columns,
        fmt,
        mode,
        path,
        header=flag(what, options, "header", True),
        delimiter=delimiter,
    )


class FileSink(SinkWriter):
    """Appends each tick's changes to one file, or adds one Parquet file per tick."""

    def __init__(
        self,
        what: str,
        schema: pa.Schema,
        key_columns: list[str],
        fmt: str,
        mode: str,
        path: pathlib.Path,
        header: bool = True,
        delimiter: str = ",",
    ) -> None:
        self.schema, self.fmt, self.mode, self.path = schema, fmt, mode, path
        self._what, self._keys, self._delimiter = what, list(key_columns), delimiter
        self._file: io.FileIO | None = None
        self._last_tick: int | None = None
        if fmt == "parquet":
            if path.exists() and not path.is_dir():
                raise ConnectorError(f"{what}: path {path} is a file; parquet needs a directory")
            # The directory's entries (parts renamed in) are synced at every commit.
            self._unsynced = _make_directories(path)
            self._last_tick = max(map(_part_tick, self._parts()), default=None)
            return
        if path.is_dir():
            raise ConnectorError(f"{what}: path {path} is a directory; {fmt} needs a file name")
        self._unsynced = _make_directories(path.parent)
        if not path.exists():
            self._unsynced.add(path.parent)
        # Unbuffered: each tick's lines go to the file in one write, never split by a buffer.
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        names = [_csv_field(name, delimiter) for name in [OP, *schema.names]]
        header_line = (delimiter.join(names) + "\n").encode()
        self._cut_partial_record(header_line)
        if header and fmt == "csv" and self._file.tell() == 0:
            self._append(header_line)

    def write(self, changes: pa.Table, tick: int) -> None:
        if changes.num_rows == 0:
            return
        show = to_upsert if self.mode == "upsert" else to_changelog
        rows = show(changes, self._keys).select([OP, *self.schema.names])
        if self.fmt == "parquet":
            self._write_part(rows, tick)
        else:
            data = _jsonl_bytes(rows) if self.fmt == "jsonl" else _csv_bytes(rows, self._delimiter)
            self._append(data)
        self._last_tick = tick

    def snapshot(self) -> dict:
        if self.fmt == "parquet":
            return {"tick": self._last_tick}
        return {"bytes": self._file.tell() if self._file else self.path.stat().st_size}

    def commit(self) -> dict:
        """fsync the file (parts are fsynced when written) and the directories whose entries
        changed, then the state to keep: the file's length, or the tick of the last part."""
        if self.fmt == "parquet":
            self._unsynced.add(self.path)
        elif self._file is not None:
            os.fsync(self._file.fileno())
        for directory in sorted(self._unsynced):
            fsync_directory(directory)
        self._unsynced = set()
        return self.snapshot()

    def restore(self, state: dict) -> None:
        """Drop what was written after ``commit`` returned ``state``: the file is cut back to
        the committed length, parts of later ticks (and half-written hidden ones) are removed.
        A file shorter than its committed length was changed outside tidal: ConnectorError."""
        if self.fmt != "parquet":
            self._truncate(int(state["bytes"]))
            return
        last = state.get("tick")
        for part in self._parts():
            if last is None or _part_tick(part) > last:
                part.unlink()
        for hidden in self.path.glob(".part-*.parquet.tmp"):
            hidden.unlink()
        fsync_directory(self.path)
        self._last_tick = last

    def _append(self, data: bytes) -> None:
        """Append whole lines in one write (more only if the system takes less, as on a full
        disk); if that fails, cut the file back to where it was, so no partial line stays."""
        fd, start = self._file.fileno(), self._file.tell()
        rest = memoryview(data)
        try:
            while rest:
                rest = rest[os.write(fd, rest) :]
        except BaseException:
            os.ftruncate(fd, start)
            raise

    def _cut_partial_record(self, header_line: bytes) -> None:
        """Cut a partial last line (a record without its end: a process killed while writing)
        so that the next line does not run on from it, durability or not. A partial line that
        does not start as the sink's lines do was not written by tidal: ConnectorError."""
        size = self._file.tell()
        whole = _whole_records(self.path, size, quoted=self.fmt == "csv")
        if whole == size:
            return
        with open(self.path, "rb") as file:
            file.seek(whole)
            tail = file.read(size - whole)
        starts = [(op + self._delimiter).encode() for op in _OPS] if self.fmt == "csv" else []
        starts += [header_line] if self.fmt == "csv" else [b'{"' + OP.encode() + b'":"']
        if not any(tail.startswith(s) or s.startswith(tail) for s in starts):
            self.close()
            raise ConnectorError(
                f"{self._what}: {self.path} ends with {size - whole} bytes after its last "
                "line end that the sink did not write; end the file with a line break, or "
                "write the sink to another file"
            )
        logging.getLogger(__name__).warning(
            "%s: cut a partial last line from %s (%d bytes, from a write that did not end)",
            self._what,
            self.path,
            size - whole,
        )
        self._file.truncate(whole)
        self._file.seek(whole)

    def _truncate(self, committed: int) -> None:
        size = self._file.tell()
        if size < committed:
            raise ConnectorError(
                f"{self._what}: {self.path} has {size} bytes, fewer than the {committed} "
                "committed at the last checkpoint, so rows the sink wrote are lost; it was "
                "changed outside tidal (restore the file, or drop the sink and create it again)"
            )
        if size > committed:
            self._file.truncate(committed)
            self._file.seek(committed)
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _parts(self) -> list[pathlib.Path]:
        return list(self.path.glob("part-" + "[0-9]" * 10 + ".parquet"))

    def _write_part(self, rows: pa.Table, tick: int) -> None:
        """One Parquet file per tick, renamed into place so that readers never see half of it."""
        final = self.path / f"part-{tick:010d}.parquet"
        hidden = self.path / f".{final.name}.tmp"
        with open(hidden, "wb") as file:
            pq.write_table(rows, file)
            file.flush()
            os.fsync(file.fileno())  # the rename must never expose a part the disk lacks
        os.replace(hidden, final)


def _whole_records(path: pathlib.Path, size: int, quoted: bool) -> int:
    r"""The length of the file's first ``size`` bytes up to the end of its last whole record:
    its last newline, or in CSV (``quoted``) its last newline outside quotes (a CSV field may
    hold a newline, and its quotes are doubled, so a newline ends a record when the quotes
    before it are even).

    >>> import tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.csv"
    >>> _ = path.write_bytes(b'op,x\n+I,"a\nb"\n+I,"c\nd')
    >>> _whole_records(path, 21, quoted=True), _whole_records(path, 21, quoted=False)
    (14, 20)
    """
    with open(path, "rb") as file:
        quotes = 0
        if quoted:
            while block := file.read(_BLOCK):
                quotes += block.count(b'"')
        end = size
        while end > 0:  # backwards, block by block, to the last newline that ends a record
            start = max(0, end - _BLOCK)
            file.seek(start)
            block = np.frombuffer(file.read(end - start), dtype=np.uint8)
            is_quote = (block == ord('"')) if quoted else np.zeros(len(block), dtype=bool)
            before = quotes - int(is_quote.sum()) + np.cumsum(is_quote) - is_quote
            ends = np.flatnonzero((block == ord("\n")) & (before % 2 == 0))
            if len(ends):
                return start + int(ends[-1]) + 1
            quotes -= int(is_quote.sum())
            end = start
    return 0


def _part_tick(part: pathlib.Path) -> int:
    return int(part.stem.removeprefix("part-"))


def _make_directories(directory: pathlib.Path) -> set[pathlib.Path]:
    """Create ``directory`` and its missing parents; the directories that gained an entry."""
    missing = [d for d in (directory, *directory.parents) if not d.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    return {d.parent for d in missing}


# ---------------------------------------------------------------------------------------------
# Values as text, vectorized with Arrow kernels


def _jsonl_bytes(rows: pa.Table) -> bytes:
    """One JSON object per row, each followed by a newline, built column-wise."""
    pieces: list[pa.Array | str] = []
    for position, (name, column) in enumerate(zip(rows.column_names, rows.columns)):
        pieces.append(("{" if position == 0 else ",") + json.dumps(name) + ":")
        pieces.append(_json_values(column.combine_chunks()))
    return _join_lines([*pieces, "}\n"])


def _csv_bytes(rows: pa.Table, delimiter: str) -> bytes:
    """One CSV line per row, built column-wise (the header is written once, at creation)."""
    pieces: list[pa.Array | str] = []
    for column in rows.columns:
        pieces += [delimiter, _csv_values(column.combine_chunks(), delimiter)]
    return _join_lines([*pieces[1:], "\n"])


def _join_lines(pieces: list[pa.Array | str]) -> bytes:
    """Concatenate text columns and literals row by row into one buffer (rows end in pieces)."""
    lines = pc.binary_join_element_wise(*pieces, "")
    offsets = np.frombuffer(
        lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
    )
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])].to_pybytes()


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
        text = _wrapped(_temporal_text(array))
    else:  # lists, structs, binary, intervals: rare in sinks, so per value is acceptable here
        text = pa.array(
            [None if v is None else json.dumps(v, default=str) for v in array.to_pylist()],
            pa.string(),
        )
    return pc.fill_null(text, "null")


def _csv_values(array: pa.Array, delimiter: str) -> pa.Array:
    """Each value as a CSV field: NULL empty, text quoted only when it must be (or is empty)."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _csv_quoted(array.cast(pa.string()), delimiter)
    elif _is_temporal(kind):
        text = _temporal_text(array)
    elif (
        pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
    ):
        text = array.cast(pa.string())
    else:  # lists, structs, binary, intervals: their JSON text
        json_text = pc.if_else(array.is_null(), pa.scalar(None, pa.string()), _json_values(array))
        text = _csv_quoted(json_text, delimiter)
    return pc.fill_null(text, "")


def _csv_quoted(text: pa.Array, delimiter: str) -> pa.Array:
    special = pc.match_substring_regex(text, f'[\\x{{{ord(delimiter):x}}}"\\r\\n]')
    must_quote = pc.or_(special, pc.equal(text, ""))  # "" is the empty string, empty is NULL
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(must_quote, quoted, text)


def _csv_field(text: str, delimiter: str) -> str:
    if text == "" or any(c in text for c in (delimiter, '"', "\r", "\n")):
        return '"' + text.replace('"', '""') + '"'
    return text


def _float_text(array: pa.Array) -> pa.Array:
    text = array.cast(pa.string())
    if pc.all(pc.is_finite(array)).as_py() is not False:
        return text
    for arrow_spelling, json_text in (
        ("nan", '"NaN"'),
        ("inf", '"Infinity"'),
        ("-inf", '"-Infinity"'),
    ):
        text = pc.replace_substring_regex(text, f"^{arrow_spelling}$", json_text)
    return text


def _quoted(array: pa.Array) -> pa.Array:
    """Strings as JSON string literals (quotes, backslashes and control characters escaped)."""
    text = array
    if pc.any(pc.match_substring_regex(array, r'[\x00-\x1f"\\]')).as_py():
        text = pc.replace_substring(text, "\\", "\\\\")
        text = pc.replace_substring(text, '"', '\\"')
        for code in range(0x20):
            text = pc.replace_substring(text, chr(code), json.dumps(chr(code))[1:-1])
    return _wrapped(text)


def _wrapped(text: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', text, '"', "")


def _is_temporal(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_time(kind)


def _temporal_text(array: pa.Array) -> pa.Array:
    """Dates, times and timestamps as DuckDB prints them: no zero fraction, '+00' for UTC."""
    kind = array.type
    if pa.types.is_date(kind):
        return array.cast(pa.string())
    zoned = pa.types.is_timestamp(kind) and kind.tz is not None
    if zoned:
        array = array.cast(pa.timestamp(kind.unit))
    text = _without_zero_fraction(array)
    return pc.binary_join_element_wise(text, "+00", "") if zoned else text


def _without_zero_fraction(array: pa.Array) -> pa.Array:
    """Times as text with the fraction's trailing zeros cut, and no fraction in whole seconds."""
    if array.type.unit == "s":
        return array.cast(pa.string())
    seconds_type = pa.timestamp("s") if pa.types.is_timestamp(array.type) else pa.time32("s")
    seconds = array.cast(seconds_type, safe=False)
    whole = pc.equal(seconds.cast(array.type), array)
    if pc.all(whole).as_py() is not False:
        return seconds.cast(pa.string())
    # Rows with a fraction only lose trailing zeros, which never reach the seconds' digits.
    fraction = pc.utf8_rtrim(array.cast(pa.string()), characters="0")
    return pc.if_else(whole, seconds.cast(pa.string()), fraction)
