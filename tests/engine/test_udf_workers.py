"""The worker-process pool of Python functions: the same answer as a call in the engine's
process, crashes and timeouts that fail only their rows, and no process left behind (real
processes, each test bounded in time)."""

from __future__ import annotations

import collections
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidal.engine.cancellation import Cancellation, QueryCanceled
from tidal.engine.udf import calls
from tidal.engine.udf.definitions import DefinitionError, load
from tidal.engine.udf.workers import MIN_CHUNK_ROWS, FunctionSpec, WorkerPool

# A row function that fails some rows (raising, or returning a value not of its type).
ROW_SOURCE = """
def f(x, y):
    if x % 7 == 3:
        raise ValueError(f"bad {x}")
    if x % 11 == 5:
        return "not a number"
    return x * 2 + y
"""

# A vectorized function that raises on any batch holding a multiple of 5 (isolated by halves).
ARROW_SOURCE = """
import pyarrow.compute as pc

def g(x, y):
    if pc.any(pc.equal(pc.remainder(x, 5), 0)).as_py():
        raise ValueError("a multiple of five")
    return pc.add(pc.multiply(x, 2), y)
"""

# Kills its worker on some rows: os._exit on 13, a segfault on 29.
CRASH_SOURCE = """
import ctypes
import os

def h(x):
    if x == 13:
        os._exit(3)
    if x == 29:
        ctypes.string_at(0)
    return x + 1
"""

SLOW_SOURCE = """
import time

def s(x):
    if x == 5:
        time.sleep(60)
    return x
"""


def triple(x):
    """A module-level function: workers find it by reference."""
    return x * 3


@pytest.fixture(scope="module")
def pools():
    made = {
        "row": WorkerPool(FunctionSpec("f", source=ROW_SOURCE), 2),
        "arrow": WorkerPool(FunctionSpec("g", source=ARROW_SOURCE), 2),
    }
    yield made
    for pool in made.values():
        pool.close()


def in_process(source: str, name: str, arguments, style: str, batch_size):
    return calls.call(load(source, name), arguments, pa.int64(), style, batch_size)


def same(ours, theirs) -> None:
    assert ours[0].equals(theirs[0]), (ours[0], theirs[0])
    assert ours[1] == theirs[1]


values = st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), max_size=60)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(xs=values, seed=st.integers(0, 5), batch_size=st.sampled_from([None, 1, 4, 25]))
def test_row_functions_answer_as_in_process(pools, xs, seed, batch_size):
    x = pa.array(xs, pa.int64())
    y = pa.array([None if i % 9 == seed else i for i in range(len(xs))], pa.int64())
    ours = pools["row"].call([x, y], pa.int64(), "row", batch_size)
    same(ours, in_process(ROW_SOURCE, "f", [x, y], "row", batch_size))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(xs=values, batch_size=st.sampled_from([None, 1, 4, 25]))
def test_arrow_functions_answer_as_in_process(pools, xs, batch_size):
    x = pa.array(xs, pa.int64())
    y = pa.array(range(len(xs)), pa.int64())
    ours = pools["arrow"].call([x, y], pa.int64(), "arrow", batch_size)
    same(ours, in_process(ARROW_SOURCE, "g", [x, y], "arrow", batch_size))


@pytest.mark.parametrize("style", ["row", "arrow"])
def test_rows_beyond_one_chunk_come_back_in_order(pools, style):
    """Without batch_size, 3 chunks' worth of rows are split over the workers and put back in
    the order of the input, failures naming rows of the whole input."""
    rows = 3 * MIN_CHUNK_ROWS + 17
    x = pa.array([None if i % 13 == 0 else i for i in range(rows)], pa.int64())
    y = pa.array(range(rows), pa.int64())
    source, name = (ROW_SOURCE, "f") if style == "row" else (ARROW_SOURCE, "g")
    ours = pools[style].call([x, y], pa.int64(), style, None)
    same(ours, in_process(source, name, [x, y], style, None))
    assert ours[1] and ours[1][-1].row > 2 * MIN_CHUNK_ROWS


def test_pandas_functions_answer_as_in_process():
    source = (
        "def p(x):\n    if (x == 7).any():\n        raise ValueError('seven')\n    return x * 2\n"
    )
    pool = WorkerPool(FunctionSpec("p", source=source), 2)
    try:
        x = pa.array(range(20), pa.int64())
        ours = pool.call([x], pa.int64(), "pandas", 6)
        same(ours, in_process(source, "p", [x], "pandas", 6))
        assert [f.row for f in ours[1]] == [7]
    finally:
        pool.close()


def listed(function, name: str):
    """A generator function as one returning its values as a list of rows (a module-level
    adapter, as the registry's for table functions)."""
    return lambda *arguments: [{name: value} for value in function(*arguments)]


