"""Runs RisingWave's own end-to-end sqllogictest files on tidal: a yardstick of what tidal lacks.

RisingWave tests its streaming engine with sqllogictest files (``e2e_test/streaming`` in
risingwavelabs/risingwave: TPC-H and Nexmark tables with keys, grouping sets, outer joins, ...).
This tool runs every ``*.slt`` file under a folder on tidal's embedded engine
(``tidal.engine.Database``), each file in a fresh subprocess on a fresh database with a time
limit, and counts files and records passing. No RisingWave file is kept in this repository: the
folder is an argument (extract it with ``git archive``, see benchmarks/README.md)::

    python -m tests.slt.risingwave PATH/e2e_test/streaming --json OUT.json --markdown OUT.md

How records run (the grammar is in risingwave_script.py, the comparison in
risingwave_values.py):

- ``statement ok`` / ``statement count <n>``: the SQL must succeed (and report n rows).
  RisingWave-only statements that tidal refuses pass as **no-ops**, counted apart, when tidal has
  nothing to do for them: ``FLUSH`` (a DML statement is applied, views included, before it
  returns) and ``SET`` of settings that tune how RisingWave runs, never what a query answers
  (``PHYSICAL_SETTINGS``: parallelism, implicit flush, join encodings, caches, two-phase
  aggregation), where tidal refuses the value (tidal itself accepts these settings with
  tidal's behaviour, tidal.sql.known_settings). Other settings (time zone, ``upsert_dml``,
  database) run as any statement.
- ``statement error [regex]`` / ``query error``: the SQL must fail with one of tidal's errors for
  users; an internal exception fails the record. The messages are RisingWave's, so a tidal error
  whose text the regex does not find still passes, counted as ``error_text_differs``.
- ``query <types> [nosort|rowsort|valuesort]``: the rows must match the lines after ``----``
  (types are not checked, as RisingWave's runner does not). ``nosort`` compares in order only
  when the SQL has ORDER BY; without one, the order is undefined and the rows are compared as a
  multiset. ``retry N backoff D`` is ignored: tidal's answer is ready at once.
- ``let`` runs its query and keeps the row for ``control substitution on`` (``$name``,
  ``${name}``, ``${name:default}``; built in: ``$__TEST_DIR__``, ``$__NOW__`` in nanoseconds,
  ``$__DATABASE__``); an unknown variable fails the record. Environment variables are not read (the result must not depend on the machine).
- Skipped, counted apart: ``system ok`` (shell commands: RisingWave's tools, Kafka producers),
  records under ``onlyif <label>`` (tidal has no labels), and the file's rest after ``halt``.
  ``skipif <label>`` records run. ``sleep`` does nothing; ``connection <name>`` uses the same
  database. ``include`` expands in place, relative to the including file.

A file passes when every record that is not skipped passes. A failure's class is a map of what
tidal lacks: ``<SQLSTATE> <first words of tidal's message>``, ``wrong result``, ``no error``
(an error was expected), ``wrong row count``, ``crash: <exception type>`` (an error that is not
one of tidal's errors for users), ``timeout``, ``crash: process exited <code>``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass

from .risingwave_report import FileResult, aggregate, markdown, summarize
from .risingwave_script import (
    Control,
    Let,
    Query,
    Record,
    ScriptError,
    Statement,
    System,
    parse_file,
)
from .risingwave_values import render_row, rows_as_text, rows_match
from .runner import TidalEngine

PHYSICAL_SETTINGS = frozenset(
    {
        "rw_implicit_flush",
        "implicit_flush",
        "streaming_parallelism",
        "rw_streaming_enable_delta_join",
        "streaming_join_encoding",
        "streaming_enable_unaligned_join",
        "streaming_asof_join_use_cache",
        "rw_streaming_over_window_cache_policy",
        "rw_force_two_phase_agg",
        "enable_two_phase_agg",
        "rw_streaming_allow_jsonb_in_stream_key",
    }
)
LABELS: frozenset[str] = frozenset()  # tidal is none of the engines ``onlyif`` names
DEFAULT_TIMEOUT = 300.0
_SET = re.compile(r"(?is)^\s*set\s+(?:session\s+)?(\w+)\s*(?:=|\bto\b)")
_FLUSH = re.compile(r"(?is)^\s*flush\s*;?\s*$")
_ORDER_BY = re.compile(r"(?i)\border\s+by\b")
_VARIABLE = re.compile(r"\\([$\\])|\$\{(\w+)(?::([^}]*))?\}|\$(\w+)")


@dataclass
class Outcome:
    """What one record did: passed, noop (a passed no-op), failed, or skipped."""

    where: str
    status: str
    kind: str = ""  # the failure's class, or what was skipped
    detail: str = ""
    sql: str = ""
    text_differs: bool = False


class FileRun:
    """Runs one file's records, in order, on one tidal database."""

    def __init__(self, engine: TidalEngine, scratch: pathlib.Path) -> None:
        self.engine = engine
        self.variables = {"__TEST_DIR__": scratch.as_posix(), "__DATABASE__": "dev"}
        self.substitute = False
        self.sort = "nosort"

    def run(self, records: list[Record]):
        """Yields an ``Outcome`` per statement, query, let and system record."""
        for record in records:
            if isinstance(record, Control):
                if record.what == "halt":
                    return
                self._control(record)
                continue
            yield self._record(record)

    def _control(self, record: Control) -> None:
        if record.what == "sortmode":
            self.sort = record.value
        elif record.what == "substitution":
            self.substitute = record.value == "on"

    def _record(self, record: Record) -> Outcome:
        if isinstance(record, System):
            return Outcome(record.where, "skipped", "system", sql=record.sql)
        skip = [f"onlyif {label}" for label in record.onlyif if label not in LABELS]
        skip += [f"skipif {label}" for label in record.skipif if label in LABELS]
        if skip:
            return Outcome(record.where, "skipped", skip[0], sql=record.sql)
        try:
            sql = self._substituted(record.sql)
        except KeyError as error:
            return _failed(record, f"unknown variable ${error.args[0]}", "substitution")
        if isinstance(record, Statement):
            return self._statement(record, sql)
        if isinstance(record, Query):
            return self._query(record, sql)
        return self._let(record, sql)

    def _substituted(self, sql: str) -> str:
        if not self.substitute:
            return sql
        self.variables["__NOW__"] = str(time.time_ns())

        def value(match: re.Match) -> str:
            escaped, braced, default, plain = match.groups()
            if escaped:
                return escaped
            name = braced or plain
            if name in self.variables:
                return self.variables[name]
            if default is not None:
                return default
            raise KeyError(name)

        sql = _VARIABLE.sub(value, sql)
        for name in ("__TEST_DIR__", "__NOW__"):
            sql = sql.replace(name, self.variables[name])
        return sql

    def _execute(self, sql: str):
        """The engine's outcome, or the error it raised."""
        try:
            return self.engine.run(sql), None
        except Exception as error:  # noqa: BLE001 - every error is counted and classified
            return None, error

    def _statement(self, record: Statement, sql: str) -> Outcome:
        outcome, error = self._execute(sql)
        if record.expect == "error":
            return self._expected_error(record, error)
        if error is not None:
            if _noop(sql):
                return Outcome(record.where, "noop", _noop(sql), sql=sql)
            return self._error(record, error)
        if record.expect == "count":
            count = outcome.count if outcome.table is None else outcome.table.num_rows
            if count != record.count:
                return _failed(
                    record, f"expected {record.count} rows, got {count}", "wrong row count"
                )
        return Outcome(record.where, "passed")

    def _expected_error(self, record: Statement | Query, error: Exception | None) -> Outcome:
        if error is None:
            return _failed(record, f"expected an error ({record.error.text[:80]})", "no error")
        if not isinstance(error, self.engine.user_errors):
            return self._error(record, error)
        expected = record.error
        if expected.exact:
            matches = expected.text.strip() == str(error).strip()
        else:
            matches = _regex_finds(expected.text, str(error))
        return Outcome(record.where, "passed", text_differs=not matches)

    def _query(self, record: Query, sql: str) -> Outcome:
        outcome, error = self._execute(sql)
        if record.error is not None:
            return self._expected_error(record, error)
        if error is not None:
            return self._error(record, error)
        rows = rows_as_text(outcome.table) if outcome.table is not None else []
        sort = record.sort or self.sort
        if sort == "nosort" and not _ORDER_BY.search(sql):
            sort = "rowsort"
        if rows_match(rows, record.expected, sort):
            return Outcome(record.where, "passed")
        shown = [render_row(row) for row in rows]
        shown = shown if sort == "nosort" else sorted(shown)
        detail = f"expected:\n{_lines(record.expected)}\nactual:\n{_lines(shown)}"
        return _failed(record, detail, "wrong result")

    def _let(self, record: Let, sql: str) -> Outcome:
        outcome, error = self._execute(sql)
        if error is not None:
            return self._error(record, error)
        table = outcome.table
        if table is None or table.num_rows != 1 or table.num_columns != len(record.names):
            return _failed(record, f"let {', '.join(record.names)} needs one row", "let")
        for name, cell in zip(record.names, rows_as_text(table)[0]):
            self.variables[name] = cell.text
        return Outcome(record.where, "passed")

    def _error(self, record: Record, error: Exception) -> Outcome:
        kind = classify(error, self.engine.user_errors, record.sql)
        return _failed(record, f"{type(error).__name__}: {error}"[:2000], kind)


