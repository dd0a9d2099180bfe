"""The file source: reads CSV, JSON lines or Parquet from one file or a directory, and follows it.

Options (``CREATE SOURCE s (...) WITH (connector = 'file', ...)``):

- ``path`` (required): one file, or a directory (every file in it, in name order, not
  recursive, skipping names that start with ``.`` or ``_`` and suffixes of other formats).
  A path written with a trailing ``/`` may not exist yet. Relative to the script's directory.
- ``format`` (required): ``csv`` | ``jsonl`` (alias ``json``) | ``parquet``.
- ``header`` (csv, default ``'true'``): the first line of each file names the columns, which
  are then matched by name (extra columns ignored); with ``'false'`` columns go by position.
- ``delimiter`` (csv, default ``','``; alias ``csv.field-delimiter``): one character, or ``\\t``.

CSV and JSON lines files are followed like ``tail -f``: a byte offset per file, only complete
lines (up to the last newline) are taken, lines appended later and files that appear later are
read on a later poll. A CSV record cannot span lines. Parquet files are read once each, whole;
one that cannot be read yet (still being written) is retried on the next poll.

Values are cast to the declared types. In CSV an unquoted empty field is NULL and a quoted one
(``""``) is the empty string, as in PostgreSQL's COPY. A line that does not parse or does not
fit its column types is skipped and reported in ``errors`` as ``file:line: problem``; the other
lines of the chunk come through.

``replay`` reads exactly the bytes (rows) between two positions again, for recovery; a file
that no longer holds them is a ConnectorError, never a silent difference.
"""

from __future__ import annotations

import copy
import functools
import io
import os
import pathlib
import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from tidal.catalog.objects import Source
from tidal.engine.connectors.base import (
    ConnectorError,
    SourceReader,
    canonical_options,
    cast_text,
    check_known,
    choice,
    flag,
    names_a_directory,
    required,
    resolve_path,
)

FORMATS = {"csv": "csv", "jsonl": "jsonl", "json": "jsonl", "parquet": "parquet"}
SUFFIXES = {
    "csv": (".csv", ".tsv"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "parquet": (".parquet",),
}
MAX_ERRORS = 1000  # the newest skipped-line messages kept; older ones are dropped
_READ_BLOCK = 1 << 22
# What pyarrow raises for text that does not parse or does not fit a column's type.
_BAD_DATA = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError)
_COMMON_OPTIONS = {"connector", "path", "format"}
_CSV_OPTIONS = {"header", "delimiter"}
_ALIASES = {"csv.field-delimiter": "delimiter"}

Parse = Callable[[bytes], pa.Table]


def open_file_source(source: Source, base_dir: pathlib.Path) -> FileSource:
    """A FileSource for ``source`` after checking its options (see the module docstring)."""
    what = f"source {source.name} (connector 'file')"
    options = canonical_options(what, source.options, _ALIASES)
    fmt = choice(what, options, "format", FORMATS)
    check_known(what, options, _COMMON_OPTIONS | (_CSV_OPTIONS if fmt == "csv" else set()))
    path = required(what, options, "path", "a file or a directory ending in '/'")
    delimiter = options.get("delimiter", ",").replace("\\t", "\t")
    if len(delimiter) != 1:
        raise ConnectorError(f"{what}: delimiter = '{delimiter}' must be one character (or '\\t')")
    reader = FileSource(
        name=source.name,
        schema=source.arrow_schema(),
        fmt=fmt,
        path_option=path,
        path=resolve_path(path, base_dir),
        header=flag(what, options, "header", True),
        delimiter=delimiter,
    )
    if not names_a_directory(path) and not reader._path.exists():
        raise reader._missing()  # a typo is caught at CREATE SOURCE, not at every later read
    return reader


