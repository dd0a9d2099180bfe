"""A small sqllogictest runner (the sqlite / DuckDB ``.slt`` format) for tidal.

A script is a sequence of records separated by blank lines; lines starting with ``#`` between
records are comments.

Records
-------
``statement ok``
    The SQL (the lines up to a blank line) must run without error.
``statement count <n>``
    DML that must succeed and report ``n`` rows (``INSERT 0 n``, ``UPDATE n``, ``DELETE n``).
``statement error [SQLSTATE] [text]``
    The SQL must fail with one of tidal's user-facing errors (``SqlError``, ``DataError``,
    ``CatalogError``); an internal exception (``KeyError``...) is a failure, not a pass. If the
    first word after ``error`` looks like a SQLSTATE (a digit and four digits or capital letters,
    e.g. ``42P01``, ``0A000``), the error's ``sqlstate`` must equal it. The rest of the line, if
    any, must occur in the message: as plain text, or else as a Python regular expression that
    ``re.search`` finds. As in DuckDB's scripts, the text may instead follow the SQL after a
    ``----`` line.
``query <types> [nosort|rowsort|valuesort]``
    The SQL, a ``----`` line, then the expected rows up to a blank line. ``<types>`` has one
    letter per column, and the column's type must fit it: ``I`` integers (any width, HUGEINT
    included), ``R`` FLOAT, DOUBLE and DECIMAL, ``T`` everything that is not a number (text,
    booleans, dates, times, timestamps, intervals, lists, structs). ``nosort`` (the default)
    compares rows in the order returned, so the query needs ORDER BY; ``rowsort`` sorts the
    rows (as text) on both sides; ``valuesort`` sorts all values individually. A ``nosort``
    query expecting several rows must have ORDER BY (or be SHOW, DESCRIBE or EXPLAIN).
``control incremental on|off``
    While on, every ``query`` is also created as a materialized view over the current data,
    read back, and compared (as a sorted multiset of rows) with the same expected rows; the
    view is then dropped. On the incremental engine this runs the query through the operators
    (the DuckDB oracle ignores it).
``halt``
    Stop reading the script.
``---- duckdb`` (a section of a ``statement ok|count`` or ``query`` record)
    Lines between the SQL and the ``----`` line (if any), after a ``---- duckdb`` line: the
    SQL the oracle runs instead of the record's, for tidal syntax DuckDB lacks. The oracle
    then checks the same expectation (row count, or rows) against plain DuckDB SQL that
    spells the semantics out, so tidal-specific records are still cross-checked::

        query TTI rowsort
        SELECT window_start, window_end, count(*) AS n
        FROM TUMBLE(bids, ts, INTERVAL '10' SECOND) GROUP BY window_start, window_end
        ---- duckdb
        SELECT time_bucket(INTERVAL '10' SECOND, ts, TIMESTAMP '1970-01-01') AS window_start,
          window_start + INTERVAL '10' SECOND AS window_end, count(*) AS n FROM bids GROUP BY ALL
        ----
        2026-01-01 00:00:00	2026-01-01 00:00:10	2

    Both tidal engines ignore the section. It is refused on ``statement error`` and ``onlyif``
    records (the oracle does not run them). Typical uses: a ``CREATE TABLE`` with a
    ``WATERMARK FOR`` clause becomes a plain ``CREATE TABLE`` (plus its late table); an
    ``INSERT`` with late rows becomes one inserting the on-time rows into the table and the
    late ones into the late table; a window table function becomes ``time_bucket`` (with the
    epoch as origin) or its windows listed by ``generate_series``; a read of an ``EMIT ON
    WINDOW CLOSE`` view becomes a condition ``window_end <= <the watermark at that point>``.
``onlyif tidal`` / ``onlyif incremental`` (a line before a record)
    Every script runs on three engines: ``tidal`` (the incremental engine), ``batch`` (tidal's
    batch mode, where DuckDB computes views when read) and ``duckdb`` (the oracle that checks
    the expected results, see ``DuckDBEngine``). ``onlyif tidal`` records (tidal-specific
    statements such as SHOW, EXPLAIN, sinks) run on both tidal engines; ``onlyif incremental``
    records (a sink's per-tick changes) only on the incremental one. ``skipif`` is refused: a
    case tidal gets wrong belongs in ``known_failures/``, with its correct expectation.

Values
------
- NULL is ``NULL``; the empty string is ``(empty)``; booleans are ``true`` / ``false``.
- ``I``: the integer in decimal. ``R``: the number rounded to exactly 3 decimals (``2.500``,
  ``-0.333``); a negative zero is ``0.000``; ``nan``, ``inf``, ``-inf``.
- Dates ``2026-01-01``; times ``10:00:00``; timestamps ``2026-01-01 10:00:00`` with a fraction
  only when it is not zero, trailing zeros removed (``10:00:00.25``), ``+00`` appended WITH TIME
  ZONE (shown in UTC); intervals as DuckDB prints them (``1 year 2 months 3 days 04:05:06``);
  lists ``[1, 2, NULL]``; structs ``{'a': 1, 'b': x}``; text otherwise as is.
- Columns of an expected row are separated by a tab; a line without a tab is split on runs of
  spaces instead, so a text value containing spaces needs tabs (or a one-column query: its whole
  line is the value). Expected values may also be written one per line (rows x columns lines).

Paths and substitutions
-----------------------
Relative paths in a script (connector ``path`` options) resolve against the script's folder.
``${TMPDIR}`` is replaced by a fresh temporary directory per script (for sinks).

Run files by hand (known failures included), from the repository root:
``python -m tests.slt.runner FILE.slt ...``
(add ``--batch`` for tidal's batch mode, ``--duckdb`` to check the expectations on DuckDB).
"""

