"""The Python functions that exist in this process, by the name plans call them by.

A function created by ``CREATE FUNCTION ... LANGUAGE python`` (or from Python, tidal.engine.api)
gets a ``runtime_name`` unique in the process (``tidal_python_7_score``): bound plans call it by
that name, and it is registered under it in every DuckDB instance tidal runs (they are shared by
all databases of the process, tidal.sql.typeinfer), so type inference, batch mode, ad hoc
queries and the parts of views DuckDB computes all call the same code as the engine's own
evaluator (tidal.engine.expressions). Two databases may each have a function ``score``.

What a call does with a failing row is the function's ``on_error``:

- ``fail``: the statement or tick fails, naming the function, the row and the error;
- ``null``: that row's value is NULL;
- ``dead_letter``: the row leaves the view and is kept in the dead-letter table
  (tidal.engine.udf.dead_letters); where no view step is collecting them (DuckDB computing an
  aggregate's argument, batch mode, an ad hoc query) it fails as ``fail`` does, saying so.
"""

from __future__ import annotations

import inspect
import itertools
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import duckdb
import pyarrow as pa
from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.objects import Function
from tidal.catalog.sqlstate import DATA_EXCEPTION, TidalError
from tidal.engine.udf import calls, dead_letters
from tidal.engine.udf.definitions import DefinitionError, load, namespace
from tidal.sql.intervals import duration_seconds
from tidal.sql.python_functions import AGGREGATE_PREFIX, DEAD_LETTER_TABLE, aggregate_list_type
from tidal.sql.typeinfer import ALL_INSTANCES, INSTANCE_SETUP

FAIL, NULL, DEAD_LETTER = "fail", "null", "dead_letter"


class FunctionFailed(TidalError):
    """A Python function raised (or returned a wrong value) on a row, with ``on_error = 'fail'``."""

    sqlstate = DATA_EXCEPTION


@dataclass
class PythonFunction:
    """A created Python function: its catalog definition and the callable it runs."""

    definition: Function
    function: Callable
    result_type: pa.DataType
    pool: object | None = field(default=None, repr=False)  # its worker processes, once started
    parts: dict[str, Callable] | None = None  # an aggregate's create_state, accumulate, ...

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def on_error(self) -> str:
        return self.definition.option("on_error", FAIL) or FAIL

    def call(self, arguments: Sequence[pa.Array]) -> tuple[pa.Array, list[calls.Failure]]:
        """The function over the rows of ``arguments``: values (NULL where a row failed) and
        the failures."""
        style = self.definition.option("vectorized", calls.ROW) or calls.ROW
        if self.definition.role == "aggregate":  # over lists, NULL (no rows) included
            style = calls.ARROW
        batch_size = _int(self.definition.option("batch_size"))
        workers = _int(self.definition.option("workers")) or 0
        if workers > 1 and len(arguments[0] if arguments else ()) > 1:
            return self._workers(workers).call(arguments, self.result_type, style, batch_size)
        return calls.call(self.function, arguments, self.result_type, style, batch_size)

    def _workers(self, workers: int):
        with _lock:  # one pool, whichever thread calls first
            return self.pool or self._start_pool(workers)

    def _start_pool(self, workers: int):
        if self.pool is None:
            from tidal.engine.udf.workers import FunctionSpec, WorkerPool

            source = self.definition.body or None
            adapt = None  # a table function's generator, listed in the worker as it is here
            if source and self.definition.role == "table":
                adapt = (_listing_rows, ([c.name for c in self.definition.columns],))
            spec = FunctionSpec(self.name, source, None if source else self.function, adapt)
            timeout = self.definition.option("timeout")
            seconds = duration_seconds(timeout, f"timeout of {self.name}") if timeout else None
            self.pool = WorkerPool(spec, workers, seconds)
        return self.pool

    def settle(
        self, arguments: Sequence[pa.Array], failures: list[calls.Failure], collect: bool = True
    ) -> None:
        """Do what ``on_error`` says with the rows that failed: nothing (``null``), raise
        (``fail``), or report them as dead letters where they are ``collect``ed."""
        if not failures or self.on_error == NULL:
            return
        message = self.failure_message(arguments, failures[0])
        if self.on_error == DEAD_LETTER:
            letters = [(f.row, arguments_text(arguments, f.row), f.error) for f in failures]
            table = self.definition.option(DEAD_LETTER_TABLE) or ""
            if collect and dead_letters.report(table, self.name, letters):
                return
            message += (
                " (dead letters are kept for its calls on every row of a view's select list or "
                "WHERE; here, as in an ad hoc query, a CASE branch or a window function's "
                "argument, the statement fails)"
            )
        raise FunctionFailed(message)

    def failure_message(self, arguments: Sequence[pa.Array], failure: calls.Failure) -> str:
        row = ", ".join(repr(a[failure.row].as_py()) for a in arguments)
        return f"function {self.name} failed on ({row}): {failure.error}"

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()  # type: ignore[attr-defined]
            self.pool = None


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def arguments_text(arguments: Sequence[pa.Array], row: int) -> str:
    """A row's arguments as a JSON array (values JSON has no type for, as text)."""
    return json.dumps([a[row].as_py() for a in arguments], default=str)


# --- the process's functions ------------------------------------------------------------------