def test_a_function_is_adapted_in_the_worker():
    source = "def g(x):\n    for i in range(x):\n        yield i * 10\n"
    pool = WorkerPool(FunctionSpec("g", source=source, adapt=(listed, ("n",))), 2)
    try:
        x = pa.array([2, None, 0, 1], pa.int64())
        result_type = pa.list_(pa.struct([("n", pa.int64())]))
        ours = pool.call([x], result_type, "row", 2)
        assert ours[0].to_pylist() == [[{"n": 0}, {"n": 10}], None, [], [{"n": 0}]]
        same(ours, calls.call(listed(load(source, "g"), "n"), [x], result_type, "row", 2))
    finally:
        pool.close()


def test_a_module_level_callable_runs_by_reference():
    pool = WorkerPool(FunctionSpec("triple", function=triple), 2)
    try:
        chunked = pa.chunked_array([[1, 2], [None, 4]], pa.int64())
        result, failures = pool.call([chunked], pa.int64(), "row", 1)
        assert result.to_pylist() == [3, 6, None, 12] and failures == []
        assert pool.start_seconds is not None and pool.start_seconds > 0
    finally:
        pool.close()


def test_a_crash_fails_only_the_rows_that_kill_the_worker():
    pool = WorkerPool(FunctionSpec("h", source=CRASH_SOURCE), 2)
    try:
        x = pa.array(range(64), pa.int64())
        result, failures = pool.call([x], pa.int64(), "row", None)
        expected = [None if i in (13, 29) else i + 1 for i in range(64)]
        assert result.to_pylist() == expected
        assert [(f.row, f.error) for f in failures] == [
            (13, "the worker process died (exit code 3)"),
            (29, f"the worker process died (exit code {-signal.SIGSEGV})"),
        ]
        # each killing row is isolated by halves: log2(64) = 6 deaths, at most, per row
        assert pool.restarts <= 2 * 6
        result, failures = pool.call([pa.array([1, 2])], pa.int64(), "row", None)
        assert result.to_pylist() == [2, 3] and failures == []
    finally:
        pool.close()


def test_a_chunk_over_the_timeout_fails_its_rows_and_the_rest_go_on():
    pool = WorkerPool(FunctionSpec("s", source=SLOW_SOURCE), 2, timeout=1.0)
    try:
        pool.call([pa.array([0])], pa.int64(), "row", None)  # started: not counted below
        began = time.monotonic()
        result, failures = pool.call([pa.array(range(12), pa.int64())], pa.int64(), "row", 4)
        took = time.monotonic() - began
        assert result.to_pylist() == [0, 1, 2, 3, None, None, None, None, 8, 9, 10, 11]
        assert [(f.row, f.error) for f in failures] == [
            (row, "timed out after 1 s") for row in range(4, 8)
        ]
        assert took < 10, took
        assert pool.call([pa.array([7])], pa.int64(), "row", None)[0].to_pylist() == [7]
    finally:
        pool.close()


def test_a_cancelled_statement_stops_waiting_and_kills_its_chunks():
    pool = WorkerPool(FunctionSpec("s", source=SLOW_SOURCE), 2)
    try:
        pool.call([pa.array([0])], pa.int64(), "row", None)
        started = pool.pids()
        switch = Cancellation()
        threading.Timer(0.5, switch.cancel).start()
        began = time.monotonic()
        with switch.scope(), pytest.raises(QueryCanceled):
            pool.call([pa.array([4, 5, 6])], pa.int64(), "row", 1)  # 5 sleeps a minute
        assert time.monotonic() - began < 5
        # the worker sleeping on 5 was killed; the other had finished 4 and 6
        assert len([pid for pid in started if running(pid)]) == 1 and pool.restarts == 1
        assert pool.call([pa.array([1, 2])], pa.int64(), "row", 1)[0].to_pylist() == [1, 2]
    finally:
        pool.close()


def test_an_unpicklable_callable_says_what_to_do():
    with pytest.raises(DefinitionError, match="top level of a module.*workers = 0 or 1"):
        WorkerPool(FunctionSpec("double", function=lambda x: x * 2), 2)


def test_a_source_that_does_not_load_fails_the_first_call():
    pool = WorkerPool(FunctionSpec("f", source="def f(x:\n    return x"), 2)
    try:
        with pytest.raises(DefinitionError, match="does not parse"):
            pool.call([pa.array([1])], pa.int64(), "row", None)
        assert pool.pids() == []
    finally:
        pool.close()


def test_close_leaves_no_process():
    pool = WorkerPool(FunctionSpec("triple", function=triple), 2)
    pool.call([pa.array([1])], pa.int64(), "row", None)
    pids = pool.pids()
    assert len(pids) == 2
    pool.close()
    assert [pid for pid in pids if running(pid)] == []
    with pytest.raises(RuntimeError, match="closed"):
        pool.call([pa.array([1])], pa.int64(), "row", None)


