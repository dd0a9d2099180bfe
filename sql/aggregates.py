"""Aggregate calls in SELECT / HAVING / ORDER BY: finding them, typing them, and rewriting the
expressions above an Aggregate node to read its output columns."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace

from sqlglot import exp

from tidal.catalog.sqlstate import WRONG_OBJECT_TYPE
from tidal.sql.dialect import Tidal
from tidal.sql.errors import SqlError, grouping_error, unsupported
from tidal.sql.plan import AggregateCall, Field, SortKey, ref
from tidal.sql.python_functions import aggregate_list_sql, is_python_aggregate
from tidal.sql.scope import Scope
from tidal.sql.typeinfer import TypeInference, connect_locked

# Aggregate functions tidal maintains, by sqlglot node, with their names in plans.
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
    exp.CovarPop: "covar_pop",
    exp.CovarSamp: "covar_samp",
    exp.Corr: "corr",
    exp.RegrCount: "regr_count",
    exp.RegrAvgx: "regr_avgx",
    exp.RegrAvgy: "regr_avgy",
    exp.RegrSlope: "regr_slope",
    exp.RegrIntercept: "regr_intercept",
    exp.RegrR2: "regr_r2",
    exp.RegrSxx: "regr_sxx",
    exp.RegrSyy: "regr_syy",
    exp.RegrSxy: "regr_sxy",
    exp.GroupConcat: "string_agg",
    exp.ArrayAgg: "array_agg",
    exp.PercentileCont: "percentile_cont",
    exp.PercentileDisc: "percentile_disc",
    exp.Mode: "mode",
    exp.Median: "median",
    # RisingWave's aggregates first_value(x ORDER BY y) / last_value(...): see is_aggregate
    exp.FirstValue: "first_value",
    exp.LastValue: "last_value",
}

# Aggregates sqlglot parses as plain function calls, by name.
NAMED: dict[str, str] = {"every": "bool_and"}

# Aggregates of two arguments, (y, x) as written.
BINARY = (
    "covar_pop",
    "covar_samp",
    "corr",
    "regr_count",
    "regr_avgx",
    "regr_avgy",
    "regr_slope",
    "regr_intercept",
    "regr_r2",
    "regr_sxx",
    "regr_syy",
    "regr_sxy",
)

# Aggregates whose value depends on the order of their input: they need ORDER BY in the call.
ORDERED = ("string_agg", "array_agg", "first_value", "last_value")

# Ordered-set aggregates: ``f(...) WITHIN GROUP (ORDER BY x)``.
WITHIN_GROUP = ("percentile_cont", "percentile_disc", "mode")

# The aggregates that may also be window functions (``OVER (...)``).
WINDOW_AGGREGATES = (
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "bool_and",
    "bool_or",
    "stddev_samp",
    "stddev_pop",
    "var_samp",
    "var_pop",
    *BINARY,
)

# Plan names DuckDB spells otherwise.
_DUCKDB_NAMES = {
    "percentile_cont": "quantile_cont",
    "percentile_disc": "quantile_disc",
    "first_value": "first",
    "last_value": "last",
}

# Aggregates that can be undone (a retraction subtracts): maintained with accumulators alone
# (bool_and / bool_or as counts of values and of true values, the variance family as exact sums
# of powers and products).
INVERTIBLE = (
    "count_star",
    "count",
    "sum",
    "avg",
    "bool_and",
    "bool_or",
    "var_pop",
    "var_samp",
    "stddev_pop",
    "stddev_samp",
    *BINARY,
)

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
    """Aggregate call units (an aggregate, or FILTER wrapped around one) outside OVER (...)."""
    if isinstance(node, exp.Window):
        # rank() OVER (PARTITION BY g ORDER BY count(*)): the query's aggregates, per group
        spec = [*(node.args.get("partition_by") or []), node.args.get("order")]
        for arg in [*_inner_expressions(node.this), *(e for e in spec if e is not None)]:
            yield from _units(arg)
        return
    if isinstance(node, exp.Filter) and is_aggregate(node.this):
        yield node
        return
    if is_aggregate(node):
        yield node
        return
    if isinstance(node, WINDOW_ONLY):
        raise SqlError(
            f"window function {shown(node)} requires an OVER clause: add OVER (...)",
            sqlstate=WRONG_OBJECT_TYPE,
        )
    for child in node.iter_expressions():
        yield from _units(child)


def over_no_rows(expression: exp.Expression) -> exp.Expression:
    """``expression`` with each aggregate call replaced by its value over no rows: 0 for the
    counts, NULL for the others (what a correlated subquery gives for an outer row it does not
    match).

    >>> over_no_rows(exp.maybe_parse("coalesce(sum(x), 0) + count(*) FILTER (WHERE x > 1)")).sql()
    'COALESCE(NULL, 0) + 0'
    """

    def replace(node: exp.Expression) -> exp.Expression:
        if _is_unit(node):
            call = node.this if isinstance(node, exp.Filter) else node
            counts = isinstance(call, exp.Count) or (
                isinstance(call, exp.Anonymous) and call.name.lower() == "regr_count"
            )
            return exp.Literal.number(0) if counts else exp.null()
        return node

    return expression.copy().transform(replace, copy=False)


def _is_unit(node: exp.Expression) -> bool:
    return (isinstance(node, exp.Filter) and is_aggregate(node.this)) or is_aggregate(node)


def is_aggregate(node: exp.Expression) -> bool:
    """An aggregate function call: a sqlglot aggregate, one WITHIN GROUP, or a call by name of
    one of DuckDB's aggregates that sqlglot does not know (``every``, ``kurtosis``)."""
    if isinstance(node, exp.WithinGroup):
        return True
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        return name in NAMED or name in _duckdb_aggregates() or is_python_aggregate(name)
    if isinstance(node, (exp.FirstValue, exp.LastValue)):
        return isinstance(node.this, exp.Order)  # with ORDER BY in the call: an aggregate
    return isinstance(node, exp.AggFunc) and not isinstance(node, WINDOW_ONLY)


