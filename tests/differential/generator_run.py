"""Running generated queries as maintained views against DuckDB, and what came of each.

A case (``generate``) is a random schema, a query, changes to the tables it reads (one statement
a tick) and the tick at which the view is created: before the data, between changes, or after
all of them. ``run`` creates the tables in tidal and in the DuckDB reference (reference.py: the
same SQL, tidal's settings), creates the query as a ``MATERIALIZED VIEW`` in tidal and as a plain
view in DuckDB, applies the changes, and after the view appears and after every tick compares
tidal's rows (and the rows of tidal's batch lowering of the view's plan) with DuckDB's. The
outcome is one of:

- ``identical``: every comparison held (a tick both systems failed on counts as agreeing:
  tidal undid it, and the reference rolls it back);
- ``refused``: tidal raised a clean error at CREATE (a SQLSTATE other than XX000); the
  ``reason`` is the SQLSTATE and the first words of the message, constants blanked;
- ``error_later``: a tick (or the CREATE's backfill) failed in tidal and not in DuckDB, or the
  other way round;
- ``mismatched``: different rows, column names or column types;
- ``crashed``: an exception that is not one of tidal's errors, or an internal error (XX000);
- ``discarded``: DuckDB itself rejects the query (the generator should make this rare);
- ``timeout``: the case ran longer than allowed.

    >>> case = generate("doc:1")
    >>> case.seed, case.view_at <= len(case.statements)
    ('doc:1', True)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sys
import time
import traceback
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from tidal.catalog.sqlstate import INTERNAL_ERROR, TidalError
from tidal.engine import Database
from tidal.engine.errors import DataError
from tidal.sql.lower import quote, to_sql
from tidal.sql.parser import parse_statement

from .generator_data import changes, random_schema
from .generator_queries import Queries
from .reference import Reference, as_rows, difference

OUTCOMES = (
    "identical",
    "refused",
    "error_later",
    "mismatched",
    "crashed",
    "discarded",
    "timeout",
)


@dataclass(frozen=True)
class Case:
    """A generated query with its tables and changes; ``script`` reproduces it."""

    seed: str
    tables: tuple[str, ...]  # CREATE TABLE statements
    query: str
    statements: tuple[str, ...]
    view_at: int  # the view is created before statements[view_at] (len: after all of them)

    def script(self, upto: int | None = None) -> str:
        """The case as one SQL script (through statement ``upto``, if given)."""
        statements = list(self.statements[: upto if upto is not None else len(self.statements)])
        view = f"CREATE MATERIALIZED VIEW v AS {self.query}"
        lines = [*self.tables, *statements]
        lines.insert(len(self.tables) + min(self.view_at, len(statements)), view)
        return ";\n".join(lines) + ";"


@dataclass
class Outcome:
    kind: str
    reason: str = ""  # refused: SQLSTATE and first words; others: what differed or failed
    detail: str = ""  # the full message, or the rows that differ
    tick: int | None = None  # the statement after which it happened (None: at CREATE)
    agreed_errors: int = 0  # ticks both systems failed on
    rows: int = 0  # the most rows the view held at a comparison (0: only empty results)


def generate(seed: str) -> Case:
    """The case of ``seed`` (any string; the same seed gives the same case)."""
    rng = random.Random(seed)
    schema = random_schema(rng)
    queries = Queries(rng, schema)
    query = queries.view()
    tables = [t for t in schema.tables if t.name in queries.used]
    statements = changes(rng, tables, rng.randint(2, 6))
    view_at = rng.choice([0, len(statements), rng.randint(1, len(statements))])
    return Case(seed, tuple(t.ddl() for t in tables), query, tuple(statements), view_at)


def reason_of(error: BaseException) -> str:
    """An error's class for counting: its SQLSTATE and first words, constants blanked.

    >>> reason_of(TidalError("not supported: window function 'ntile' over 3 rows", "0A000"))
    '0A000 not supported: window function ? over N rows'
    """
    message = str(error).split("\n")[0].split(" (")[0]
    message = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`|\b[a-z_]\w*\.[a-z_]\w*\b", "?", message)
    message = re.sub(r"\b\d+(\.\d+)?\b", "N", message)
    words = message.split()[:10]
    sqlstate = getattr(error, "sqlstate", None) or type(error).__name__
    return f"{sqlstate} {' '.join(words)}".rstrip(" .,:;(")


class _Timeout(Exception):
    pass


def _is_crash(error: BaseException) -> bool:
    return not isinstance(error, TidalError) or error.sqlstate == INTERNAL_ERROR


class _Run:
    """One case in progress: the tidal database, the reference, and the view's lowerings."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.db = Database()
        self.reference = Reference()
        self.lowered: list[str] = []
        self.agreed = 0
        self.rows = 0

    def expected(self) -> tuple[pa.Table, list[str]] | duckdb.Error:
        try:
            return self.reference.query("SELECT * FROM v")
        except duckdb.Error as error:
            return error

    def duckdb_tick(self, statement: str, view: bool) -> tuple[pa.Table, list[str]] | Exception:
        """The statement in DuckDB, and the view's rows after it; on an error, undone."""
        connection = self.reference.connection
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute(statement)
            result = self.expected() if view else (pa.table({}), [])
        except duckdb.Error as error:
            result = error
        connection.execute("ROLLBACK" if isinstance(result, Exception) else "COMMIT")
        return result

    def create(self, expected) -> Outcome | None:
        """CREATE MATERIALIZED VIEW in tidal; an outcome if that ends the case."""
        try:
            self.db.execute(f"CREATE MATERIALIZED VIEW v AS {self.case.query}")
        except Exception as error:  # noqa: BLE001 - any other exception is a crash to report
            if _is_crash(error):
                return _crash(error, None)
            if not isinstance(error, DataError):
                return Outcome("refused", reason_of(error), str(error))
            if isinstance(expected, Exception):
                self.agreed += 1
                return None
            return Outcome("error_later", "tidal failed at CREATE: " + reason_of(error), str(error))
        if isinstance(expected, Exception):
            return Outcome(
                "error_later", "DuckDB failed, tidal created: " + reason_of(expected), str(expected)
            )
        plans = [self.db.compiler.query(parse_statement(self.case.query), ad_hoc=False).plan]
        plans.append(self.db.view_plan("v"))
        self.lowered = list(
            dict.fromkeys(to_sql(p, lambda scan: quote(scan.relation)) for p in plans)
        )
        return self.compare(expected, None)

    def compare(self, expected: tuple[pa.Table, list[str]], tick: int | None) -> Outcome | None:
        rows, types = expected
        self.rows = max(self.rows, rows.num_rows)
        columns = self.db.catalog.get("v").columns
        if [c.name for c in columns] != rows.column_names:
            detail = f"tidal: {[c.name for c in columns]}\nDuckDB: {rows.column_names}"
            return Outcome("mismatched", "column names", detail, tick)
        if [c.type for c in columns] != types:
            detail = f"tidal: {[c.type for c in columns]}\nDuckDB: {types}"
            return Outcome("mismatched", "column types", detail, tick)
        detail = _differs(self.db.read("v"), rows)
        if detail:
            return Outcome("mismatched", "rows", detail, tick)
        for sql in self.lowered:
            detail = _differs(self.reference.connection.sql(sql).to_arrow_table(), rows)
            if detail:
                return Outcome(
                    "mismatched", "batch lowering rows", f"{detail}\nlowering: {sql}", tick
                )
        return None

    def tick(self, position: int, statement: str, view: bool) -> Outcome | None:
        expected = self.duckdb_tick(statement, view)
        try:
            self.db.execute(statement)
        except Exception as error:  # noqa: BLE001 - any other exception is a crash to report
            if _is_crash(error):
                return _crash(error, position)
            if isinstance(expected, Exception):
                self.agreed += 1
                return None
            return Outcome("error_later", "tidal failed: " + reason_of(error), str(error), position)
        if isinstance(expected, Exception):
            return Outcome(
                "error_later",
                "DuckDB failed, tidal did not: " + reason_of(expected),
                str(expected),
                position,
            )
        return self.compare(expected, position) if view else None

    def close(self) -> None:
        self.db.close()
        self.reference.close()


