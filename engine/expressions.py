"""Compiling bound scalar expressions to functions over Arrow batches: tidal's one evaluator.

An expression (sqlglot AST over columns ``c0``.. and parameters ``$n``, see tidal.sql.plan)
compiles to a function ``(batch, arguments)``: ``arguments`` are the Python values of ``$1``,
``$2``, ... (none for a view). Where a ``pyarrow.compute`` or numpy kernel has exactly DuckDB's
meaning, the expression runs on kernels: three-valued logic, NaN equal to itself and above
every number, strings in byte order, comparisons in the type DuckDB compares in, integer
overflow and division by zero as errors. Any other subtree is evaluated by DuckDB over the batch
(one call per batch, not per row), its parameters passed as a prepared statement's values.
Constants (literals, typed literals) are computed once, by DuckDB where Python could differ.
Results are cast to the type the binder inferred, so both paths agree on types.

>>> import pyarrow as pa
>>> from tidal.sql.plan import Field, parameter
>>> from tidal.sql.parser import parse_statement
>>> e = parse_statement('SELECT "c0" * 2 + 1').expressions[0]
>>> compile_expression(e, (Field("x", "INTEGER"),))(pa.table({"c0": [1, None]})).to_pylist()
[3, None]
>>> e = exp.GT(this=exp.column("c0", quoted=True), expression=parameter(1, "DOUBLE"))
>>> compile_predicate(e, (Field("x", "DOUBLE"),))(pa.table({"c0": [1.0, 3.0]}), [2.0]).to_pylist()
[False, True]
"""

from __future__ import annotations

import decimal
import math
import threading
from collections.abc import Callable, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.sqlstate import DATA_EXCEPTION, INVALID_PARAMETER_VALUE, TidalError
from tidal.sql.plan import Field, TypedParameter, parameter_number, ref_index
from tidal.sql.typeinfer import TypeInference, connect_locked, duckdb_sql

Arguments = Sequence[object]  # the Python value of each parameter $1, $2, ... (None: NULL)
Values = pa.Array | pa.ChunkedArray | pa.Scalar
Evaluator = Callable[..., Values]  # (batch, arguments=()) -> values
_Run = Callable[[pa.Table, Arguments], Values]

_INFERENCE: TypeInference | None = None
_DUCKDB: duckdb.DuckDBPyConnection | None = None
_DUCKDB_LOCK = threading.Lock()  # one connection, registered batches: one caller at a time
_FOLDED: dict[str, pa.Scalar | None] = {}  # constant SQL -> its value (None: DuckDB refused)
_FOLDED_KEPT = 10_000


class EvaluationError(TidalError):
    """An expression failed on the data (division by zero, overflow, a bad cast)."""

    sqlstate = DATA_EXCEPTION


class ArgumentError(EvaluationError):
    """A parameter's value that is not a value of its type (a text where a number goes)."""

    sqlstate = INVALID_PARAMETER_VALUE


class NeedsDuckDB(Exception):
    """Compiling with ``kernels_only`` met a part that only DuckDB evaluates."""


def compile_expression(
    expression: exp.Expression,
    fields: tuple[Field, ...],
    result_type: str | None = None,
    *,
    kernels_only: bool = False,
) -> Evaluator:
    """A function ``(batch, arguments=())`` from a batch (columns ``c0``..) to the expression's
    values, as ``result_type``. With ``kernels_only`` a part that needs DuckDB at each run
    raises NeedsDuckDB instead."""
    compiler = _Compiler(fields, kernels_only)
    if result_type is None:
        result_type = compiler.type_of(expression)
    evaluate = compiler.compile(expression)
    arrow_type = types.to_arrow(result_type)

    def run(batch: pa.Table, arguments: Arguments = ()) -> Values:
        try:
            values = evaluate(batch, arguments)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise EvaluationError(str(error)) from None
        return _broadcast(values, batch.num_rows, arrow_type)

    return run


