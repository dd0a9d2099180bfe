"""A real ``tidal serve`` subprocess on 127.0.0.1 for the client tests.

``start_server(*flags, init=...)`` starts one on a free port (``--port 0``: the server prints the
port it got) and returns once it accepts connections; the ``server`` fixture is one shared by a
test module, over a small demo schema. Every wait here has a timeout.
"""

from __future__ import annotations

import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest

DEMO = """
CREATE TABLE t (k VARCHAR, v INTEGER);
INSERT INTO t VALUES ('a', 1), ('b', 2), ('a', 3);
CREATE MATERIALIZED VIEW totals AS SELECT k, sum(v) AS total, count(*) AS n FROM t GROUP BY k;
CREATE TABLE events (id BIGINT, name VARCHAR);
CREATE MATERIALIZED VIEW named AS SELECT id, name FROM events WHERE name IS NOT NULL;
"""

STARTUP_SECONDS = 30


@dataclass
class RunningServer:
    host: str
    port: int
    process: subprocess.Popen
    lines: queue.Queue  # stdout and stderr lines, for tests that check what the server said

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user=tester dbname=tidal"

    def psql(self, *args: str, timeout: float = 20, **kwargs) -> subprocess.CompletedProcess:
        env = {**os.environ, "PGCONNECT_TIMEOUT": "5", "PSQLRC": "/dev/null"}
        env.pop("PGPASSWORD", None)
        command = ["psql", "-X", "-h", self.host, "-p", str(self.port), "-U", "tester", "tidal"]
        return subprocess.run(
            command + list(args),
            check=False,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**env, **kwargs.pop("env", {})},
            **kwargs,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def start_server(tmp_path: pathlib.Path, *flags: str, init: str | None = DEMO) -> RunningServer:
    """Start ``tidal serve`` with ``flags``; returns when it listens."""
    command = [sys.executable, "-m", "tidal.shell.cli", "serve", "--port", "0", *flags]
    if init is not None:
        script = tmp_path / "init.sql"
        script.write_text(init)
        command += ["--init", str(script)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    said = []
    while True:
        try:
            line = lines.get(timeout=STARTUP_SECONDS)
        except queue.Empty:
            process.kill()
            raise RuntimeError(f"tidal serve did not start: {said}") from None
        if line is None:
            process.wait(5)
            raise RuntimeError(f"tidal serve exited ({process.returncode}): {said}")
        said.append(line)
        if line.startswith("tidal serve: listening on "):
            host, port = line.rsplit(" ", 1)[1].rsplit(":", 1)
            return RunningServer(host, int(port), process, lines)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    running.stop()


@pytest.fixture
def make_server(tmp_path):
    """Start servers with particular flags; each is stopped after the test."""
    started: list[RunningServer] = []

    def make(*flags: str, init: str | None = DEMO) -> RunningServer:
        running = start_server(tmp_path / f"s{len(started)}", *flags, init=init)
        started.append(running)
        return running

    for sub in range(8):
        (tmp_path / f"s{sub}").mkdir()
    yield make
    for running in started:
        running.stop()