def _differs(actual: pa.Table, expected: pa.Table) -> str | None:
    """None if the two hold the same rows (floats within the tolerance), else what differs."""
    if actual.num_columns != expected.num_columns:
        return f"tidal: {actual.num_columns} columns\nDuckDB: {expected.num_columns} columns"
    extra, missing = difference(as_rows(actual), as_rows(expected), approx=True)
    if not extra and not missing:
        return None
    return (
        f"only in tidal: {_rows(extra)}\nonly in DuckDB: {_rows(missing)}\n"
        f"tidal ({actual.num_rows} rows): {_rows(as_rows(actual))}\n"
        f"DuckDB ({expected.num_rows} rows): {_rows(as_rows(expected))}"
    )


def _rows(rows: list[tuple]) -> str:
    """Rows sorted as text (NULLs and mixed types included), the first 20."""
    ordered = sorted(rows, key=repr)
    text = repr(ordered[:20])
    return text + (f" ... ({len(rows)} in all)" if len(rows) > 20 else "")


def _crash(error: BaseException, tick: int | None) -> Outcome:
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    place = f" at {where.filename.rsplit('/', 1)[-1]}:{where.lineno}" if where else ""
    detail = "".join(traceback.format_exception(error))[-3000:]
    return Outcome("crashed", f"{type(error).__name__}{place}: {reason_of(error)}", detail, tick)


