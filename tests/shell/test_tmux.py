"""`tidal` in a real terminal (tmux): a source flowing, a view watched live, Ctrl-C, \\q."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


class Terminal:
    """A tmux session of its own (private server socket) running one command."""

    def __init__(self, command: list[str], cwd, width: int = 160, height: int = 50) -> None:
        self.socket = f"tidal-test-{os.getpid()}-{time.monotonic_ns()}"
        self._tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height),
                   "-c", str(cwd), " ".join(command))  # fmt: skip

    def _tmux(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            check=False,
            capture_output=True,
            text=True,
            timeout=20,
        )

    def type(self, text: str) -> None:
        if text.endswith(";"):  # tmux reads a final ';' as the end of its own command
            text = text[:-1] + "\\;"
        self._tmux("send-keys", "-t", "t", "-l", text)
        self._tmux("send-keys", "-t", "t", "Enter")

    def key(self, key: str) -> None:
        self._tmux("send-keys", "-t", "t", key)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t", "-S", "-200").stdout

    def wait_for(self, predicate, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.05)
        raise AssertionError(f"timed out; the terminal shows:\n{self.screen()}")

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", "t").returncode == 0

    def close(self) -> None:
        self._tmux("kill-server")


def counts(screen: str) -> dict[str, int]:
    """The view's rows on the screen: k -> n (the last frame drawn)."""
    frame = screen[screen.rindex("-+-") :]
    return {k: int(n) for k, n in re.findall(r"^ +(\d+) \| +(\d+)$", frame, re.MULTILINE)}


def test_a_view_updates_live_in_a_terminal_until_ctrl_c(tmp_path):
    terminal = Terminal([sys.executable, "-m", "tidal.shell.cli", "--data-dir", str(tmp_path)],
                        cwd=tmp_path)  # fmt: skip
    try:
        terminal.wait_for(lambda s: "tidal>" in s)
        terminal.type(
            "CREATE SOURCE clicks (k BIGINT, v BIGINT) WITH (connector = 'datagen', "
            "'rows-per-second' = '40', 'fields.k.min' = '1', 'fields.k.max' = '3');"
        )
        terminal.wait_for(lambda s: "CREATE SOURCE" in s.split("WITH")[-1])
        terminal.type("CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n FROM clicks")
        terminal.type("GROUP BY k;")  # a second line: the statement ran at the ';'
        terminal.wait_for(lambda s: "CREATE MATERIALIZED VIEW (" in s)
        terminal.type("\\watch per_k")
        first = counts(terminal.wait_for(lambda s: "watching per_k" in s and "-+-" in s))
        later = counts(
            terminal.wait_for(lambda s: sum(counts(s).values()) > sum(first.values()) + 20)
        )
        assert set(later) <= {"1", "2", "3"} and all(later[k] >= first.get(k, 0) for k in later)
        screen = terminal.screen()
        # redrawn in place, not printed again and again
        assert screen.count(" bigint | bigint") == 1 and screen.count("watching per_k") == 1
        terminal.key("C-c")
        terminal.wait_for(lambda s: "stopped watching per_k" in s and s.rstrip().endswith("tidal>"))
        terminal.type("\\mode changelog")
        terminal.type("\\watch per_k")
        terminal.wait_for(lambda s: re.search(r"^ \+U \| ", s, re.MULTILINE) is not None)
        terminal.key("C-c")
        terminal.wait_for(lambda s: s.count("stopped watching per_k") == 2)
        terminal.type("\\q")
        terminal.wait_for(lambda s: not terminal.alive() or "Traceback" in s, timeout=15)
        assert not terminal.alive()
        assert "CREATE MATERIALIZED VIEW per_k" in (tmp_path / "history").read_text()
    finally:
        terminal.close()
