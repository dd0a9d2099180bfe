"""Parsing ``.slt`` scripts into records (see runner.py for the format)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SORT_MODES = ("nosort", "rowsort", "valuesort")
ONLY_ON = {"tidal": ("tidal", "batch"), "incremental": ("tidal",)}  # onlyif word -> engines
SQLSTATE = re.compile(r"^[0-9][0-9A-Z]{4}$")
DUCKDB_SECTION = "---- duckdb"  # the oracle's own SQL for a record follows this line


@dataclass
class Record:
    """One record of a script: where it starts, its SQL, and whether it is tidal-specific."""

    line: int
    sql: str = ""
    only: str | None = None  # "tidal" or "incremental": see ONLY_ON
    duckdb_sql: str | None = None  # what the oracle runs instead (a ``---- duckdb`` section)


@dataclass
class Statement(Record):
    expect: str = "ok"  # ok | count | error
    count: int | None = None
    sqlstate: str | None = None
    message: str | None = None


@dataclass
class Query(Record):
    types: str = ""
    sort: str = "nosort"
    expected: list[str] = field(default_factory=list)


@dataclass
class Control(Record):
    incremental: bool = False


@dataclass
class Halt(Record):
    pass


class ScriptError(ValueError):
    """The script itself is malformed (names its file and line)."""


def parse(text: str, name: str = "<script>") -> list[Record]:
    """The records of a script.

    >>> script = "statement ok\\nSELECT 1\\n\\nquery I\\nSELECT 1\\n----\\n1\\n"
    >>> [type(r).__name__ for r in parse(script)]
    ['Statement', 'Query']
    """
    lines = text.split("\n")
    records: list[Record] = []
    i = 0
    only = None
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        words = stripped.split()
        if words[0] in ("onlyif", "skipif"):
            _check_condition(words, name, i + 1)
            only = words[1]
            i += 1
            continue
        record, i = _record(lines, i, name)
        if only is not None and record.duckdb_sql is not None:
            raise ScriptError(
                f"{name}:{record.line}: an 'onlyif {only}' record does not run on the oracle, so "
                "it cannot have a '---- duckdb' section"
            )
        record.only = only
        only = None
        records.append(record)
        if isinstance(record, Halt):
            break
    return records


def _check_condition(words: list[str], name: str, line: int) -> None:
    if words[0] != "onlyif" or len(words) != 2 or words[1] not in ONLY_ON:
        raise ScriptError(
            f"{name}:{line}: only 'onlyif tidal' and 'onlyif incremental' are "
            "supported (a case tidal gets "
            "wrong belongs in known_failures/, not behind skipif)"
        )


def _block(lines: list[str], i: int) -> tuple[list[str], int]:
    """Lines from ``i`` up to a blank line (or the end), and the index after them."""
    block = []
    while i < len(lines) and lines[i].strip():
        block.append(lines[i].rstrip())
        i += 1
    return block, i


def _record(lines: list[str], i: int, name: str) -> tuple[Record, int]:
    header = lines[i].split()
    line = i + 1
    body, end = _block(lines, i + 1)
    where = f"{name}:{line}"
    if header[0] == "halt":
        return Halt(line), end
    if header[0] == "control":
        if len(header) != 3 or header[1] != "incremental" or header[2] not in ("on", "off"):
            raise ScriptError(f"{where}: expected 'control incremental on|off'")
        return Control(line, incremental=header[2] == "on"), end
    sql_lines, duckdb_lines, result = _split_result(body, where)
    sql = "\n".join(sql_lines).strip()
    if not sql:
        raise ScriptError(f"{where}: the record has no SQL")
    if header[0] == "statement":
        record = _statement(header, line, sql, result, where)
    elif header[0] == "query":
        record = _query(header, line, sql, result, where)
    else:
        raise ScriptError(f"{where}: unknown record {header[0]!r}")
    if duckdb_lines is not None:
        record.duckdb_sql = "\n".join(duckdb_lines).strip()
        if not record.duckdb_sql:
            raise ScriptError(f"{where}: the '---- duckdb' section has no SQL")
        if isinstance(record, Statement) and record.expect == "error":
            raise ScriptError(
                f"{where}: 'statement error' records do not run on the oracle, so they cannot "
                "have a '---- duckdb' section"
            )
    return record, end


def _split_result(
    body: list[str], where: str
) -> tuple[list[str], list[str] | None, list[str] | None]:
    """A record's SQL lines, its ``---- duckdb`` lines (None without one), and the lines after
    ``----`` (None without one)."""
    result = None
    if "----" in body:
        at = body.index("----")
        body, result = body[:at], body[at + 1 :]
    if result is not None and DUCKDB_SECTION in result:
        raise ScriptError(f"{where}: the '{DUCKDB_SECTION}' section goes before the '----' line")
    if DUCKDB_SECTION not in body:
        return body, None, result
    at = body.index(DUCKDB_SECTION)
    return body[:at], body[at + 1 :], result


def _statement(header: list[str], line: int, sql: str, result, where: str) -> Statement:
    if len(header) < 2 or header[1] not in ("ok", "error", "count"):
        raise ScriptError(
            f"{where}: expected 'statement ok', 'statement count N' or "
            "'statement error [SQLSTATE] [text]'"
        )
    record = Statement(line, sql, expect=header[1])
    if header[1] == "count":
        if len(header) != 3 or not header[2].isdigit():
            raise ScriptError(f"{where}: expected 'statement count <number>'")
        record.count = int(header[2])
    elif header[1] == "error":
        rest = header[2:]
        if rest and SQLSTATE.match(rest[0]):
            record.sqlstate, rest = rest[0], rest[1:]
        text = " ".join(rest) or " ".join(result or []) or None
        record.message = text
    if result is not None and header[1] != "error":
        raise ScriptError(f"{where}: only 'statement error' may have a ---- section")
    return record


def _query(header: list[str], line: int, sql: str, result, where: str) -> Query:
    if len(header) < 2 or not re.fullmatch(r"[ITR]+", header[1]):
        raise ScriptError(f"{where}: expected 'query <types>' with types made of I, T, R")
    sort = header[2] if len(header) > 2 else "nosort"
    if sort not in SORT_MODES or len(header) > 3:
        raise ScriptError(f"{where}: the sort mode must be one of {', '.join(SORT_MODES)}")
    if result is None:
        raise ScriptError(f"{where}: a query needs a ---- line before its expected rows")
    return Query(line, sql, types=header[1], sort=sort, expected=result)