# A process that owns a pool: one worker spins forever on row 1, the other waits for work.
OWNER = """
import sys
import pyarrow as pa
from tidal.engine.udf.workers import FunctionSpec, WorkerPool

SOURCE = "def spin(x):\\n    while x == 1:\\n        pass\\n    return x\\n"
pool = WorkerPool(FunctionSpec("spin", source=SOURCE), 2)
pool.call([pa.array([0])], pa.int64(), "row", None)
print("started", flush=True)
pool.call([pa.array([0, 1, 2])], pa.int64(), "row", 1)
"""


@pytest.mark.skipif(not pathlib.Path("/proc").is_dir(), reason="reads /proc for descendants")
def test_no_worker_outlives_an_engine_killed_with_sigkill(tmp_path):
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(OWNER)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout.readline().strip() == "started"
        time.sleep(0.5)  # the spinning chunk reaches its worker
        family = descendants(owner.pid)
        assert len(family) >= 2, family  # the workers (and the fork server)
        owner.send_signal(signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 10
        while [p for p in family if running(p)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [p for p in family if running(p)] == []
    finally:
        owner.kill()
        owner.wait()


def descendants(pid: int) -> list[int]:
    """The processes below ``pid``, from /proc's parent ids."""
    parents = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie, dead but not yet reaped, is not)."""
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state not in ("Z", "X")


# A user's script: a function of its own (found in the workers by running the script again as
# __mp_main__, without its guarded part) and one from source text.
SCRIPT = """
import pyarrow as pa
from tidal.engine.udf.workers import FunctionSpec, WorkerPool

print("script ran", flush=True)


def negate(x):
    return -x


if __name__ == "__main__":
    for spec in (FunctionSpec("negate", function=negate), FunctionSpec("n", source=SOURCE)):
        pool = WorkerPool(spec, 2)
        print(pool.call([pa.array([1, 2])], pa.int64(), "row", 1)[0].to_pylist(), flush=True)
        pool.close()
"""

# The same script with no main guard, with a function from source text only.
UNGUARDED = """
import pyarrow as pa
from tidal.engine.udf.workers import FunctionSpec, WorkerPool

print("script ran", flush=True)
pool = WorkerPool(FunctionSpec("n", source=SOURCE), 2)
print(pool.call([pa.array([1, 2])], pa.int64(), "row", 1)[0].to_pylist(), flush=True)
"""


@pytest.mark.parametrize(
    ("script", "runs", "answers"),
    [(SCRIPT, 3, 2), (UNGUARDED, 1, 1)],
    ids=["guarded", "unguarded"],
)
def test_a_users_script_runs_again_only_where_its_function_is(tmp_path, script, runs, answers):
    """The script runs again in the two workers of its own function (without its guarded
    part), never in those of a function from source text: 'script ran' shows 3 times, then
    once."""
    path = tmp_path / "job.py"
    source = repr("def n(x):\n    return -x\n")
    path.write_text(textwrap.dedent(script).replace("SOURCE", source))
    finished = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert finished.returncode == 0, finished.stderr
    lines = collections.Counter(finished.stdout.splitlines())
    assert lines == {"script ran": runs, "[-1, -2]": answers}


def view_rows(workers: int, function: str, query: str) -> list[tuple]:
    """The rows of ``query`` as a view over t(x) = 1..20, the function created with
    ``workers``."""
    from tidal.engine import Database

    db = Database()
    try:
        db.execute("CREATE TABLE t (x BIGINT)")
        db.execute(function.replace("OPTIONS", f"workers = {workers}, batch_size = 3"))
        db.execute(f"CREATE MATERIALIZED VIEW v AS {query}")
        db.execute("INSERT INTO t SELECT * FROM generate_series(1, 20)")
        db.execute("DELETE FROM t WHERE x = 4")
        table = db.read("v")
        return sorted(zip(*(c.to_pylist() for c in table.columns)), key=repr)
    finally:
        db.close()


SCALAR_SQL = """CREATE FUNCTION f(x BIGINT) RETURNS BIGINT LANGUAGE python
WITH (OPTIONS, on_error = 'null') AS $$
import os

def f(x):
    if x == 13:
        os._exit(3)  # kills its worker (only ever called with workers here)
    return x * 2
$$"""

TABLE_SQL = """CREATE FUNCTION g(x BIGINT) RETURNS TABLE (i BIGINT) LANGUAGE python
WITH (OPTIONS) AS $$
def g(x):
    for i in range(x % 4):
        yield (i * x,)
$$"""


@pytest.mark.parametrize(
    ("function", "query"),
    [(TABLE_SQL, "SELECT x, i FROM t, LATERAL g(x)")],
    ids=["table"],
)
def test_a_view_answers_the_same_with_workers(function, query):
    assert view_rows(2, function, query) == view_rows(0, function, query)


def test_a_row_that_kills_a_worker_is_null_in_a_view_with_on_error_null():
    rows = view_rows(2, SCALAR_SQL, "SELECT x, f(x) AS y FROM t")
    assert rows == sorted(
        [(x, None if x == 13 else x * 2) for x in range(1, 21) if x != 4], key=repr
    )
