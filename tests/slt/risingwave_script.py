"""Parsing RisingWave's ``.slt`` files (sqllogictest-rs's dialect) into records.

RisingWave writes its end-to-end tests for sqllogictest-rs, whose grammar differs from the
sqlite/DuckDB one that ``script.py`` reads for tidal's own scripts: a record ends at an empty
line (a line of spaces is part of it), ``statement error`` takes a regular expression or, under
``----``, an exact multi-line message ending at two empty lines, ``query`` types are any letters
(they are not checked), records may carry ``retry N backoff D``, and files ``include`` others
(paths relative to the including file, glob patterns allowed). See risingwave.py for how each
record runs on tidal.

    >>> text = "statement ok\\nflush;\\n\\nquery II rowsort retry 3 backoff 1s\\nSELECT 1, 2\\n----\\n1 2\\n"
    >>> [(type(r).__name__, r.line) for r in parse(text)]
    [('Statement', 1), ('Query', 4)]
"""

from __future__ import annotations

import glob
import os.path
import pathlib
from dataclasses import dataclass, field

SORT_MODES = ("nosort", "rowsort", "valuesort")
DELIMITER = "----"
MAX_INCLUDE_DEPTH = 16


class ScriptError(ValueError):
    """The file is not valid sqllogictest-rs (names the file and line)."""


@dataclass
class Record:
    """One record: where it is, its SQL (or command), and the labels it is conditioned on."""

    file: str
    line: int
    sql: str = ""
    onlyif: list[str] = field(default_factory=list)
    skipif: list[str] = field(default_factory=list)
    connection: str = "default"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Statement(Record):
    expect: str = "ok"  # ok | count | error
    count: int | None = None
    error: ExpectedError | None = None


@dataclass
class Query(Record):
    types: str = ""
    sort: str | None = None  # None: the file's ``control sortmode``, else nosort
    expected: list[str] = field(default_factory=list)
    error: ExpectedError | None = None  # ``query error``: the query must fail


@dataclass
class System(Record):
    """A shell command (``system ok``): never run on tidal; counted as skipped."""


@dataclass
class Let(Record):
    """``let a, b``: the query's one row sets variables for ``control substitution``."""

    names: list[str] = field(default_factory=list)


@dataclass
class Control(Record):
    """``control sortmode <mode>`` or ``control substitution on|off``; ``sleep``."""

    what: str = ""
    value: str = ""


@dataclass(frozen=True)
class ExpectedError:
    """What error a record expects: any (``text`` empty), a regex, or an exact message."""

    text: str = ""
    exact: bool = False


def parse_file(path: pathlib.Path, depth: int = 0, root: pathlib.Path | None = None) -> list:
    """The records of the file at ``path``, with its includes expanded in place; record files
    are named relative to ``root`` (default: the file's folder)."""
    root = root or path.parent
    name = _relative(path, root)
    try:
        text = path.read_text()
    except OSError as error:
        raise ScriptError(f"{name}: cannot read ({error.strerror})") from error
    records = []
    for record in parse(text, name):
        if not isinstance(record, _Include):
            records.append(record)
            continue
        if depth >= MAX_INCLUDE_DEPTH:
            raise ScriptError(f"{record.where}: includes nest deeper than {MAX_INCLUDE_DEPTH}")
        pattern = (path.parent / record.sql).as_posix()
        matches = sorted(glob.glob(pattern))
        if not matches:
            raise ScriptError(f"{record.where}: include {record.sql}: no such file")
        for included in matches:
            records += parse_file(pathlib.Path(included), depth + 1, root)
    return records


def _relative(path: pathlib.Path, root: pathlib.Path) -> str:
    """``path`` relative to ``root``, with ``..`` where it lies outside (as includes do)."""
    try:
        return pathlib.Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return pathlib.Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


@dataclass
class _Include(Record):
    pass


class _Lines:
    """The lines of a script with a cursor (sqllogictest-rs reads them the same way)."""

    def __init__(self, text: str) -> None:
        self.lines = [line.rstrip("\r") for line in text.split("\n")]
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.at = 0

    def next(self) -> str | None:
        if self.at >= len(self.lines):
            return None
        self.at += 1
        return self.lines[self.at - 1]

    def block(self, delimiter: bool = True) -> tuple[list[str], bool]:
        """Lines up to an empty line or (``delimiter``) a ``----`` line; whether ``----`` ended
        it."""
        out = []
        while (line := self.next()) is not None and line != "":
            if delimiter and line == DELIMITER:
                return out, True
            out.append(line)
        return out, False

    def multiline(self) -> str:
        """Lines up to two empty lines in a row (an expected error message, a command's
        output)."""
        out = []
        while (line := self.next()) is not None:
            if line == "" and (self.at >= len(self.lines) or self.lines[self.at] == ""):
                self.next()
                break
            out.append(line)
        return "\n".join(out).strip()


