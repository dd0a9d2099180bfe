"""Programs the shell runs on the user's terminal: ``\\!`` commands, ``$PAGER``, ``$EDITOR``.

Between prompts prompt-toolkit does not hold the terminal, so a program run then reads and
draws on it directly. When the shell's output is not a terminal (a pipe, a test's buffer) a
command's output is captured and shown as text, and the pager is never used (psql's rule).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prompt_toolkit.output import Output


def terminal_fd(output: Output) -> int | None:
    """The file descriptor of the terminal ``output`` draws on, None if it is not one."""
    stream = getattr(output, "stdout", None)
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # a StringIO has no descriptor
        return None
    return fd if os.isatty(fd) else None


def run_command(command: str, output: Output) -> tuple[int, str]:
    """``\\! command`` through ``$SHELL`` (else /bin/sh): on the terminal, or its output
    captured if there is none. Returns its exit status and what was captured."""
    shell = os.environ.get("SHELL") or "/bin/sh"
    fd = terminal_fd(output)
    if fd is not None:
        status = subprocess.call([shell, "-c", command], stdout=fd, stderr=fd)
        return status, ""
    done = subprocess.run(  # noqa: PLW1510 - the user's own command; the status is returned
        [shell, "-c", command], stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    return done.returncode, done.stdout + done.stderr


def interactive_shell() -> int:
    """``\\!`` alone: an interactive ``$SHELL`` until the user exits it (a terminal only)."""
    return subprocess.call([os.environ.get("SHELL") or "/bin/sh"])


def pager_command() -> list[str] | None:
    """``$PAGER`` (split as a shell would, ``less -S``), else ``less -FRX`` if installed; None
    if neither (or ``PAGER`` is set empty, psql's way of saying none)."""
    import shlex

    chosen = os.environ.get("PAGER")
    if chosen is not None:
        return shlex.split(chosen) or None
    return ["less", "-FRX"] if shutil.which("less") else None


def page(text: str, command: list[str]) -> bool:
    """``text`` through the pager; False if it could not be started."""
    try:
        pager = subprocess.Popen(command, stdin=subprocess.PIPE)
    except OSError:
        return False
    try:
        pager.communicate(text.encode(sys.stdout.encoding or "utf-8", "replace"))
    except (BrokenPipeError, KeyboardInterrupt):  # the user quit the pager early
        pager.wait()
    return True


def editor_command() -> list[str]:
    """``$EDITOR`` (split as a shell would), else ``$VISUAL``, else ``vi`` (psql's order,
    without its own PSQL_EDITOR)."""
    import shlex

    for variable in ("EDITOR", "VISUAL"):
        chosen = shlex.split(os.environ.get(variable) or "")
        if chosen:
            return chosen
    return ["vi"]


def edit(path: str) -> int:
    """Open ``path`` in the editor and wait for it; its exit status."""
    command = editor_command()
    try:
        return subprocess.call([*command, path])
    except OSError as error:
        raise OSError(f"cannot start the editor {' '.join(command)!r}: {error.strerror}") from None
