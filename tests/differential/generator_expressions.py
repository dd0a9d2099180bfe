"""Typed random expressions for the query generator: built to a target kind, so queries bind.

An expression is asked for by kind (``int``, ``float``, ``dec``, ``text``, ``bool``, ``date``,
``ts``: generator_data.KINDS) and built from productions that give that kind: columns,
literals, operators, functions, casts, CASE and COALESCE, aggregates (over the rows of a group),
window functions and subqueries (through the query generator, generator_queries.py).

Every expression is deterministic in SQL, so tidal's view must equal DuckDB's answer exactly,
except for sums of floats: the data's doubles are dyadic (their sums are exact in any order),
but a value that was rounded (a division, a square root, a decimal read as a double) is
``rounded``, and a sum or average of rounded values may differ from DuckDB's in the last bits
(``fuzzy``). A fuzzy value is made only where it is a whole output column of the view (compared
with a tolerance), never inside a condition, a key or an ORDER BY.

    >>> import random
    >>> expressions = Expressions(random.Random(3))
    >>> context = Context([Expr("a.c0", "int"), Expr("a.c1", "text")])
    >>> expressions.expr(context, "bool", 2).kind
    'bool'
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from .generator_data import DOMAINS

NUMERIC = ("int", "float", "dec")
COMPARABLE = (NUMERIC, ("text",), ("bool",), ("date", "ts"))
ORDER_SENSITIVE = ("row_number", "ntile", "lag", "lead", "first_value", "last_value", "nth_value")


@dataclass(frozen=True)
class Expr:
    """A generated expression: its SQL, its kind, and how exactly DuckDB reproduces it."""

    sql: str
    kind: str
    rounded: bool = False  # a float rounded on the way: sums of it depend on the order
    fuzzy: bool = False  # may differ from DuckDB's in the last bits


class Subqueries(Protocol):
    """What the expression generator asks the query generator for."""

    def scalar(self, kind: str, outer: list[Expr], depth: int) -> Expr | None: ...

    def exists(self, outer: list[Expr], depth: int) -> str: ...

    def in_list(self, kind: str, outer: list[Expr], depth: int) -> str | None: ...


@dataclass
class Context:
    """What an expression may read.

    ``columns``: the names in scope (FROM's columns, or the GROUP BY keys of a grouped query).
    ``rows``: with GROUP BY (or a global aggregate), the columns an aggregate's argument reads.
    ``window``: when window functions may appear, the columns they partition and order by.
    ``outer``: columns of enclosing queries, for correlated subqueries.
    """

    columns: list[Expr]
    rows: list[Expr] | None = None
    window: list[Expr] | None = None
    outer: list[Expr] = field(default_factory=list)
    subqueries: bool = False
    fuzzy: bool = False  # this expression is a whole output column: fuzzy values are fine

    def scalar(self) -> Context:
        """The context of an argument: no aggregates, windows, or fuzzy results inside."""
        return replace(self, rows=None, window=None, fuzzy=False)

    def of_rows(self) -> Context:
        """The context of an aggregate's argument: the group's rows."""
        return Context(self.rows or [], outer=self.outer)


def _literal(rng: random.Random, kind: str) -> str:
    if kind == "int":
        return str(rng.choice([0, 1, 2, 3, -1, 10]))
    if kind == "float":
        return f"CAST({rng.choice([0.5, 1.0, -0.25, 2.0, 0.0])} AS DOUBLE)"
    if kind == "dec":
        return rng.choice(["1.5", "0.25", "CAST(2.25 AS DECIMAL(10,2))", "10"])
    if kind == "text":
        return "'" + rng.choice(DOMAINS["VARCHAR"] + ["B", "%"]) + "'"
    if kind == "bool":
        return rng.choice(["true", "false"])
    if kind == "date":
        return f"DATE '{rng.choice(DOMAINS['DATE'])}'"
    return f"TIMESTAMP '{rng.choice(DOMAINS['TIMESTAMP'])}'"


_SQL_TYPE = {
    "int": "INTEGER",
    "float": "DOUBLE",
    "dec": "DECIMAL(10,2)",
    "text": "VARCHAR",
    "bool": "BOOLEAN",
    "date": "DATE",
    "ts": "TIMESTAMP",
}


def _combine(sql: str, kind: str, *parts: Expr, rounded: bool = False) -> Expr:
    return Expr(
        sql,
        kind,
        rounded or any(p.rounded for p in parts),
        any(p.fuzzy for p in parts),
    )


Production = Callable[[Context, int], Expr | None]


class Expressions:
    """Random expressions of a wanted kind (``expr``) and conditions (``predicate``)."""

    def __init__(self, rng: random.Random, subqueries: Subqueries | None = None) -> None:
        self.rng = rng
        self.subqueries = subqueries
        # While a select list is made with a WINDOW clause: its windows' specs and names.
        self.named_windows: dict[str, str] | None = None
        self.productions: dict[str, list[tuple[float, Production]]] = {
            "int": self._int_productions(),
            "float": self._float_productions(),
            "dec": self._dec_productions(),
            "text": self._text_productions(),
            "bool": self._bool_productions(),
            "date": self._date_productions(),
            "ts": self._ts_productions(),
        }

    # --- the driver ---------------------------------------------------------------------------

    def expr(self, ctx: Context, kind: str, depth: int) -> Expr:
        """An expression of ``kind`` over ``ctx``, at most ``depth`` operators deep."""
        leaves = [c for c in ctx.columns if c.kind == kind]
        if depth <= 0 or self.rng.random() < 0.25:
            if leaves and self.rng.random() < 0.85:
                return self.rng.choice(leaves)
            if ctx.rows is not None and self.rng.random() < (0.6 if ctx.columns else 0.9):
                made = self._aggregate(ctx, kind, depth)
                if made is not None:
                    return made
            if ctx.columns and self.rng.random() < 0.85:
                return self._converted(self.rng.choice(ctx.columns), kind)
            return Expr(_literal(self.rng, kind), kind)
        productions = list(self.productions[kind])
        if ctx.rows is not None:
            productions.append((5.0, lambda c, d: self._aggregate(c, kind, d)))
        if ctx.window is not None:
            productions.append((4.0, lambda c, d: self._window(c, kind, d)))
        if ctx.subqueries and self.subqueries is not None and kind != "bool":
            productions.append(
                (0.4, lambda c, d: self.subqueries.scalar(kind, c.columns + c.outer, d - 1))
            )
        for _ in range(8):
            production = self._pick(productions)
            made = production(ctx, depth)
            if made is not None and (ctx.fuzzy or not made.fuzzy):
                return made
        return self.expr(ctx, kind, 0)

    def _converted(self, column: Expr, kind: str) -> Expr:
        """A column of another kind made into ``kind``, so that few expressions are constant."""
        rng, source, sql = self.rng, column.kind, column.sql
        if kind == "bool":
            if source == "bool":
                return column
            if rng.random() < 0.3:
                return Expr(f"({sql} IS NOT NULL)", "bool")
            operator = rng.choice(["=", "<>", "<", ">="])
            return Expr(f"({sql} {operator} {_literal(rng, source)})", "bool")
        if kind == "text":
            return _combine(f"CAST({sql} AS VARCHAR)", "text", column)
        if kind == "int":
            if source == "int":
                return column
            template = {"text": "length({0})", "date": "extract(day FROM {0})"}.get(source)
            template = template or {"ts": "extract(hour FROM {0})"}.get(source)
            return Expr((template or "CAST({0} AS INTEGER)").format(sql), "int")
        if kind == "float" and source in ("int", "dec"):
            return _combine(f"CAST({sql} AS DOUBLE)", "float", column, rounded=source == "dec")
        if kind == "dec" and source == "int":
            return Expr(f"CAST({sql} AS DECIMAL(10,2))", "dec")
        if kind == "date" and source == "ts":
            return Expr(f"CAST({sql} AS DATE)", "date")
        if kind == "ts" and source == "date":
            return Expr(f"CAST({sql} AS TIMESTAMP)", "ts")
        return Expr(_literal(rng, kind), kind)

    def _pick(self, weighted: list[tuple[float, Production]]) -> Production:
        total = sum(w for w, _ in weighted)
        point = self.rng.uniform(0, total)
        for weight, production in weighted:
            point -= weight
            if point <= 0:
                return production
        return weighted[-1][1]

    def sub(self, ctx: Context, kind: str, depth: int) -> Expr:
        """An operand: one level deeper, never fuzzy, aggregates and windows still allowed."""
        return self.expr(replace(ctx, fuzzy=False), kind, depth - 1)

    def predicate(self, ctx: Context, depth: int) -> Expr:
        """A WHERE, HAVING or ON condition: often a column (or, grouped, an aggregate) against
        a value, which keeps some rows; else any condition (which often keeps none)."""
        roll = self.rng.random()
        if roll < 0.4:
            return self._simple(ctx, depth)
        if roll < 0.55:
            a, b = self._simple(ctx, depth), self._simple(ctx, depth)
            return _combine(f"({a.sql} OR {b.sql})", "bool", a, b)
        return self.expr(ctx, "bool", depth)

    def _simple(self, ctx: Context, depth: int) -> Expr:
        """A column, or an aggregate of the group, against a constant of its kind."""
        rng = self.rng
        if ctx.rows is not None and (not ctx.columns or rng.random() < 0.6):
            kind = self.kind_in_scope(ctx, list(_SQL_TYPE))
            value = self._aggregate(replace(ctx, fuzzy=False), kind, 1) or self.expr(ctx, kind, 0)
        elif ctx.columns:
            value = rng.choice(ctx.columns)
        else:
            return self.expr(ctx, "bool", depth)
        if value.kind == "bool":
            return _combine(f"{rng.choice(['', 'NOT '])}{value.sql}", "bool", value)
        shape = rng.choice(["=", "<>", "<", ">=", "IS NULL", "IS NOT NULL", "IN"])
        if shape.startswith("IS"):
            return _combine(f"({value.sql} {shape})", "bool", value)
        if shape == "IN":
            items = ", ".join(_literal(rng, value.kind) for _ in range(2))
            return _combine(f"({value.sql} IN ({items}))", "bool", value)
        return _combine(f"({value.sql} {shape} {_literal(rng, value.kind)})", "bool", value)

    # --- shared productions -------------------------------------------------------------------

    def _common(self, kind: str) -> list[tuple[float, Production]]:
        def case(ctx: Context, depth: int) -> Expr:
            condition = self.sub(ctx, "bool", depth)
            then, other = self.sub(ctx, kind, depth), self.sub(ctx, kind, depth)
            if self.rng.random() < 0.3:
                return _combine(f"CASE WHEN {condition.sql} THEN {then.sql} END", kind, then)
            return _combine(
                f"CASE WHEN {condition.sql} THEN {then.sql} ELSE {other.sql} END",
                kind,
                condition,
                then,
                other,
            )

        def coalesce(ctx: Context, depth: int) -> Expr:
            a, b = self.sub(ctx, kind, depth), self.sub(ctx, kind, depth)
            return _combine(f"COALESCE({a.sql}, {b.sql})", kind, a, b)

        def nullif(ctx: Context, depth: int) -> Expr:
            a = self.sub(ctx, kind, depth)
            return _combine(f"NULLIF({a.sql}, {_literal(self.rng, kind)})", kind, a)

        def typed_null(ctx: Context, depth: int) -> Expr:
            return Expr(f"CAST(NULL AS {_SQL_TYPE[kind]})", kind)

        def simple_case(ctx: Context, depth: int) -> Expr:
            operand_kind = self.kind_in_scope(ctx, list(_SQL_TYPE))
            operand = self.sub(ctx, operand_kind, depth)
            then, other = self.sub(ctx, kind, depth), self.sub(ctx, kind, depth)
            value = _literal(self.rng, operand_kind)
            return _combine(
                f"CASE {operand.sql} WHEN {value} THEN {then.sql} ELSE {other.sql} END",
                kind,
                operand,
                then,
                other,
            )

        return [
            (1.0, case),
            (0.4, simple_case),
            (1.0, coalesce),
            (0.4, nullif),
            (0.1, typed_null),
        ]

    def _binary(self, kind: str, operators: str, left: str, right: str) -> Production:
        def make(ctx: Context, depth: int) -> Expr:
            a, b = self.sub(ctx, left, depth), self.sub(ctx, right, depth)
            if self.rng.random() < 0.5 and left != right:
                a, b = b, a
            return _combine(f"({a.sql} {self.rng.choice(operators.split())} {b.sql})", kind, a, b)

        return make

    def _call(self, kind: str, template: str, *kinds: str, rounded: bool = False) -> Production:
        """A function of arguments of ``kinds``: ``template`` has ``{0}``, ``{1}``, ..."""

        def make(ctx: Context, depth: int) -> Expr:
            args = [self.sub(ctx, k, depth) for k in kinds]
            return _combine(template.format(*(a.sql for a in args)), kind, *args, rounded=rounded)

        return make

    # --- productions per kind -----------------------------------------------------------------

    def _int_productions(self) -> list[tuple[float, Production]]:
        binary = self._binary
        return [
            *self._common("int"),
            (3.0, binary("int", "+ - *", "int", "int")),
            (1.0, self._call("int", "({0} / NULLIF({1}, 0))", "int", "int")),
            (0.6, self._call("int", "({0} % NULLIF({1}, 0))", "int", "int")),
            (0.1, binary("int", "/ %", "int", "int")),  # a zero divisor fails: in DuckDB too
            (0.8, self._call("int", "abs({0})", "int")),
            (0.4, self._call("int", "(- {0})", "int")),
            (0.8, self._call("int", "length({0})", "text")),
            (0.3, self._call("int", "strpos({0}, 'b')", "text")),
            (0.6, self._extract),
            (0.4, self._call("int", "({0} - {1})", "date", "date")),
            (0.5, self._call("int", "CAST({0} AS INTEGER)", "float")),
            (0.4, self._call("int", "CAST({0} AS INTEGER)", "dec")),
            (0.3, self._call("int", "CAST({0} AS INTEGER)", "bool")),
            # Parenthesized: DATE '...'::T is cast the wrong way round (test_generator_findings).
            (0.2, self._call("int", "({0})::INTEGER", "dec")),
            (0.3, self._call("int", "TRY_CAST({0} AS INTEGER)", "text")),
            (0.2, self._call("int", "date_part('month', {0})", "ts")),
            (0.4, self._call("int", "greatest({0}, {1})", "int", "int")),
            (0.3, self._call("int", "least({0}, {1}, 2)", "int", "int")),
            (0.2, self._call("int", "sign({0})", "float")),
        ]

    def _extract(self, ctx: Context, depth: int) -> Expr:
        source = self.rng.choice(["date", "ts"])
        parts = ["year", "month", "day", "dow"] + (["hour", "minute"] if source == "ts" else [])
        value = self.sub(ctx, source, depth)
        return _combine(f"extract({self.rng.choice(parts)} FROM {value.sql})", "int", value)

    def _float_productions(self) -> list[tuple[float, Production]]:
        call = self._call
        return [
            *self._common("float"),
            (2.0, self._binary("float", "+ - *", "float", "float")),
            (1.0, self._binary("float", "+ - *", "float", "int")),
            (0.8, call("float", "({0} / NULLIF({1}, 0))", "float", "float", rounded=True)),
            (0.5, call("float", "({0} / NULLIF({1}, 0))", "dec", "int", rounded=True)),
            (0.8, call("float", "CAST({0} AS DOUBLE)", "int")),
            (0.4, call("float", "CAST({0} AS DOUBLE)", "dec", rounded=True)),
            (0.6, call("float", "abs({0})", "float")),
            (0.4, call("float", "floor({0})", "float")),
            (0.3, call("float", "ceil({0})", "float")),
            (0.5, call("float", "round({0}, 1)", "float", rounded=True)),
            (0.3, call("float", "sqrt(abs({0}))", "float", rounded=True)),
            (0.3, call("float", "greatest({0}, {1})", "float", "float")),
        ]

    def _dec_productions(self) -> list[tuple[float, Production]]:
        call = self._call
        return [
            *self._common("dec"),
            (2.0, self._binary("dec", "+ -", "dec", "dec")),
            (1.0, self._binary("dec", "+ - *", "dec", "int")),
            (0.3, self._binary("dec", "*", "dec", "dec")),
            (0.5, call("dec", "(- {0})", "dec")),
            (0.5, call("dec", "abs({0})", "dec")),
            (0.5, call("dec", "round({0}, 1)", "dec")),
            (0.3, call("dec", "floor({0})", "dec")),
            (0.8, call("dec", "CAST({0} AS DECIMAL(10,2))", "int")),
        ]

    def _text_productions(self) -> list[tuple[float, Production]]:
        call = self._call
        one_arg = [
            "upper({0})",
            "lower({0})",
            "trim({0})",
            "ltrim({0})",
            "rtrim({0})",
            "reverse({0})",
            "substring({0}, 2, 2)",
            "substring({0}, 1, 1)",
            "left({0}, 2)",
            "right({0}, 1)",
            "replace({0}, 'a', 'xy')",
            "lpad({0}, 3, '*')",
            "repeat({0}, 2)",
            "split_part({0}, 'b', 1)",
        ]
        productions = [(0.4, call("text", template, "text")) for template in one_arg]
        return [
            *self._common("text"),
            *productions,
            (1.0, self._binary("text", "||", "text", "text")),
            (0.5, call("text", "concat({0}, {1})", "text", "int")),
            (0.3, call("text", "concat_ws('-', {0}, {1})", "text", "text")),
            (0.2, call("text", "({0})::VARCHAR", "date")),
            (0.4, call("text", "({0} || {1})", "text", "int")),
            (0.6, call("text", "CAST({0} AS VARCHAR)", "int")),
            (0.4, call("text", "CAST({0} AS VARCHAR)", "date")),
            (0.3, call("text", "CAST({0} AS VARCHAR)", "ts")),
            (0.3, call("text", "CAST({0} AS VARCHAR)", "dec")),
            (0.3, call("text", "CAST({0} AS VARCHAR)", "float")),
            (0.2, call("text", "CAST({0} AS VARCHAR)", "bool")),
        ]

    def _bool_productions(self) -> list[tuple[float, Production]]:
        call = self._call
        return [
            *self._common("bool")[:2],
            (5.0, self._comparison),
            (1.0, self._is_null),
            (0.4, self._distinct_from),
            (0.5, self._between),
            (0.6, self._in_list),
            (0.6, self._like),
            (0.2, call("bool", "starts_with({0}, 'a')", "text")),
            (1.0, call("bool", "(NOT {0})", "bool")),
            (2.0, self._binary("bool", "AND OR", "bool", "bool")),
            (0.3, call("bool", "({0} IS TRUE)", "bool")),
            (0.2, call("bool", "({0} IS NOT FALSE)", "bool")),
            (1.5, self._subquery_predicate),
        ]

    def _date_productions(self) -> list[tuple[float, Production]]:
        call = self._call
        return [
            *self._common("date"),
            (1.5, lambda ctx, d: self._date_shift(ctx, d)),
            (1.0, call("date", "CAST({0} AS DATE)", "ts")),
            (0.3, call("date", "last_day({0})", "date")),
            (0.3, call("date", "greatest({0}, {1})", "date", "date")),
        ]

    def _date_shift(self, ctx: Context, depth: int) -> Expr:
        value = self.sub(ctx, "date", depth)
        sign = self.rng.choice("+-")
        return _combine(f"({value.sql} {sign} {self.rng.choice([1, 2, 30, 366])})", "date", value)

    def _ts_productions(self) -> list[tuple[float, Production]]:
        call = self._call
        return [
            *self._common("ts"),
            (1.5, self._interval_shift),
            (0.6, call("ts", "date_trunc('day', {0})", "ts")),
            (0.4, call("ts", "date_trunc('hour', {0})", "ts")),
            (0.4, call("ts", "date_trunc('month', {0})", "date")),
            (0.8, call("ts", "CAST({0} AS TIMESTAMP)", "date")),
        ]

    def _interval_shift(self, ctx: Context, depth: int) -> Expr:
        value = self.sub(ctx, self.rng.choice(["ts", "ts", "date"]), depth)
        amount = self.rng.choice(["1 hour", "90 minutes", "1 day", "2 days", "1 month", "1 second"])
        sign = self.rng.choice("+-")
        return _combine(f"({value.sql} {sign} INTERVAL '{amount}')", "ts", value)

    # --- conditions ---------------------------------------------------------------------------

    def kind_in_scope(self, ctx: Context, kinds: tuple[str, ...] | list[str]) -> str:
        """One of ``kinds``; mostly one that a column in scope has (so that conditions read
        columns rather than compare constants)."""
        present = [c.kind for c in ctx.columns + (ctx.rows or []) if c.kind in kinds]
        if present and self.rng.random() < 0.85:
            return self.rng.choice(present)
        return self.rng.choice(kinds)

    def _comparable_pair(self, ctx: Context, depth: int) -> tuple[Expr, Expr]:
        first = self.kind_in_scope(ctx, [k for group in COMPARABLE for k in group])
        kinds = next(group for group in COMPARABLE if first in group)
        return self.sub(ctx, first, depth), self.sub(ctx, self.rng.choice(kinds), depth)

    def _comparison(self, ctx: Context, depth: int) -> Expr:
        a, b = self._comparable_pair(ctx, depth)
        operator = self.rng.choice(["=", "<>", "<", "<=", ">", ">="])
        return _combine(f"({a.sql} {operator} {b.sql})", "bool", a, b)

    def _is_null(self, ctx: Context, depth: int) -> Expr:
        a = self.sub(ctx, self.kind_in_scope(ctx, list(_SQL_TYPE)), depth)
        return _combine(f"({a.sql} IS {self.rng.choice(['', 'NOT '])}NULL)", "bool", a)

    def _distinct_from(self, ctx: Context, depth: int) -> Expr:
        a, b = self._comparable_pair(ctx, depth)
        negated = self.rng.choice(["", "NOT "])
        return _combine(f"({a.sql} IS {negated}DISTINCT FROM {b.sql})", "bool", a, b)

    def _between(self, ctx: Context, depth: int) -> Expr:
        kind = self.kind_in_scope(ctx, ["int", "float", "dec", "text", "date", "ts"])
        a = self.sub(ctx, kind, depth)
        low, high = sorted([_literal(self.rng, kind), _literal(self.rng, kind)])
        negated = self.rng.choice(["", "", "NOT "])
        return _combine(f"({a.sql} {negated}BETWEEN {low} AND {high})", "bool", a)

    def _in_list(self, ctx: Context, depth: int) -> Expr:
        kind = self.kind_in_scope(ctx, ["int", "text", "dec", "date"])
        a = self.sub(ctx, kind, depth)
        items = ", ".join(_literal(self.rng, kind) for _ in range(self.rng.randint(1, 3)))
        negated = self.rng.choice(["", "", "NOT "])
        return _combine(f"({a.sql} {negated}IN ({items}))", "bool", a)

    def _like(self, ctx: Context, depth: int) -> Expr:
        a = self.sub(ctx, "text", depth)
        operator = self.rng.choice(["LIKE", "LIKE", "NOT LIKE", "ILIKE"])
        pattern = self.rng.choice(["a%", "%b%", "_", "%", "A%", "_b%", ""])
        return _combine(f"({a.sql} {operator} '{pattern}')", "bool", a)

    def _subquery_predicate(self, ctx: Context, depth: int) -> Expr | None:
        if not ctx.subqueries or self.subqueries is None or depth < 1:
            return None
        outer = ctx.columns + ctx.outer
        shape = self.rng.choice(["exists", "not exists", "in", "not in", "compare"])
        if shape in ("exists", "not exists"):
            body = self.subqueries.exists(outer, depth - 1)
            return Expr(f"({shape.upper()} {body})", "bool")
        kind = self.kind_in_scope(ctx, ["int", "text", "float", "dec", "date"])
        if shape == "compare":
            scalar = self.subqueries.scalar(kind, outer, depth - 1)
            if scalar is None:
                return None
            probe = self.sub(ctx.scalar(), kind, depth)
            operator = self.rng.choice(["=", "<", ">=", "<>"])
            return _combine(f"({probe.sql} {operator} {scalar.sql})", "bool", probe, scalar)
        body = self.subqueries.in_list(kind, outer, depth - 1)
        if body is None:
            return None
        probe = self.sub(ctx.scalar(), kind, depth)
        return _combine(f"({probe.sql} {shape.upper()} {body})", "bool", probe)

    # --- aggregates and windows ---------------------------------------------------------------

    def _aggregate(self, ctx: Context, kind: str, depth: int) -> Expr | None:
        """An aggregate over the group's rows giving ``kind``."""
        if ctx.rows is None:
            return None
        rows = ctx.of_rows()
        rng = self.rng
        choices: list[tuple[str, str]] = [("min", kind), ("max", kind)]
        if kind == "int":
            choices += [("count", k) for k in rng.sample(list(_SQL_TYPE), 2)]
            choices += [("count*", "int"), ("count*", "int"), ("sum", "int"), ("countd", "text")]
        elif kind == "float":
            choices += [("sum", "float"), ("avg", rng.choice(NUMERIC))]
            if ctx.fuzzy:
                choices += [(rng.choice(["stddev_samp", "var_pop", "stddev_pop"]), "float")]
                choices += [(rng.choice(["covar_pop", "corr"]), "float")]
            if rng.random() < 0.1:
                choices += [(rng.choice(["median", "percentile_cont"]), rng.choice(NUMERIC))]
        elif kind == "dec":
            choices += [("sum", "dec"), ("sum", "dec")]
        elif kind == "bool":
            choices += [("bool_and", "bool"), ("bool_or", "bool")]
        elif kind == "text" and rng.random() < 0.1:
            choices += [("string_agg", "text")]
        name, argument_kind = rng.choice(choices)
        if name == "count*":
            return Expr(self._filtered("count(*)", rows, depth), "int")
        argument = self.expr(rows, argument_kind, depth - 1)
        distinct = "DISTINCT " if rng.random() < 0.15 and name != "string_agg" else ""
        if name == "countd":
            name, distinct = "count", "DISTINCT "
        if name == "string_agg" and argument.sql.startswith("'"):
            call = f"max({argument.sql})"  # DuckDB refuses ORDER BY a string constant
        elif name == "string_agg":
            call = f"string_agg({argument.sql}, ',' ORDER BY {argument.sql})"
        elif name in ("covar_pop", "corr"):
            other = self.expr(rows, rng.choice(NUMERIC), depth - 1)
            call = f"{name}({argument.sql}, {other.sql})"
        elif name == "percentile_cont":
            call = f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {argument.sql})"
        else:
            call = f"{name}({distinct}{argument.sql})"
        fuzzy = name in ("stddev_samp", "var_pop", "stddev_pop", "covar_pop", "corr") or (
            name in ("sum", "avg") and argument.rounded
        )
        rounded = name in ("avg", "median", "percentile_cont") or argument.rounded
        made = Expr(self._filtered(call, rows, depth), kind, rounded, fuzzy or argument.fuzzy)
        return made if ctx.fuzzy or not made.fuzzy else None

    def _filtered(self, call: str, rows: Context, depth: int) -> str:
        if self.rng.random() < 0.1:
            return f"{call} FILTER (WHERE {self.expr(rows, 'bool', min(depth, 1)).sql})"
        return call

    def _window(self, ctx: Context, kind: str, depth: int) -> Expr | None:
        """A window function giving ``kind``, over the query's rows."""
        rng, scope = self.rng, ctx.window or []
        args = ctx.scalar()
        if kind == "int" and rng.random() < 0.5:
            name = rng.choice(["row_number", "rank", "dense_rank", "ntile", "count"])
            call = {"ntile": f"ntile({rng.randint(2, 3)})", "count": "count(*)"}.get(
                name, f"{name}()"
            )
            made = Expr(call, "int")
        elif kind == "float" and rng.random() < 0.4:
            name = rng.choice(["percent_rank", "cume_dist", "avg"])
            if name == "avg":
                argument = self.expr(args, rng.choice(NUMERIC), depth - 1)
                made = Expr(f"avg({argument.sql})", "float", True, argument.rounded)
            else:
                made = Expr(f"{name}()", "float", rounded=True)
        else:
            names = ["lag", "lead", "first_value", "last_value", "nth_value", "min", "max"]
            if kind in NUMERIC:
                names += ["sum", "sum"]
            name = rng.choice(names)
            argument = self.expr(args, kind, depth - 1)
            default = _literal(rng, kind)
            call = {
                "lag": f"lag({argument.sql}{rng.choice(['', ', 1', ', 2', ', 1, ' + default])})",
                "lead": f"lead({argument.sql})",
                "nth_value": f"nth_value({argument.sql}, 2)",
            }.get(name, f"{name}({argument.sql})")
            fuzzy = name == "sum" and argument.rounded
            made = Expr(call, kind, argument.rounded, fuzzy)
        if made.fuzzy and not ctx.fuzzy:
            return None
        spec = self._over(scope, name, args)
        if self.named_windows is not None and rng.random() < 0.5:
            window = self.named_windows.setdefault(spec, f"w{len(self.named_windows) + 1}")
            return replace(made, sql=f"{made.sql} OVER {window}")
        return replace(made, sql=f"{made.sql} OVER ({spec})")

    def _over(self, scope: list[Expr], name: str, args: Context) -> str:
        """PARTITION BY, ORDER BY (every column when the function needs a total order), frame."""
        rng = self.rng
        parts = []
        if scope and rng.random() < 0.6:
            keys = rng.sample(scope, min(len(scope), rng.randint(1, 2)))
            parts.append("PARTITION BY " + ", ".join(k.sql for k in keys))
        frame = ""
        aggregate = name in ("count", "sum", "avg", "min", "max")
        if aggregate and rng.random() < 0.3:
            frame = rng.choice(
                [
                    " ROWS BETWEEN 1 PRECEDING AND CURRENT ROW",
                    " ROWS BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING",
                    " ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING",
                    " RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
                    " RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING",
                ]
            )
        total = name in ORDER_SENSITIVE or frame.startswith(" ROWS")
        ordered = total or name in ("rank", "dense_rank", "percent_rank", "cume_dist")
        if ordered or rng.random() < 0.5:
            keys = rng.sample(scope, min(len(scope), rng.randint(1, 2))) if scope else []
            order = [f"{k.sql}{rng.choice(['', ' DESC', ' NULLS FIRST'])}" for k in keys]
            if total:
                order += [c.sql for c in scope if c not in keys]
            if order:
                parts.append("ORDER BY " + ", ".join(order) + frame)
        return " ".join(parts)
