"""The shell's loop: read a statement or a backslash command, run it, show what came back.

    shell = Shell(EmbeddedBackend())
    shell.run()          # until \\q or Ctrl-D

Input and output are prompt-toolkit's, so tests drive the shell through a pipe input and read
what a terminal would show.
"""

from __future__ import annotations

import pathlib
import threading
import time
from typing import TYPE_CHECKING

from prompt_toolkit import PromptSession
from prompt_toolkit.application import create_app_session
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import has_focus
from prompt_toolkit.key_binding import KeyBindings

from tidal.shell.interactive import commands, lexer, live, waiting
from tidal.shell.interactive.completion import SqlCompleter
from tidal.shell.interactive.display import STYLE, Display

if TYPE_CHECKING:
    from concurrent.futures import Future

    from prompt_toolkit.history import History
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

    from tidal.shell.interactive.backend import Backend
    from tidal.sql import Statement

PROMPT = "tidal> "
CONTINUATION = "  ...> "


class Shell:
    def __init__(
        self,
        backend: Backend,
        input: Input | None = None,
        output: Output | None = None,
        history: History | None = None,
    ) -> None:
        self.backend = backend
        self.running = True
        self.session: PromptSession = PromptSession(
            [("class:prompt", PROMPT)],
            multiline=True,
            prompt_continuation=_continuation,
            lexer=lexer.SqlLexer(),
            completer=SqlCompleter(backend.relations, self._command_help),
            complete_while_typing=False,
            history=history,
            key_bindings=_key_bindings(),
            style=STYLE,
            include_default_pygments_style=False,
            search_ignore_case=True,
            input=input,
            output=output,
        )
        self.input = self.session.input
        self.output = self.session.output
        self.display = Display(self.output)
        self.variables: dict[str, str] = {}  # \set NAME value (settings live where they act)
        self.on_error_stop = True
        self.watch_interval = "2"  # seconds, as psql's \watch
        self.watch_order = "key"
        self.last_sql = ""
        self._cancelled: list[tuple[str, Future]] = []  # still running in the background
        self._loading: threading.Thread | None = None

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> int:
        """Read and run until ``\\q`` or Ctrl-D; returns the exit status."""
        with create_app_session(input=self.input, output=self.output):
            return self._loop()

    def _loop(self) -> int:
        # Loading competes with the first prompt for the interpreter: start it once drawn.
        self.session.app.after_render += self._after_first_render
        self.display.notice(
            f"tidal ({self.backend.description}). End statements with ';'. "
            "\\? for help, \\q to quit."
        )
        while self.running:
            self._report_background()
            try:
                text = self.session.prompt()
            except KeyboardInterrupt:  # Ctrl-C at the prompt: the input is dropped
                continue
            except EOFError:  # Ctrl-D on an empty line
                break
            self.handle(text)
        self.close()
        return 0

    def _after_first_render(self, app) -> None:
        app.after_render -= self._after_first_render
        self.start_loading()

    def start_loading(self) -> None:
        """Load the tokenizer, then the backend, on a background thread (startup stays fast)."""

        def load() -> None:
            lexer.load()
            app = self.session.app
            if app.is_running:
                app.invalidate()  # colour what was typed before the tokenizer arrived
            try:
                self.backend.load()
            except Exception as error:  # noqa: BLE001 - said now; a statement tries again
                self.show_error(error, None)
            import tidal.shell.scripts  # noqa: F401 - errors are described by it: load it now

        if self._loading is None:
            self._loading = threading.Thread(target=load, name="tidal-loading", daemon=True)
            self._loading.start()

    def handle(self, text: str) -> None:
        """Run one input: a backslash command or SQL statements. Never raises."""
        stripped = text.strip()
        if not stripped:
            return
        try:
            if stripped.startswith("\\"):
                commands.run(self, stripped)
            else:
                self.last_sql = text
                self.run_sql(text)
        except waiting.Cancelled:  # Ctrl-C while a command waited (for the engine to load)
            self.display.notice("cancelled")
        except Exception as error:  # noqa: BLE001 - nothing typed may end the shell
            self.show_error(error, None)

    def remember(self, text: str) -> None:
        self.last_sql = text
        self.session.history.append_string(text)

    # --- SQL ------------------------------------------------------------------------------------

    def run_sql(self, text: str) -> bool:
        """Run each statement of ``text``; stop at the first that fails (unless
        ``\\set ON_ERROR_STOP off``). True if all succeeded."""
        from tidal.sql import SqlError, split_statements

        try:
            statements = split_statements(text)
        except SqlError as error:
            self.show_error(error, None)
            return False
        ok = True
        for statement in statements:
            ok = self.run_statement(statement) and ok
            if not ok and self.on_error_stop:
                return False
        return ok

    def run_statement(self, statement: Statement) -> bool:
        started = time.monotonic()
        what = "running" if self.backend.ready() else "starting tidal"
        try:
            result = self.wait(lambda: self.backend.execute(statement.text), what)
        except waiting.Cancelled as cancelled:
            self._cancelled.append((statement.text, cancelled.future))
            self.display.notice(
                "cancelled: the statement did not stop, so the shell stopped waiting; it finishes "
                "in the background and applies in full or not at all (you will be told which)"
            )
            return False
        except Exception as error:  # noqa: BLE001 - every failure becomes a message
            located = getattr(error, "line", None) is not None or "\n" in statement.text
            self.show_error(error, statement if located or statement.line > 1 else None)
            return False
        self.show(result, time.monotonic() - started)
        for notice in getattr(result, "notices", ()):  # the lines a COPY left out
            self.display.notice(f"WARNING: {notice}")
        self._warnings()
        return True

    def wait(self, work, what: str):
        """``work()`` on a worker thread, with a spinner after a moment; Ctrl-C cancels."""
        ticks = self.backend.ticks()

        def status() -> str:
            now = self.backend.ticks()
            return f"{now - ticks} ticks" if ticks is not None and now is not None else ""

        return waiting.wait(work, self.input, self.output, what, status, self.backend.cancel)

    def show(self, result, elapsed: float) -> None:
        if result is None:
            return
        if hasattr(result, "next") and hasattr(result, "schema"):  # a Subscription
            return self._watch(result)
        if hasattr(result, "num_rows") and hasattr(result, "schema"):  # a pyarrow.Table
            return self.display.result(result, elapsed)
        self.display.status(result, elapsed)

    def show_error(self, error: Exception, statement: Statement | None, source: str = "") -> None:
        """A failed statement: where (with a caret under the spot), what, and its SQLSTATE."""
        from tidal.shell.scripts import InternalError, describe_error

        if not hasattr(error, "sqlstate"):  # every tidal error has one: anything else is a bug
            error = InternalError(
                f"internal error ({type(error).__name__}: {error}); please report it"
            )
        text = describe_error(error, statement, source)
        sqlstate = getattr(error, "sqlstate", None)
        if sqlstate:
            first, newline, rest = text.partition("\n")
            text = f"{first} (SQLSTATE {sqlstate}){newline}{rest}"
        self.display.error(text)

    def run_file(self, path: pathlib.Path) -> bool:
        """``\\i``: a script through ``tidal run``'s runner (splitting, stopping at the first
        error, naming its line), each statement sent to the backend as the shell sends one."""
        from tidal.shell.scripts import ScriptRunner

        shell = self
        failed: list[Statement] = []

        class Warnings:  # what the runner asks of its database besides running statements
            def take_source_errors(self) -> list[str]:
                return shell.backend.warnings()

        class Runner(ScriptRunner):
            def run_statement(self, statement: Statement, source: str = "") -> bool:
                ok = super().run_statement(statement, source)
                # ON_ERROR_STOP off: the script goes on after a failed statement (its
                # outcome is still a failure)
                if not ok:
                    failed.append(statement)
                return ok or not shell.on_error_stop

            def execute(self, statement: Statement):
                return shell.wait(lambda: shell.backend.execute(statement.text), "running")

            def show(self, result, elapsed: float) -> None:
                shell.show(result, elapsed)

        runner = Runner(Warnings(), out=_Lines(self.display.text), err=_Lines(self.display.error))
        try:
            return runner.run_file(path) and not failed
        except waiting.Cancelled as cancelled:
            self._cancelled.append((f"a statement of {path}", cancelled.future))
            self.display.notice(f"cancelled: the rest of {path} was not run")
            return False

    # --- live views -----------------------------------------------------------------------------

    def watch(self, name: str) -> None:
        """``\\watch name``: the same as ``SUBSCRIBE name``."""
        try:
            subscription = self.wait(lambda: self.backend.subscribe(name), "subscribing")
        except waiting.Cancelled:
            return
        except Exception as error:  # noqa: BLE001
            self.show_error(error, None)
            return
        self._watch(subscription)

    def watch_query(self, query: str, interval: float) -> None:
        """``\\watch [seconds] query``: the query run again every ``interval`` seconds."""

        def run():
            result = self.backend.execute(query)
            if not (hasattr(result, "num_rows") and hasattr(result, "schema")):
                raise _NotAQuery(f"\\watch runs a query; this returns no rows: {query[:60]!r}")
            return result

        label = " ".join(query.split())
        label = label if len(label) <= 40 else label[:39] + "…"
        newest = self.watch_order == "newest"
        try:
            self.wait(self.backend.load, "starting tidal")
            live.watch_query(run, label, interval, self.display, self.input, newest)
        except waiting.Cancelled:
            return
        except _NotAQuery as error:
            self.display.error(f"ERROR: {error}")
        except Exception as error:  # noqa: BLE001 - a failing run ends the watch, said
            self.show_error(error, None)

    def _watch(self, subscription) -> None:
        changelog = self.display.mode == "changelog"
        keys = self.backend.key_columns(subscription.name) if changelog else []
        newest = self.watch_order == "newest"
        live.watch(subscription, self.display, self.input, keys, changelog, newest)

    # --- the background -------------------------------------------------------------------------

    def _warnings(self) -> None:
        for problem in self.backend.warnings():
            self.display.text(f"WARNING: {problem}", "class:warning", terminal=True)

    def _report_background(self) -> None:
        """Say what became of cancelled statements, and what sources ran into."""
        for text, future in list(self._cancelled):
            if not future.done():
                continue
            self._cancelled.remove((text, future))
            what = " ".join(text.split())[:60]
            error = future.exception()
            if error is None:
                self.display.notice(f"the cancelled statement finished and applied: {what}")
            else:
                self.display.notice(f"the cancelled statement failed, nothing changed: {what}")
        if self._loading is not None and not self._loading.is_alive():
            self._warnings()

    def close(self) -> None:
        for text, future in self._cancelled:
            if not future.done():
                self.display.notice(
                    "waiting for a cancelled statement to finish (Ctrl-C: quit now)"
                )
                try:
                    self.wait(future.result, "finishing")
                except waiting.Cancelled:
                    return
                except Exception:  # noqa: BLE001, S110 - its outcome no longer matters
                    pass
        if self.display.file is not None:
            self.display.file.close()
        self.backend.close()

    def _command_help(self) -> dict[str, str]:
        return {name: command.help for name, command in commands.COMMANDS.items()}


