"""Starting the shell: ``tidal`` on a terminal opens the prompt; piped input runs as a script,
and so do the statements of ``tidal -c SQL``.

Imports stay light here: ``tidal`` must show its prompt in well under a second, so the engine
(pyarrow, DuckDB, sqlglot) loads in the background.
"""

from __future__ import annotations

import os
import pathlib
import sys


def main(
    data_dir: str | None = None,
    connect: str | None = None,
    memory_limit: str | None = None,
    pager: bool = True,
) -> int:
    """Open the shell on the terminal; with stdin not a terminal, run it as a script.
    ``memory_limit``: the embedded Database's memory budget (``--memory-limit``); ``pager``:
    False for ``--no-pager``."""
    if not sys.stdin.isatty():
        return _script([(sys.stdin.read(), "<stdin>")], data_dir, connect, memory_limit)
    from tidal.shell.interactive.backend import EmbeddedBackend
    from tidal.shell.interactive.repl import Shell

    if connect is not None:
        from tidal.shell.interactive.remote import RemoteBackend

        backend = RemoteBackend(connect)
    else:
        backend = EmbeddedBackend(data_dir=data_dir, memory_limit=memory_limit)
    shell = Shell(backend, history=_history(history_path(data_dir)))
    shell.display.pager = pager
    return shell.run()


def run_commands(
    commands: list[str],
    data_dir: str | None = None,
    connect: str | None = None,
    memory_limit: str | None = None,
) -> int:
    """``tidal -c SQL [-c SQL ...]``: each in turn, as a script; 1 at the first that fails."""
    sources = [
        (text, f"-c #{n}" if len(commands) > 1 else "-c") for n, text in enumerate(commands, 1)
    ]
    return _script(sources, data_dir, connect, memory_limit)


def history_path(data_dir: str | None = None) -> pathlib.Path:
    """``DIR/history`` with ``--data-dir DIR``, else in the user's data directory (XDG)."""
    if data_dir:
        return pathlib.Path(data_dir) / "history"
    base = os.environ.get("XDG_DATA_HOME") or pathlib.Path.home() / ".local" / "share"
    return pathlib.Path(base) / "tidal" / "history"


def _history(path: pathlib.Path):
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    except OSError as error:
        print(f"WARNING: history not kept: cannot write {path}: {error.strerror}", file=sys.stderr)
        return InMemoryHistory()
    return FileHistory(str(path))


def _script(
    scripts: list[tuple[str, str]],
    data_dir: str | None,
    connect: str | None,
    memory_limit: str | None = None,
) -> int:
    """``echo 'SELECT 1;' | tidal``: the statements run as ``tidal run`` runs a file (on the
    server with ``--connect``). ``scripts``: (text, where it came from), run in order."""
    from tidal.shell.scripts import ScriptRunner

    if connect is None:
        from tidal.shell.scripts import open_database

        db = open_database("tidal", data_dir, base_dir=data_dir, memory_limit=memory_limit)
        if db is None:
            return 1
        try:
            return _run_all(ScriptRunner(db), scripts)
        finally:
            db.close()
    from tidal.shell.interactive.remote import RemoteBackend

    backend = RemoteBackend(connect)

    class Server:  # the runner asks its database for source problems: the server keeps them
        def take_source_errors(self) -> list[str]:
            return []

    class Remote(ScriptRunner):
        def execute(self, statement):
            return backend.execute(statement.text)

    runner = Remote(Server())
    try:
        return _run_all(runner, scripts)
    finally:
        backend.close()


def _run_all(runner, scripts: list[tuple[str, str]]) -> int:
    ok = all(runner.run_script(text, source=source) for text, source in scripts)
    return 0 if ok else 1
