"""A pool of worker processes calling a Python function over Arrow IPC (``workers = N``).

``WorkerPool.call`` returns what ``tidal.engine.udf.calls.call`` returns in the engine's process
(the same values, the same ``Failure`` rows), but runs it in ``workers`` processes at once, so a
CPU-heavy function uses every core and a crash in the function does not take the engine down:

- **Chunks.** The input is cut into chunks of ``batch_size`` rows (when None, about rows /
  workers, at least ``MIN_CHUNK_ROWS``: a small call does not pay IPC for nothing); each worker
  runs ``calls.call`` on one chunk at a time, the next chunk going to the first worker free;
  the results are put back in order. Arguments go out and values come back as Arrow IPC
  streams over a pipe; a chunk's failures ride in the result's schema metadata.
- **Processes.** Started on the first call (a pool that is never called costs nothing) with
  ``forkserver`` where the platform has it, else ``spawn``: never ``fork``, since the engine is
  multithreaded. The first pool of a process also starts the fork server (a fresh interpreter
  that imports pyarrow and this module once); later workers are forked from it in milliseconds.
  ``start_seconds`` says what the start cost. A worker rebuilds the function from its
  ``FunctionSpec``: the source text (``definitions.load``), or a callable pickled by reference.
- **Crashes.** A worker that dies on a chunk (``os._exit``, a segfault, an uncaught
  ``MemoryError``) is replaced, and the chunk is run again as two halves in fresh workers, down
  to the single rows that kill a worker; each gets ``Failure(row, "the worker process died
  (exit code -11)")`` and the rows around it keep their values. One such row costs about
  log2(chunk rows) restarts; the rows between are called again at most that many times.
- **Timeouts.** With ``timeout``, a chunk still running after that many seconds has its worker
  killed and replaced, and every row of the chunk fails with "timed out after 5 s" (they are
  not isolated by halves, which could take ``timeout`` x log2(rows)): a call takes at most
  about ``timeout`` x chunks / workers. A smaller ``batch_size`` narrows what one slow row
  takes with it.
- **Lifetime.** Workers exit when their pipe closes (``close``, or the pool is collected) and
  when the engine's process dies, even in the middle of a chunk: a thread in each worker
  watches the engine's process (a pidfd on Linux) and ends the worker with it. Workers ignore
  Ctrl-C, which the shell's terminal sends to the whole process group.

>>> pool = WorkerPool(FunctionSpec("double", source="def double(x):\\n    return x * 2"), 2)
>>> values, failures = pool.call([pa.array([1, None, 3])], pa.int64(), "row", None)
>>> values.to_pylist(), failures
([2, None, 6], [])
>>> pool.close()
"""

from __future__ import annotations

import collections
import json
import multiprocessing
import os
import pickle
import select
import signal
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait

import pyarrow as pa

from tidal.engine.udf import calls
from tidal.engine.udf.calls import Failure
from tidal.engine.udf.definitions import DefinitionError, load

MIN_CHUNK_ROWS = 4096  # with batch_size None, chunks are not cut smaller than this
START_SECONDS = 120.0  # a worker that has not loaded the function by then is given up on
_FAILURES = b"tidal.failures"  # the result batch's metadata key for its failures