from __future__ import annotations

import pathlib
import re
import sys
import tempfile
from dataclasses import dataclass, field

import pyarrow as pa

from .script import ONLY_ON, Control, Halt, Query, Record, Statement, parse
from .values import expected_rows, format_rows, render, sorted_rows, type_fits

INCREMENTAL_VIEW = "__slt_incremental"


# --- engines ------------------------------------------------------------------------------------


class Untranslatable(Exception):
    """The oracle (DuckDB) cannot run this tidal-specific statement; the record is skipped."""


@dataclass
class Outcome:
    """What a statement gave: rows (a query) or a row count (DML), or neither."""

    table: pa.Table | None = None
    count: int | None = None


class TidalEngine:
    """Runs statements on a tidal ``Database`` that maintains its views incrementally."""

    name = "tidal"
    batch_mode = False

    def __init__(self, base_dir: pathlib.Path) -> None:
        from tidal.catalog import CatalogError
        from tidal.engine import Database, DataError
        from tidal.sql.errors import SqlError

        self.db = Database(base_dir=base_dir, batch_mode=self.batch_mode)
        self.user_errors = (SqlError, DataError, CatalogError)

    def run(self, sql: str) -> Outcome:
        result = self.db.execute(sql)
        if isinstance(result, pa.Table):
            return Outcome(table=result)
        tag = str(result).split()
        count = int(tag[-1]) if tag and tag[0] in ("INSERT", "UPDATE", "DELETE") else None
        return Outcome(count=count)

    def close(self) -> None:
        self.db.close()


class TidalBatchEngine(TidalEngine):
    """tidal in batch mode: nothing is maintained, DuckDB computes a view when it is read."""

    name = "batch"
    batch_mode = True


class DuckDBEngine:
    """The oracle: runs a script's statements in DuckDB with PostgreSQL settings, to check that
    the expected results are DuckDB's.

    Translations: MATERIALIZED VIEW becomes VIEW (recomputed on every read: the reference for
    incremental maintenance); a ``file`` source becomes a table loaded with read_csv/read_json.
    A record's ``---- duckdb`` section, if any, is run instead of its SQL.
    Not run (the record is skipped): ``statement error`` records (the messages are tidal's),
    ``onlyif tidal`` records, SHOW, DESCRIBE, EXPLAIN, CREATE SINK and datagen sources.
    """

    name = "duckdb"

    def __init__(self, base_dir: pathlib.Path) -> None:
        import duckdb

        from tidal.sql.typeinfer import POSTGRES_SETTINGS

        self.base_dir = base_dir
        self.connection = duckdb.connect()
        for setting in POSTGRES_SETTINGS:
            self.connection.execute(setting)
        self.user_errors = (duckdb.Error,)

    def run(self, sql: str) -> Outcome:
        from tidal.sql.parser import split_statements

        outcome = Outcome()
        for statement in split_statements(sql):
            outcome = self._run_one(statement.text)
        return outcome

    def _run_one(self, text: str) -> Outcome:
        first = text.split(None, 1)[0].upper()
        if first in ("SHOW", "DESCRIBE", "EXPLAIN") or re.match(r"(?is)create\s+sink\b", text):
            raise Untranslatable(first)
        if re.match(r"(?is)create\s+source\b", text):
            return self._create_source(text)
        text = re.sub(r"(?i)\b(create|drop)(\s+)materialized\s+view\b", r"\1\2VIEW", text, count=1)
        result = self.connection.sql(text)
        if result is None:
            return Outcome()
        table = result.to_arrow_table()
        if re.match(r"(?is)(insert|update|delete)\b", text):
            return Outcome(count=int(table.column(0)[0].as_py()))
        return Outcome(table=table)

    def _create_source(self, text: str) -> Outcome:
        from tidal.sql import ddl
        from tidal.sql.parser import parse_statement

        source = ddl.source(parse_statement(text))
        options = dict(source.options)
        formats = ("csv", "jsonl", "json")
        if options.get("connector") != "file" or options.get("format") not in formats:
            raise Untranslatable("source")
        path = (self.base_dir / options["path"]).as_posix()
        columns = ", ".join(f"'{c.name}': '{c.type}'" for c in source.columns)
        if options["format"] == "csv":
            header = options.get("header", "true")
            delimiter = options.get("delimiter", ",")
            reader = (
                f"read_csv('{path}', header = {header}, delim = '{delimiter}', "
                f"columns = {{{columns}}}, allow_quoted_nulls = false)"
            )
        else:
            reader = f"read_json('{path}', format = 'newline_delimited', columns = {{{columns}}})"
        names = ", ".join(f'"{c.name}"' for c in source.columns)
        definitions = ", ".join(f'"{c.name}" {c.type}' for c in source.columns)
        self.connection.execute(f'CREATE TABLE "{source.name}" ({definitions})')
        self.connection.execute(f'INSERT INTO "{source.name}" SELECT {names} FROM {reader}')
        return Outcome()

    def close(self) -> None:
        self.connection.close()