@functools.cache
def _duckdb_aggregates() -> frozenset[str]:
    """The names of DuckDB's aggregate functions (that are not also scalar functions)."""
    connection = connect_locked()
    try:
        rows = connection.sql(
            "SELECT function_name FROM duckdb_functions() GROUP BY function_name "
            "HAVING bool_and(function_type = 'aggregate')"
        ).fetchall()
    finally:
        connection.close()
    return frozenset(name for (name,) in rows)


def _inner_expressions(function: exp.Expression):
    """A function call's argument expressions (WITHIN GROUP's ordering included)."""
    if isinstance(function, exp.WithinGroup):
        yield from function.this.iter_expressions()
        yield from function.expression.iter_expressions()
        return
    yield from function.iter_expressions()


def shown(node: exp.Expression) -> str:
    """A call as SQL for a message, with columns already bound to positions shown as ``...``
    (``SUM(SUM(...))``), since their internal names mean nothing to the user."""

    def hide(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Column) and re.fullmatch(r"c\d+", n.name) and n.this.quoted:
            return exp.Var(this="...")
        return n

    return node.copy().transform(hide, copy=False).sql(dialect=Tidal)


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
    order: list[tuple[exp.Expression, bool, bool]]  # (expression, descending, nulls first)
    parameters: list[exp.Expression]

    @property
    def inputs(self) -> list[exp.Expression]:
        ordered = [expression for expression, _, _ in self.order]
        return self.args + ordered + ([self.filter] if self.filter is not None else [])

    def plan_call(
        self, position: dict, fields: tuple[Field, ...], infer: TypeInference
    ) -> AggregateCall:
        call = AggregateCall(
            self.name,
            tuple(position[a] for a in self.args),
            self.distinct,
            position[self.filter] if self.filter is not None else None,
            order=tuple(SortKey(position[e], desc, first) for e, desc, first in self.order),
            parameters=tuple(self.parameters),
        )
        (result_type,) = infer.infer([call_sql(call)], fields)
        return replace(call, type=result_type)


