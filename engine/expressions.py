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

import functools
from collections.abc import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.sqlstate import DATA_EXCEPTION, TidalError
from tidal.engine.arguments import Arguments, argument_reader
from tidal.engine.constants import fold, is_constant, literal
from tidal.engine.duckdb_fallback import over_batches
from tidal.engine.kernels import (
    FLOATS,
    ORDERED,
    SIGNED,
    Values,
    broadcast,
    common_type,
    comparison,
    plain_number,
    remainder,
)
from tidal.engine.udf import registry
from tidal.engine.udf.evaluation import calls_on_every_row, python_call, with_calls_first
from tidal.sql.plan import Field, TypedParameter, cast, parameter_number, ref_index
from tidal.sql.typeinfer import TypeInference, duckdb_sql

Evaluator = Callable[..., Values]  # (batch, arguments=()) -> values
_Run = Callable[[pa.Table, Arguments], Values]

_INFERENCE: TypeInference | None = None


class EvaluationError(TidalError):
    """An expression failed on the data (division by zero, overflow, a bad cast)."""

    sqlstate = DATA_EXCEPTION


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
    values, as ``result_type``. With ``kernels_only``, an expression that needs DuckDB at each
    run, or that could fail on some row (which DuckDB, filtering, may never evaluate), raises
    NeedsDuckDB instead."""
    compiler = _Compiler(fields, kernels_only)
    if result_type is None:
        result_type = compiler.type_of(expression)
    evaluate = compiler.compile(expression)
    if kernels_only and not compiler.never_fails(expression):
        raise NeedsDuckDB(f"{duckdb_sql(expression)[:80]} could fail")
    arrow_type = _arrow(result_type)

    def run(batch: pa.Table, arguments: Arguments = ()) -> Values:
        if not batch.num_rows:  # DuckDB evaluates nothing (a failing constant included)
            return pa.array([], arrow_type)
        try:
            values = evaluate(batch, arguments)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, duckdb.Error) as error:
            raise EvaluationError(str(error).split("\n")[0]) from None
        return broadcast(values, batch.num_rows, arrow_type)

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
    if number is None and not is_constant(expression):
        return None
    compiler = _Compiler((), kernels_only=True)
    sql_type = compiler.type_of(expression)
    if number is not None:
        return sql_type, argument_reader(number, types.to_arrow(sql_type))
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
_NULL_BOOLEAN = pa.scalar(None, pa.bool_())
# Nodes whose kernels cannot fail (given children that cannot): see _Compiler.never_fails.
# Nodes whose value is a BOOLEAN whatever their operands.
_BOOLEAN_NODES = (*_COMPARISONS, exp.And, exp.Or, exp.Not, exp.Is, exp.Between, exp.In, exp.Boolean)
_NEVER_FAIL = (*_STRING_FUNCTIONS, exp.Paren, exp.And, exp.Or, exp.Not, exp.Is, exp.Null)
_NEVER_FAIL += (exp.DPipe, exp.Coalesce, exp.Case, exp.If)


class _Compiler:
    def __init__(self, fields: tuple[Field, ...], kernels_only: bool = False) -> None:
        self.fields = fields
        self.kernels_only = kernels_only
        # (question, id(node)) -> (node, answer): the questions below are asked many times
        self._answers: dict[tuple[str, int], tuple[exp.Expression, object]] = {}

    def _answer(self, question: str, node: exp.Expression, compute: Callable[[], object]):
        found = self._answers.get((question, id(node)))
        if found is None or found[0] is not node:  # (a node since dropped had that id)
            found = self._answers[(question, id(node))] = (node, compute())
        return found[1]

    def type_of(self, node: exp.Expression) -> str:
        return self._answer("type", node, lambda: self._new_type(node))

    def is_constant(self, node: exp.Expression) -> bool:
        return self._answer("constant?", node, lambda: is_constant(node))

    def _new_type(self, node: exp.Expression) -> str:
        """DuckDB's type of ``node``; the plainest nodes' without asking DuckDB."""
        if isinstance(node, exp.Column):
            return self.fields[ref_index(node)].type
        if isinstance(node, _BOOLEAN_NODES):
            return "BOOLEAN"
        if isinstance(node, exp.Paren):
            return self.type_of(node.this)
        if isinstance(node, exp.Literal) and node.is_string:
            return "VARCHAR"
        if isinstance(node, exp.Literal) and node.this.isdigit() and int(node.this) < 2**31:
            return "INTEGER"
        if isinstance(node, exp.Null):
            return "NULL"
        typed = node.this if isinstance(node, exp.Literal) else node  # a number's text is its SQL
        return _inference().infer([typed], () if self.is_constant(node) else self.fields)[0]

    def compile(self, node: exp.Expression) -> _Run:
        kernel = self._kernel(node)
        if kernel is not None:
            return kernel
        if self.kernels_only:
            raise NeedsDuckDB(duckdb_sql(node)[:80])
        return self.fallback(node)

    def _kernel(self, node: exp.Expression) -> _Run | None:
        return self._answer("kernel", node, lambda: self._new_kernel(node))

    def _new_kernel(self, node: exp.Expression) -> _Run | None:
        if isinstance(node, exp.Column):
            index = ref_index(node)
            return lambda batch, arguments: batch.column(index)
        if isinstance(node, TypedParameter):
            return self._parameter(node)
        if self._folds_to_null(node):
            null = pa.scalar(None, _arrow(self.type_of(node)))
            return lambda batch, arguments: null
        if self.is_constant(node):
            scalar = self.constant(node, self.type_of(node))
            return None if scalar is None else (lambda batch, arguments: scalar)
        function = registry.called(node)
        if function is not None:
            return python_call(function, node, self)
        handler = _HANDLERS.get(type(node))
        return handler(self, node) if handler is not None else None

    # --- constants and parameters ---------------------------------------------------------------

    def _folds_to_null(self, node: exp.Expression) -> bool:
        """Whether DuckDB replaces ``node`` by NULL before running it: an operator whose
        operand is a NULL constant (``NULL + a / 0`` is NULL, it never divides)."""
        return self._answer("null", node, lambda: self._null_folded(node))

    def _null_folded(self, node: exp.Expression) -> bool:
        if self.is_constant(node):
            scalar = self.constant(node, self.type_of(node))
            return scalar is not None and not scalar.is_valid
        return type(node) in _NULL_OPERATORS and any(
            self._folds_to_null(c) for c in node.iter_expressions()
        )

    def constant(self, node: exp.Expression, sql_type: str) -> pa.Scalar | None:
        """The value of constant ``node`` as ``sql_type``; None if DuckDB refuses it."""
        return self._answer(f"as {sql_type}", node, lambda: self._new_constant(node, sql_type))

    def _new_constant(self, node: exp.Expression, sql_type: str) -> pa.Scalar | None:
        arrow_type = _arrow(sql_type)
        own = self.type_of(node)
        # Python reads a literal as DuckDB does in its own type, and an integer in any other
        # (a DECIMAL converts to a float in DuckDB's own way).
        if own in (sql_type, "NULL") or (own in SIGNED and sql_type != "FLOAT"):
            read = literal(node, arrow_type)
            if read is not None:
                return read
        return fold(f"CAST({_sql(node)} AS {sql_type})", arrow_type)

    def _parameter(self, node: TypedParameter) -> _Run:
        arrow_type = _arrow(self.type_of(node))
        read = argument_reader(parameter_number(node), arrow_type)  # type: ignore[arg-type]
        return lambda batch, arguments: pa.scalar(read(arguments), arrow_type)

    def compile_as(self, node: exp.Expression, sql_type: str) -> _Run:
        """``node``'s values in ``sql_type``, a type DuckDB converts them to implicitly."""
        own = self.type_of(node)
        if own == sql_type:
            return self.compile(node)
        if self.is_constant(node):
            scalar = self.constant(node, sql_type)
            if scalar is not None:
                return lambda batch, arguments: scalar
        elif common_type(own, sql_type) == sql_type:  # a widening: the cast cannot fail
            inner = self.compile(node)
            arrow_type = _arrow(sql_type)
            return lambda batch, arguments: pc.cast(inner(batch, arguments), arrow_type, safe=False)
        if self.kernels_only:
            raise NeedsDuckDB(f"{duckdb_sql(node)[:60]} as {sql_type}")
        return self.fallback(cast(node, sql_type))

    def fallback(self, node: exp.Expression) -> _Run:
        """Evaluate ``node`` with DuckDB over the columns it reads (tidal.engine.udf.evaluation
        makes the Python calls on every row first)."""
        if not isinstance(node, exp.Anonymous) and calls_on_every_row(node):
            return with_calls_first(node, self)
        columns = {ref_index(c): self.fields[ref_index(c)].type for c in node.find_all(exp.Column)}
        parameters = {}
        for found in node.find_all(TypedParameter):
            number: int = parameter_number(found)  # type: ignore[assignment]
            parameters[number] = argument_reader(number, _arrow(self.type_of(found)))
        return over_batches(duckdb_sql(node), self.type_of(node), columns, parameters)

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
        decimals = [k.startswith("DECIMAL") and self.is_constant(n) for k, n in zip(kinds, nodes)]
        found = [k for k, d in zip(kinds, decimals) if k != "NULL" and not d]
        if not found:
            return None if any(decimals) else "NULL"
        common: str | None = found[0]
        for kind in found[1:]:
            common = common_type(common, kind) if common is not None else None
        if any(decimals) and common not in FLOATS:
            return None
        return common if common in ORDERED else None

    def _comparison(self, node: exp.Expression) -> _Run | None:
        common = self._common([node.this, node.expression])
        if common is None:
            return None
        if common == "NULL":
            return lambda batch, arguments: _NULL_BOOLEAN
        return _compare(
            _COMPARISONS[type(node)],
            common in FLOATS,
            self.compile_as(node.this, common),
            self.compile_as(node.expression, common),
        )

    def _between(self, node: exp.Between) -> _Run | None:
        parts = [node.this, node.args["low"], node.args["high"]]
        common = None if node.args.get("symmetric") else self._common(parts)
        if common is None or common == "NULL":
            return None
        value, low, high = (self.compile_as(p, common) for p in parts)
        floats = common in FLOATS
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
        if common in FLOATS or not all(self.is_constant(i) or parameter_number(i) for i in items):
            # As SQL defines IN (Arrow's is_in tells -0.0 from 0.0): equalities, ORed.
            tests = [_compare("equal", common in FLOATS, probe, m) for m in members]

            def any_equal(batch: pa.Table, arguments: Arguments):
                result = tests[0](batch, arguments)
                for test in tests[1:]:
                    result = pc.or_kleene(result, test(batch, arguments))
                return result

            return any_equal
        arrow_type = _arrow(common)
        empty = pa.table({})

        def value_set(arguments: Arguments) -> tuple[pa.Array, bool]:
            found = [m(empty, arguments).as_py() for m in members]
            present = [v for v in found if v is not None]
            return pa.array(present, arrow_type), len(present) < len(found)

        fixed = value_set(()) if all(self.is_constant(i) for i in items) else None

        def run(batch: pa.Table, arguments: Arguments):
            values = broadcast(probe(batch, arguments), batch.num_rows, arrow_type)
            allowed, has_null = fixed if fixed is not None else value_set(arguments)
            contained = pc.is_in(values, value_set=allowed)
            if has_null:  # x IN (.., NULL) is NULL where no item matches
                contained = pc.if_else(contained, True, _NULL_BOOLEAN)
            return pc.if_else(pc.is_null(values), _NULL_BOOLEAN, contained)

        return run

    # --- arithmetic ------------------------------------------------------------------------------

    def _numbers(self, node: exp.Expression) -> tuple[_Run, _Run, pa.DataType] | None:
        """Both operands in the result type, if kernels compute it as DuckDB does."""
        result = self.type_of(node)
        operands = (node.this, node.expression)
        if result in FLOATS:
            # DuckDB computes FLOAT or DOUBLE op DECIMAL in the float type: so can we, with
            # the DECIMAL a constant that DuckDB converts.
            if not all(plain_number(self.type_of(o)) or self.is_constant(o) for o in operands):
                return None
        elif not (plain_number(result) and all(plain_number(self.type_of(o)) for o in operands)):
            return None
        left, right = (self.compile_as(o, result) for o in operands)
        return left, right, _arrow(result)

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
        found = self._numbers(node)
        if found is None:
            return None
        left, right, result = found

        def run(batch: pa.Table, arguments: Arguments):
            a, b = left(batch, arguments), right(batch, arguments)
            try:
                return remainder(a, b, batch.num_rows, result)
            except ZeroDivisionError:
                raise EvaluationError("Division by zero in a % expression") from None

        return run

    def _negate(self, node: exp.Neg) -> _Run | None:
        kind = self.type_of(node.this)
        if kind not in SIGNED and kind not in FLOATS or self.type_of(node) != kind:
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
            if kind not in (result, "NULL") and common_type(kind, result) != result:
                return None
        return [self.compile_as(p, result) for p in parts]

    def never_fails(self, node: exp.Expression) -> bool:
        """Whether kernels compute ``node`` without an error on any row. DuckDB evaluates the
        branches of CASE and the later arguments of COALESCE only on the rows that reach them
        (``CASE WHEN b <> 0 THEN a / b END``), and filters may skip rows; kernels evaluate
        every row, so such parts must never fail (or the whole CASE is DuckDB's)."""
        if isinstance(node, (exp.Column, TypedParameter)) or self._folds_to_null(node):
            return True
        if self.is_constant(node):
            return self.constant(node, self.type_of(node)) is not None
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul, exp.Neg)):
            safe = self.type_of(node) in FLOATS and self._kernel(node) is not None
        elif type(node) in _COMPARISONS or isinstance(node, (exp.Between, exp.In)):
            safe = self._kernel(node) is not None
        else:
            safe = isinstance(node, _NEVER_FAIL)
        return safe and all(self.never_fails(c) for c in node.iter_expressions())

    def _coalesce(self, node: exp.Coalesce) -> _Run | None:
        if not all(self.never_fails(e) for e in node.expressions):
            return None
        compiled = self._values_as(node, [node.this, *node.expressions])
        if compiled is None:
            return None
        arrow_type = _arrow(self.type_of(node))
        return lambda batch, arguments: pc.coalesce(
            *[broadcast(c(batch, arguments), batch.num_rows, arrow_type) for c in compiled]
        )

    def _case(self, node: exp.Case) -> _Run | None:
        if node.this is not None:
            return None  # CASE x WHEN ...: DuckDB's
        ifs = node.args.get("ifs") or []
        default = node.args.get("default")
        lazy = [*(i.args["true"] for i in ifs), *(i.this for i in ifs[1:])]
        if not all(self.never_fails(p) for p in lazy + [default] if p is not None):
            return None
        values = self._values_as(node, [i.args["true"] for i in ifs] + [default or exp.Null()])
        conditions = [self._boolean(i.this) for i in ifs]
        if values is None or any(c is None for c in conditions):
            return None
        arrow_type = _arrow(self.type_of(node))

        def run(batch: pa.Table, arguments: Arguments):
            n = batch.num_rows
            flags = [
                broadcast(c(batch, arguments), n, pa.bool_())  # type: ignore[misc]
                for c in conditions
            ]
            chosen = [pc.fill_null(f, False) for f in flags]
            names = [f"c{i}" for i in range(len(chosen))]
            cases = [broadcast(v(batch, arguments), n, arrow_type) for v in values]
            return pc.case_when(pc.make_struct(*chosen, field_names=names), *cases)

        return run


# Operators that DuckDB folds to NULL when an operand is a NULL constant.
_NULL_OPERATORS = {*_COMPARISONS, *_ARITHMETIC, *_STRING_FUNCTIONS, exp.Div, exp.Mod, exp.Neg}
_NULL_OPERATORS |= {exp.Not, exp.DPipe, exp.Paren}

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


def _compare(name: str, floats: bool, left: _Run, right: _Run) -> _Run:
    compare = comparison(name, floats)
    return lambda batch, arguments: compare(left(batch, arguments), right(batch, arguments))


def _sql(node: exp.Expression) -> str:
    """``node`` as DuckDB SQL; a number literal's is its text (no need to write it out)."""
    return node.this if isinstance(node, exp.Literal) and not node.is_string else duckdb_sql(node)


@functools.cache
def _arrow(sql_type: str) -> pa.DataType:
    return types.to_arrow(sql_type)


def _inference() -> TypeInference:
    global _INFERENCE
    if _INFERENCE is None:
        _INFERENCE = TypeInference()
    return _INFERENCE