@dataclass(frozen=True)
class FunctionSpec:
    """How a worker rebuilds the function: its Python source text defining `name`
    (loaded with tidal.engine.udf.definitions.load), or a picklable callable (a module-level
    function of the user's, pickled by reference)."""

    name: str
    source: str | None = None
    function: Callable | None = None

    def build(self) -> Callable:
        """The function itself, in this process."""
        if self.source is not None:
            return load(self.source, self.name)
        if self.function is None:
            raise DefinitionError(f"function {self.name} has neither source text nor a callable")
        return self.function


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
        self._pickled = _pickle(spec)
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
        if batch_size:
            size = batch_size
        else:
            size = max(MIN_CHUNK_ROWS, -(-rows // len(self._slots)))
        with self._lock:
            self._check_open()
            if self.start_seconds is None:
                self._start()
            return _Run(self, arguments, (result_type, style, batch_size), size).result()

    def close(self) -> None:
        """Stop the workers (they are gone when this returns); later calls raise."""
        self._closed = True
        self._finalizer()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the worker pool of function {self.spec.name} is closed")

    def _start(self) -> None:
        began = time.perf_counter()
        for index in range(len(self._slots)):
            self._slots[index] = _Worker(self.spec.name, self._pickled)
        try:
            for worker in self._slots:
                worker.wait_ready()
        except BaseException:
            _stop_all(self._slots)
            raise
        self.start_seconds = time.perf_counter() - began

    def worker(self, index: int) -> _Worker:
        """The worker in slot ``index``, started afresh if there is none or it died."""
        worker = self._slots[index]
        if worker is None or not worker.process.is_alive():
            self._check_open()
            if worker is not None:
                worker.stop()
                self.restarts += 1
            worker = self._slots[index] = _Worker(self.spec.name, self._pickled)
            worker.wait_ready()
        return worker

    def discard(self, index: int) -> None:
        """Stop the worker in slot ``index`` (it crashed or timed out); replaced when needed."""
        self._slots[index].stop()
        self._slots[index] = None
        self.restarts += 1

    @property
    def size(self) -> int:
        """How many workers the pool runs."""
        return len(self._slots)

    def running(self, index: int) -> _Worker:
        """The worker in slot ``index`` (it runs a chunk)."""
        return self._slots[index]

    def pids(self) -> list[int]:
        """The process ids of the running workers."""
        return [w.process.pid for w in self._slots if w is not None and w.process.is_alive()]


def _pickle(spec: FunctionSpec) -> bytes:
    try:
        return pickle.dumps(spec)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise DefinitionError(
            f"function {spec.name} cannot be sent to worker processes ({error}): define it at "
            "the top level of a module (not as a lambda, a nested function or a method), or "
            "use workers = 0 or 1 to call it in the engine's process"
        ) from None


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
        self.busy: dict[int, tuple[int, int]] = {}  # slot -> the chunk (start, rows) it runs

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
            chunk = self.pending.popleft()
            start, rows = chunk
            try:
                self.pool.worker(index).send(
                    self.header, [a.slice(start, rows) for a in self.arguments]
                )
            except OSError:  # it died between chunks, not on these rows: try them again
                self.pending.appendleft(chunk)
                self.pool.discard(index)
                continue
            self.busy[index] = chunk

    def _collect(self) -> None:
        timeout = self.pool.timeout
        workers = {index: self.pool.running(index) for index in self.busy}
        waits = [w.connection for w in workers.values()]
        waits += [w.process.sentinel for w in workers.values()]
        if timeout is None:
            wait(waits)
        else:
            soonest = min(w.sent_at for w in workers.values()) + timeout
            wait(waits, max(0.0, soonest - time.monotonic()))
        for index, worker in workers.items():
            start, rows = self.busy[index]
            if worker.connection.poll():
                try:
                    values, failures = worker.receive()
                except (EOFError, OSError):
                    self._died(index, worker.exit_code())
                    continue
                del self.busy[index]
                self.done[start] = (values, [Failure(f.row + start, f.error) for f in failures])
            elif not worker.process.is_alive():
                self._died(index, worker.exit_code())
            elif timeout is not None and time.monotonic() - worker.sent_at >= timeout:
                del self.busy[index]
                self.pool.discard(index)
                error = f"timed out after {timeout:g} s"
                self._fail(start, rows, error)

    def _died(self, index: int, code: int | None) -> None:
        start, rows = self.busy.pop(index)
        self.pool.discard(index)
        if rows == 1:
            self._fail(start, 1, f"the worker process died (exit code {code})")
        else:  # isolate the rows that kill it: each half in a fresh worker, first in line
            half = rows // 2
            self.pending.appendleft((start + half, rows - half))
            self.pending.appendleft((start, half))

    def _fail(self, start: int, rows: int, error: str) -> None:
        result_type = self.header[0]
        failures = [Failure(start + row, error) for row in range(rows)]
        self.done[start] = (pa.nulls(rows, result_type), failures)


class _Worker:
    """One worker process and the engine's end of its pipe."""

    def __init__(self, name: str, pickled: bytes):
        context = _context()
        self.name = name
        self.connection, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve,
            args=(child_end, name, pickled, os.getpid()),
            name=f"tidal function {name}",
            daemon=True,  # multiprocessing stops it when the engine exits normally
        )
        self.process.start()
        child_end.close()
        self.sent_at = 0.0
        self.exited: int | None = None  # the exit code, once stopped

    def wait_ready(self) -> None:
        """Wait until the worker has built the function; DefinitionError if it could not."""
        if not self.connection.poll(START_SECONDS):
            self.stop()
            raise DefinitionError(
                f"the worker process for function {self.name} did not load it within "
                f"{START_SECONDS:g} s"
            )
        try:
            kind, text = self.connection.recv()
        except (EOFError, OSError):
            code = self.exit_code()
            self.stop()
            raise DefinitionError(
                f"the worker process for function {self.name} died while loading it "
                f"(exit code {code})"
            ) from None
        if kind == "error":
            self.stop()
            raise DefinitionError(text)

    def send(self, header: tuple, arguments: list[pa.Array]) -> None:
        self.connection.send(header)
        names = [f"a{i}" for i in range(len(arguments))]
        self.connection.send_bytes(_ipc(pa.RecordBatch.from_arrays(arguments, names=names)))
        self.sent_at = time.monotonic()

    def receive(self) -> tuple[pa.Array, list[Failure]]:
        batch = _read_ipc(self.connection.recv_bytes())
        failures = json.loads(batch.schema.metadata[_FAILURES])
        return batch.column(0), [Failure(row, error) for row, error in failures]

    def exit_code(self) -> int | None:
        if self.exited is None:
            self.process.join(5)
            return self.process.exitcode
        return self.exited

    def stop(self) -> None:
        """Kill the process if it still runs, and reap it; idempotent."""
        if self.exited is not None:
            return
        self.connection.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.exited = self.process.exitcode
        self.process.close()


def _context():
    """The multiprocessing context workers start in: never ``fork`` (the engine has threads)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Read once, when the fork server starts: what every worker then has imported for free.
    context.set_forkserver_preload(["__main__", __name__])
    return context


def _ipc(batch: pa.RecordBatch) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return sink.getvalue()


def _read_ipc(data: bytes) -> pa.RecordBatch:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_next_batch()


# --- a worker process ------------------------------------------------------------------------------


def _serve(connection: Connection, name: str, pickled: bytes, engine: int) -> None:
    """A worker's life: build the function, then run each chunk that comes down the pipe until
    the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with(engine)
    try:
        function = pickle.loads(pickled).build()
    except DefinitionError as error:
        connection.send(("error", error.message))
        return
    except Exception as error:  # noqa: BLE001 (unpickling: its module or name is not here)
        connection.send(("error", _unloadable(name, error)))
        return
    connection.send(("ready", None))
    while True:
        try:
            result_type, style, batch_size = connection.recv()
            arguments = _read_ipc(connection.recv_bytes()).columns
        except (EOFError, OSError):
            return  # the engine closed the pipe, or died
        values, failures = calls.call(function, arguments, result_type, style, batch_size)
        listed = json.dumps([[f.row, f.error] for f in failures]).encode()
        schema = pa.schema([pa.field("value", values.type)], metadata={_FAILURES: listed})
        batch = pa.RecordBatch.from_arrays([values], schema=schema)
        try:
            connection.send_bytes(_ipc(batch))
        except OSError:
            return


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