def compile_predicate(
    expression: exp.Expression, fields: tuple[Field, ...], *, kernels_only: bool = False
) -> Evaluator:
    """Like compile_expression for a WHERE condition: NULL counts as false."""
    evaluate = compile_expression(expression, fields, "BOOLEAN", kernels_only=kernels_only)

    def run(batch: pa.Table, arguments: Arguments = ()) -> Values:
        values = evaluate(batch, arguments)
        return pc.fill_null(values, False) if values.null_count else values

    return run


def compile_constant(
    expression: exp.Expression,
) -> tuple[str, Callable[[Arguments], object]] | None:
    """A constant's SQL type and a function from a run's arguments to its Python value (None
    for NULL), for a literal, a typed literal or a parameter; None for anything else.

    >>> from tidal.sql.plan import parameter
    >>> sql_type, value = compile_constant(parameter(2, "BIGINT"))
    >>> sql_type, value([None, 7])
    ('BIGINT', 7)
    """
    number = parameter_number(expression)
    if number is None and not _is_constant(expression):
        return None
    compiler = _Compiler((), kernels_only=True)
    sql_type = compiler.type_of(expression)
    if number is not None:
        return sql_type, _argument_reader(number, types.to_arrow(sql_type))
    scalar = compiler.constant(expression, sql_type)
    if scalar is None:
        return None
    value = scalar.as_py()
    return sql_type, lambda arguments: value


# SQL comparisons and the Arrow kernels that compute them.
_COMPARISONS = {
    exp.EQ: "equal",
    exp.NEQ: "not_equal",
    exp.GT: "greater",
    exp.GTE: "greater_equal",
    exp.LT: "less",
    exp.LTE: "less_equal",
}
_ARITHMETIC = {exp.Add: "add_checked", exp.Sub: "subtract_checked", exp.Mul: "multiply_checked"}
_STRING_FUNCTIONS = {exp.Upper: "utf8_upper", exp.Lower: "utf8_lower", exp.Length: "utf8_length"}
_SIGNED = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT")
_UNSIGNED = ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_FLOATS = ("FLOAT", "DOUBLE")
# Types whose values Arrow's comparison kernels order exactly as DuckDB does (when both sides
# have the type). UUID and JSON travel as text but do not compare as text; DECIMAL, INTERVAL
# and nested types are DuckDB's.
_ORDERED = {
    *_SIGNED,
    *_UNSIGNED,
    *_FLOATS,
    "VARCHAR",
    "BLOB",
    "BOOLEAN",
    "DATE",
    "TIME",
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
}
_CONSTANT_NODES = (
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Neg,
    exp.Paren,
    exp.Cast,
    exp.DataType,
    exp.DataTypeParam,
)
_NULL_BOOLEAN = pa.scalar(None, pa.bool_())
# Nodes whose kernels cannot fail (given children that cannot): see _Compiler._never_fails.
_NEVER_FAIL = (
    exp.Paren,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Is,
    exp.Null,
    exp.Upper,
    exp.Lower,
    exp.Length,
    exp.DPipe,
    exp.Coalesce,
    exp.Case,
    exp.If,
)


