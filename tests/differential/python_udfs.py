"""Python functions for the differential tests, created in tidal and registered in DuckDB.

Each ``Udf`` is the Python source of one function and the SQL types it takes and returns. tidal
gets it by ``CREATE FUNCTION ... LANGUAGE python`` (options drawn by the test); the reference
DuckDB gets the same code by ``create_function`` under a name of its own, with the semantics
tidal promises:

- a row function is called only on rows without a NULL argument (DuckDB's default
  ``null_handling``); a vectorized one gets whole arrays, NULLs included (``special``);
- ``on_error = 'null'`` is a failing row's NULL (DuckDB's ``exception_handling =
  'return_null'``): a vectorized function is called by the reference one row at a time, so a
  row's failure is its own whatever DuckDB's chunks are;
- ``on_error = 'dead_letter'``: ``fails`` (is the row left out?) and ``error`` (the text its
  dead letter keeps) tell the reference which rows the view leaves out;
- a table function (``TableUdf``) is, in DuckDB, a function returning its rows as a list of
  structs, unnested by the reference's query;
- an aggregate (``AggregateUdf``) is, in DuckDB, a function of the list of the group's argument
  rows without NULLs, in value order (the reference's query builds it with ``list``).

The reference DuckDB is an instance tidal knows (``new_instance``), so tidal's own registration
of each function (its ``runtime_name``) is there too, and tidal's batch lowering of a view runs
in it over the reference's tables.
"""

from __future__ import annotations

import itertools
import types
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from tidal.catalog import types as sql_types
from tidal.engine import Database
from tidal.sql.typeinfer import POSTGRES_SETTINGS, new_instance

from .harness import Session
from .reference import Reference
from .schema import TABLES

ROW, ARROW, PANDAS = "row", "arrow", "pandas"
THROW, RETURN_NULL = (
    duckdb.PythonExceptionHandling.DEFAULT,
    duckdb.PythonExceptionHandling.RETURN_NULL,
)


@dataclass(frozen=True)
class Udf:
    """A Python function: its name, ``(name TYPE, ...)`` parameters, return type, style and
    source (defining ``name``)."""

    name: str
    parameters: str
    returns: str
    style: str
    source: str

    @property
    def argument_types(self) -> list[str]:
        return [p.split(maxsplit=1)[1] for p in self.parameters.split(", ")]

    def create(self, on_error: str = "fail", batch_size: int | None = None) -> str:
        """Its CREATE FUNCTION statement with these options."""
        options = [] if self.style == ROW else [f"vectorized = '{self.style}'"]
        if on_error != "fail":
            options.append(f"on_error = '{on_error}'")
        if on_error == "dead_letter":
            options.append(f"dead_letter_table = 'bad_{self.name}'")
        if batch_size is not None:
            options.append(f"batch_size = {batch_size}")
        with_options = f" WITH ({', '.join(options)})" if options else ""
        return (
            f"CREATE FUNCTION {self.name}({self.parameters}) RETURNS {self.returns} "
            f"LANGUAGE python{with_options} AS $$\n{self.source}\n$$"
        )

    def function(self):
        """The callable its source defines (loaded here, independently of tidal)."""
        return _names(self.name, self.source)[self.name]

    def one_row(self):
        """The function of one row's values (NULL arguments included for vectorized styles):
        its value, or the exception it raises."""
        function = self.function()
        arrow_types = [sql_types.to_arrow(t) for t in self.argument_types]
        result_type = sql_types.to_arrow(self.returns)

        def call(*values):
            if self.style == ROW:
                if any(v is None for v in values):
                    return None
                return function(*values)
            arrays = [pa.array([v], t) for v, t in zip(values, arrow_types)]
            if self.style == PANDAS:
                result = function(*(a.to_pandas() for a in arrays))
                return pa.Array.from_pandas(result).cast(result_type)[0].as_py()
            return pa.array(function(*arrays)).cast(result_type)[0].as_py()

        return call


@dataclass(frozen=True)
class TableUdf:
    """A table function: ``RETURNS TABLE (columns)``, a generator of tuples."""

    name: str
    parameters: str
    columns: str
    source: str

    def create(self, on_error: str = "fail", batch_size: int | None = None) -> str:
        return (
            f"CREATE FUNCTION {self.name}({self.parameters}) RETURNS TABLE ({self.columns}) "
            f"LANGUAGE python AS $$\n{self.source}\n$$"
        )

    def register(self, reference: UdfReference, name: str) -> None:
        function = _names(self.name, self.source)[self.name]
        names = [c.split()[0] for c in self.columns.split(", ")]

        def rows(*values):
            return [dict(zip(names, row)) for row in function(*values)]

        arguments = [p.split(maxsplit=1)[1] for p in self.parameters.split(", ")]
        reference.register(name, rows, arguments, f"STRUCT({self.columns})[]")


