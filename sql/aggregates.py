"""Aggregate calls in SELECT / HAVING / ORDER BY: finding them, typing them, and rewriting the
expressions above an Aggregate node to read its output columns."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from tidal.catalog.sqlstate import WRONG_OBJECT_TYPE
from tidal.sql.errors import SqlError, grouping_error, unsupported
from tidal.sql.plan import AggregateCall, Field, ref
from tidal.sql.scope import Scope
from tidal.sql.typeinfer import TypeInference

# Aggregate functions tidal maintains, by sqlglot node, with their DuckDB names.
SUPPORTED: dict[type, str] = {
    exp.Count: "count",
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
    exp.LogicalAnd: "bool_and",
    exp.LogicalOr: "bool_or",
    exp.Stddev: "stddev_samp",
    exp.StddevSamp: "stddev_samp",
    exp.StddevPop: "stddev_pop",
    exp.Variance: "var_samp",
    exp.VariancePop: "var_pop",
}

# Aggregates that can be undone (a retraction subtracts): maintained with accumulators alone.
INVERTIBLE = ("count_star", "count", "sum", "avg")

# Functions that only make sense with OVER (...).
WINDOW_ONLY = (
    exp.RowNumber,
    exp.Rank,
    exp.DenseRank,
    exp.PercentRank,
    exp.CumeDist,
    exp.Ntile,
    exp.Lag,
    exp.Lead,
    exp.FirstValue,
    exp.LastValue,
    exp.NthValue,
)


def _units(node: exp.Expression):
    """Aggregate call units (an AggFunc, or FILTER wrapped around one) outside OVER (...)."""
    if isinstance(node, exp.Window):
        for arg in node.this.iter_expressions():
            yield from _units(arg)
        return
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.AggFunc):
        yield node
        return
    if isinstance(node, exp.AggFunc) and not isinstance(node, WINDOW_ONLY):
        yield node
        return
    if isinstance(node, WINDOW_ONLY):
        raise SqlError(
            f"window function {shown(node)} requires an OVER clause: add OVER (...)",
            sqlstate=WRONG_OBJECT_TYPE,
        )
    for child in node.iter_expressions():
        yield from _units(child)


def shown(node: exp.Expression) -> str:
    """A call as SQL for a message, with columns already bound to positions shown as ``...``
    (``SUM(SUM(...))``), since their internal names mean nothing to the user."""

    def hide(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and re.fullmatch(r"c\d+", n.name) and n.this.quoted:
            return exp.Var(this="...")
        return n

    return node.copy().transform(hide, copy=False).sql()


def contains_aggregate(expression: exp.Expression) -> bool:
    return next(_units(expression), None) is not None


@dataclass
class Call:
    """One distinct aggregate call found in the query (its bound AST ``node``)."""

    node: exp.Expression
    name: str
    args: list[exp.Expression]
    distinct: bool
    filter: exp.Expression | None

    @property
    def inputs(self) -> list[exp.Expression]:
        return self.args + ([self.filter] if self.filter is not None else [])

    def plan_call(
        self, position: dict, fields: tuple[Field, ...], infer: TypeInference
    ) -> AggregateCall:
        args = tuple(position[a] for a in self.args)
        filter_ = position[self.filter] if self.filter is not None else None
        probe = call_sql(self.name, args, self.distinct, filter_)
        (result_type,) = infer.infer([probe], fields)
        return AggregateCall(self.name, args, self.distinct, filter_, result_type)


def call_sql(
    name: str, args: tuple[int, ...], distinct: bool, filter_: int | None
) -> exp.Expression:
    """The SQL of an aggregate call over positional columns (used to type it and to lower it)."""
    if name == "count_star":
        call: exp.Expression = exp.Count(this=exp.Star())
    else:
        arguments = [ref(a) for a in args]
        if distinct:
            arguments = [exp.Distinct(expressions=arguments)]
        call = exp.Anonymous(this=name, expressions=arguments)
    if filter_ is not None:
        call = exp.Filter(this=call, expression=exp.Where(this=ref(filter_)))
    return call


def collect(expressions: list[exp.Expression]) -> list[Call]:
    calls: list[Call] = []
    for expression in expressions:
        for unit in _units(expression):
            if not any(c.node == unit for c in calls):
                calls.append(_call(unit))
    return calls


def _call(unit: exp.Expression) -> Call:
    filter_ = None
    func = unit
    if isinstance(unit, exp.Filter):
        func, filter_ = unit.this, unit.expression.this
    name = SUPPORTED.get(type(func))
    if name is None:
        raise unsupported(
            f"aggregate function {shown(func)}: tidal maintains "
            f"{', '.join(sorted(set(SUPPORTED.values())))}"
        )
    args = [a for a in _arguments(func)]
    distinct = False
    if len(args) == 1 and isinstance(args[0], exp.Distinct):
        distinct = True
        args = list(args[0].expressions)
    if name == "count" and (not args or isinstance(args[0], exp.Star)):
        if distinct:
            raise SqlError("COUNT(DISTINCT *) is not valid: name the columns")
        name, args = "count_star", []
    if len(args) != 1 and name != "count_star":
        raise unsupported(f"{shown(func)}: aggregates take one argument")
    for arg in args + ([filter_] if filter_ is not None else []):
        if contains_aggregate(arg):
            raise grouping_error(f"aggregate function calls cannot be nested: {shown(func)}")
        if arg.find(exp.Window):
            raise grouping_error(
                f"window functions are not allowed in aggregate arguments: {shown(func)}"
            )
    return Call(unit, name, args, distinct, filter_)


def _arguments(func: exp.Expression) -> list[exp.Expression]:
    args = []
    if func.this is not None and isinstance(func.this, exp.Expression):
        args.append(func.this)
    args.extend(func.expressions)
    return args


class Rewriter:
    """Rewrites a bound expression to read an Aggregate's output: group keys first, then calls."""

    def __init__(self, keys: list[exp.Expression], calls: list[Call], scope: Scope) -> None:
        self.keys = keys
        self.calls = calls
        self.scope = scope

    def __call__(self, expression: exp.Expression) -> exp.Expression:
        return expression.copy().transform(self._visit, copy=False)

    def _visit(self, node: exp.Expression) -> exp.Expression:
        for i, key in enumerate(self.keys):
            if node == key:
                return ref(i)
        for j, call in enumerate(self.calls):
            if node == call.node:
                return ref(len(self.keys) + j)
        if isinstance(node, exp.Window):
            window = node.copy()
            window.set("this", self._children(window.this))
            window.set("partition_by", [self(p) for p in window.args.get("partition_by") or []])
            if window.args.get("order") is not None:
                window.set("order", self(window.args["order"]))
            return window
        if isinstance(node, exp.Column):
            name = self.scope.display(int(node.name[1:]))
            raise grouping_error(
                f"column {name!r} must appear in the GROUP BY clause or be used in "
                "an aggregate function"
            )
        return node

    def _children(self, node: exp.Expression) -> exp.Expression:
        new = node.copy()
        for key, value in list(new.args.items()):
            if isinstance(value, exp.Expression):
                new.set(key, self(value))
            elif isinstance(value, list):
                new.set(key, [self(v) if isinstance(v, exp.Expression) else v for v in value])
        return new


def check_window_function(function: exp.Expression) -> None:
    """Refuse functions with OVER that tidal cannot evaluate deterministically."""
    if isinstance(function, WINDOW_ONLY) or type(function) in SUPPORTED:
        if isinstance(function, exp.AggFunc) and not isinstance(function, WINDOW_ONLY):
            for arg in _arguments(function):
                if isinstance(arg, exp.Distinct):
                    raise unsupported(f"DISTINCT in a window aggregate: {shown(function)}")
        return
    raise unsupported(
        f"window function {shown(function)}: tidal supports "
        "ROW_NUMBER, RANK, DENSE_RANK, PERCENT_RANK, CUME_DIST, NTILE, LAG, LEAD, "
        "FIRST_VALUE, LAST_VALUE, NTH_VALUE and the aggregates over a window"
    )


def free_columns(node: exp.Expression):
    """Column references outside aggregate calls."""
    if isinstance(node, exp.Column):
        yield node
        return
    if (isinstance(node, exp.Filter) and isinstance(node.this, exp.AggFunc)) or (
        isinstance(node, exp.AggFunc) and not isinstance(node, WINDOW_ONLY)
    ):
        return
    for child in node.iter_expressions():
        yield from free_columns(child)