class _Compiler:
    def __init__(self, fields: tuple[Field, ...], kernels_only: bool = False) -> None:
        self.fields = fields
        self.kernels_only = kernels_only

    def type_of(self, node: exp.Expression) -> str:
        return _inference().infer([node], self.fields)[0]

    def compile(self, node: exp.Expression) -> _Run:
        kernel = self._kernel(node)
        if kernel is not None:
            return kernel
        if self.kernels_only:
            raise NeedsDuckDB(duckdb_sql(node)[:80])
        return self._fallback(node)

    def _kernel(self, node: exp.Expression) -> _Run | None:
        if isinstance(node, exp.Column):
            index = ref_index(node)
            return lambda batch, arguments: batch.column(index)
        if isinstance(node, TypedParameter):
            return self._parameter(node)
        if self._folds_to_null(node):
            null = pa.scalar(None, types.to_arrow(self.type_of(node)))
            return lambda batch, arguments: null
        if _is_constant(node):
            scalar = self.constant(node, self.type_of(node))
            return None if scalar is None else (lambda batch, arguments: scalar)
        handler = _HANDLERS.get(type(node))
        return handler(self, node) if handler is not None else None

    # --- constants and parameters ---------------------------------------------------------------

    def _folds_to_null(self, node: exp.Expression) -> bool:
        """Whether DuckDB replaces ``node`` by NULL before running it: an operator whose
        operand is a NULL constant (``NULL + a / 0`` is NULL, it never divides)."""
        if _is_constant(node):
            scalar = self.constant(node, self.type_of(node))
            return scalar is not None and not scalar.is_valid
        return type(node) in _NULL_OPERATORS and any(
            self._folds_to_null(c) for c in node.iter_expressions()
        )

    def constant(self, node: exp.Expression, sql_type: str) -> pa.Scalar | None:
        """The value of constant ``node`` as ``sql_type``; None if DuckDB refuses it."""
        arrow_type = types.to_arrow(sql_type)
        own = self.type_of(node)
        # Python reads a literal as DuckDB does in its own type, and an integer in any other
        # (a DECIMAL converts to a float in DuckDB's own way).
        if own in (sql_type, "NULL") or (own in _SIGNED and sql_type != "FLOAT"):
            literal = _literal(node, arrow_type)
            if literal is not None:
                return literal
        return _fold(f"CAST({duckdb_sql(node)} AS {sql_type})", arrow_type)

    def _parameter(self, node: TypedParameter) -> _Run:
        arrow_type = types.to_arrow(self.type_of(node))
        read = _argument_reader(parameter_number(node), arrow_type)  # type: ignore[arg-type]
        return lambda batch, arguments: pa.scalar(read(arguments), arrow_type)

    def compile_as(self, node: exp.Expression, sql_type: str) -> _Run:
        """``node``'s values in ``sql_type``, a type DuckDB converts them to implicitly."""
        own = self.type_of(node)
        if own == sql_type:
            return self.compile(node)
        if _is_constant(node):
            scalar = self.constant(node, sql_type)
            if scalar is not None:
                return lambda batch, arguments: scalar
        elif _common(own, sql_type) == sql_type:  # a widening: the cast cannot fail
            inner = self.compile(node)
            arrow_type = types.to_arrow(sql_type)
            return lambda batch, arguments: pc.cast(inner(batch, arguments), arrow_type, safe=False)
        if self.kernels_only:
            raise NeedsDuckDB(f"{duckdb_sql(node)[:60]} as {sql_type}")
        return self._fallback(exp.cast(node, sql_type, dialect="duckdb"))

    # --- DuckDB, once per batch ---------------------------------------------------------------

    def _fallback(self, node: exp.Expression) -> _Run:
        """Evaluate ``node`` with DuckDB over the columns it reads."""
        positions = sorted({ref_index(c) for c in node.find_all(exp.Column)})
        readers = {
            str(parameter_number(p)): _argument_reader(
                parameter_number(p),  # type: ignore[arg-type]
                types.to_arrow(self.type_of(p)),
            )
            for p in node.find_all(TypedParameter)
        }
        result_type = self.type_of(node)
        columns = (
            ", ".join(f'CAST("c{i}" AS {self.fields[i].type}) AS "c{i}"' for i in positions)
            or "1 AS __unit"
        )
        query = (
            f"SELECT CAST({duckdb_sql(node)} AS {result_type}) AS v "
            f"FROM (SELECT {columns} FROM batch) AS t"
        )

        def run(batch: pa.Table, arguments: Arguments):
            projected = (
                batch.select([f"c{i}" for i in positions])
                if positions
                else pa.table({"__unit": pa.nulls(batch.num_rows, pa.int8())})
            )
            values = {number: read(arguments) for number, read in readers.items()}
            with _DUCKDB_LOCK:
                connection = _duckdb()
                connection.register("batch", projected)
                try:
                    result = connection.sql(query, params=values or None).to_arrow_table()
                except duckdb.Error as error:
                    raise EvaluationError(str(error).split("\n")[0]) from None
                finally:
                    connection.unregister("batch")
            return result.column(0)

        return run

    # --- logic -----------------------------------------------------------------------------------

    def _boolean(self, node: exp.Expression) -> _Run | None:
        kind = self.type_of(node)
        if kind == "NULL":
            return lambda batch, arguments: _NULL_BOOLEAN
        return self.compile(node) if kind == "BOOLEAN" else None

    def _and_or(self, node: exp.Expression) -> _Run | None:
        kernel = pc.and_kleene if isinstance(node, exp.And) else pc.or_kleene
        left, right = self._boolean(node.this), self._boolean(node.expression)
        if left is None or right is None:
            return None
        return lambda batch, arguments: kernel(left(batch, arguments), right(batch, arguments))

    def _not(self, node: exp.Not) -> _Run | None:
        inner = self._boolean(node.this)
        return (
            None if inner is None else (lambda batch, arguments: pc.invert(inner(batch, arguments)))
        )

    def _is(self, node: exp.Is) -> _Run | None:
        if not isinstance(node.expression, exp.Null):
            return None
        inner = self.compile(node.this)
        negate = bool(node.args.get("negate"))

        def run(batch: pa.Table, arguments: Arguments):
            values = inner(batch, arguments)
            if isinstance(values, pa.Scalar):
                return pa.scalar(values.is_valid == negate)
            return pc.is_valid(values) if negate else pc.is_null(values)

        return run

    # --- comparisons -----------------------------------------------------------------------------

    def _common(self, nodes: list[exp.Expression]) -> str | None:
        """The type DuckDB compares ``nodes`` in, where kernels compare as it does; None
        elsewhere. NULL constants take any type."""
        kinds = [self.type_of(n) for n in nodes]
        # DECIMAL constants beside a float compare as that float (DuckDB converts them).
        decimals = [k.startswith("DECIMAL") and _is_constant(n) for k, n in zip(kinds, nodes)]
        found = [k for k, d in zip(kinds, decimals) if k != "NULL" and not d]
        if not found:
            return None if any(decimals) else "NULL"
        common: str | None = found[0]
        for kind in found[1:]:
            common = _common(common, kind) if common is not None else None
        if any(decimals) and common not in _FLOATS:
            return None
        return common if common in _ORDERED else None

    def _comparison(self, node: exp.Expression) -> _Run | None:
        common = self._common([node.this, node.expression])
        if common is None:
            return None
        if common == "NULL":
            return lambda batch, arguments: _NULL_BOOLEAN
        return _compare(
            _COMPARISONS[type(node)],
            common in _FLOATS,
            self.compile_as(node.this, common),
            self.compile_as(node.expression, common),
        )

    def _between(self, node: exp.Between) -> _Run | None:
        parts = [node.this, node.args["low"], node.args["high"]]
        common = None if node.args.get("symmetric") else self._common(parts)
        if common is None or common == "NULL":
            return None
        value, low, high = (self.compile_as(p, common) for p in parts)
        floats = common in _FLOATS
        above = _compare("greater_equal", floats, value, low)
        below = _compare("less_equal", floats, value, high)
        return lambda batch, arguments: pc.and_kleene(
            above(batch, arguments), below(batch, arguments)
        )

    def _in(self, node: exp.In) -> _Run | None:
        items = node.expressions
        if not items or any(node.args.get(k) for k in ("query", "unnest", "field")):
            return None
        if any(self.type_of(i) == "NULL" for i in items):
            return None  # rare: DuckDB's
        common = self._common([node.this, *items])
        if common is None or common == "NULL":
            return None
        probe = self.compile_as(node.this, common)
        members = [self.compile_as(i, common) for i in items]
        if common in _FLOATS or not all(_is_constant(i) or parameter_number(i) for i in items):
            # As SQL defines IN (Arrow's is_in tells -0.0 from 0.0): equalities, ORed.
            tests = [_compare("equal", common in _FLOATS, probe, m) for m in members]

            def any_equal(batch: pa.Table, arguments: Arguments):
                result = tests[0](batch, arguments)
                for test in tests[1:]:
                    result = pc.or_kleene(result, test(batch, arguments))
                return result

            return any_equal
        arrow_type = types.to_arrow(common)
        empty = pa.table({})

        def value_set(arguments: Arguments) -> tuple[pa.Array, bool]:
            found = [m(empty, arguments).as_py() for m in members]
            present = [v for v in found if v is not None]
            return pa.array(present, arrow_type), len(present) < len(found)

        fixed = value_set(()) if all(_is_constant(i) for i in items) else None

        def run(batch: pa.Table, arguments: Arguments):
            values = _broadcast(probe(batch, arguments), batch.num_rows, arrow_type)
            members, has_null = fixed if fixed is not None else value_set(arguments)
            contained = pc.is_in(values, value_set=members)
            if has_null:  # x IN (.., NULL) is NULL where no item matches
                contained = pc.if_else(contained, True, _NULL_BOOLEAN)
            return pc.if_else(pc.is_null(values), _NULL_BOOLEAN, contained)

        return run

    # --- arithmetic ------------------------------------------------------------------------------

    def _numbers(self, node: exp.Expression) -> tuple[_Run, _Run, pa.DataType] | None:
        """Both operands in the result type, if kernels compute it as DuckDB does."""
        result = self.type_of(node)
        operands = (node.this, node.expression)
        if result in _FLOATS:
            # DuckDB computes FLOAT or DOUBLE op DECIMAL in the float type: so can we, with
            # the DECIMAL a constant that DuckDB converts.
            if not all(_plain_number(self.type_of(o)) or _is_constant(o) for o in operands):
                return None
        elif not (_plain_number(result) and all(_plain_number(self.type_of(o)) for o in operands)):
            return None
        left, right = (self.compile_as(o, result) for o in operands)
        return left, right, types.to_arrow(result)

    def _arithmetic(self, node: exp.Expression) -> _Run | None:
        found = self._numbers(node)
        if found is None:
            return None
        left, right, result = found
        name = _ARITHMETIC[type(node)]
        # Integers: checked in the result type, so overflow fails where DuckDB's does.
        kernel = getattr(pc, name if pa.types.is_integer(result) else name.replace("_checked", ""))
        return lambda batch, arguments: kernel(left(batch, arguments), right(batch, arguments))

    def _divide(self, node: exp.Div) -> _Run | None:
        found = self._numbers(node)
        if found is None or not pa.types.is_integer(found[2]):
            return None  # DuckDB's float division by zero is an error, pyarrow's is inf
        left, right, _ = found
        return lambda batch, arguments: pc.divide_checked(
            left(batch, arguments), right(batch, arguments)
        )

    def _modulo(self, node: exp.Mod) -> _Run | None:
        """``a % b`` with C's fmod, as DuckDB: the dividend's sign; integer ``% 0`` is an error."""
        found = self._numbers(node)
        if found is None:
            return None
        left, right, result = found
        integer = pa.types.is_integer(result)

        def run(batch: pa.Table, arguments: Arguments):
            n = batch.num_rows
            a = _broadcast(left(batch, arguments), n, result)
            b = _broadcast(right(batch, arguments), n, result)
            valid = pc.and_(pc.is_valid(a), pc.is_valid(b)).to_numpy(zero_copy_only=False)
            x = pc.fill_null(a, 0).to_numpy(zero_copy_only=False)
            y = pc.fill_null(b, 1).to_numpy(zero_copy_only=False)
            if integer and (y[valid] == 0).any():
                raise EvaluationError("Division by zero in a % expression")
            with np.errstate(invalid="ignore", divide="ignore"):
                remainder = np.fmod(x, np.where(valid, y, 1) if integer else y)
            return pa.array(remainder, type=result, mask=~valid)

        return run

    def _negate(self, node: exp.Neg) -> _Run | None:
        kind = self.type_of(node.this)
        if kind not in _SIGNED and kind not in _FLOATS or self.type_of(node) != kind:
            return None
        inner = self.compile(node.this)
        return lambda batch, arguments: pc.negate_checked(inner(batch, arguments))

    # --- text ------------------------------------------------------------------------------------

    def _string_function(self, node: exp.Expression) -> _Run | None:
        if self.type_of(node.this) != "VARCHAR":
            return None
        inner = self.compile(node.this)
        kernel = getattr(pc, _STRING_FUNCTIONS[type(node)])
        if isinstance(node, exp.Length):
            return lambda batch, arguments: pc.cast(kernel(inner(batch, arguments)), pa.int64())
        return lambda batch, arguments: kernel(inner(batch, arguments))

    def _concatenate(self, node: exp.DPipe) -> _Run | None:
        if self.type_of(node.this) != "VARCHAR" or self.type_of(node.expression) != "VARCHAR":
            return None
        left, right = self.compile(node.this), self.compile(node.expression)
        return lambda batch, arguments: pc.binary_join_element_wise(
            left(batch, arguments), right(batch, arguments), ""
        )

    # --- conditional values ----------------------------------------------------------------------

    def _values_as(self, node: exp.Expression, parts: list[exp.Expression]) -> list[_Run] | None:
        """``parts`` compiled in ``node``'s type, where each converts to it as DuckDB does."""
        result = self.type_of(node)
        if result == "NULL":
            return None
        for part in parts:
            kind = self.type_of(part)
            if kind not in (result, "NULL") and _common(kind, result) != result:
                return None
        return [self.compile_as(p, result) for p in parts]

    def _never_fails(self, node: exp.Expression) -> bool:
        """Whether kernels compute ``node`` without an error on any row. DuckDB evaluates the
        branches of CASE and the later arguments of COALESCE only on the rows that reach them
        (``CASE WHEN b <> 0 THEN a / b END``); kernels evaluate every row, so such parts must
        be of these, or the whole CASE is DuckDB's."""
        if isinstance(node, (exp.Column, TypedParameter)):
            return True
        if _is_constant(node):
            return self.constant(node, self.type_of(node)) is not None
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Neg)):
            safe = self.type_of(node) in _FLOATS and self._kernel(node) is not None
        elif type(node) in _COMPARISONS or isinstance(node, (exp.Between, exp.In)):
            safe = self._kernel(node) is not None
        else:
            safe = isinstance(node, _NEVER_FAIL)
        return safe and all(self._never_fails(c) for c in node.iter_expressions())

    def _coalesce(self, node: exp.Coalesce) -> _Run | None:
        if not all(self._never_fails(e) for e in node.expressions):
            return None
        compiled = self._values_as(node, [node.this, *node.expressions])
        if compiled is None:
            return None
        arrow_type = types.to_arrow(self.type_of(node))
        return lambda batch, arguments: pc.coalesce(
            *[_broadcast(c(batch, arguments), batch.num_rows, arrow_type) for c in compiled]
        )

    def _case(self, node: exp.Case) -> _Run | None:
        if node.this is not None:
            return None  # CASE x WHEN ...: DuckDB's
        ifs = node.args.get("ifs") or []
        default = node.args.get("default")
        lazy = [*(i.args["true"] for i in ifs), *(i.this for i in ifs[1:])]
        if not all(self._never_fails(p) for p in lazy + [default] if p is not None):
            return None
        values = self._values_as(node, [i.args["true"] for i in ifs] + [default or exp.Null()])
        conditions = [self._boolean(i.this) for i in ifs]
        if values is None or any(c is None for c in conditions):
            return None
        arrow_type = types.to_arrow(self.type_of(node))

        def run(batch: pa.Table, arguments: Arguments):
            n = batch.num_rows
            chosen = [
                pc.fill_null(_broadcast(c(batch, arguments), n, pa.bool_()), False)  # type: ignore[misc]
                for c in conditions
            ]
            names = [f"c{i}" for i in range(len(chosen))]
            cases = [_broadcast(v(batch, arguments), n, arrow_type) for v in values]
            return pc.case_when(pc.make_struct(*chosen, field_names=names), *cases)

        return run