class FileSource(SourceReader):
    """Reads the files of one source incrementally; its position is a byte offset per file."""

    bounded = True  # the files hold a finite input as of now

    def __init__(
        self,
        name: str,
        schema: pa.Schema,
        fmt: str,
        path_option: str,
        path: pathlib.Path,
        header: bool = True,
        delimiter: str = ",",
    ) -> None:
        self.name, self.schema, self.fmt = name, schema, fmt
        self.errors: list[str] = []
        self._path_option, self._path = path_option, path
        self._header, self._delimiter = header, delimiter
        self._read_types = {f.name: _read_type(f, fmt, name) for f in schema}
        # name -> {"offset", "line", "header"} for text files, {"rows", "done"} for parquet
        self._files: dict[str, dict] = {}
        self._parquet: tuple[str, pa.Table] | None = None  # the parquet file being read
        self._unreadable: set[str] = set()  # parquet files already reported as unreadable

    def poll(self, max_rows: int, drain: bool = False) -> pa.Table | None:
        tables: list[pa.Table] = []
        budget = max_rows
        for name, path in self._list_files():
            if budget <= 0:
                break
            read = self._read_parquet if self.fmt == "parquet" else self._read_text
            table = read(name, path, budget)
            if table is not None and table.num_rows:
                tables.append(table)
                budget -= table.num_rows
        if not tables:
            return None
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def snapshot(self) -> dict:
        return {"files": copy.deepcopy(self._files)}

    def restore(self, state: dict) -> None:
        self._files = copy.deepcopy(state.get("files", {}))
        self._parquet = None

    def replay(self, position: dict) -> pa.Table | None:
        """The lines (rows of Parquet files) between the current position and ``position``,
        file by file in name order as a poll reads them, parsed as a poll parses them.

        Bad lines are skipped and reported again, so a line reported before a restart is
        reported once more after it. ConnectorError if a file no longer holds what was read.
        """
        targets = position.get("files", {})
        behind = sorted(set(self._files) - set(targets))
        if behind:
            raise ConnectorError(
                f"source {self.name}: cannot replay to a position that does not know "
                f"{', '.join(self._display(n) for n in behind)}, which was already read"
            )
        replay = self._replay_parquet if self.fmt == "parquet" else self._replay_text
        tables = []
        for name, target in sorted(targets.items()):
            table = replay(name, self._file_path(name), target)
            if table is not None and table.num_rows:
                tables.append(table)
        self._files = copy.deepcopy(targets)
        if not tables:
            return None
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def close(self) -> None:
        self._parquet = None

    # -- which files ------------------------------------------------------------------------

    def _list_files(self) -> list[tuple[str, pathlib.Path]]:
        path = self._path
        if names_a_directory(self._path_option) or path.is_dir():
            if not path.exists():
                if names_a_directory(self._path_option):
                    return []  # a directory named with a trailing '/' may be created later
                raise self._missing()
            if not path.is_dir():
                raise ConnectorError(
                    f"source {self.name}: path '{self._path_option}' is a file, "
                    "not a directory: remove the trailing '/'"
                )
            suffixes = SUFFIXES[self.fmt]
            names = sorted(
                entry.name
                for entry in os.scandir(path)
                if entry.is_file()
                and not entry.name.startswith((".", "_"))
                and entry.name.lower().endswith(suffixes)
            )
            return [(name, path / name) for name in names]
        if not path.exists():
            raise self._missing()
        return [(path.name, path)]

    def _file_path(self, name: str) -> pathlib.Path:
        """The path of a file named in a position."""
        if names_a_directory(self._path_option) or self._path.is_dir():
            return self._path / name
        return self._path

    def _missing(self) -> ConnectorError:
        return ConnectorError(
            f"source {self.name}: path '{self._path_option}' does not exist "
            f"(looked for {self._path}); end it with '/' for a directory that is created later"
        )

    def _display(self, name: str) -> str:
        """How messages name a file: the path as the user wrote it, plus the file's name."""
        if names_a_directory(self._path_option) or self._path.is_dir():
            return self._path_option.rstrip("/" + os.sep) + "/" + name
        return self._path_option

    # -- CSV and JSON lines -----------------------------------------------------------------

    def _read_text(self, name: str, path: pathlib.Path, budget: int) -> pa.Table | None:
        state = self._files.setdefault(name, {"offset": 0, "line": 0, "header": None})
        try:
            if path.stat().st_size <= state["offset"]:
                return None
        except FileNotFoundError:  # removed since the directory was listed
            return None
        needs_header = self.fmt == "csv" and self._header and state["header"] is None
        if needs_header and not self._take_header(name, path, state):
            return None
        chunk = _complete_lines(path, state["offset"], budget)
        if not chunk:
            return None
        table = self._parse_skipping(self._parser(state["header"]), chunk, name, state["line"] + 1)
        state["offset"] += len(chunk)
        state["line"] += chunk.count(b"\n")
        return table

    def _take_header(self, name: str, path: pathlib.Path, state: dict) -> bool:
        """Read the header line of a CSV file into ``state``; False if it is not complete yet."""
        line = _complete_lines(path, 0, 1)
        if not line:
            return False
        text = line.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark is not a name
        names = pa_csv.read_csv(
            io.BytesIO(text), parse_options=pa_csv.ParseOptions(delimiter=self._delimiter)
        ).column_names
        missing = [n for n in self.schema.names if n not in names]
        if missing:
            raise ConnectorError(
                f"{self._display(name)}:1: the header has no column {', '.join(missing)} "
                f"(it has {', '.join(names)}); fix the file or the declared columns, "
                "or set header = 'false' to match columns by position"
            )
        state.update(header=names, offset=len(line), line=1)
        return True

    def _parser(self, header: list[str] | None) -> Parse:
        if self.fmt == "jsonl":
            return functools.partial(_parse_jsonl, read_types=self._read_types, schema=self.schema)
        return functools.partial(
            _parse_csv,
            column_names=header or self.schema.names,
            delimiter=self._delimiter,
            read_types=self._read_types,
            schema=self.schema,
        )

    def _parse_skipping(
        self, parse: Parse, chunk: bytes, name: str, first_line: int
    ) -> pa.Table | None:
        """Parse a chunk of whole lines; if that fails, find and skip the bad lines."""
        if not chunk.strip():
            return None
        try:
            return parse(chunk)
        except _BAD_DATA:
            lines = chunk.split(b"\n")[:-1]
        tables = parse_lines(parse, lines, first_line, functools.partial(self._report, name))
        return pa.concat_tables(tables) if tables else None

    def _report(self, name: str, line: int | None, problem: str) -> None:
        where = self._display(name) + (f":{line}" if line else "")
        self.errors.append(f"{where}: {problem}")
        del self.errors[:-MAX_ERRORS]

    def _replay_text(self, name: str, path: pathlib.Path, target: dict) -> pa.Table | None:
        state = dict(self._files.get(name, {"offset": 0, "line": 0, "header": None}))
        end = target["offset"]
        if end < state["offset"]:
            raise self._not_replayable(name, target, f"it is already at byte {state['offset']}")
        if end == state["offset"]:
            return None
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise self._not_replayable(name, target, "the file is missing") from None
        if size < end:
            raise self._not_replayable(name, target, f"the file has only {size} bytes now")
        header_unread = target.get("header") is not None and state["header"] is None
        if header_unread and (
            not self._take_header(name, path, state)
            or state["header"] != target["header"]
            or state["offset"] > end
        ):
            raise self._not_replayable(name, target, "its header line has changed")
        with open(path, "rb") as file:
            file.seek(state["offset"])
            chunk = file.read(end - state["offset"])  # empty when the poll read only the header
        torn = chunk and not chunk.endswith(b"\n")
        if torn or state["line"] + chunk.count(b"\n") != target["line"]:
            raise self._not_replayable(name, target, "its lines have changed")
        return self._parse_skipping(self._parser(target["header"]), chunk, name, state["line"] + 1)

    def _not_replayable(self, name: str, target: dict, why: str) -> ConnectorError:
        if "offset" in target:
            read = f"lines up to line {target['line']} (byte {target['offset']})"
        else:
            read = f"its first {target['rows']} rows"
        return ConnectorError(
            f"source {self.name}: cannot read {self._display(name)} again up to where it was "
            f"read before the restart ({read}): {why}"
        )

    # -- Parquet ----------------------------------------------------------------------------

    def _read_parquet(self, name: str, path: pathlib.Path, budget: int) -> pa.Table | None:
        state = self._files.get(name)
        if state is not None and state["done"]:
            return None
        if self._parquet is None or self._parquet[0] != name:
            table = self._load_parquet(name, path)
            if table is None:
                return None
            self._parquet = (name, table)
        table = self._parquet[1]
        state = self._files.setdefault(name, {"rows": 0, "done": False})
        part = table.slice(state["rows"], budget)
        state["rows"] += part.num_rows
        if state["rows"] >= table.num_rows:
            state["done"] = True
            self._parquet = None
        return part

    def _replay_parquet(self, name: str, path: pathlib.Path, target: dict) -> pa.Table | None:
        state = self._files.get(name, {"rows": 0, "done": False})
        if target["rows"] < state["rows"]:
            raise self._not_replayable(name, target, f"it is already at row {state['rows']}")
        if target == state:
            return None
        cached = self._parquet
        table = (
            cached[1] if cached and cached[0] == name else self._load_parquet(name, path, target)
        )
        if table.num_rows < target["rows"]:
            raise self._not_replayable(name, target, f"the file has only {table.num_rows} rows")
        self._parquet = None if target["done"] else (name, table)
        return table.slice(state["rows"], target["rows"] - state["rows"])

    def _load_parquet(
        self, name: str, path: pathlib.Path, replaying: dict | None = None
    ) -> pa.Table | None:
        """The whole file cast to the schema; None if it cannot be read yet (retried later).
        ``replaying``: the position being replayed, which was read before, so a file that
        cannot be read is a ConnectorError."""
        try:
            file = pq.ParquetFile(path)
            columns = [n for n in self.schema.names if n in file.schema_arrow.names]
            table = file.read(columns=columns)
        except (OSError, pa.ArrowException) as error:
            if replaying is not None:
                reason = f"it cannot be read ({error})"
                raise self._not_replayable(name, replaying, reason) from error
            if name not in self._unreadable:
                self._unreadable.add(name)
                self._report(name, None, f"cannot read the file yet, will retry ({error})")
            return None
        missing = [n for n in self.schema.names if n not in table.column_names]
        if missing:
            raise ConnectorError(
                f"{self._display(name)}: no column {', '.join(missing)} "
                f"(it has {', '.join(file.schema_arrow.names)})"
            )
        try:
            return _conform(table, self.schema)
        except _BAD_DATA as error:
            raise ConnectorError(
                f"{self._display(name)}: values do not fit the declared column types: {error}"
            ) from error