class _NotAQuery(Exception):
    """``\\watch`` was given a statement that returns no rows."""


def _continuation(width: int, line_number: int, is_soft_wrap: bool):
    """Before each line after the first: ``  ...>``, or blanks where a long line wraps."""
    text = " " * width if is_soft_wrap else CONTINUATION.rjust(width)
    return [("class:continuation", text)]


class _Lines:
    """A text stream handing each printed line to ``write_line``: the runner prints with
    ``print(..., file=...)``."""

    def __init__(self, write_line) -> None:
        self.write_line = write_line
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.write_line(line)
        return len(text)

    def flush(self) -> None:
        pass


def _key_bindings() -> KeyBindings:
    bindings = KeyBindings()

    @bindings.add("enter", filter=has_focus(DEFAULT_BUFFER))
    def _enter(event) -> None:
        """Run the input if it is a complete statement (ends with ';') or a command; else a
        new line. With a completion chosen from the menu, Enter only closes the menu."""
        buffer = event.current_buffer
        if buffer.complete_state is not None and buffer.complete_state.current_completion:
            buffer.complete_state = None
        elif lexer.statement_complete(buffer.text):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n")

    @bindings.add("escape", "enter", filter=has_focus(DEFAULT_BUFFER))
    def _run_now(event) -> None:
        """Alt-Enter: run what is typed, complete or not."""
        event.current_buffer.validate_and_handle()

    return bindings