# Operators that DuckDB folds to NULL when an operand is a NULL constant.
_NULL_OPERATORS = {
    *_COMPARISONS,
    *_ARITHMETIC,
    *_STRING_FUNCTIONS,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Not,
    exp.DPipe,
    exp.Paren,
}

_HANDLERS: dict[type, Callable[[_Compiler, exp.Expression], _Run | None]] = {
    exp.Paren: lambda self, node: self.compile(node.this),
    exp.And: _Compiler._and_or,
    exp.Or: _Compiler._and_or,
    exp.Not: _Compiler._not,
    exp.Is: _Compiler._is,
    **dict.fromkeys(_COMPARISONS, _Compiler._comparison),
    exp.Between: _Compiler._between,
    exp.In: _Compiler._in,
    **dict.fromkeys(_ARITHMETIC, _Compiler._arithmetic),
    exp.Div: _Compiler._divide,
    exp.Mod: _Compiler._modulo,
    exp.Neg: _Compiler._negate,
    **dict.fromkeys(_STRING_FUNCTIONS, _Compiler._string_function),
    exp.DPipe: _Compiler._concatenate,
    exp.Coalesce: _Compiler._coalesce,
    exp.Case: _Compiler._case,
}


# --- kernels ---------------------------------------------------------------------------------


