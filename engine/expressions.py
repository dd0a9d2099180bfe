"""Compiling bound scalar expressions to functions over Arrow batches.

An expression (sqlglot AST over columns ``c0``..) compiles to a closure over ``pyarrow.compute``
where a kernel with exactly DuckDB's semantics exists; any other subtree is evaluated by DuckDB
over the batch (one call per batch, not per row). Results are cast to the type the binder
inferred, so both paths agree on types.

>>> import pyarrow as pa
>>> from tidal.sql.plan import Field
>>> from tidal.sql.parser import parse_statement
>>> e = parse_statement('SELECT "c0" * 2 + 1').expressions[0]
>>> compile_expression(e, (Field("x", "INTEGER"),))(pa.table({"c0": [1, None]})).to_pylist()
[3, None]
"""

from __future__ import annotations

import decimal
from collections.abc import Callable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.sqlstate import DATA_EXCEPTION, TidalError
from tidal.sql.plan import Field, ref_index
from tidal.sql.typeinfer import TypeInference, connect_locked, duckdb_sql

Evaluator = Callable[[pa.Table], pa.ChunkedArray | pa.Array]

_INFERENCE: TypeInference | None = None
_FALLBACK: duckdb.DuckDBPyConnection | None = None


def _inference() -> TypeInference:
    global _INFERENCE
    if _INFERENCE is None:
        _INFERENCE = TypeInference()
    return _INFERENCE


def _duckdb() -> duckdb.DuckDBPyConnection:
    global _FALLBACK
    if _FALLBACK is None:
        _FALLBACK = connect_locked()
    return _FALLBACK


def compile_expression(
    expression: exp.Expression, fields: tuple[Field, ...], result_type: str | None = None
) -> Evaluator:
    """A function from a batch (columns ``c0``..) to the expression's values, as ``result_type``."""
    compiler = _Compiler(fields)
    if result_type is None:
        result_type = compiler.type_of(expression)
    evaluate = compiler.compile(expression)
    arrow_type = types.to_arrow(result_type)

    def run(batch: pa.Table) -> pa.ChunkedArray | pa.Array:
        try:
            values = evaluate(batch)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise EvaluationError(str(error)) from None
        return _broadcast(values, batch.num_rows, arrow_type)

    return run


def compile_predicate(expression: exp.Expression, fields: tuple[Field, ...]) -> Evaluator:
    """Like compile_expression for a WHERE condition: NULL counts as false."""
    evaluate = compile_expression(expression, fields, "BOOLEAN")

    def run(batch: pa.Table):
        return pc.fill_null(evaluate(batch), False)

    return run


# SQL comparisons and the Arrow kernels that compute them (also used by tidal.engine.native).
COMPARISONS = {
    exp.EQ: "equal",
    exp.NEQ: "not_equal",
    exp.GT: "greater",
    exp.GTE: "greater_equal",
    exp.LT: "less",
    exp.LTE: "less_equal",
}
_ARITHMETIC = {exp.Add: "add_checked", exp.Sub: "subtract_checked", exp.Mul: "multiply_checked"}
_STRING_FUNCTIONS = {exp.Upper: "utf8_upper", exp.Lower: "utf8_lower", exp.Length: "utf8_length"}