# ---------------------------------------------------------------------------------------------
# Parsing: whole chunks with pyarrow, line by line (by bisection) only to find bad lines


def _complete_lines(path: pathlib.Path, offset: int, max_lines: int) -> bytes:
    """At most ``max_lines`` whole lines of the file from byte ``offset`` (b'' if none yet)."""
    parts, newlines = [], 0
    with open(path, "rb") as file:
        file.seek(offset)
        while newlines < max_lines:
            block = file.read(_READ_BLOCK)
            if not block:
                break
            parts.append(block)
            newlines += block.count(b"\n")
    data = b"".join(parts)
    if newlines <= max_lines:
        return data[: data.rfind(b"\n") + 1]
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    return data[: int(ends[max_lines - 1]) + 1]


def parse_lines(
    parse: Parse, lines: list[bytes], first_line: int, report: Callable[[int, str], None]
) -> list[pa.Table]:
    """Parse lines in halves until each bad line is isolated, reported and left out."""
    text = b"\n".join(lines) + b"\n"
    if not text.strip():
        return []
    try:
        return [parse(text)]
    except _BAD_DATA as error:
        if len(lines) == 1:
            report(first_line, _problem(error))
            return []
    middle = len(lines) // 2
    return parse_lines(parse, lines[:middle], first_line, report) + parse_lines(
        parse, lines[middle:], first_line + middle, report
    )