def _compare(name: str, floats: bool, left: _Run, right: _Run) -> _Run:
    kernel = getattr(pc, name)
    if floats:
        return _compare_floats(name, left, right)
    return lambda batch, arguments: kernel(left(batch, arguments), right(batch, arguments))


def _compare_floats(name: str, left: _Run, right: _Run) -> _Run:
    """Comparison ``name`` in DuckDB's order of floats: NaN equals NaN and is above every
    number (IEEE comparisons with NaN are all false). Where a side is NaN, its NaN flag
    (1 = NaN) is compared instead of its value."""
    kernel = getattr(pc, name)
    # flags[(a, b)]: the comparison of NaN flags a and b (NaN > 1.0 is flag 1 > flag 0)
    flags = {(a, b): kernel(pa.scalar(a), pa.scalar(b)).as_py() for a in (0, 1) for b in (0, 1)}

    def run(batch: pa.Table, arguments: Arguments):
        a, b = left(batch, arguments), right(batch, arguments)
        if isinstance(b, pa.Scalar) and not isinstance(a, pa.Scalar):
            return _against_constant(kernel, flags, a, b, constant_first=False)
        if isinstance(a, pa.Scalar) and not isinstance(b, pa.Scalar):
            return _against_constant(kernel, flags, b, a, constant_first=True)
        a_nan, b_nan = pc.is_nan(a), pc.is_nan(b)
        by_flag = kernel(pc.cast(a_nan, pa.int8()), pc.cast(b_nan, pa.int8()))
        return pc.if_else(pc.or_(a_nan, b_nan), by_flag, kernel(a, b))

    return run