def parse(text: str, name: str = "<script>") -> list[Record]:
    """The records of a script, ``include`` records unexpanded (see ``parse_file``).

    >>> [r.expect for r in parse("statement error no such\\nSELECT x\\n", "f")]
    ['error']
    """
    lines = _Lines(text)
    records: list[Record] = []
    conditions: dict[str, list[str]] = {"onlyif": [], "skipif": []}
    connection = "default"
    while (line := lines.next()) is not None:
        if line.startswith("#") or not line.split():
            continue
        words = line.split()
        where = f"{name}:{lines.at}"
        if words[0] in conditions and len(words) == 2:
            conditions[words[0]].append(words[1])
            continue
        if words[0] == "connection" and len(words) == 2:
            connection = words[1]
            continue
        record = _record(words, lines, name, where)
        if record is None:
            continue
        record.onlyif, record.skipif = conditions["onlyif"], conditions["skipif"]
        record.connection = connection
        conditions = {"onlyif": [], "skipif": []}
        connection = "default"
        records.append(record)
        if isinstance(record, Control) and record.what == "halt":
            break  # the runner stops there too (a halt in an included file stops the run)
    return records


def _record(words: list[str], lines: _Lines, name: str, where: str) -> Record | None:
    line = lines.at
    kind = words[0]
    if kind == "statement":
        return _statement(words[1:], lines, name, line, where)
    if kind == "query":
        return _query(words[1:], lines, name, line, where)
    if kind == "system" and words[1:] == ["ok"]:
        command, has_output = lines.block()
        if has_output:
            lines.multiline()
        return System(name, line, "\n".join(command))
    if kind == "let" and len(words) > 1:
        names = [n.strip() for n in " ".join(words[1:]).split(",")]
        sql, _ = lines.block(delimiter=False)
        return Let(name, line, "\n".join(sql), names=names)
    if kind == "include" and len(words) == 2:
        return _Include(name, line, words[1])
    if kind == "control" and len(words) == 3 and words[1] in ("sortmode", "substitution"):
        return Control(name, line, what=words[1], value=words[2])
    if kind in ("halt", "sleep") and len(words) == (1 if kind == "halt" else 2):
        return Control(name, line, what=kind, value=" ".join(words[1:]))
    if kind == "subtest" and len(words) == 2:
        return None
    raise ScriptError(f"{where}: unknown record {' '.join(words)!r}")


def _without_retry(words: list[str], where: str) -> list[str]:
    """The header's words without a trailing ``retry N backoff D`` (tidal answers at once)."""
    if "retry" not in words:
        return words
    at = words.index("retry")
    tail = words[at:]
    if len(tail) != 4 or not tail[1].isdigit() or tail[2] != "backoff":
        raise ScriptError(f"{where}: expected 'retry <n> backoff <duration>'")
    return words[:at]


def _statement(words: list[str], lines: _Lines, name: str, line: int, where: str) -> Statement:
    words = _without_retry(words, where)
    record = Statement(name, line)
    if words == ["ok"]:
        pass
    elif words[:1] == ["count"] and len(words) == 2 and words[1].isdigit():
        record.expect, record.count = "count", int(words[1])
    elif words[:1] == ["error"]:
        record.expect, record.error = "error", ExpectedError(" ".join(words[1:]))
    else:
        raise ScriptError(f"{where}: expected 'statement ok|count <n>|error [regex]'")
    sql, has_results = lines.block()
    record.sql = "\n".join(sql)
    if has_results:
        if record.expect != "error" or record.error.text:
            raise ScriptError(f"{where}: only 'statement error' without a regex has a ----")
        record.error = ExpectedError(lines.multiline(), exact=True)
    return record


def _query(words: list[str], lines: _Lines, name: str, line: int, where: str) -> Query:
    words = _without_retry(words, where)
    record = Query(name, line)
    if words[:1] == ["error"]:
        record.error = ExpectedError(" ".join(words[1:]))
    elif words:
        record.types = words[0]
        if len(words) > 1:
            if words[1] not in SORT_MODES:
                raise ScriptError(f"{where}: unknown sort mode {words[1]!r}")
            record.sort = words[1]
    sql, has_results = lines.block()
    record.sql = "\n".join(sql)
    if has_results and record.error is not None:
        if record.error.text:
            raise ScriptError(f"{where}: an error is expected both inline and under ----")
        record.error = ExpectedError(lines.multiline(), exact=True)
    elif has_results:
        record.expected, _ = lines.block(delimiter=False)
    return record
