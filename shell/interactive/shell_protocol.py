"""What a backslash command may use of the shell running it: the ``Shell`` protocol.

The commands (``commands``, ``variables``) know only this, so the loop (``repl``) imports them
and not the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pathlib

    from tidal.shell.interactive.backend import Backend
    from tidal.shell.interactive.display import Display


class Shell(Protocol):
    """What a command may use of the shell that runs it (``repl.Shell`` is the one; the
    commands know only this, so the loop imports them and not the other way round)."""

    backend: Backend
    display: Display
    running: bool  # False ends the loop
    variables: dict[str, str]  # \\set NAME value, for names that are not settings
    on_error_stop: bool  # \\set ON_ERROR_STOP
    watch_interval: str  # \\set WATCH_INTERVAL: seconds
    watch_order: str  # \\set WATCH_ORDER: key or newest
    last_sql: str  # the last SQL typed, for \\e

    def remember(self, text: str) -> None:
        """Add ``text`` to the history and make it the last SQL (what \\e ran)."""

    def wait(self, work: Callable[[], Any], what: str) -> Any:
        """``work()`` with the spinner up and Ctrl-C ready to cancel it."""

    def run_sql(self, text: str) -> bool: ...

    def run_file(self, path: pathlib.Path) -> bool: ...

    def watch(self, name: str) -> None:
        """A relation live: its subscription."""

    def watch_query(self, query: str, interval: float) -> None:
        """A query run again every ``interval`` seconds."""