def _against_constant(kernel, flags: dict, values, constant: pa.Scalar, constant_first: bool):
    """``_compare_floats`` of a column with a constant, in three kernels instead of seven."""
    found = constant.as_py()
    if found is None:  # NULL everywhere
        return kernel(constant, values) if constant_first else kernel(values, constant)

    def flag(value_nan: int, constant_nan: int) -> bool:
        return flags[(constant_nan, value_nan) if constant_first else (value_nan, constant_nan)]

    if math.isnan(found):
        return pc.if_else(pc.is_nan(values), flag(1, 1), flag(0, 1))
    compared = kernel(constant, values) if constant_first else kernel(values, constant)
    return pc.if_else(pc.is_nan(values), flag(1, 0), compared)


def _broadcast(values, n: int, arrow_type: pa.DataType):
    """A column of ``n`` values of ``arrow_type`` (a scalar is repeated)."""
    if isinstance(values, pa.Scalar):
        values = pa.repeat(values, n)
    return values if values.type == arrow_type else values.cast(arrow_type)


# --- types -----------------------------------------------------------------------------------


def _plain_number(sql_type: str) -> bool:
    return sql_type in _SIGNED or sql_type in _UNSIGNED or sql_type in _FLOATS


def _common(a: str, b: str) -> str | None:
    """The type DuckDB compares (and computes) two plain numbers in, where a cast to it never
    fails: a float if either is one (FLOAT beside any integer), else the narrowest integer
    holding both; None for other types and for UBIGINT beside a signed type (HUGEINT)."""
    if a == b:
        return a
    if not (_plain_number(a) and _plain_number(b)):
        return None
    if a in _FLOATS or b in _FLOATS:
        return "DOUBLE" if "DOUBLE" in (a, b) else "FLOAT"
    if (a in _SIGNED) == (b in _SIGNED):
        order = _SIGNED if a in _SIGNED else _UNSIGNED
        return order[max(order.index(a), order.index(b))]
    signed, unsigned = (a, b) if a in _SIGNED else (b, a)
    rank = max(_SIGNED.index(signed), _UNSIGNED.index(unsigned) + 1)
    return _SIGNED[rank] if rank < len(_SIGNED) else None


