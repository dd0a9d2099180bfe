"""A ``tidal serve --data-dir`` subprocess to kill, and a client that writes to it until it dies.

``Server.start`` runs the one command a user would run to start and restart a server (the
``--init`` script only runs while the directory holds no catalog) and returns at once;
``wait_listening`` reads the port it printed (``--port 0``). ``Client`` sends the pipeline's
statements (tests.durability.pipeline.Statements) over psycopg, one at a time (a transaction
as BEGIN, its INSERTs, COMMIT), marking each acknowledged, failed (the server answered an error)
or unknown (the connection broke before an answer), and runs ``CHECKPOINT`` now and then, so that kills land before, during and
after checkpoints.
"""

from __future__ import annotations

import pathlib
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import psycopg

from .pipeline import Statements

STARTUP_SECONDS = 60


class Server:
    def __init__(self, folder: pathlib.Path, data_dir: pathlib.Path, init: pathlib.Path) -> None:
        self.folder, self.data_dir, self.init = folder, data_dir, init
        self.process: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()
        self.said: list[str] = []  # everything every run printed, for failure messages

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "tidal.shell.cli",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            "--init",
            str(self.init),
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=self.folder
        )
        self.lines = queue.Queue()
        threading.Thread(target=_pump, args=(self.process.stdout, self.lines), daemon=True).start()

    def wait_listening(self) -> int:
        """The port, once the server listens; raises with what it said if it exits first."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                self.kill()
                raise AssertionError(f"tidal serve did not start: {self.said[-20:]}") from None
            if line is None:
                self.process.wait(5)
                raise AssertionError(
                    f"tidal serve exited ({self.process.returncode}): {self.said[-20:]}"
                )
            self.said.append(line)
            if line.startswith("tidal serve: listening on "):
                return int(line.rsplit(":", 1)[1])

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)
        while True:  # keep what it said after the port line
            try:
                line = self.lines.get(timeout=2)
            except queue.Empty:
                break
            if line is None:
                break
            self.said.append(line)


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


class Client:
    """Writes statements to a server until the connection breaks (the server was killed)."""

    def __init__(self, statements: Statements, seed: int, checkpoint_every: float = 0.7) -> None:
        self.statements = statements
        self._rng = random.Random(seed)
        self.checkpoint_every = checkpoint_every
        self.errors: list[str] = []  # errors the server answered: none are expected

    def run(self, port: int) -> None:
        try:
            connection = psycopg.connect(
                host="127.0.0.1",
                port=port,
                user="tester",
                dbname="tidal",
                autocommit=True,
                connect_timeout=10,
            )
        except psycopg.OperationalError:
            return  # killed before this client got in
        next_checkpoint = time.monotonic() + self._rng.expovariate(1 / self.checkpoint_every)
        with connection:
            while True:
                if time.monotonic() >= next_checkpoint:
                    next_checkpoint += self._rng.expovariate(1 / self.checkpoint_every)
                    if not self._send(connection, "CHECKPOINT"):
                        return
                statement = self.statements.next()
                if not self._send(connection, statement.sql, statement):
                    return

    def _send(self, connection: psycopg.Connection, sql: str, statement=None) -> bool:
        """Run one statement (or a transaction, acknowledged by its COMMIT); False once the
        connection is gone."""
        try:
            if statement is not None and statement.parts:
                for part in ["BEGIN", *statement.parts, "COMMIT"]:
                    connection.execute(part)
            else:
                connection.execute(sql)
        except psycopg.OperationalError:
            if statement is not None:
                statement.outcome = "unknown"
            return False
        except psycopg.Error as error:
            if statement is not None:
                statement.outcome = "failed"
                if statement.parts:
                    connection.execute("ROLLBACK")
            self.errors.append(f"{sql}: {error.sqlstate} {error}")
            return True
        if statement is not None:
            statement.outcome = "acked"
        return True