def _problem(error: Exception) -> str:
    """pyarrow's message without its position inside the chunk (the caller knows the line)."""
    return re.sub(r"\s*in row \d+$", "", str(error).strip())


def csv_parser(schema: pa.Schema, delimiter: str, null: str, what: str) -> Parse:
    """A parser of CSV lines (no header) into ``schema``'s columns by position, as the file
    source parses them, with ``null`` (unquoted) for NULL: for COPY FROM."""
    read_types = {f.name: _read_type(f, "csv", what) for f in schema}
    return functools.partial(
        _parse_csv,
        column_names=schema.names,
        delimiter=delimiter,
        read_types=read_types,
        schema=schema,
        null=null,
    )


def _parse_csv(
    chunk: bytes,
    column_names: list[str],
    delimiter: str,
    read_types: dict[str, pa.DataType],
    schema: pa.Schema,
    null: str = "",
) -> pa.Table:
    def read(types: dict[str, pa.DataType]) -> pa.Table:
        return pa_csv.read_csv(
            io.BytesIO(chunk),
            read_options=pa_csv.ReadOptions(column_names=column_names, block_size=len(chunk) + 1),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=types,
                include_columns=schema.names,
                null_values=[null],
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                true_values=["true", "True", "TRUE", "t", "1"],
                false_values=["false", "False", "FALSE", "f", "0"],
            ),
        )

    table = read(read_types)
    # pyarrow reads a number too large for a double (1e400) as infinity: only a value written
    # as an infinity may be one, so the rare chunk holding an infinity is read again as text.
    infinite = [
        n for n in schema.names if pa.types.is_floating(read_types[n]) and _any_inf(table[n])
    ]
    if infinite:
        text = read({**read_types, **dict.fromkeys(infinite, pa.string())})
        for name in infinite:
            written = pc.match_substring_regex(text[name], _INFINITY, ignore_case=True)
            _refuse_overflow(name, table[name], written, schema.field(name).type, text[name])
    return _conform(table, schema)