def _is_constant(node: exp.Expression) -> bool:
    """A literal or a cast of one (a typed literal), whatever the nesting."""
    return all(isinstance(n, _CONSTANT_NODES) for n in node.walk())


def _literal(node: exp.Expression, arrow_type: pa.DataType) -> pa.Scalar | None:
    """A plain literal's value as Python reads it exactly (None: ask DuckDB)."""
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this
    if isinstance(node, exp.Null):
        return pa.scalar(None, arrow_type)
    if isinstance(node, exp.Boolean):
        return pa.scalar(node.this) if pa.types.is_boolean(arrow_type) and not negative else None
    if not isinstance(node, exp.Literal):
        return None
    text = node.this
    if node.is_string:
        return None if negative or not pa.types.is_string(arrow_type) else pa.scalar(text)
    try:
        if pa.types.is_integer(arrow_type):
            value: object = int(text)
        elif pa.types.is_decimal(arrow_type):
            value = decimal.Decimal(text)
        elif pa.types.is_float64(arrow_type):
            value = float(text)
        else:
            return None
        return pa.scalar(-value if negative else value, arrow_type)  # type: ignore[operator]
    except (ValueError, ArithmeticError, pa.ArrowInvalid):
        return None


def _fold(sql: str, arrow_type: pa.DataType) -> pa.Scalar | None:
    """The value of constant ``sql``, computed once by DuckDB (None if it fails: then the
    expression is evaluated with each batch, which reports the error where DuckDB would)."""
    with _DUCKDB_LOCK:
        if sql not in _FOLDED:
            try:
                column = _duckdb().sql(f"SELECT {sql} AS v").to_arrow_table().column(0)
                value: pa.Scalar | None = pc.cast(column, arrow_type)[0]
            except (duckdb.Error, pa.ArrowInvalid, pa.ArrowNotImplementedError):
                value = None
            if len(_FOLDED) >= _FOLDED_KEPT:
                _FOLDED.pop(next(iter(_FOLDED)))
            _FOLDED[sql] = value
        return _FOLDED[sql]