# --- running a script ---------------------------------------------------------------------------


@dataclass
class Failure:
    path: str
    line: int
    sql: str
    problem: str
    expected: str = ""
    actual: str = ""

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}: {self.problem}\n  SQL: {self.sql}"
        if self.expected or self.actual:
            text += f"\n  expected:\n{_indent(self.expected)}\n  actual:\n{_indent(self.actual)}"
        return text


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


@dataclass
class Report:
    """The outcome of one script: records run, records skipped (oracle only), failures."""

    path: str
    ran: int = 0
    skipped: int = 0
    failures: list[Failure] = field(default_factory=list)


class Runner:
    """Runs the records of one script on one engine, collecting every failure."""

    def __init__(self, engine, path: pathlib.Path, tmpdir: pathlib.Path) -> None:
        self.engine = engine
        self.path = path
        self.tmpdir = tmpdir
        self.incremental = False
        self.report = Report(str(path))

    def run(self, records: list[Record]) -> Report:
        for record in records:
            if isinstance(record, Halt):
                break
            if isinstance(record, Control):
                self.incremental = record.incremental
                continue
            if self.engine.name == "duckdb" and record.duckdb_sql is not None:
                record.sql = record.duckdb_sql
            record.sql = record.sql.replace("${TMPDIR}", self.tmpdir.as_posix())
            if self._skipped(record):
                self.report.skipped += 1
                continue
            try:
                self._record(record)
            except Untranslatable:
                self.report.skipped += 1
                continue
            self.report.ran += 1
        return self.report

    def _skipped(self, record: Record) -> bool:
        if record.only is not None and self.engine.name not in ONLY_ON[record.only]:
            return True
        is_error = isinstance(record, Statement) and record.expect == "error"
        return self.engine.name == "duckdb" and is_error

    def fail(self, record: Record, problem: str, expected: str = "", actual: str = "") -> None:
        self.report.failures.append(
            Failure(self.path.name, record.line, record.sql, problem, expected, actual)
        )

    def _record(self, record: Record) -> None:
        if isinstance(record, Statement):
            self._statement(record)
        elif isinstance(record, Query):
            self._query(record)

    def _execute(
        self, record: Record, sql: str | None = None
    ) -> tuple[Outcome | None, Exception | None]:
        try:
            return self.engine.run(sql or record.sql), None
        except Untranslatable:
            raise
        except Exception as error:  # noqa: BLE001 - the runner reports every kind of error
            return None, error

    def _statement(self, record: Statement) -> None:
        outcome, error = self._execute(record)
        if record.expect == "error":
            self._expected_error(record, error)
            return
        if error is not None:
            self.fail(record, f"statement failed: {_describe(error)}")
        elif record.expect == "count" and outcome.count != record.count:
            self.fail(record, "wrong row count", str(record.count), str(outcome.count))

    def _expected_error(self, record: Statement, error: Exception | None) -> None:
        wanted = f"an error{f' with SQLSTATE {record.sqlstate}' if record.sqlstate else ''}" + (
            f" containing {record.message!r}" if record.message else ""
        )
        if error is None:
            self.fail(record, "statement succeeded but an error was expected", wanted, "no error")
        elif not isinstance(error, self.engine.user_errors):
            self.fail(
                record, "internal error instead of a user-facing one", wanted, _describe(error)
            )
        elif record.sqlstate and getattr(error, "sqlstate", None) != record.sqlstate:
            self.fail(record, "wrong SQLSTATE", wanted, _describe(error))
        elif record.message and not _message_matches(record.message, str(error)):
            self.fail(record, "wrong error message", wanted, _describe(error))

    def _query(self, record: Query) -> None:
        if record.sort == "nosort" and len(record.expected) > 1 and not _ordered(record.sql):
            self.fail(record, "a nosort query with several rows needs ORDER BY (or use rowsort)")
            return
        outcome, error = self._execute(record)
        if error is not None or outcome.table is None:
            self.fail(record, f"query failed: {_describe(error)}" if error else "not a query")
            return
        self._compare(record, outcome.table, record.sort, "")
        if self.incremental and self.engine.name != "duckdb":
            self._incremental(record)

    def _incremental(self, record: Query) -> None:
        create = f"CREATE MATERIALIZED VIEW {INCREMENTAL_VIEW} AS {record.sql}"
        outcome, error = self._execute(record, create)
        if error is not None:
            self.fail(record, f"as a materialized view (control incremental): {_describe(error)}")
            return
        outcome, error = self._execute(record, f"SELECT * FROM {INCREMENTAL_VIEW}")
        self._execute(record, f"DROP MATERIALIZED VIEW {INCREMENTAL_VIEW}")
        if error is not None:
            self.fail(record, f"reading the materialized view failed: {_describe(error)}")
            return
        mode = "valuesort" if record.sort == "valuesort" else "rowsort"
        self._compare(record, outcome.table, mode, " (as a materialized view)")

    def _compare(self, record: Query, table: pa.Table, mode: str, where: str) -> None:
        width = len(record.types)
        if table.num_columns != width:
            self.fail(
                record,
                f"the query returns {table.num_columns} columns, the record declares "
                f"{width}{where}",
            )
            return
        for letter, column in zip(record.types, table.schema):
            if not type_fits(letter, column.type):
                self.fail(
                    record,
                    f"column {column.name!r} has type {column.type}, which does not "
                    f"fit {letter!r}{where}",
                )
                return
        actual = sorted_rows(format_rows(table, record.types), mode)
        expected = sorted_rows(expected_rows(record.expected, width, table.num_rows), mode)
        if actual != expected:
            self.fail(record, f"wrong result{where}", render(expected), render(actual))


