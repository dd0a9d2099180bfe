"""A pool of worker processes calling a Python function over Arrow IPC (``workers = N``).

``WorkerPool.call`` returns what ``tidal.engine.udf.calls.call`` returns in the engine's process
(the same values, the same ``Failure`` rows), but runs it in ``workers`` processes at once, so a
CPU-heavy function uses every core and a crash in the function does not take the engine down:

- **Chunks.** The input is cut into chunks of ``batch_size`` rows (when None, about rows /
  workers, at least ``MIN_CHUNK_ROWS``: a small call does not pay IPC for nothing); each worker
  runs ``calls.call`` on one chunk at a time, the next chunk going to the first worker free;
  the results are put back in order. Arguments go out and values come back as Arrow IPC
  streams over a socket; a chunk's failures ride in the result's schema metadata.
- **Processes.** Never ``fork`` from the engine (it is multithreaded): workers are forked from
  a fork server (tidal.engine.udf.fork_server), a fresh single-threaded interpreter that the
  first pool of an engine's process spawns and that imports pyarrow and tidal once (about
  1 s); a worker then starts in milliseconds, sharing those pages until it writes them. Workers
  start on a pool's first call; ``start_seconds`` says what that cost. A worker rebuilds the
  function from its ``FunctionSpec``: the source text (``definitions.load``), or a callable
  pickled by reference. Unlike multiprocessing's forkserver, a worker runs the engine's
  ``__main__`` script again only when the callable lives there (as ``__mp_main__``, so its
  ``if __name__ == '__main__'`` part does not run); a script that creates functions from
  source text is never re-run.
- **Crashes.** A worker that dies on a chunk (``os._exit``, a segfault, an uncaught
  ``MemoryError``, the kernel's OOM killer) is replaced, and the chunk runs again as two halves
  in fresh workers, down to the single rows that kill a worker; each gets ``Failure(row, "the
  worker process died (exit code -11)")`` and the rows around it keep their values. One such
  row costs about log2(chunk rows) restarts; the rows between are called again at most that
  many times. (A ``MemoryError`` the function raises and does not catch fails its row in
  ``calls.call`` like any other exception, in a worker as in the engine.)
- **Timeouts.** With ``timeout``, a chunk still running after that many seconds has its worker
  killed and replaced, and every row of the chunk fails with "timed out after 5 s" (they are
  not isolated by halves, which could take ``timeout`` x log2(rows)): a call takes at most
  about ``timeout`` x chunks / workers. A smaller ``batch_size`` narrows what one slow row
  takes with it.
- **Cancelling.** A cancelled statement (tidal.engine.cancellation) stops waiting within
  ``CANCEL_CHECK_SECONDS``; the workers running its chunks are killed and replaced.
- **Lifetime.** Workers exit when their socket closes (``close``, or the pool is collected) and
  when the engine's process dies, even in the middle of a chunk: a thread in each worker
  watches the engine's process (a pidfd on Linux) and ends the worker with it. The fork server
  exits when the engine's end of its socket closes. Both ignore Ctrl-C, which a terminal sends
  to the whole process group.

>>> pool = WorkerPool(FunctionSpec("double", source="def double(x):\\n    return x * 2"), 2)
>>> values, failures = pool.call([pa.array([1, None, 3])], pa.int64(), "row", None)
>>> values.to_pylist(), failures
([2, None, 6], [])
>>> pool.close()
"""

from __future__ import annotations

import collections
import json
import os
import pickle
import runpy
import select
import signal
import socket
import sys
import threading
import time
import traceback
import types
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pyarrow as pa

from tidal.engine.cancellation import cancel_point
from tidal.engine.udf import calls
from tidal.engine.udf.calls import Failure
from tidal.engine.udf.definitions import DefinitionError, load
from tidal.engine.udf.fork_server import Channel, fork_server

MIN_CHUNK_ROWS = 4096  # with batch_size None, chunks are not cut smaller than this
START_SECONDS = 120.0  # a worker that has not loaded the function by then is given up on
CANCEL_CHECK_SECONDS = 0.2  # how often a call waiting on its workers looks for a cancel
_FAILURES = b"tidal.failures"  # the result batch's metadata key for its failures
_TARGET = f"{__name__}:worker_process"  # what the fork server's children run
_in_worker = False  # set in a worker process: a pool started there is the user's script re-run