def _argument_reader(number: int, arrow_type: pa.DataType) -> Callable[[Arguments], object]:
    """A function from a run's arguments to the value of ``$number`` (None for NULL), checked
    against its type: an int for an integer (in range), a float or an int for a float, a str
    for text, a bool for a BOOLEAN, whatever Arrow takes for the others."""
    if pa.types.is_integer(arrow_type):
        info = np.iinfo(arrow_type.to_pandas_dtype())
        low, high = int(info.min), int(info.max)

        def check(value):
            if type(value) is int and low <= value <= high:
                return value
            return _refuse(number, value, arrow_type)

    elif pa.types.is_floating(arrow_type):

        def check(value):
            return (
                float(value) if type(value) in (float, int) else _refuse(number, value, arrow_type)
            )

    elif arrow_type in (pa.string(), pa.bool_()):
        python_type = str if arrow_type == pa.string() else bool

        def check(value):
            return value if type(value) is python_type else _refuse(number, value, arrow_type)

    else:

        def check(value):
            try:
                return pa.scalar(value, arrow_type).as_py()
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                return _refuse(number, value, arrow_type)

    def read(arguments: Arguments):
        if number > len(arguments):
            raise ArgumentError(f"parameter ${number} has no value")
        value = arguments[number - 1]
        return None if value is None else check(value)

    return read


def _refuse(number: int, value: object, arrow_type: pa.DataType):
    raise ArgumentError(f"parameter ${number}: {value!r} is not a value of type {arrow_type}")


def _inference() -> TypeInference:
    global _INFERENCE
    if _INFERENCE is None:
        _INFERENCE = TypeInference()
    return _INFERENCE


def _duckdb() -> duckdb.DuckDBPyConnection:
    global _DUCKDB
    if _DUCKDB is None:
        _DUCKDB = connect_locked()
    return _DUCKDB
