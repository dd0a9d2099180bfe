"""Running a statement while the terminal stays responsive: a spinner line once it takes more
than a moment, and Ctrl-C to cancel it.

The statement runs on a worker thread; the shell's thread watches the keyboard (in raw mode,
so Ctrl-C arrives as a key, not a signal). Ctrl-C asks the backend to cancel the statement
(tidal.engine.cancellation, or a CancelRequest to a server): it stops at its next check,
changes nothing, and its error (57014) is shown. A statement that does not stop within
``STOP_WAIT`` seconds (busy where no cancel reaches it, or past its last check) goes on in the
background and either fully applies or not at all (a tick that fails is undone); the shell
drops its result and says when it has finished. The next statement waits for it.
"""

from __future__ import annotations

import select
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, TypeVar

from prompt_toolkit.input.typeahead import store_typeahead
from prompt_toolkit.keys import Keys

if TYPE_CHECKING:
    from prompt_toolkit.input import Input
    from prompt_toolkit.output import Output

T = TypeVar("T")
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SHOW_AFTER = 0.5  # seconds before the spinner appears
STOP_WAIT = 3.0  # seconds a cancelled statement gets to stop before the shell leaves it


class Cancelled(BaseException):
    """Ctrl-C: the shell stopped waiting; ``future`` is the statement, still running. A
    BaseException, like KeyboardInterrupt, so that handlers of errors let it through (the
    script runner stops at it)."""

    def __init__(self, future: Future) -> None:
        super().__init__("cancelled")
        self.future = future


def in_background(work: Callable[[], T]) -> Future:
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits
            future.set_exception(error)

    threading.Thread(target=run, name="tidal-statement", daemon=True).start()
    return future


def wait(
    work: Callable[[], T],
    input: Input,
    output: Output,
    what: str = "running",
    status: Callable[[], str] = str,
    cancel: Callable[[], None] = lambda: None,
) -> T:
    """``work()``'s result, run on a worker thread. Ctrl-C calls ``cancel()``: the
    statement's error if it stops within STOP_WAIT, else Cancelled. Other keys typed
    meanwhile are kept for the next prompt. ``status()`` adds to the spinner line."""
    future = in_background(work)
    started = time.monotonic()
    stop_by = None  # when Ctrl-C was pressed, plus STOP_WAIT
    shown = False
    typed = []
    try:
        with input.raw_mode():
            while not future.done():
                if stop_by is not None and time.monotonic() > stop_by:
                    raise Cancelled(future)
                for key in pressed_keys(input, timeout=0.05):
                    if key.key == Keys.ControlC and stop_by is None:
                        cancel()
                        stop_by, what = time.monotonic() + STOP_WAIT, "cancelling"
                    elif key.key != Keys.ControlC:
                        typed.append(key)
                elapsed = time.monotonic() - started
                if elapsed >= SHOW_AFTER:
                    shown = True
                    _spin(output, elapsed, what, status())
    finally:
        if shown:
            output.write_raw("\r")
            output.erase_end_of_line()
            output.show_cursor()
            output.flush()
        store_typeahead(input, typed)
    return future.result()


def pressed_keys(input: Input, timeout: float) -> list:
    """Keys pressed within ``timeout`` seconds (none if the input cannot be watched)."""
    try:
        ready = select.select([input.fileno()], [], [], timeout)[0]
    except (OSError, ValueError, NotImplementedError):
        time.sleep(timeout)
        return []
    keys = input.read_keys() + input.flush_keys() if ready else []
    if ready and not keys:  # end of input: nothing more will come
        time.sleep(timeout)
    return keys


def _spin(output: Output, elapsed: float, what: str, extra: str) -> None:
    frame = SPINNER[int(elapsed * 10) % len(SPINNER)]
    line = f"{frame} {what} {elapsed:.1f} s{' · ' + extra if extra else ''} · Ctrl-C to cancel"
    output.hide_cursor()
    output.write_raw("\r")
    output.write(line[: max(output.get_size().columns - 1, 10)])
    output.erase_end_of_line()
    output.flush()
