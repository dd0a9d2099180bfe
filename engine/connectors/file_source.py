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

Files are followed by identity (``watched_files``), not by name: a file renamed within the path
keeps its position under its new name; a new file, one replaced under its name or one cut
shorter is read from its start; a file gone is forgotten. A file that cannot be read (a bad
header) is reported once and left out until it changes; the other files go on.

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
import pathlib
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from tidal.catalog.objects import Source
from tidal.engine.connectors.base import (
    ConnectorError,
    SourceReader,
    canonical_options,
    check_known,
    choice,
    flag,
    names_a_directory,
    required,
    resolve_path,
)
from tidal.engine.connectors.file_formats import (
    BAD_DATA,
    Parse,
    conform,
    parse_csv,
    parse_jsonl,
    parse_lines,
    read_type,
)
from tidal.engine.connectors.watched_files import HEAD_BYTES, Listed, WatchedPath, head_checksum

FORMATS = {"csv": "csv", "jsonl": "jsonl", "json": "jsonl", "parquet": "parquet"}
SUFFIXES = {
    "csv": (".csv", ".tsv"),
    "jsonl": (".jsonl", ".json", ".ndjson"),
    "parquet": (".parquet",),
}
MAX_ERRORS = 1000  # the newest skipped-line messages kept; older ones are dropped
_READ_BLOCK = 1 << 22
_COMMON_OPTIONS = {"connector", "path", "format"}
_CSV_OPTIONS = {"header", "delimiter"}
_ALIASES = {"csv.field-delimiter": "delimiter"}


def open_file_source(source: Source, base_dir: pathlib.Path) -> FileSource:
    """A FileSource for ``source`` after checking its options (see the module docstring)."""
    what = f"{source.kind} {source.name} (connector 'file')"
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
    if not names_a_directory(path) and not reader.watched.exists():
        raise reader.watched.missing()  # a typo is caught at CREATE SOURCE, not at every later read
    return reader


