"""Running a .sql script: each statement in order, each query's result printed.

Shared by ``tidal run``, ``tidal serve --init``, the interactive shell's ``\\i`` and input piped
into ``tidal``. Errors are shown with the statement's line in the script and, for syntax errors,
a caret under the spot; an error that is not a TidalError is a bug, said as an internal error.
"""

from __future__ import annotations

import pathlib
import sys
import time
from typing import TextIO

import pyarrow as pa

from tidal.catalog.sqlstate import TidalError
from tidal.engine import Database
from tidal.shell.format import FORMATS
from tidal.sql import SqlError, Statement, parse_statement, split_statements


class InternalError(Exception):
    """An unexpected failure inside tidal, shown to the user instead of a traceback."""


def describe_error(error: Exception, statement: Statement | None = None, source: str = "") -> str:
    """An error as the user should see it: where (script line), what, and a caret under it."""
    message = getattr(error, "message", None) or str(error)
    where = ""
    caret = ""
    if statement is not None:
        line = statement.line
        if isinstance(error, SqlError) and error.line is not None:
            line = statement.line + error.line - 1
            text_line = statement.text.split("\n")[error.line - 1]
            column = error.column or 1
            caret = f"\n  {text_line}\n  {' ' * max(column - 1, 0)}^"
            where = f"{source}:{line}:{column}: " if source else f"line {line}, column {column}: "
        else:
            where = f"{source}:{line}: " if source else f"line {line}: "
    return f"ERROR: {where}{message}{caret}"


def open_database(command: str, data_dir: str | None, **options):
    """The Database of a command, on ``data_dir`` if given; None (after saying why on
    stderr) if the directory cannot be opened: in use, of a newer format, or corrupt."""
    try:
        return Database(data_dir, **options)
    except TidalError as error:
        print(f"{command}: ERROR: {error}", file=sys.stderr)
        return None


def forget_failed_script(db: Database, data_dir: str | None, script: pathlib.Path) -> None:
    """A script that creates a data directory's catalog failed: empty the directory, so that
    the next start runs the fixed script again instead of resuming half a pipeline."""
    if data_dir is not None:
        db.forget()
        print(
            f"{data_dir} was left empty: fix {script} and start again to create the pipeline",
            file=sys.stderr,
        )


class ScriptRunner:
    def __init__(
        self,
        db: Database,
        out: TextIO = sys.stdout,
        err: TextIO = sys.stderr,
        output_format: str = "table",
        timing: bool = False,
    ) -> None:
        self.db = db
        self.out = out
        self.err = err
        self.format = output_format
        self.timing = timing
        self._results = 0

    def run_file(self, path: pathlib.Path) -> bool:
        """Run every statement of ``path``; stop at the first error. True if all succeeded."""
        try:
            script = path.read_text()
        except OSError as error:
            print(f"ERROR: cannot read {path}: {error.strerror}", file=self.err)
            return False
        return self.run_script(script, source=str(path))

    def run_script(self, script: str, source: str = "") -> bool:
        try:
            statements = split_statements(script)
        except SqlError as error:
            print(describe_error(error, None, source), file=self.err)
            return False
        for statement in statements:
            if not self.run_statement(statement, source):
                return False
        return True

    def run_statement(self, statement: Statement, source: str = "") -> bool:
        started = time.perf_counter()
        try:
            result = self.execute(statement)
        except TidalError as error:  # the user's to fix: said with its place in the script
            print(describe_error(error, statement, source), file=self.err)
            return False
        except Exception as error:  # noqa: BLE001 - a bug in tidal: report it, keep the data
            print(
                describe_error(
                    InternalError(
                        f"internal error ({type(error).__name__}: {error}); please report it"
                    ),
                    statement,
                    source,
                ),
                file=self.err,
            )
            return False
        self.show(result, time.perf_counter() - started)
        for problem in self.db.take_source_errors():
            print(f"WARNING: {problem}", file=self.err)
        return True

    def execute(self, statement: Statement):
        """Run one statement; the interactive shell's ``\\i`` sends it to its backend instead."""
        return self.db.execute_statement(parse_statement(statement.text))

    def show(self, result, elapsed: float) -> None:
        if isinstance(result, pa.Table):
            if self.format == "csv" and self._results:
                print(file=self.out)  # one blank line between CSV results
            rendered = FORMATS[self.format](result)
            print(rendered, end="" if rendered.endswith("\n") else "\n", file=self.out)
            self._results += 1
        elif result is not None:
            status = self.out if self.format == "table" else self.err
            print(result, file=status)
            for notice in getattr(result, "notices", ()):  # the lines a COPY left out
                print(f"WARNING: {notice}", file=self.err)
        if self.timing:
            print(f"Time: {elapsed * 1000:.1f} ms", file=self.err)