@dataclass(frozen=True)
class AggregateUdf:
    """An aggregate: ``create_state``, ``accumulate``, ``finish``."""

    name: str
    parameters: str
    returns: str
    source: str

    def create(self, on_error: str = "fail", batch_size: int | None = None) -> str:
        return (
            f"CREATE AGGREGATE {self.name}({self.parameters}) RETURNS {self.returns} "
            f"LANGUAGE python AS $$\n{self.source}\n$$"
        )

    def register(self, reference: UdfReference, name: str) -> None:
        names = _names(self.name, self.source)
        create_state, accumulate, finish = (
            names[n] for n in ("create_state", "accumulate", "finish")
        )
        arguments = [p.split(maxsplit=1)[1] for p in self.parameters.split(", ")]

        def over(rows):  # NULL: a group with no rows the aggregate takes
            state = create_state()
            for row in rows or ():
                state = (
                    accumulate(state, *row.values())
                    if len(arguments) > 1
                    else accumulate(state, row)
                )
            return finish(state)

        fields = ", ".join(f"a{i} {t}" for i, t in enumerate(arguments))
        listed = f"{arguments[0]}[]" if len(arguments) == 1 else f"STRUCT({fields})[]"
        reference.register(name, over, [listed], self.returns, null_handling="special")


def _names(name: str, source: str) -> dict:
    """What ``source`` defines, run as a module of its own (loaded here, independently of
    tidal's loading)."""
    module = types.ModuleType(name)
    exec(source, module.__dict__)  # noqa: S102 (the test's own function text)
    return module.__dict__


def describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# --- the functions ------------------------------------------------------------------------------

TWICE = Udf("twice", "x BIGINT", "BIGINT", ROW, "def twice(x):\n    return x * 2")
BUMP = Udf(
    "bump",
    "x BIGINT",
    "BIGINT",
    ARROW,
    "import pyarrow.compute as pc\ndef bump(x):\n    return pc.add(x, 1)",
)
# A vectorized function sees the NULLs: this one turns them into 0.
OR_ZERO = Udf(
    "or_zero",
    "x BIGINT",
    "BIGINT",
    ARROW,
    "import pyarrow.compute as pc\ndef or_zero(x):\n    return pc.coalesce(x, 0)",
)
TAG = Udf("tag", "s VARCHAR", "VARCHAR", ROW, "def tag(s):\n    return s.strip() + '!'")
INITIAL = Udf(
    "initial",
    "s VARCHAR",
    "VARCHAR",
    ARROW,
    "import pyarrow.compute as pc\ndef initial(s):\n    return pc.utf8_slice_codeunits(s, 0, 1)",
)
HALVE = Udf("halve", "d DOUBLE", "DOUBLE", PANDAS, "def halve(d):\n    return d / 2")
MIX = Udf(
    "mix",
    "k BIGINT, s VARCHAR, d DOUBLE",
    "VARCHAR",
    ROW,
    "def mix(k, s, d):\n    return f'{k}:{s}:{d!r}'",
)
# Failing on some inputs: 0 (t1.v and t1.k take it), the empty string (t1.g takes it).
INV = Udf("inv", "x BIGINT", "BIGINT", ROW, "def inv(x):\n    return 84 // x")
INV_ARROW = Udf(
    "inv_arrow",
    "x BIGINT",
    "BIGINT",
    ARROW,
    "import pyarrow as pa\nimport pyarrow.compute as pc\n"
    "def inv_arrow(x):\n    return pc.divide(pa.scalar(84, pa.int64()), x)",
)
INV_PANDAS = Udf(
    "inv_pandas",
    "x BIGINT",
    "BIGINT",
    PANDAS,
    "def inv_pandas(x):\n"
    "    if (x == 0).any():\n        raise ZeroDivisionError('a zero in ' + str(len(x)) + ' rows')\n"
    "    return 84 // x",
)
LOUD = Udf(
    "loud",
    "s VARCHAR",
    "VARCHAR",
    ROW,
    "def loud(s):\n    if not s:\n        raise ValueError('empty')\n    return s.upper()",
)