def _failed(record: Record, detail: str, kind: str) -> Outcome:
    return Outcome(record.where, "failed", kind, detail, record.sql)


def _lines(lines, shown: int = 10) -> str:
    lines = list(lines)
    more = f"\n... {len(lines) - shown} more" if len(lines) > shown else ""
    return "\n".join(lines[:shown]) + more if lines else "(no rows)"


def _noop(sql: str) -> str:
    """The kind of RisingWave-only statement ``sql`` is, if tidal has nothing to do for it."""
    if _FLUSH.match(sql):
        return "flush"
    match = _SET.match(sql)
    if match and match.group(1).lower() in PHYSICAL_SETTINGS:
        return f"set {match.group(1).lower()}"
    return ""


def _regex_finds(pattern: str, message: str) -> bool:
    try:
        return re.search(pattern, message) is not None
    except re.error:
        return pattern in message


_LOCATION = re.compile(r"\s*\(line \d+, column \d+\)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PARENTHESES = re.compile(r"\([^()]*\)")
_UNPARSED = re.compile(r"^not supported: statement ['\"]")
_CLAUSES = (  # RisingWave's clauses that make tidal refuse a whole statement unparsed
    ("APPEND ONLY", r"\bappend\s+only\b"),
    ("ON CONFLICT", r"\bon\s+conflict\b"),
    ("WATERMARK FOR", r"\bwatermark\s+for\b"),
    ("EMIT ON WINDOW CLOSE", r"\bemit\s+on\s+window\s+close\b"),
    ("WITH VERSION COLUMN", r"\bwith\s+version\s+column\b"),
)
CLASS_WORDS = 8


def classify(error: Exception, user_errors: tuple[type, ...], sql: str = "") -> str:
    """A failure's class: ``<SQLSTATE> <first words>`` for tidal's errors, else a crash.

    Names (quoted), arguments (in parentheses) and, for a statement tidal refuses unparsed, its
    text are left out, so that one missing feature is one class: the statement's first words
    and the RisingWave clauses in it stand for it.

    >>> from tidal.sql.errors import SqlError, unsupported
    >>> classify(SqlError("relation 'mv1' does not exist", sqlstate="42P01"), (SqlError,))
    "42P01 relation '?' does not exist"
    >>> classify(unsupported("statement 'create table t (x int) ap'"), (SqlError,),
    ...          "create table t (x int) append only;")
    '0A000 not supported: statement CREATE TABLE (APPEND ONLY)'
    >>> classify(unsupported("f(g(1), 2) in FROM"), (SqlError,))
    '0A000 not supported: f(...) in FROM'
    >>> classify(KeyError("c0"), (SqlError,))
    'crash: KeyError'
    """
    if not isinstance(error, user_errors):
        return f"crash: {type(error).__name__}"
    message = _LOCATION.sub("", str(error).split("\n")[0])
    state = getattr(error, "sqlstate", None) or "?????"
    if _UNPARSED.match(message) and sql.strip():
        return f"{state} not supported: statement {_statement_kind(sql)}"
    if state != "42601":  # a syntax error's token says what is missing; a name does not
        message = _QUOTED.sub("'?'", message)
    while _PARENTHESES.search(message):  # innermost first, so marked without parentheses
        message = _PARENTHESES.sub("\0", message)
    words = message.replace("\0", "(...)").split()
    return " ".join([state, *words[:CLASS_WORDS]]) + (" ..." if len(words) > CLASS_WORDS else "")


def _statement_kind(sql: str) -> str:
    """``CREATE TABLE (APPEND ONLY)``, ``SET timezone``: what a refused statement is."""
    words = sql.replace(";", " ").split()
    if words[0].lower() == "set" and len(words) > 1:
        return f"SET {words[1].lower()}"
    count = 3 if len(words) > 2 and words[1].lower() == "materialized" else 2
    kind = " ".join(words[:count]).upper()
    clauses = [name for name, pattern in _CLAUSES if re.search(pattern, sql, re.IGNORECASE)]
    return kind + (f" ({', '.join(clauses)})" if clauses else "")


# --- one file, in its own process ---------------------------------------------------------------


def run_one(path: pathlib.Path, root: pathlib.Path, emit) -> None:
    """Runs one file on a fresh database; ``emit`` gets a header, then one dict per record."""
    try:
        records = parse_file(path, root=root)
    except ScriptError as error:
        emit({"records": 0, "script_error": str(error)})
        return
    halt = next(
        (i for i, r in enumerate(records) if isinstance(r, Control) and r.what == "halt"), None
    )
    records = records[:halt]
    counted = [r for r in records if not isinstance(r, Control)]
    emit({"records": len(counted)})
    with tempfile.TemporaryDirectory() as scratch:
        engine = TidalEngine(path.parent)
        try:
            for outcome in FileRun(engine, pathlib.Path(scratch)).run(records):
                emit(asdict(outcome))
        finally:
            engine.close()


def _child(argv: list[str]) -> int:
    path, root = pathlib.Path(argv[0]), pathlib.Path(argv[1])

    def emit(item: dict) -> None:
        print(json.dumps(item), flush=True)

    run_one(path, root, emit)
    return 0


def run_file(path: pathlib.Path, root: pathlib.Path, timeout: float) -> FileResult:
    """Runs one file in a subprocess (a crash or a hang cannot stop the run) and counts it."""
    name = path.resolve().relative_to(root.resolve()).as_posix()
    command = [sys.executable, "-m", "tests.slt.risingwave", "--one", str(path), str(root)]
    started = time.perf_counter()
    problem = None
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=timeout)
        output = done.stdout
        if done.returncode != 0:
            problem = f"crash: process exited {done.returncode}", done.stderr[-2000:]
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout or ""
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        problem = "timeout", f"no answer within {timeout:g} s"
    result = summarize(name, [json.loads(line) for line in output.splitlines() if line], problem)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