_functions: dict[str, PythonFunction] = {}
_lock = threading.Lock()
_numbers = itertools.count(1)


def register(definition: Function, function: Callable | None = None) -> Function:
    """Make ``definition`` callable: load its source (or take ``function``), register it in
    every DuckDB instance; returns the definition with its ``runtime_name``."""
    parts = None
    if definition.role == "aggregate":
        parts = _aggregate_parts(definition)
        callable_ = _over_lists(parts, several=len(definition.parameters) > 1)
    else:
        callable_ = function if function is not None else load(definition.body, definition.name)
    if definition.role == "table":
        callable_ = _listing_rows(callable_, [c.name for c in definition.columns])
    prefix = AGGREGATE_PREFIX if definition.role == "aggregate" else "tidal_python_"
    runtime_name = f"{prefix}{next(_numbers)}_{definition.name.lower()}"
    definition = replace(definition, runtime_name=runtime_name)
    python_function = PythonFunction(
        definition, callable_, types.to_arrow(definition.returns), parts=parts
    )
    with _lock:
        done = []
        try:
            for instance in ALL_INSTANCES:
                _register_in(instance, python_function)
                done.append(instance)
        except BaseException:  # none of it: a half-registered function would break new instances
            for instance in done:
                instance.remove_function(runtime_name)
            raise
        _functions[runtime_name] = python_function
    return definition


def unregister(runtime_name: str) -> None:
    with _lock:
        python_function = _functions.pop(runtime_name, None)
        if python_function is None:
            return
        for instance in ALL_INSTANCES:
            try:
                instance.remove_function(runtime_name)
            except duckdb.Error:
                pass  # never registered there (an instance started after it was dropped)
    python_function.close()


def _aggregate_parts(definition: Function) -> dict[str, Callable]:
    """The functions an aggregate's source defines: ``create_state``, ``accumulate``,
    ``finish``, and ``retract`` and ``merge`` if it has them."""
    names = namespace(definition.body, definition.name)
    missing = [n for n in ("create_state", "accumulate", "finish") if not callable(names.get(n))]
    if missing:
        raise DefinitionError(
            f"the Python body of aggregate {definition.name} defines no {', '.join(missing)}: "
            "an aggregate defines create_state(), accumulate(state, ...) -> state and "
            "finish(state) -> value (retract and merge optional)"
        )
    parts = ("create_state", "accumulate", "finish", "retract", "merge")
    return {n: names[n] for n in parts if callable(names.get(n))}


def _over_lists(parts: dict[str, Callable], several: bool) -> Callable:
    """An aggregate as a vectorized function over lists of its groups' argument rows
    (tidal.sql.python_functions.aggregate_list_sql): per list, ``create_state``,
    ``accumulate`` each row, ``finish``."""
    create_state, accumulate, finish = parts["create_state"], parts["accumulate"], parts["finish"]

    def over_lists(lists: pa.Array) -> list:
        results = []
        for rows in lists.to_pylist():
            state = create_state()
            for row in rows or ():
                state = accumulate(state, *row.values()) if several else accumulate(state, row)
            results.append(finish(state))
        return results

    return over_lists


def _listing_rows(function: Callable, names: list[str]) -> Callable:
    """A table function as a function returning its rows as one list (of structs): each row it
    yields is a tuple (or a single value, for one column) or a dict by column name."""

    def rows(*arguments):
        listed = []
        for row in function(*arguments) or ():
            if isinstance(row, dict):
                listed.append(row)
            elif isinstance(row, (tuple, list)):
                if len(row) != len(names):
                    raise ValueError(f"a row of {len(row)} values, not {len(names)}: {row!r}")
                listed.append(dict(zip(names, row)))
            else:
                listed.append({names[0]: row})
        return listed

    return rows


def lookup(name: str) -> PythonFunction | None:
    """The Python function a plan calls by ``name`` (its runtime name), if it is one."""
    return _functions.get(name)


def called(node: exp.Expression) -> PythonFunction | None:
    """The Python function ``node`` calls, if it is a call of one."""
    if isinstance(node, exp.Anonymous):
        return _functions.get(node.name)
    return None


def _register_in(instance: duckdb.DuckDBPyConnection, python_function: PythonFunction) -> None:
    definition = python_function.definition

    def run(*arguments: pa.ChunkedArray) -> pa.Array:
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arguments]
        values, failures = python_function.call(arrays)
        # Never collected: DuckDB calls with its own chunks of rows, not the operator's batch.
        python_function.settle(arrays, failures, collect=False)
        return values

    parameters = [types.normalize(p.type) for p in definition.parameters]
    if definition.role == "aggregate":
        parameters = [aggregate_list_type(definition)]
    # DuckDB counts the callable's parameters: give ``run`` the function's.
    run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(f"a{i}", inspect.Parameter.POSITIONAL_ONLY)
            for i in range(len(parameters))
        ]
    )
    instance.create_function(
        definition.runtime_name,
        run,
        parameters,
        types.normalize(definition.returns),
        type="arrow",
        null_handling="special",  # NULL rows reach calls.call, which answers as the engine does
        side_effects=definition.volatile,
    )


def _register_all(instance: duckdb.DuckDBPyConnection) -> None:
    with _lock:
        for python_function in _functions.values():
            _register_in(instance, python_function)


INSTANCE_SETUP.append(_register_all)