# A table function: the characters of a string (stripped) and their positions; none for ''.
CHARS = TableUdf(
    "chars",
    "s VARCHAR",
    "c VARCHAR, i BIGINT",
    "def chars(s):\n    for i, c in enumerate(s.strip()):\n        yield c, i",
)
# Aggregates: one whose answer depends on the order it sees the rows in, one of two arguments.
SPREAD = AggregateUdf(
    "spread",
    "x BIGINT",
    "VARCHAR",
    "def create_state():\n    return []\n"
    "def accumulate(state, x):\n    return state + [str(x)]\n"
    "def finish(state):\n    return ','.join(state)",
)
WEIGHED = AggregateUdf(
    "weighed",
    "x BIGINT, w DOUBLE",
    "DOUBLE",
    "def create_state():\n    return 0.0\n"
    "def accumulate(state, x, w):\n    return state + x * w\n"
    "def finish(state):\n    return state",
)

# With retract: maintained incrementally (per group a state, accumulate/retract per changed row);
# a sum of squares and a count of non-NULL rows, whatever order the rows come in.
SQUARES = AggregateUdf(
    "squares",
    "x BIGINT",
    "BIGINT",
    "def create_state():\n    return [0, 0]\n"
    "def accumulate(state, x):\n    return [state[0] + x * x, state[1] + 1]\n"
    "def retract(state, x):\n    return [state[0] - x * x, state[1] - 1]\n"
    "def finish(state):\n    return state[0] * 1000 + state[1]",
)


# --- tidal and the reference ----------------------------------------------------------------------

_instance: duckdb.DuckDBPyConnection | None = None
_numbers = itertools.count()


class UdfReference(Reference):
    """A reference in a DuckDB instance tidal registers its Python functions in."""

    def __init__(self) -> None:  # Reference's, in tidal's instance
        global _instance
        if _instance is None:
            _instance = new_instance({"threads": 1})
        self.connection = _instance.cursor()
        for statement in POSTGRES_SETTINGS:
            self.connection.execute(statement)
        self.schema = f"udf_reference{next(_numbers)}"
        self.connection.execute(f"CREATE SCHEMA {self.schema}")
        self.connection.execute(f"USE {self.schema}")
        self.functions: list[str] = []

    def register(self, name: str, function, parameters: list[str], returns: str, **options):
        """``function`` as ``name`` (functions are global to the instance: names are unique)."""
        self.connection.create_function(name, function, parameters, returns, **options)
        self.functions.append(name)

    def close(self) -> None:
        for name in self.functions:
            self.connection.remove_function(name)
        super().close()


class UdfSession(Session):
    """tidal and its reference with the tables and the Python functions of a test."""

    def __init__(self, tables: tuple[str, ...]) -> None:  # Session's, with our reference
        self.db = Database()
        self.reference = UdfReference()
        self.tables = tables
        self.views = []
        self.names: dict[str, str] = {}  # a function's name -> the reference's name for it
        for table in tables:
            self.both(TABLES[table])

    def create_function(
        self,
        udf: Udf | TableUdf | AggregateUdf,
        on_error: str = "fail",
        batch_size: int | None = None,
    ) -> None:
        """The function in tidal, and its reference (``ref<N>_<name>``) in DuckDB; for
        ``dead_letter``, also ``ref<N>_<name>_fails`` and ``ref<N>_<name>_error``."""
        self.db.execute(udf.create(on_error, batch_size))
        name = f"ref{next(_numbers)}_{udf.name}"
        self.names[udf.name] = name
        if not isinstance(udf, Udf):
            udf.register(self.reference, name)
            return
        arguments = udf.argument_types
        if on_error == "fail" and udf.style == ROW:
            self.reference.register(name, udf.function(), arguments, udf.returns)
        elif on_error == "fail" and udf.style == ARROW:
            self.reference.register(
                name,
                _arrow(udf.function()),
                arguments,
                udf.returns,
                type="arrow",
                null_handling="special",
            )
        else:  # one row at a time: pandas, a failing row's NULL, the rows that do not fail
            self.reference.register(
                name,
                udf.one_row(),
                arguments,
                udf.returns,
                null_handling="special",
                exception_handling=RETURN_NULL if on_error == "null" else THROW,
            )
        if on_error == "dead_letter":
            one_row = udf.one_row()
            self.reference.register(
                f"{name}_fails",
                lambda *v: _error(one_row, v) is not None,
                arguments,
                "BOOLEAN",
                null_handling="special",
            )
            self.reference.register(
                f"{name}_error",
                lambda *v: _error(one_row, v),
                arguments,
                "VARCHAR",
                null_handling="special",
            )

    def spell(self, template: str, reference: bool) -> str:
        """``template`` with ``{name}`` as the function (tidal's, or the reference's)."""
        return template.format(**(self.names if reference else {n: n for n in self.names}))


def _arrow(function):
    def call(*arguments):
        arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in arguments]
        return function(*arrays)

    return call


def _error(one_row, values) -> str | None:
    try:
        one_row(*values)
    except Exception as error:  # noqa: BLE001 (the function's own failure, whatever it is)
        return describe(error)
    return None