# --- the whole folder ---------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        return _child(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m tests.slt.risingwave", description=__doc__)
    parser.add_argument("path", type=pathlib.Path, help="a folder of .slt files, or one file")
    parser.add_argument("--json", type=pathlib.Path, help="write the counts here")
    parser.add_argument("--markdown", type=pathlib.Path, help="write a RESULTS section here")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds a file")
    parser.add_argument("--commit", default="", help="the RisingWave commit the files are from")
    parser.add_argument("--title", default="RisingWave e2e streaming sqllogictest")
    parser.add_argument("--verbose", action="store_true", help="print each file's first failure")
    args = parser.parse_args(argv)
    path = args.path
    files = [path] if path.is_file() else sorted(path.rglob("*.slt"))
    root = path.parent
    results = []
    for number, file in enumerate(files, 1):
        result = run_file(file, root, args.timeout)
        results.append(result)
        verdict = "pass" if result.ok else (result.first_failure or {}).get("kind", "?")
        print(
            f"[{number}/{len(files)}] {result.file}: {result.passed + result.noop}/"
            f"{result.records} in {result.seconds:.1f} s  {verdict}",
            flush=True,
        )
        if args.verbose and result.first_failure:
            failure = result.first_failure
            print(
                f"    {failure['where']}: {failure['detail'][:600]}\n    SQL: {failure['sql'][:300]}"
            )
    report = aggregate(results, commit=args.commit, timeout=args.timeout, folder=path.name)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report, args.title)
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