def call_sql(call: AggregateCall) -> exp.Expression:
    """The DuckDB SQL of an aggregate call over positional columns (to type it and lower it)."""
    if call.name == "count_star":
        node: exp.Expression = exp.Count(this=exp.Star())
    elif is_python_aggregate(call.name):
        filter_ = ref(call.filter) if call.filter is not None else None
        return aggregate_list_sql(call.name, [ref(a) for a in call.args], filter_)
    else:
        arguments: list[exp.Expression] = [ref(a) for a in call.args]
        if call.distinct:
            arguments = [exp.Distinct(expressions=arguments)]
        arguments += list(call.parameters)
        if call.order:  # DuckDB reads ORDER BY after the last argument
            ordered = [
                exp.Ordered(this=ref(k.column), desc=k.descending, nulls_first=k.nulls_first)
                for k in call.order
            ]
            arguments[-1] = exp.Order(this=arguments[-1], expressions=ordered)
        name = _DUCKDB_NAMES.get(call.name, call.name)
        node = exp.Anonymous(this=name, expressions=arguments)
    if call.filter is not None:
        node = exp.Filter(this=node, expression=exp.Where(this=ref(call.filter)))
    return node


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
    within = None
    if isinstance(func, exp.WithinGroup):
        func, within = func.this, func.expression
    name = _name(func)
    if name in WITHIN_GROUP:
        call = _within_group(unit, func, name, within)
    else:
        if within is not None:
            raise unsupported(f"WITHIN GROUP with {shown(func)}: write the ORDER BY in the call")
        call = _plain(unit, func, name)
    call.filter = filter_
    for arg in call.inputs:
        if contains_aggregate(arg):
            raise grouping_error(f"aggregate function calls cannot be nested: {shown(func)}")
        if arg.find(exp.Window):
            raise grouping_error(
                f"window functions are not allowed in aggregate arguments: {shown(func)}"
            )
    return call


def _name(func: exp.Expression) -> str:
    if isinstance(func, exp.Anonymous) and is_python_aggregate(func.name):
        return func.name
    name = (
        NAMED.get(func.name.lower())
        if isinstance(func, exp.Anonymous)
        else SUPPORTED.get(type(func))
    )
    if name is None:
        supported = ", ".join(sorted({*SUPPORTED.values(), *NAMED}))
        raise unsupported(f"aggregate function {shown(func)}: tidal maintains {supported}")
    return name


def _plain(unit: exp.Expression, func: exp.Expression, name: str) -> Call:
    """A call with its arguments in parentheses: ``f([DISTINCT] x [, y] [ORDER BY ...])``."""
    if is_python_aggregate(name):  # f(x, y, ...): a Python aggregate (tidal.sql.python_functions)
        if any(isinstance(a, (exp.Distinct, exp.Order)) for a in func.expressions):
            raise unsupported(f"DISTINCT or ORDER BY in a Python aggregate: {shown(func)}")
        return Call(unit, name, list(func.expressions), False, None, [], [])
    if name in BINARY:
        args = [func.this, func.args.get("expression")]
    elif isinstance(func, exp.GroupConcat):
        args = [func.this]
    else:
        args = _arguments(func)
    order_node = None
    if args and isinstance(args[0], exp.Order):
        order_node, args[0] = args[0], args[0].this
    distinct = False
    if args and isinstance(args[0], exp.Distinct):
        distinct = True
        args = list(args[0].expressions) + args[1:]
    if name == "count" and (not args or isinstance(args[0], exp.Star)):
        if distinct:
            raise SqlError("COUNT(DISTINCT *) is not valid: name the columns")
        name, args = "count_star", []
    arity = 2 if name in BINARY else (0 if name == "count_star" else 1)
    if len(args) != arity or any(a is None or isinstance(a, exp.Distinct) for a in args):
        raise unsupported(f"{shown(func)}: {name} takes {arity} argument(s) without DISTINCT")
    if distinct and name in BINARY:
        raise unsupported(f"DISTINCT in {shown(func)}")
    order = _order_terms(order_node, func) if order_node is not None else []
    if name in ORDERED:
        order = _deterministic_order(order, args[0], distinct, func)
    elif order:
        raise unsupported(f"{shown(func)}: ORDER BY changes nothing in {name}; remove it")
    parameters = [_separator(func)] if name == "string_agg" else []
    return Call(unit, name, args, distinct, None, order, parameters)