def _ordered(sql: str) -> bool:
    """Whether a query's rows come in a defined order (by ORDER BY, or a command's own order)."""
    return bool(re.search(r"(?i)\border\s+by\b", sql)) or bool(
        re.match(r"(?i)\s*(show|describe|explain)\b", sql)
    )


def _message_matches(pattern: str, message: str) -> bool:
    if pattern in message:
        return True
    try:
        return re.search(pattern, message) is not None
    except re.error:
        return False


def _describe(error: Exception | None) -> str:
    if error is None:
        return ""
    state = getattr(error, "sqlstate", None)
    return f"{type(error).__name__}{f' [{state}]' if state else ''}: {error}"


def run_file(
    path: pathlib.Path, engine_class=TidalEngine, tmpdir: pathlib.Path | None = None
) -> Report:
    """Run the script at ``path`` on a fresh engine; relative paths resolve against its folder."""
    path = pathlib.Path(path)
    records = parse(path.read_text(), path.name)
    with tempfile.TemporaryDirectory() as scratch:
        engine = engine_class(path.parent)
        try:
            return Runner(engine, path, pathlib.Path(tmpdir or scratch)).run(records)
        finally:
            engine.close()


def main(argv: list[str]) -> int:
    engine_class = {"--duckdb": DuckDBEngine, "--batch": TidalBatchEngine}.get(
        next((a for a in argv if a in ("--duckdb", "--batch")), ""), TidalEngine
    )
    status = 0
    for name in [a for a in argv if not a.startswith("--")]:
        report = run_file(pathlib.Path(name), engine_class)
        for failure in report.failures:
            print(failure, end="\n\n")
        print(
            f"{name}: {report.ran} records run, {report.skipped} skipped, "
            f"{len(report.failures)} failed"
        )
        status |= bool(report.failures)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