def run(case: Case, timeout: float = 0) -> Outcome:
    """Run the case; its outcome (``timeout`` seconds at most, if given: Unix only)."""
    if timeout:
        previous = signal.signal(signal.SIGALRM, _raise_timeout)
        signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return _run(case)
    except _Timeout:
        return Outcome("timeout", f"over {timeout:g} s")
    finally:
        if timeout:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _raise_timeout(signum, frame) -> None:
    raise _Timeout


def _run(case: Case) -> Outcome:
    run = _Run(case)
    try:
        for sql in case.tables:
            run.db.execute(sql)
            run.reference.execute(sql)
        try:
            run.reference.create_view("v", case.query)
        except duckdb.Error as error:
            return Outcome("discarded", reason_of(error), str(error))
        outcome = _ticks(run, case)
        if outcome is None:
            outcome = Outcome("identical")
        outcome.agreed_errors, outcome.rows = run.agreed, run.rows
        return outcome
    except _Timeout:
        raise
    except Exception as error:  # noqa: BLE001 - tidal outside a statement (a read), or the harness
        return _crash(error, None)
    finally:
        run.close()


def _ticks(run: _Run, case: Case) -> Outcome | None:
    created, view_at = False, case.view_at
    statements = list(case.statements) + [None]
    for position, statement in enumerate(statements):
        if position == view_at and not created:
            outcome = run.create(run.expected())
            if outcome is not None:
                outcome.tick = position
                return outcome
            created = run.db.catalog.find("v") is not None
            if not created:  # both failed on the data so far: try again after the next tick
                view_at += 1
        if statement is None:
            return None
        outcome = run.tick(position + 1, statement, created)
        if outcome is not None:
            return outcome
    return None


def timed_run(case: Case, timeout: float = 0) -> tuple[Outcome, float]:
    start = time.perf_counter()
    outcome = run(case, timeout)
    return outcome, time.perf_counter() - start


def record(number: int, case: Case, outcome: Outcome, seconds: float) -> dict:
    """A case's outcome as a JSON object; cases to look into carry their script and detail."""
    made = {
        "number": number,
        "seed": case.seed,
        "kind": outcome.kind,
        "reason": outcome.reason,
        "tick": outcome.tick,
        "agreed_errors": outcome.agreed_errors,
        "rows": outcome.rows,
        "seconds": round(seconds, 4),
    }
    if outcome.kind not in ("identical", "refused", "discarded"):
        made["script"] = case.script(outcome.tick)
        made["detail"] = outcome.detail
    return made


def main(argv: list[str]) -> int:
    """``python -m differential.generator_run --seed S --start I --count N --out FILE`` (run in
    tests/): cases ``S:I`` .. ``S:I+N-1``, one JSON line each appended to FILE as it ends.
    ``--case S:I`` instead prints one case's script and outcome."""
    parser = argparse.ArgumentParser(prog="python -m differential.generator_run")
    parser.add_argument("--seed", default="0")
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--out", help="append JSON lines here (default: stdout)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per case")
    parser.add_argument("--case", help="print this case (SEED:NUMBER) and its outcome")
    args = parser.parse_args(argv)
    if args.case:
        case = generate(args.case)
        outcome = run(case, args.timeout)
        print(case.script(outcome.tick))
        print(f"-- {outcome.kind}: {outcome.reason} (tick {outcome.tick})\n{outcome.detail}")
        return 0
    handle = open(args.out, "a") if args.out else sys.stdout  # noqa: SIM115 - or stdout
    try:
        for number in range(args.start, args.start + args.count):
            case = generate(f"{args.seed}:{number}")
            outcome, seconds = timed_run(case, args.timeout)
            handle.write(json.dumps(record(number, case, outcome, seconds)) + "\n")
            handle.flush()
    finally:
        if handle is not sys.stdout:
            handle.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