class _Compiler:
    def __init__(self, fields: tuple[Field, ...]) -> None:
        self.fields = fields

    def type_of(self, node: exp.Expression) -> str:
        return _inference().infer([node], self.fields)[0]

    def compile(self, node: exp.Expression) -> Evaluator:
        native = self._native(node)
        return native if native is not None else self._fallback(node)

    def _native(self, node: exp.Expression) -> Evaluator | None:
        if isinstance(node, exp.Paren):
            return self.compile(node.this)
        if isinstance(node, exp.Column):
            index = ref_index(node)
            return lambda batch: batch.column(index)
        if isinstance(node, (exp.Literal, exp.Boolean, exp.Null)):
            return self._literal(node)
        if isinstance(node, (exp.And, exp.Or)):
            kernel = pc.and_kleene if isinstance(node, exp.And) else pc.or_kleene
            left, right = self._boolean(node.this), self._boolean(node.expression)
            if left is None or right is None:
                return None
            return lambda batch: kernel(left(batch), right(batch))
        if isinstance(node, exp.Not):
            inner = self._boolean(node.this)
            return None if inner is None else (lambda batch: pc.invert(inner(batch)))
        if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
            inner = self.compile(node.this)
            return lambda batch: _is_null(inner(batch), batch.num_rows)
        if type(node) in COMPARISONS:
            return self._comparison(node)
        if type(node) in _ARITHMETIC:
            return self._arithmetic(node, _ARITHMETIC[type(node)])
        if isinstance(node, exp.Div):
            return self._divide(node)
        if isinstance(node, exp.Mod):
            return self._modulo(node)
        if isinstance(node, exp.Neg):
            if not self._is_plain_number(node.this):
                return None
            inner = self.compile(node.this)
            return lambda batch: pc.negate_checked(inner(batch))
        if type(node) in _STRING_FUNCTIONS and self.type_of(node.this) == "VARCHAR":
            inner = self.compile(node.this)
            kernel = getattr(pc, _STRING_FUNCTIONS[type(node)])
            if isinstance(node, exp.Length):
                return lambda batch: pc.cast(kernel(inner(batch)), pa.int64())
            return lambda batch: kernel(inner(batch))
        if (
            isinstance(node, exp.DPipe)
            and self.type_of(node.this) == "VARCHAR"
            and self.type_of(node.expression) == "VARCHAR"
        ):
            left, right = self.compile(node.this), self.compile(node.expression)
            return lambda batch: pc.binary_join_element_wise(left(batch), right(batch), "")
        if isinstance(node, exp.Between):
            return self._between(node)
        if isinstance(node, exp.Coalesce):
            return self._same_typed(node, [node.this] + list(node.expressions), pc.coalesce)
        if isinstance(node, exp.Case) and node.this is None:
            return self._case(node)
        if isinstance(node, exp.In) and not node.args.get("query"):
            return self._in(node)
        return None

    def _fallback(self, node: exp.Expression) -> Evaluator:
        """Evaluate ``node`` with DuckDB over the columns it reads."""
        positions = sorted({ref_index(c) for c in node.find_all(exp.Column)})
        result_type = self.type_of(node)
        casts = {i: self.fields[i].type for i in positions}
        select = duckdb_sql(node)
        columns = (
            ", ".join(f'CAST("c{i}" AS {t}) AS "c{i}"' for i, t in casts.items()) or "1 AS __unit"
        )
        query = (
            f"SELECT CAST({select} AS {result_type}) AS v FROM (SELECT {columns} FROM batch) AS t"
        )

        def run(batch: pa.Table):
            projected = (
                batch.select([f"c{i}" for i in positions])
                if positions
                else pa.table({"__unit": pa.nulls(batch.num_rows, pa.int8())})
            )
            connection = _duckdb()
            connection.register("batch", projected)
            try:
                result = connection.sql(query).to_arrow_table()
            except duckdb.Error as error:
                raise EvaluationError(str(error).split("\n")[0]) from None
            finally:
                connection.unregister("batch")
            return result.column(0)

        return run

    def _literal(self, node: exp.Expression) -> Evaluator | None:
        result_type = self.type_of(node)
        if result_type == "NULL":
            return None
        value = self._python_value(node)
        if result_type.startswith("DECIMAL"):
            value = decimal.Decimal(node.this)
        arrow_type = types.to_arrow(result_type)
        scalar = pa.scalar(value, arrow_type)
        return lambda batch: scalar

    @staticmethod
    def _python_value(node: exp.Expression):
        if isinstance(node, exp.Null):
            return None
        if isinstance(node, exp.Boolean):
            return node.this
        if node.is_string:
            return node.this
        text = node.this
        return float(text) if any(ch in text for ch in ".eE") else int(text)

    def _boolean(self, node: exp.Expression) -> Evaluator | None:
        if self.type_of(node) != "BOOLEAN":
            return None
        return self.compile(node)

    def _is_plain_number(self, node: exp.Expression) -> bool:
        arrow_type = types.to_arrow(self.type_of(node))
        return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)

    def _comparable(self, a: exp.Expression, b: exp.Expression) -> bool:
        ta, tb = self.type_of(a), self.type_of(b)
        if ta == tb and not ta.startswith("DECIMAL") and ta not in ("NULL", "INTERVAL"):
            return True
        return self._is_plain_number(a) and self._is_plain_number(b)

    def _comparison(self, node: exp.Expression) -> Evaluator | None:
        if not self._comparable(node.this, node.expression):
            return None
        left, right = self.compile(node.this), self.compile(node.expression)
        kernel = getattr(pc, COMPARISONS[type(node)])
        if self._is_float(node.this) or self._is_float(node.expression):
            return lambda batch: _compare_floats(kernel, left(batch), right(batch))
        return lambda batch: kernel(left(batch), right(batch))

    def _is_float(self, node: exp.Expression) -> bool:
        return pa.types.is_floating(types.to_arrow(self.type_of(node)))

    def _arithmetic(self, node: exp.Expression, kernel_name: str) -> Evaluator | None:
        result = types.to_arrow(self.type_of(node))
        if (
            pa.types.is_floating(result)
            and self._is_number(node.this)
            and self._is_number(node.expression)
        ):
            # DuckDB computes DOUBLE op DECIMAL in DOUBLE: so can we.
            left, right = self.compile(node.this), self.compile(node.expression)
            kernel = getattr(pc, kernel_name.replace("_checked", ""))
            return lambda batch: kernel(_as(left(batch), result), _as(right(batch), result))
        if not (self._is_plain_number(node.this) and self._is_plain_number(node.expression)):
            return None
        left, right = self.compile(node.this), self.compile(node.expression)
        kernel = getattr(pc, kernel_name)
        # Compute in the result type so integer overflow is detected where DuckDB detects it.
        return lambda batch: kernel(_as(left(batch), result), _as(right(batch), result))

    def _divide(self, node: exp.Div) -> Evaluator | None:
        if not (self._is_plain_number(node.this) and self._is_plain_number(node.expression)):
            return None
        result = types.to_arrow(self.type_of(node))
        if not pa.types.is_integer(result):
            return None  # DuckDB's float division by zero is an error, pyarrow's is inf
        left, right = self.compile(node.this), self.compile(node.expression)
        return lambda batch: pc.divide_checked(_as(left(batch), result), _as(right(batch), result))

    def _modulo(self, node: exp.Mod) -> Evaluator | None:
        """``a % b`` with C's fmod, as DuckDB: the dividend's sign; integer ``% 0`` is an error."""
        if not (self._is_plain_number(node.this) and self._is_plain_number(node.expression)):
            return None
        result = types.to_arrow(self.type_of(node))
        left, right = self.compile(node.this), self.compile(node.expression)
        integer = pa.types.is_integer(result)

        def run(batch: pa.Table):
            n = batch.num_rows
            a, b = _broadcast(left(batch), n, result), _broadcast(right(batch), n, result)
            valid = pc.and_(pc.is_valid(a), pc.is_valid(b)).to_numpy(zero_copy_only=False)
            x = pc.fill_null(a, 0).to_numpy(zero_copy_only=False)
            y = pc.fill_null(b, 1).to_numpy(zero_copy_only=False)
            if integer and (y[valid] == 0).any():
                raise EvaluationError("Division by zero in a % expression")
            with np.errstate(invalid="ignore", divide="ignore"):
                remainder = np.fmod(x, np.where(valid, y, 1) if integer else y)
            return pa.array(remainder, type=result, mask=~valid)

        return run

    def _is_number(self, node: exp.Expression) -> bool:
        return self._is_plain_number(node) or self.type_of(node).startswith("DECIMAL")

    def _between(self, node: exp.Between) -> Evaluator | None:
        low = exp.GTE(this=node.this, expression=node.args["low"])
        high = exp.LTE(this=node.this, expression=node.args["high"])
        if self._comparison(low) is None or self._comparison(high) is None:
            return None
        return self._native(exp.And(this=low, expression=high))

    def _same_typed(
        self, node: exp.Expression, parts: list[exp.Expression], kernel
    ) -> Evaluator | None:
        result_type = self.type_of(node)
        if result_type.startswith("DECIMAL") or any(self.type_of(p) != result_type for p in parts):
            return None
        compiled = [self.compile(p) for p in parts]
        arrow_type = types.to_arrow(result_type)
        return lambda batch: kernel(
            *[_broadcast(c(batch), batch.num_rows, arrow_type) for c in compiled]
        )

    def _case(self, node: exp.Case) -> Evaluator | None:
        result_type = self.type_of(node)
        ifs = node.args.get("ifs") or []
        default = node.args.get("default")
        values = [i.args["true"] for i in ifs] + ([default] if default is not None else [])
        if result_type.startswith("DECIMAL") or any(
            self.type_of(v) != result_type for v in values if not isinstance(v, exp.Null)
        ):
            return None
        conditions = [self._boolean(i.this) for i in ifs]
        if any(c is None for c in conditions):
            return None
        compiled_values = [self.compile(v) for v in values]
        arrow_type = types.to_arrow(result_type)
        has_default = default is not None

        def run(batch: pa.Table):
            n = batch.num_rows
            conds = [pc.fill_null(_broadcast(c(batch), n, pa.bool_()), False) for c in conditions]
            names = [f"c{i}" for i in range(len(conds))]
            cases = [_broadcast(v(batch), n, arrow_type) for v in compiled_values]
            if not has_default:
                cases.append(pa.nulls(n, arrow_type))
            return pc.case_when(pc.make_struct(*conds, field_names=names), *cases)

        return run

    def _in(self, node: exp.In) -> Evaluator | None:
        items = node.expressions
        if not items or any(not isinstance(i, (exp.Literal, exp.Boolean)) for i in items):
            return None
        probe_type = self.type_of(node.this)
        if probe_type.startswith("DECIMAL") or any(
            not self._comparable(node.this, i) for i in items
        ):
            return None
        arrow_type = types.to_arrow(probe_type)
        try:
            value_set = pa.array([self._python_value(i) for i in items]).cast(arrow_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            return None
        probe = self.compile(node.this)

        def run(batch: pa.Table):
            values = _broadcast(probe(batch), batch.num_rows, arrow_type)
            found = pc.is_in(values, value_set=value_set)
            return pc.if_else(pc.is_null(values), pa.scalar(None, pa.bool_()), found)

        return run


class EvaluationError(TidalError):
    """An expression failed on the data (division by zero, overflow, a bad cast)."""

    sqlstate = DATA_EXCEPTION


def _compare_floats(kernel, left, right):
    """``kernel(left, right)`` in DuckDB's order of doubles: NaN equals NaN and is above every
    number (IEEE comparisons with NaN are all false). Where a side is NaN, the NaN flags
    (1 = NaN) are compared instead of the values."""
    left_nan, right_nan = _nan_flag(left), _nan_flag(right)
    by_flag = kernel(left_nan.cast(pa.int8()), right_nan.cast(pa.int8()))
    return pc.if_else(pc.or_(left_nan, right_nan), by_flag, kernel(left, right))


def _nan_flag(values):
    return pc.is_nan(values if pa.types.is_floating(values.type) else values.cast(pa.float64()))


def _as(values, arrow_type: pa.DataType):
    if isinstance(values, pa.Scalar):
        return values.cast(arrow_type) if values.type != arrow_type else values
    return values if values.type == arrow_type else values.cast(arrow_type)


def _broadcast(values, n: int, arrow_type: pa.DataType):
    """A column of ``n`` values of ``arrow_type`` (a scalar is repeated)."""
    if isinstance(values, pa.Scalar):
        values = pa.repeat(values, n)
    return values if values.type == arrow_type else values.cast(arrow_type)


def _is_null(values, n: int):
    if isinstance(values, pa.Scalar):
        return pa.scalar(not values.is_valid)
    return pc.is_null(values)