@dataclass(frozen=True)
class FunctionSpec:
    """How a worker rebuilds the function: its Python source text defining `name`
    (loaded with tidal.engine.udf.definitions.load), or a picklable callable (a module-level
    function of the user's, pickled by reference)."""

    name: str
    source: str | None = None
    function: Callable | None = None
    # A module-level function and more arguments, applied in the worker to the function built
    # there: ``adapt[0](function, *adapt[1])`` (how the registry lists a table function's rows).
    adapt: tuple[Callable, tuple] | None = None

    def build(self) -> Callable:
        """The function itself, in this process."""
        if self.source is not None:
            function = load(self.source, self.name)
        elif self.function is not None:
            function = self.function
        else:
            raise DefinitionError(f"function {self.name} has neither source text nor a callable")
        return function if self.adapt is None else self.adapt[0](function, *self.adapt[1])


# --- the pool, in the engine's process -------------------------------------------------------------


class WorkerPool:
    """``workers`` processes that call the function of ``spec``, each chunk within ``timeout``
    seconds if given. Thread-safe: calls from several threads take turns."""

    def __init__(self, spec: FunctionSpec, workers: int, timeout: float | None = None):
        if workers < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {workers}")
        self.spec, self.timeout = spec, timeout
        self.start_seconds: float | None = None  # what starting the workers took, once started
        self.restarts = 0  # workers replaced after a crash or a timeout
        self._setup = _setup_message(spec)
        self._slots: list[_Worker | None] = [None] * workers
        self._lock = threading.Lock()
        self._closed = False
        self._finalizer = weakref.finalize(self, _stop_all, self._slots)

    def call(
        self,
        arguments: Sequence[pa.Array],
        result_type: pa.DataType,
        style: str,
        batch_size: int | None,
    ) -> tuple[pa.Array, list[Failure]]:
        """As ``calls.call(function, arguments, result_type, style, batch_size)``, in the
        workers."""
        arguments = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arguments]
        rows = len(arguments[0]) if arguments else 0
        if rows == 0:
            return pa.array([], result_type), []
        size = batch_size or max(MIN_CHUNK_ROWS, -(-rows // len(self._slots)))
        with self._lock:
            self._check_open()
            if self.start_seconds is None:
                self._start()
            return _Run(self, arguments, (result_type, style, batch_size), size).result()

    def close(self) -> None:
        """Stop the workers (they are gone when this returns); later calls raise."""
        self._closed = True
        self._finalizer()

    @property
    def size(self) -> int:
        """How many workers the pool runs."""
        return len(self._slots)

    def pids(self) -> list[int]:
        """The process ids of the running workers."""
        return [w.pid for w in self._slots if w is not None]

    def worker(self, index: int) -> _Worker:
        """The worker in slot ``index``, started afresh if there is none."""
        worker = self._slots[index]
        if worker is None:
            self._check_open()
            worker = self._slots[index] = _Worker(self.spec.name, self._setup)
            worker.wait_ready()
        return worker

    def discard(self, index: int) -> None:
        """Stop the worker in slot ``index`` (it crashed or timed out); replaced when needed."""
        self._slots[index].stop()
        self._slots[index] = None
        self.restarts += 1

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the worker pool of function {self.spec.name} is closed")

    def _start(self) -> None:
        if _in_worker:
            raise DefinitionError(
                f"a worker process of a Python function ran the script that starts function "
                f"{self.spec.name}'s workers again: put the script's work under "
                "`if __name__ == '__main__':`, or define the function in a module of its own"
            )
        began = time.perf_counter()
        try:
            for index in range(len(self._slots)):
                self._slots[index] = _Worker(self.spec.name, self._setup)
            for worker in self._slots:
                worker.wait_ready()
        except BaseException:
            _stop_all(self._slots)
            raise
        self.start_seconds = time.perf_counter() - began


def _setup_message(spec: FunctionSpec) -> tuple:
    """What a new worker is sent: where to import from, the engine's main script if the
    callable lives there, and the pickled spec."""
    try:
        pickled = pickle.dumps(spec)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise DefinitionError(
            f"function {spec.name} cannot be sent to worker processes ({error}): define it at "
            "the top level of a module (not as a lambda, a nested function or a method), or "
            "use workers = 0 or 1 to call it in the engine's process"
        ) from None
    main = None
    if spec.function is not None and getattr(spec.function, "__module__", None) == "__main__":
        module = sys.modules["__main__"]
        name = getattr(getattr(module, "__spec__", None), "name", None)
        path = getattr(module, "__file__", None)
        main = ("name", name) if name else ("path", os.path.abspath(path)) if path else None
    return spec.name, list(sys.path), main, pickled


def _stop_all(slots: list) -> None:
    for index, worker in enumerate(slots):
        if worker is not None:
            worker.stop()
            slots[index] = None


class _Run:
    """One ``WorkerPool.call``: chunks handed out to the workers as they come free, crashed
    chunks split in halves, results put back in order."""

    def __init__(self, pool: WorkerPool, arguments: list, header: tuple, size: int):
        self.pool, self.arguments, self.header = pool, arguments, header
        rows = len(arguments[0])
        self.pending = collections.deque(
            (start, min(size, rows - start)) for start in range(0, rows, size)
        )
        self.done: dict[int, tuple[pa.Array, list[Failure]]] = {}
        self.busy: dict[int, tuple[_Worker, int, int]] = {}  # slot -> worker, chunk start, rows

    def result(self) -> tuple[pa.Array, list[Failure]]:
        try:
            while self.pending or self.busy:
                self._hand_out()
                self._collect()
        except BaseException:  # an interrupted call leaves no worker holding a stale chunk
            for index in list(self.busy):
                self.pool.discard(index)
            raise
        parts = [self.done[start] for start in sorted(self.done)]
        values = [v for v, _ in parts]
        failures = [f for _, chunk_failures in parts for f in chunk_failures]
        return (values[0] if len(values) == 1 else pa.concat_arrays(values)), failures

    def _hand_out(self) -> None:
        for index in range(self.pool.size):
            if not self.pending:
                return
            if index in self.busy:
                continue
            start, rows = self.pending.popleft()
            worker = self.pool.worker(index)
            try:
                worker.send(self.header, [a.slice(start, rows) for a in self.arguments])
            except OSError:  # it died between chunks, not on these rows: try them again
                self.pending.appendleft((start, rows))
                self.pool.discard(index)
                continue
            self.busy[index] = (worker, start, rows)

    def _collect(self) -> None:
        timeout = self.pool.timeout
        workers = [worker for worker, _, _ in self.busy.values()]
        wait = CANCEL_CHECK_SECONDS
        if timeout is not None:
            soonest = min(w.sent_at for w in workers) + timeout
            wait = min(wait, max(0.0, soonest - time.monotonic()))
        select.select(workers, [], [], wait)
        cancel_point()  # a cancelled statement stops here; result() kills the chunks in flight
        for index, (worker, start, rows) in list(self.busy.items()):
            if worker.readable():
                try:
                    values, failures = worker.receive()
                except (EOFError, OSError):
                    self._died(index)
                    continue
                del self.busy[index]
                self.done[start] = (values, [Failure(f.row + start, f.error) for f in failures])
            elif timeout is not None and time.monotonic() - worker.sent_at >= timeout:
                del self.busy[index]
                self.pool.discard(index)
                self._fail(start, rows, f"timed out after {timeout:g} s")

    def _died(self, index: int) -> None:
        worker, start, rows = self.busy.pop(index)
        self.pool.discard(index)
        if rows == 1:
            self._fail(start, 1, f"the worker process died (exit code {worker.exit_code})")
        else:  # isolate the rows that kill it: each half in a fresh worker, first in line
            half = rows // 2
            self.pending.appendleft((start + half, rows - half))
            self.pending.appendleft((start, half))

    def _fail(self, start: int, rows: int, error: str) -> None:
        failures = [Failure(start + row, error) for row in range(rows)]
        self.done[start] = (pa.nulls(rows, self.header[0]), failures)


class _Worker:
    """One worker process (forked by the fork server) and the engine's end of its socket."""

    def __init__(self, name: str, setup: tuple):
        self.name = name
        mine, theirs = socket.socketpair()
        try:
            self.pid = fork_server(_TARGET).fork(theirs)
        finally:
            theirs.close()
        self.channel = Channel(mine)
        self.channel.send(setup)
        self.sent_at = 0.0
        self.exit_code: int | None = None  # once stopped

    def fileno(self) -> int:
        return self.channel.fileno()

    def wait_ready(self) -> None:
        """Wait until the worker has built the function; DefinitionError if it could not."""
        try:
            if not self.channel.poll(START_SECONDS):
                raise DefinitionError(
                    f"the worker process for function {self.name} did not load it within "
                    f"{START_SECONDS:g} s"
                )
            kind, text = self.channel.recv()
        except (EOFError, OSError):
            self.stop()
            raise DefinitionError(
                f"the worker process for function {self.name} died while loading it "
                f"(exit code {self.exit_code})"
            ) from None
        except BaseException:
            self.stop()
            raise
        if kind == "error":
            self.stop()
            raise DefinitionError(text)

    def send(self, header: tuple, arguments: list[pa.Array]) -> None:
        self.channel.send(header)
        names = [f"a{i}" for i in range(len(arguments))]
        self.channel.send_bytes(_ipc(pa.RecordBatch.from_arrays(arguments, names=names)))
        self.sent_at = time.monotonic()

    def readable(self) -> bool:
        return self.channel.poll(0)

    def receive(self) -> tuple[pa.Array, list[Failure]]:
        batch = _read_ipc(self.channel.recv_bytes())
        failures = json.loads(batch.schema.metadata[_FAILURES])
        return batch.column(0), [Failure(row, error) for row, error in failures]

    def stop(self) -> None:
        """Kill the process if it still runs, and reap it; idempotent."""
        if self.exit_code is not None:
            return
        self.channel.close()
        try:
            os.kill(self.pid, signal.SIGKILL)
            self.exit_code = fork_server(_TARGET).reap(self.pid)
        except (ProcessLookupError, EOFError, OSError):  # the fork server reaped it, or died
            self.exit_code = -signal.SIGKILL


def _ipc(batch: pa.RecordBatch) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def _read_ipc(data: bytes) -> pa.RecordBatch:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_next_batch()


# --- a worker process ------------------------------------------------------------------------------


def worker_process(fd: int, engine: int) -> None:
    """A forked worker: serve, then exit without returning to the fork server's loop."""
    code = 0
    try:
        _exit_with(engine)
        _serve(Channel(socket.socket(fileno=fd)))
    except BaseException:  # noqa: BLE001 (said on stderr; the engine sees the exit code)
        traceback.print_exc()
        code = 1
    finally:
        os._exit(code)


def _serve(channel: Channel) -> None:
    """A worker's life: build the function, then run each chunk that comes down the socket
    until it closes."""
    global _in_worker
    _in_worker = True
    name, path, main, pickled = channel.recv()
    sys.path[:] = path
    try:
        if main is not None:
            _import_main(*main)
        function = pickle.loads(pickled).build()
    except DefinitionError as error:
        channel.send(("error", error.message))
        return
    except Exception as error:  # noqa: BLE001 (unpickling: its module or name is not here)
        channel.send(("error", _unloadable(name, error)))
        return
    channel.send(("ready", None))
    while True:
        try:
            result_type, style, batch_size = channel.recv()
            arguments = _read_ipc(channel.recv_bytes()).columns
        except (EOFError, OSError):
            return  # the engine closed the socket, or died
        values, failures = calls.call(function, arguments, result_type, style, batch_size)
        listed = json.dumps([[f.row, f.error] for f in failures]).encode()
        schema = pa.schema([pa.field("value", values.type)], metadata={_FAILURES: listed})
        try:
            channel.send_bytes(_ipc(pa.RecordBatch.from_arrays([values], schema=schema)))
        except OSError:
            return


def _import_main(kind: str, where: str) -> None:
    """Run the engine's main script (as ``__mp_main__``, so its ``if __name__ == '__main__'``
    part does not run), where a callable pickled as ``__main__.f`` is then found."""
    if kind == "name":
        namespace = runpy.run_module(where, run_name="__mp_main__", alter_sys=True)
    else:
        namespace = runpy.run_path(where, run_name="__mp_main__")
    module = types.ModuleType("__mp_main__")
    module.__dict__.update(namespace)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def _unloadable(name: str, error: Exception) -> str:
    return (
        f"a worker process could not rebuild function {name}: {calls.describe(error)}. Define "
        "it at the top level of a module the workers can import (not in an interactive session), "
        "or use workers = 0 or 1 to call it in the engine's process"
    )


def _exit_with(engine: int) -> None:
    """End this process when the engine's process ends, even while a chunk runs."""

    def watch() -> None:
        try:
            handle = os.pidfd_open(engine)
        except (AttributeError, OSError):  # no pidfd (not Linux): poll instead
            while _alive(engine):
                time.sleep(1.0)
        else:
            select.select([handle], [], [])
        os._exit(0)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not _alive(engine):
        os._exit(0)
    threading.Thread(target=watch, name="tidal engine watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