class FileSource(SourceReader):
    """Reads the files of one source incrementally; its position is a byte offset per file,
    with the file's identity (see ``watched_files``) so that it is followed, not its name."""

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
        self.watched = WatchedPath(name, path_option, path, SUFFIXES[fmt])
        self._header, self._delimiter = header, delimiter
        self._read_types = {f.name: read_type(f, fmt, name) for f in schema}
        # name -> {"serial", "device", "inode", "head", "offset", "line", "header"} for text
        # files, {"serial", "device", "inode", "size", "rows", "done"} for Parquet; ``serial``
        # numbers the files in the order the source first took something from them.
        self._files: dict[str, dict] = {}
        self._serial = 0
        self._sizes: dict[str, int] = {}  # the files listed at the last poll, by name
        self._parquet: tuple[str, pa.Table] | None = None  # the parquet file being read
        self._unreadable: set[str] = set()  # parquet files already reported as unreadable
        self._verified: dict[tuple[int, int], tuple[int, int]] = {}  # identity -> size, mtime
        self._failed: dict[str, tuple] = {}  # file -> its signature when its error was said

    def poll(self, max_rows: int, drain: bool = False) -> pa.Table | None:
        tables: list[pa.Table] = []
        budget = max_rows
        files = self._follow(self.watched.files())
        self._sizes = {file.name: file.stat.st_size for file in files}
        for listed in files:
            if budget <= 0:
                break
            table = self._read_isolated(listed, budget)
            if table is not None and table.num_rows:
                tables.append(table)
                budget -= table.num_rows
        if not tables:
            return None
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def progress(self) -> tuple[int, int] | None:
        """Bytes read of the CSV and JSON lines files listed at the last poll (Parquet files
        are read whole: no byte offsets to count)."""
        if self.fmt == "parquet" or not self._sizes:
            return None
        done = sum(min(self._files.get(n, {}).get("offset", 0), s) for n, s in self._sizes.items())
        return done, sum(self._sizes.values())

    def snapshot(self) -> dict:
        return {"files": copy.deepcopy(self._files), "serial": self._serial}

    def restore(self, state: dict) -> None:
        self._set_position(state)
        self._parquet = None

    def replay(self, position: dict) -> pa.Table | None:
        """The lines (rows of Parquet files) between the current position and ``position``,
        file by file in name order as a poll reads them, parsed as a poll parses them.

        Each file is found by its identity (renamed files too). Bad lines are skipped and
        reported again, so a line reported before a restart is reported once more after it.
        ConnectorError if a file no longer holds what was read.
        """
        replay = self._replay_parquet if self.fmt == "parquet" else self._replay_text
        tables = []
        for name, target in sorted(position.get("files", {}).items()):
            table = replay(name, target)
            if table is not None and table.num_rows:
                tables.append(table)
        self._set_position(position)
        if not tables:
            return None
        return tables[0] if len(tables) == 1 else pa.concat_tables(tables)

    def close(self) -> None:
        self._parquet = None

    def _set_position(self, position: dict) -> None:
        self._files = copy.deepcopy(position.get("files", {}))
        self._serial = position.get("serial", 0)
        for state in self._files.values():  # a position written before files had serials
            if "serial" not in state:
                state["serial"], self._serial = self._serial, self._serial + 1
        self._verified = {}

    # -- following files by identity --------------------------------------------------------

    def _follow(self, listed: list[Listed]) -> list[Listed]:
        """Match the files listed now to the files read before, by identity: a file renamed
        keeps its position under its new name; a new file, one replaced under its name (other
        first bytes) or cut shorter starts from its beginning; files gone are forgotten."""
        known: dict[tuple[int, int], dict[str, dict]] = {}  # identity -> name -> state
        for name, state in self._files.items():
            if "inode" in state:
                known.setdefault((state["device"], state["inode"]), {})[name] = state
        files = {}
        for file in listed:
            # Hard links share an identity: each name keeps its own position.
            states = known.get(file.identity, {})
            state = states.pop(file.name, None) or (states.popitem()[1] if states else None)
            unidentified = self._files.get(file.name)
            if state is None and unidentified is not None and "inode" not in unidentified:
                state = unidentified  # from a position written before files had identities
                state.update(device=file.stat.st_dev, inode=file.stat.st_ino)
            if state is not None and self._same_file(file, state):
                files[file.name] = state
        self._files = files
        if len(self._verified) > len(listed):  # forget files gone
            current = {file.identity for file in listed}
            self._verified = {k: v for k, v in self._verified.items() if k in current}
        names = {file.name for file in listed}
        self._failed = {k: v for k, v in self._failed.items() if k in names}
        return listed

    def _same_file(self, file: Listed, state: dict) -> bool:
        """Whether the file with a known identity still holds what was read from it."""
        if self.fmt == "parquet":  # written once: another size is another file
            return "size" not in state or state["size"] == file.stat.st_size
        if file.stat.st_size < state["offset"]:
            return False  # cut shorter (copytruncate rotation): read again from the start
        seen = (file.stat.st_size, file.stat.st_mtime_ns)
        if self._verified.get(file.identity) == seen:
            return True
        size, checksum = state.get("head", (0, 0))
        same = size == 0 or head_checksum(file.path, size) == checksum
        if same:
            self._verified[file.identity] = seen
        return same

    def _keep(self, file: Listed, state: dict) -> dict:
        """Start following a file the source took something from."""
        if file.name not in self._files:
            state.update(serial=self._serial, device=file.stat.st_dev, inode=file.stat.st_ino)
            self._serial += 1
            self._files[file.name] = state
        return state

    def _read_isolated(self, file: Listed, budget: int) -> pa.Table | None:
        """Read one file; a file that cannot be read is reported once (until it changes) and
        left out, so that it does not stop the other files."""
        if self._failed.get(file.name) == file.signature:
            return None
        read = self._read_parquet if self.fmt == "parquet" else self._read_text
        try:
            table = read(file, budget)
        except FileNotFoundError:  # removed since the directory was listed
            return None
        except (ConnectorError, OSError) as error:
            self._failed[file.name] = file.signature
            if isinstance(error, OSError):
                error = f"{self.watched.display(file.name)}: cannot read the file ({error})"
            self.errors.append(f"{error}; the other files go on, this one when it changes")
            del self.errors[:-MAX_ERRORS]
            return None
        self._failed.pop(file.name, None)
        return table

    def _current(self, name: str, target: dict) -> dict | None:
        """The file of a replayed position as the current position has it (found by serial)."""
        if "serial" not in target:
            return self._files.get(name)
        return next((s for s in self._files.values() if s["serial"] == target["serial"]), None)

    def _locate(self, name: str, target: dict) -> pathlib.Path:
        """The file a replayed position names: by identity (renamed files too), else the file
        under its name if its first bytes are the same (copied, e.g. restored from a backup)."""
        path = self.watched.file_path(name)
        if "inode" not in target:
            return path
        found = self.watched.find(name, target["device"], target["inode"])
        if found is not None:
            return found
        if not path.exists():
            return path  # the reader says what is missing
        if "head" in target:
            same = head_checksum(path, target["head"][0]) == target["head"][1]
        else:
            same = path.stat().st_size == target.get("size")
        if not same:
            raise self._not_replayable(name, target, "another file has its name now")
        return path

    # -- CSV and JSON lines -----------------------------------------------------------------

    def _read_text(self, file: Listed, budget: int) -> pa.Table | None:
        name, path = file.name, file.path
        state = self._files.get(name) or {"offset": 0, "line": 0, "header": None, "head": [0, 0]}
        if file.stat.st_size <= state["offset"]:
            return None
        needs_header = self.fmt == "csv" and self._header and state["header"] is None
        if needs_header:
            if not self._take_header(name, path, state):
                return None
            self._keep(file, state)
        chunk = _complete_lines(path, state["offset"], budget)
        if not chunk:
            return None
        table = self._parse_skipping(self._parser(state["header"]), chunk, name, state["line"] + 1)
        self._keep(file, state)
        state["offset"] += len(chunk)
        state["line"] += chunk.count(b"\n")
        if state["head"][0] < min(state["offset"], HEAD_BYTES):
            size = min(state["offset"], HEAD_BYTES)
            state["head"] = [size, head_checksum(path, size) or 0]
        return table

    def _take_header(self, name: str, path: str | pathlib.Path, state: dict) -> bool:
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
                f"{self.watched.display(name)}:1: the header has no column {', '.join(missing)} "
                f"(it has {', '.join(names)}); fix the file or the declared columns, "
                "or set header = 'false' to match columns by position"
            )
        head = min(len(line), HEAD_BYTES)
        state.update(header=names, offset=len(line), line=1, head=[head, zlib.crc32(line[:head])])
        return True

    def _parser(self, header: list[str] | None) -> Parse:
        if self.fmt == "jsonl":
            return functools.partial(parse_jsonl, read_types=self._read_types, schema=self.schema)
        return functools.partial(
            parse_csv,
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
        except BAD_DATA:
            lines = chunk.split(b"\n")[:-1]
        tables = parse_lines(parse, lines, first_line, functools.partial(self._report, name))
        return pa.concat_tables(tables) if tables else None

    def _report(self, name: str, line: int | None, problem: str) -> None:
        where = self.watched.display(name) + (f":{line}" if line else "")
        self.errors.append(f"{where}: {problem}")
        del self.errors[:-MAX_ERRORS]

    def _replay_text(self, name: str, target: dict) -> pa.Table | None:
        state = dict(self._current(name, target) or {"offset": 0, "line": 0, "header": None})
        end = target["offset"]
        if end < state["offset"]:
            raise self._not_replayable(name, target, f"it is already at byte {state['offset']}")
        if end == state["offset"]:
            return None
        path = self._locate(name, target)
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
            f"source {self.name}: cannot read {self.watched.display(name)} again up to where "
            f"it was read before the restart ({read}): {why}"
        )

    # -- Parquet ----------------------------------------------------------------------------

    def _read_parquet(self, file: Listed, budget: int) -> pa.Table | None:
        name = file.name
        state = self._files.get(name)
        if state is not None and state["done"]:
            return None
        if self._parquet is None or self._parquet[0] != name:
            table = self._load_parquet(name, file.path)
            if table is None:
                return None
            self._parquet = (name, table)
        table = self._parquet[1]
        state = self._keep(file, state or {"size": file.stat.st_size, "rows": 0, "done": False})
        part = table.slice(state["rows"], budget)
        state["rows"] += part.num_rows
        if state["rows"] >= table.num_rows:
            state["done"] = True
            self._parquet = None
        return part

    def _replay_parquet(self, name: str, target: dict) -> pa.Table | None:
        state = self._current(name, target) or {"rows": 0, "done": False}
        if target["rows"] < state["rows"]:
            raise self._not_replayable(name, target, f"it is already at row {state['rows']}")
        if target["rows"] == state["rows"] and target["done"] == state["done"]:
            return None
        cached = self._parquet
        if cached and cached[0] == name:
            table = cached[1]
        else:
            table = self._load_parquet(name, self._locate(name, target), target)
        if table.num_rows < target["rows"]:
            raise self._not_replayable(name, target, f"the file has only {table.num_rows} rows")
        self._parquet = None if target["done"] else (name, table)
        return table.slice(state["rows"], target["rows"] - state["rows"])

    def _load_parquet(
        self, name: str, path: str | pathlib.Path, replaying: dict | None = None
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
                f"{self.watched.display(name)}: no column {', '.join(missing)} "
                f"(it has {', '.join(file.schema_arrow.names)})"
            )
        try:
            return conform(table, self.schema)
        except BAD_DATA as error:
            raise ConnectorError(
                f"{self.watched.display(name)}: values do not fit the declared column types: {error}"
            ) from error


# ---------------------------------------------------------------------------------------------
# Reading whole lines


def _complete_lines(path: str | pathlib.Path, offset: int, max_lines: int) -> bytes:
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