def _parse_jsonl(chunk: bytes, read_types: dict[str, pa.DataType], schema: pa.Schema) -> pa.Table:
    table = pa_json.read_json(
        io.BytesIO(chunk),
        read_options=pa_json.ReadOptions(block_size=len(chunk) + 1),
        parse_options=pa_json.ParseOptions(
            explicit_schema=pa.schema(list(read_types.items())),
            unexpected_field_behavior="ignore",
            newlines_in_values=False,
        ),
    )
    return _conform(table, schema)


# Types the readers cannot produce directly are read as text and converted after.
_UNSUPPORTED = {
    "csv": lambda t: pa.types.is_nested(t) or pa.types.is_interval(t),
    "jsonl": lambda t: pa.types.is_interval(t) or pa.types.is_map(t),
    "parquet": lambda t: False,
}
_AS_TEXT = {
    "csv": lambda t: pa.types.is_timestamp(t) and t.tz is not None,
    "jsonl": lambda t: pa.types.is_date(t) or pa.types.is_time(t) or pa.types.is_binary(t),
    "parquet": lambda t: False,
}


def _read_type(field: pa.Field, fmt: str, source: str) -> pa.DataType:
    if _UNSUPPORTED[fmt](field.type):
        raise ConnectorError(
            f"source {source}: column {field.name} of type {field.type} cannot "
            f"be read from {fmt}; use format 'parquet' (or 'jsonl' for lists)"
        )
    if _AS_TEXT[fmt](field.type):
        return pa.string()
    if pa.types.is_floating(field.type) and fmt != "parquet":
        return pa.float64()  # a REAL too large is then caught when cast, not read as infinity
    return field.type


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The declared columns, in order, cast to the declared types (raises ArrowInvalid, also
    for a number too large for a REAL that would become infinity)."""
    columns = []
    for field in schema:
        column = table.column(field.name)
        cast = cast_text(column, field.type)
        if pa.types.is_floating(column.type) and column.type != field.type and _any_inf(cast):
            _refuse_overflow(field.name, cast, pc.is_inf(column), field.type, column)
        columns.append(cast)
    return pa.Table.from_arrays(columns, schema=schema)


_INFINITY = r"^\s*[+-]?inf(inity)?\s*$"  # the spellings pyarrow reads as infinity
_FLOAT_NAMES = {pa.float16(): "REAL", pa.float32(): "REAL", pa.float64(): "DOUBLE"}


def _any_inf(column: pa.ChunkedArray) -> bool:
    return bool(pc.any(pc.is_inf(column)).as_py())


def _refuse_overflow(
    name: str,
    values: pa.ChunkedArray,
    was_infinite: pa.ChunkedArray,
    target: pa.DataType,
    shown: pa.ChunkedArray,
) -> None:
    """Raise ArrowInvalid if a value became infinite that was not an infinity before.

    >>> values = pa.chunked_array([[1.0, float("inf")]])
    >>> _refuse_overflow("x", values, pa.chunked_array([[False, True]]), pa.float64(), values)
    >>> _refuse_overflow("x", values, pa.chunked_array([[False, False]]), pa.float32(), values)
    Traceback (most recent call last):
    pyarrow.lib.ArrowInvalid: column x: inf is out of range for type REAL
    """
    overflowed = pc.and_(pc.is_inf(values), pc.invert(pc.fill_null(was_infinite, False)))
    if pc.any(overflowed).as_py():
        value = shown.filter(overflowed)[0].as_py()
        raise pa.ArrowInvalid(
            f"column {name}: {value} is out of range for type {_FLOAT_NAMES.get(target, target)}"
        )
