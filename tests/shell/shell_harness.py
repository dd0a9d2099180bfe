"""Driving the interactive shell as a terminal would: keys into a pipe, the screen's bytes
into a StringIO (a VT100 output), and what a user would read: the text without escapes."""

from __future__ import annotations

import io
import re
import threading
import time
from collections.abc import Callable

from prompt_toolkit.data_structures import Size
from prompt_toolkit.history import History, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from tidal.shell.interactive.backend import EmbeddedBackend
from tidal.shell.interactive.repl import Shell

_CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\x1b[=>]|([\r\n])|([^\x1b\r\n]+)")


def visible(raw: str) -> str:
    """What a terminal shows after ``raw`` (scrollback included): text where the cursor put
    it, after carriage returns, cursor moves and erasures; colours dropped."""
    lines: list[list[str]] = [[]]
    row = column = 0
    for match in _CONTROL.finditer(raw):
        parameters, command, control, text = match.groups()
        if text:
            line = lines[row]
            line.extend(" " * (column - len(line)))
            line[column : column + len(text)] = text
            column += len(text)
        elif control == "\r":
            column = 0
        elif control == "\n":
            row, column = row + 1, 0
        elif command:
            row, column = _csi(lines, row, column, parameters, command)
        while len(lines) <= row:
            lines.append([])
    return "\n".join("".join(line).rstrip() for line in lines)


def _csi(lines, row: int, column: int, parameters: str, command: str) -> tuple[int, int]:
    n = int(parameters) if parameters.isdigit() else 1
    if command == "A":
        row = max(row - n, 0)
    elif command == "B":
        row += n
    elif command == "C":
        column += n
    elif command == "D":
        column = max(column - n, 0)
    elif command == "G":
        column = n - 1
    elif command == "K" and parameters in ("", "0"):
        del lines[row][column:]
    elif command == "J" and parameters in ("", "0"):
        del lines[row][column:]
        del lines[row + 1 :]
    return row, column


class Session:
    """A shell on a pipe. ``type`` sends keys; ``run`` runs the loop on a thread."""

    def __init__(self, backend=None, history: History | None = None, size=(40, 120)) -> None:
        self._pipe = create_pipe_input()
        self.input = self._pipe.__enter__()
        self.raw = io.StringIO()
        rows, columns = size
        output = Vt100_Output(
            self.raw, lambda: Size(rows=rows, columns=columns), term="xterm", enable_cpr=False
        )
        self.backend = backend if backend is not None else EmbeddedBackend()
        self.shell = Shell(self.backend, self.input, output, history or InMemoryHistory())
        self.status: int | None = None
        self._thread: threading.Thread | None = None

    def type(self, keys: str) -> Session:
        self.input.send_text(keys)
        return self

    def start(self) -> Session:
        def loop() -> None:
            self.status = self.shell.run()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def screen(self) -> str:
        return visible(self.raw.getvalue())

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20.0) -> str:
        """The screen once ``predicate(screen)`` holds; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.02)
        raise AssertionError(f"timed out; the screen shows:\n{self.screen()[-3000:]}")

    def finish(self, timeout: float = 30.0) -> str:
        """Quit (``\\q``) and return everything the screen showed."""
        self.type("\\q\r")
        self._thread.join(timeout)
        assert not self._thread.is_alive(), self.screen()[-3000:]
        self._pipe.__exit__(None, None, None)
        return self.screen()


def run_keys(keys: str, backend=None, **options) -> str:
    """Type ``keys`` into a fresh shell, quit, and return what the screen showed."""
    session = Session(backend, **options).type(keys)
    return session.start().finish()
