"""The fork server that Python functions' worker processes are forked from, and their sockets.

The engine is multithreaded, so it never forks itself. The first worker pool of an engine's
process (tidal.engine.udf.workers) spawns this server instead: a fresh interpreter that
imports the workers' module (pyarrow, tidal) once and then, single-threaded, forks one child
per socket the engine hands it over the control socket (``SCM_RIGHTS``). A worker thus starts
in milliseconds and shares the imported pages until it writes them. The server also reaps the
workers (they are its children) and reports their exit codes; it ends when the engine's end of
the control socket closes, i.e. when the engine closes it or dies.

The control socket carries fixed 9-byte requests: ``F`` and 8 zero bytes, with the worker's
socket attached (answered with the new pid), or ``W`` and a pid (answered, once the worker has
ended, with its exit code, negative for the signal that ended it). Workers and the engine talk
over a ``Channel``: messages of an 8-byte length and the bytes.

>>> left, right = socket.socketpair()
>>> Channel(left).send({"rows": 3})
>>> Channel(right).recv()
{'rows': 3}
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import threading


class Channel:
    """Messages over a stream socket, each an 8-byte length and its bytes."""

    def __init__(self, sock: socket.socket):
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: object) -> None:
        """A Python object, pickled."""
        self.send_bytes(pickle.dumps(message))

    def recv(self) -> object:
        return pickle.loads(self.recv_bytes())

    def send_bytes(self, data) -> None:
        """Any buffer (bytes, an Arrow buffer), without a copy."""
        view = memoryview(data)
        self.sock.sendall(view.nbytes.to_bytes(8, "little"))
        self.sock.sendall(view)

    def recv_bytes(self) -> bytearray:
        """The next message's bytes; EOFError when the other side closed its socket."""
        size = int.from_bytes(receive(self.sock, 8), "little")
        return receive(self.sock, size)

    def poll(self, timeout: float) -> bool:
        """Whether a message (or the end) can be read within ``timeout`` seconds."""
        return bool(select.select([self.sock], [], [], timeout)[0])

    def close(self) -> None:
        self.sock.close()


def receive(sock: socket.socket, size: int) -> bytearray:
    """Exactly ``size`` bytes from ``sock``; EOFError if it closes first."""
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            raise EOFError("the other process closed its socket")
        got += count
    return data


class ForkServer:
    """The engine's handle on its fork server; each child runs ``target`` (``"module:function"``,
    called with the child's socket's file descriptor and the engine's process id)."""

    def __init__(self, target: str):
        mine, theirs = socket.socketpair()
        # The server imports what the engine can: its sys.path (a checkout, a script's folder).
        paths = [p for p in sys.path if p and os.path.exists(p)]
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        script = (
            f"from {__name__} import serve; serve({theirs.fileno()}, {os.getpid()}, {target!r})"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-c", script],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            env=environment,
        )
        theirs.close()
        self.target = target
        self.sock, self.lock = mine, threading.Lock()
        self.owner = os.getpid()  # a forked copy of the engine needs a server of its own

    def fork(self, child_end: socket.socket) -> int:
        """A new child on ``child_end``: its process id."""
        with self.lock:
            socket.send_fds(self.sock, [b"F" + bytes(8)], [child_end.fileno()])
            return int.from_bytes(receive(self.sock, 8), "little", signed=True)

    def reap(self, pid: int) -> int:
        """Wait for child ``pid`` to end: its exit code (negative: the signal that ended it)."""
        with self.lock:
            self.sock.sendall(b"W" + pid.to_bytes(8, "little", signed=True))
            return int.from_bytes(receive(self.sock, 8), "little", signed=True)


_servers: dict[str, ForkServer] = {}
_servers_lock = threading.Lock()


def fork_server(target: str) -> ForkServer:
    """This process's fork server for ``target``, started on first use (again if it died)."""
    with _servers_lock:
        server = _servers.get(target)
        if server is None or server.process.poll() is not None or server.owner != os.getpid():
            server = _servers[target] = ForkServer(target)
        return server


def serve(fd: int, engine: int, target: str) -> None:
    """The fork server's loop (single-threaded, so forking is safe): fork a child running
    ``target`` for each socket the engine sends, reap the children it asks about; end when the
    engine's socket closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    module, name = target.split(":")
    run = getattr(importlib.import_module(module), name)
    control = socket.socket(fileno=fd)
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 9, 1)
            if not message:
                return  # the engine closed its end, or died
            message = bytes(message) + bytes(receive(control, 9 - len(message)))
        except (EOFError, OSError):
            return
        if message[:1] == b"F":
            pid = os.fork()
            if pid == 0:
                control.close()
                run(fds[0], engine)  # a child never returns here: it ends with os._exit
            os.close(fds[0])
            control.sendall(pid.to_bytes(8, "little", signed=True))
        else:
            _, status = os.waitpid(int.from_bytes(message[1:], "little", signed=True), 0)
            control.sendall(os.waitstatus_to_exitcode(status).to_bytes(8, "little", signed=True))