def _order_terms(order: exp.Order, func: exp.Expression) -> list[tuple[exp.Expression, bool, bool]]:
    terms = []
    for term in order.expressions:
        if isinstance(term.this, exp.Literal):
            raise unsupported(f"ORDER BY a constant in {shown(func)}")
        terms.append((term.this, bool(term.args.get("desc")), bool(term.args.get("nulls_first"))))
    return terms


def _deterministic_order(order, value, distinct, func):
    """The order of an order-sensitive aggregate, with ties broken by the aggregated value:
    rows that still tie give the same output, so the result does not depend on which of them
    arrived first. Without ORDER BY the result would be arbitrary: refused."""
    if not order:
        raise unsupported(
            f"{shown(func)} without ORDER BY: its result depends on the order rows arrive in; "
            "add ORDER BY inside the call"
        )
    if distinct:
        if any(expression != value for expression, _, _ in order):
            raise unsupported(
                f"{shown(func)}: with DISTINCT, ORDER BY may only name the aggregated value"
            )
        return order
    if all(expression != value for expression, _, _ in order):
        order = order + [(value, False, False)]
    return order


def _separator(func: exp.Expression) -> exp.Expression:
    separator = func.args.get("separator")
    if separator is None:
        return exp.Literal.string(",")
    if isinstance(separator, exp.Literal) and separator.is_string:
        return separator
    raise unsupported(f"{shown(func)}: the separator of string_agg must be a string constant")


def _within_group(unit, func, name: str, within: exp.Order | None) -> Call:
    """``percentile_cont(f) / percentile_disc(f) / mode() WITHIN GROUP (ORDER BY x)``."""
    if within is None:
        hint = (
            "mode() WITHIN GROUP (ORDER BY x), which breaks ties by x"
            if name == "mode"
            else (f"{name}(fraction) WITHIN GROUP (ORDER BY x)")
        )
        raise unsupported(f"{shown(func)}: write {hint}")
    order = _order_terms(within, func)
    if len(order) != 1:
        raise unsupported(f"{shown(func)}: WITHIN GROUP takes one ORDER BY expression")
    value = order[0][0]
    if name == "mode":
        if func.this is not None or func.expressions:
            raise unsupported(f"{shown(func)}: mode() takes no arguments")
        return Call(unit, name, [value], False, None, order, [])
    fraction = func.this
    fractions = fraction.expressions if isinstance(fraction, exp.Array) else [fraction]
    if not fractions or not all(_is_fraction(f) for f in fractions):
        raise unsupported(
            f"{shown(func)}: the fraction must be a constant between 0 and 1 (or an ARRAY of them)"
        )
    return Call(unit, name, [value], False, None, order, [fraction])


def _is_fraction(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and not node.is_string and 0 <= float(node.name) <= 1


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
    if isinstance(function, WINDOW_ONLY):
        if isinstance(function.this, exp.Order):
            raise unsupported(f"ORDER BY in a window function: {shown(function)}")
        return
    if SUPPORTED.get(type(function)) in WINDOW_AGGREGATES:
        for arg in _arguments(function):
            if isinstance(arg, exp.Distinct):
                raise unsupported(f"DISTINCT in a window aggregate: {shown(function)}")
            if isinstance(arg, exp.Order):
                raise unsupported(f"ORDER BY in a window aggregate: {shown(function)}")
        return
    raise unsupported(
        f"window function {shown(function)}: tidal supports "
        "ROW_NUMBER, RANK, DENSE_RANK, PERCENT_RANK, CUME_DIST, NTILE, LAG, LEAD, "
        "FIRST_VALUE, LAST_VALUE, NTH_VALUE and the aggregates over a window, except "
        "string_agg, array_agg, percentile_cont, percentile_disc, mode and median"
    )


def free_columns(node: exp.Expression):
    """Column references outside aggregate calls."""
    if isinstance(node, exp.Column):
        yield node
        return
    if (isinstance(node, exp.Filter) and is_aggregate(node.this)) or is_aggregate(node):
        return
    for child in node.iter_expressions():
        yield from free_columns(child)
