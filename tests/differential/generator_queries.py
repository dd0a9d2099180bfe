"""Random queries for the query generator, in the manner of SQLancer and sqlsmith.

A grammar of SELECT over a random schema (generator_data.py): FROM one to three tables, derived
tables or a CTE, joined every way (inner, left, right, full, cross, comma, USING); WHERE with
[NOT] EXISTS, [NOT] IN and scalar subqueries, correlated or not; plain, grouped (GROUP BY,
HAVING, DISTINCT aggregates, FILTER), global-aggregate and windowed select lists; DISTINCT;
UNION [ALL], INTERSECT [ALL], EXCEPT [ALL]; ORDER BY ... LIMIT [OFFSET] (a top-n). The
expressions come from generator_expressions.py, built to the kind each place needs.

Every query is deterministic: a top-n orders by every output column (only identical rows tie),
and window functions that depend on the order of rows order by every column in scope. Every
output column is named (``x0``, ``x1``, ...), as a view needs.

    >>> import random
    >>> from .generator_data import random_schema
    >>> rng = random.Random(7)
    >>> queries = Queries(rng, random_schema(rng))
    >>> queries.view().startswith(("SELECT", "WITH", "("))
    True
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter
from dataclasses import dataclass, replace

from .generator_data import Schema
from .generator_expressions import COMPARABLE, Context, Expr, Expressions

SET_OPERATORS = ["UNION", "UNION ALL", "INTERSECT", "EXCEPT", "INTERSECT ALL", "EXCEPT ALL"]
JOINS = [
    (0.35, "JOIN"),
    (0.2, "LEFT JOIN"),
    (0.1, "RIGHT JOIN"),
    (0.1, "FULL JOIN"),
    (0.08, "CROSS JOIN"),
    (0.1, ","),
    (0.05, "USING"),
    (0.02, "NATURAL JOIN"),
]


@dataclass(frozen=True)
class Select:
    """A generated query: its SQL and its output columns (unqualified names, kinds)."""

    sql: str
    columns: tuple[Expr, ...]
    ordered: bool = False  # ends in ORDER BY ... LIMIT: a set operation must parenthesize it


def _reads_a_column(expression: Expr) -> bool:
    return re.search(r"\ba\d+\.", expression.sql) is not None


def _compatible(a: str, b: str) -> bool:
    return any(a in group and b in group for group in COMPARABLE)


class Queries:
    """Queries over ``schema``; ``used`` collects the tables they read."""

    def __init__(self, rng: random.Random, schema: Schema) -> None:
        self.rng = rng
        self.schema = schema
        self.expressions = Expressions(rng, self)
        self.aliases = itertools.count(1)
        self.used: set[str] = set()
        self.ctes: dict[str, tuple[Expr, ...]] = {}

    def view(self) -> str:
        """The SQL of a view: a query, sometimes with a CTE it reads."""
        prefix = ""
        if self.rng.random() < 0.1:
            body = self.query(1)
            self.ctes["w0"] = body.columns
            prefix = f"WITH w0 AS ({body.sql}) "
        return prefix + self.query(self.rng.choice([1, 2, 2, 3]), top=True).sql

    # --- queries ------------------------------------------------------------------------------

    def query(
        self,
        depth: int,
        outer: list[Expr] | None = None,
        targets: list[str] | None = None,
        top: bool = False,
        shape: str | None = None,
    ) -> Select:
        """A query: a select, a set operation of two, either perhaps ordered and limited."""
        outer = outer or []
        rng = self.rng
        top_n = rng.random() < (0.2 if top else 0.08)
        if shape is None and depth > 0 and rng.random() < 0.15:
            made = self._set_operation(depth, outer, targets)
        else:
            made = self.select(depth, outer, targets, fuzzy=top and not top_n, shape=shape)
        if top_n:
            made = self._top_n(made)
        return made

    def _set_operation(self, depth: int, outer: list[Expr], targets: list[str] | None) -> Select:
        left = self.query(depth - 1, outer, targets)
        operator = self.rng.choice(SET_OPERATORS)
        if operator.startswith(("INTERSECT", "EXCEPT")) and self.rng.random() < 0.6:
            right = self._subset(left)  # unrelated rows would rarely intersect
        else:
            right = self.query(depth - 1, outer, [c.kind for c in left.columns])
        sql = f"{self._branch(left)} {operator} {self._branch(right)}"
        columns = tuple(
            replace(a, rounded=a.rounded or b.rounded) for a, b in zip(left.columns, right.columns)
        )
        return Select(sql, columns)

    def _subset(self, select: Select) -> Select:
        """Some of the rows of ``select``: ``SELECT * FROM (select) WHERE condition``."""
        alias = self._alias()
        columns = [replace(c, sql=f"{alias}.{c.sql}") for c in select.columns]
        condition = self.expressions.predicate(Context(columns), self.rng.randint(1, 2))
        return Select(
            f"SELECT * FROM ({select.sql}) AS {alias} WHERE {condition.sql}", select.columns
        )

    @staticmethod
    def _branch(select: Select) -> str:
        return f"({select.sql})" if select.ordered else select.sql

    def _top_n(self, made: Select) -> Select:
        rng = self.rng
        order = [
            f"{i + 1}{rng.choice(['', ' DESC', ' NULLS FIRST', ' DESC NULLS LAST'])}"
            for i in range(len(made.columns))
        ]
        rng.shuffle(order)
        limit = f" LIMIT {rng.randint(1, 4)}"
        if rng.random() < 0.3:
            limit += f" OFFSET {rng.randint(1, 3)}"
        return Select(f"{made.sql} ORDER BY {', '.join(order)}{limit}", made.columns, True)

    def select(
        self,
        depth: int,
        outer: list[Expr],
        targets: list[str] | None,
        fuzzy: bool = False,
        shape: str | None = None,
    ) -> Select:
        """One SELECT: FROM, WHERE, then a plain, grouped, global or windowed select list."""
        rng = self.rng
        from_sql, scope, conditions = self.from_clause(depth)
        if outer and rng.random() < 0.7:
            conditions.append(self._correlation(scope, outer))
        if rng.random() < 0.55:
            context = Context(scope, outer=outer, subqueries=depth > 0)
            conditions.append(self.expressions.predicate(context, rng.randint(1, 3)).sql)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        if shape is None:
            shape = rng.choices(["plain", "grouped", "global", "window"], [45, 30, 8, 17])[0]
        if shape in ("grouped", "global"):
            return self._grouped(from_sql + where, scope, outer, targets, fuzzy, shape, depth)
        distinct = "DISTINCT " if rng.random() < 0.12 else ""
        if fuzzy and targets is None and not distinct and rng.random() < 0.05:
            return self._star(from_sql + where, scope)
        context = Context(
            scope,
            window=scope if shape == "window" else None,
            outer=outer,
            subqueries=depth > 0 and rng.random() < 0.2,
            fuzzy=fuzzy and not distinct,
        )
        kinds = targets or self._kinds(scope)
        if fuzzy and not distinct and shape == "plain" and rng.random() < 0.04:
            return self._distinct_on(replace(context, fuzzy=False), kinds, from_sql + where)
        if shape == "window" and rng.random() < 0.15:
            return self._named_windows(
                replace(context, subqueries=False), kinds, distinct, from_sql + where
            )
        items = [self.expressions.expr(context, kind, rng.randint(0, 3)) for kind in kinds]
        return self._finish(f"SELECT {distinct}", items, from_sql + where)

    def _named_windows(
        self, context: Context, kinds: list[str], distinct: str, body: str
    ) -> Select:
        """Window functions over windows named in a WINDOW clause (``OVER w1``)."""
        self.expressions.named_windows = windows = {}
        try:
            items = [self.expressions.expr(context, kind, self.rng.randint(0, 3)) for kind in kinds]
        finally:
            self.expressions.named_windows = None
        if not windows:
            return self._finish(f"SELECT {distinct}", items, body)
        named = ", ".join(f"{name} AS ({spec})" for spec, name in windows.items())
        return self._finish(f"SELECT {distinct}", items, body, f" WINDOW {named}")

    def _distinct_on(self, context: Context, kinds: list[str], body: str) -> Select:
        """``DISTINCT ON (first column)``, ordered by every column: the row kept is certain."""
        items = [self.expressions.expr(context, kind, self.rng.randint(0, 2)) for kind in kinds]
        if not _reads_a_column(items[0]):
            items[0] = self.rng.choice(context.columns)
        order = ", ".join(str(i + 1) for i in range(len(items)))
        made = self._finish(f"SELECT DISTINCT ON ({items[0].sql}) ", items, body)
        return Select(f"{made.sql} ORDER BY {order}", made.columns, True)

    def _star(self, body: str, scope: list[Expr]) -> Select:
        columns = tuple(replace(c, sql=f"x{i}") for i, c in enumerate(scope))
        return Select(f"SELECT *{body}", columns)

    def _kinds(self, scope: list[Expr]) -> list[str]:
        """The kinds of 1-4 output columns: mostly those of the columns in scope."""
        kinds = [c.kind for c in scope] + ["int", "bool", "text"]
        return [self.rng.choice(kinds) for _ in range(self.rng.randint(1, 4))]

    @staticmethod
    def _finish(head: str, items: list[Expr], body: str, tail: str = "") -> Select:
        listed = ", ".join(f"{e.sql} AS x{i}" for i, e in enumerate(items))
        columns = tuple(replace(e, sql=f"x{i}") for i, e in enumerate(items))
        return Select(f"{head}{listed}{body}{tail}", columns)

    def _grouped(
        self,
        body: str,
        scope: list[Expr],
        outer: list[Expr],
        targets: list[str] | None,
        fuzzy: bool,
        shape: str,
        depth: int,
    ) -> Select:
        rng = self.rng
        keys: list[Expr] = []
        if shape == "grouped":
            for _ in range(rng.randint(1, 3)):
                if rng.random() < 0.75:
                    keys.append(rng.choice(scope))
                else:
                    kind = rng.choice([c.kind for c in scope])
                    keys.append(self.expressions.expr(Context(scope), kind, 1))
            # A constant key would be a position (GROUP BY 1) or nothing at all: keep columns.
            keys = [k for k in dict.fromkeys(keys) if _reads_a_column(k)]
        context = Context(keys, rows=scope, outer=outer, fuzzy=fuzzy)
        if targets is None:
            chosen = [k for k in keys if rng.random() < 0.8]
            aggregates = [
                self.expressions.expr(context, rng.choice(self._kinds(scope)), rng.randint(0, 2))
                for _ in range(rng.randint(1, 3))
            ]
            items = chosen + aggregates
        else:
            items = [self.expressions.expr(context, kind, rng.randint(0, 2)) for kind in targets]
        tail = f" GROUP BY {self._grouping(keys)}" if keys else ""
        if rng.random() < 0.3:
            having = Context(keys, rows=scope, outer=outer, subqueries=depth > 1)
            tail += f" HAVING {self.expressions.predicate(having, rng.randint(1, 2)).sql}"
        distinct = "DISTINCT " if rng.random() < 0.08 else ""
        if distinct:
            items = [e for e in items if not e.fuzzy] or [keys[0] if keys else Expr("1", "int")]
        return self._finish(f"SELECT {distinct}", items, body, tail)

    def _grouping(self, keys: list[Expr]) -> str:
        listed = ", ".join(k.sql for k in keys)
        roll = self.rng.random()
        if roll < 0.02:
            return f"ROLLUP ({listed})"
        if roll < 0.03:
            return f"CUBE ({listed})"
        if roll < 0.04:
            return f"GROUPING SETS (({listed}), ())"
        return listed

    # --- FROM ---------------------------------------------------------------------------------

    def _alias(self) -> str:
        return f"a{next(self.aliases)}"

    def from_item(self, depth: int) -> tuple[str, list[Expr]]:
        """A table, the CTE, or a derived table, under a fresh alias; and its columns."""
        alias, rng = self._alias(), self.rng
        if self.ctes and rng.random() < 0.4:
            name, columns = rng.choice(list(self.ctes.items()))
            return f"{name} AS {alias}", [replace(c, sql=f"{alias}.{c.sql}") for c in columns]
        if depth > 0 and rng.random() < 0.2:
            derived = self.query(depth - 1)
            return f"({derived.sql}) AS {alias}", [
                replace(c, sql=f"{alias}.{c.sql}") for c in derived.columns
            ]
        table = rng.choice(self.schema.tables)
        self.used.add(table.name)
        columns = [Expr(f"{alias}.{c.name}", c.kind) for c in table.columns]
        return f"{table.name} AS {alias}", columns

    def from_clause(self, depth: int) -> tuple[str, list[Expr], list[str]]:
        """FROM with one to three joined items; its columns; conditions it needs in WHERE."""
        rng = self.rng
        sql, scope = self.from_item(depth)
        conditions: list[str] = []
        for _ in range(rng.choices([0, 1, 2], [50, 35, 15])[0]):
            if depth > 0 and rng.random() < 0.03:
                sql, scope = self._lateral(sql, scope, depth)
                continue
            item, columns = self.from_item(depth)
            asof = self._asof(scope, columns) if rng.random() < 0.02 else None
            if asof is not None:
                sql, scope = f"{sql} ASOF JOIN {item} ON {asof}", scope + columns
                continue
            join = rng.choices([j for _, j in JOINS], [w for w, _ in JOINS])[0]
            if join in ("USING", "NATURAL JOIN"):
                joined = self._using(join, sql, item, scope, columns)
                if joined is not None:
                    sql, scope = joined, scope + columns
                    continue
                join = "JOIN"
            condition = self._join_condition(scope, columns, depth)
            if join == "CROSS JOIN":
                sql = f"{sql} CROSS JOIN {item}"
            elif join == ",":
                sql = f"{sql}, {item}"
                conditions.append(condition)
            else:
                sql = f"{sql} {join} {item} ON {condition}"
            scope = scope + columns
        return f" FROM {sql}", scope, conditions

    def _lateral(self, sql: str, scope: list[Expr], depth: int) -> tuple[str, list[Expr]]:
        """``JOIN LATERAL (subquery reading the columns before it) AS a ON true``, or a comma."""
        alias = self._alias()
        derived = self.query(depth - 1, outer=scope)
        columns = [replace(c, sql=f"{alias}.{c.sql}") for c in derived.columns]
        if self.rng.random() < 0.5:
            return f"{sql}, LATERAL ({derived.sql}) AS {alias}", scope + columns
        return f"{sql} LEFT JOIN LATERAL ({derived.sql}) AS {alias} ON true", scope + columns

    def _asof(self, left: list[Expr], right: list[Expr]) -> str | None:
        """An ASOF JOIN's condition: equal keys, and the latest earlier time (or number)."""
        rng = self.rng
        keys = [(a, b) for a in left for b in right if a.kind == b.kind == "int"]
        times = [
            (a, b) for a in left for b in right if a.kind == b.kind and a.kind in ("ts", "date")
        ]
        if not keys or not times:
            return None
        (ka, kb), (ta, tb) = rng.choice(keys), rng.choice(times)
        return f"{ka.sql} = {kb.sql} AND {ta.sql} >= {tb.sql}"

    def _using(
        self, join: str, sql: str, item: str, left: list[Expr], right: list[Expr]
    ) -> str | None:
        """``JOIN ... USING (c)`` or ``NATURAL JOIN`` when the names allow it, else None."""
        names = {c.sql.split(".")[1]: c.kind for c in left}
        counts = Counter(c.sql.split(".")[1] for c in left + right)
        shared = [c for c in right if c.sql.split(".")[1] in names]
        if any(counts[c.sql.split(".")[1]] != 2 for c in shared):
            return None  # a name twice on one side is ambiguous
        if not shared or any(not _compatible(names[c.sql.split(".")[1]], c.kind) for c in shared):
            return None
        if join == "NATURAL JOIN":
            return f"{sql} NATURAL JOIN {item}"
        column = self.rng.choice(shared).sql.split(".")[1]
        kind = self.rng.choice(["JOIN", "LEFT JOIN", "FULL JOIN"])
        return f"{sql} {kind} {item} USING ({column})"

    def _join_condition(self, left: list[Expr], right: list[Expr], depth: int) -> str:
        """Mostly an equality of columns of matching kinds, sometimes with more conditions."""
        rng = self.rng
        pairs = [(a, b) for a in left for b in right if a.kind == b.kind and not a.rounded]
        pairs = pairs or [(a, b) for a in left for b in right if _compatible(a.kind, b.kind)]
        keys = [(a, b) for a, b in pairs if a.sql.endswith(".c0") and b.sql.endswith(".c0")]
        if not pairs:
            return self.expressions.predicate(Context(left + right), 1).sql
        a, b = rng.choice(keys) if keys and rng.random() < 0.85 else rng.choice(pairs)
        operator = "=" if rng.random() < 0.9 else rng.choice(["<", "<>", ">="])
        condition = f"{a.sql} {operator} {b.sql}"
        if rng.random() < 0.3:
            extra = self.expressions.predicate(Context(left + right), rng.randint(1, 2))
            condition += f" AND {extra.sql}"
        return condition

    def _correlation(self, scope: list[Expr], outer: list[Expr]) -> str:
        """A condition tying a subquery's rows to the enclosing query's row."""
        rng = self.rng
        pairs = [(a, b) for a in scope for b in outer if a.kind == b.kind]
        if not pairs:
            return "true"
        a, b = rng.choice(pairs)
        operator = "=" if rng.random() < 0.9 else rng.choice(["<", ">="])
        return f"{a.sql} {operator} {b.sql}"

    # --- subqueries in expressions (generator_expressions.Subqueries) ---------------------------

    def scalar(self, kind: str, outer: list[Expr], depth: int) -> Expr | None:
        """A subquery of one row and one column: an aggregate, or the first of an order."""
        if self.rng.random() < 0.85:
            made = self.query(max(depth, 0), outer, [kind], shape="global")
        else:
            made = self._top_n(self.select(max(depth, 0), outer, [kind], shape="plain"))
            made = replace(made, sql=made.sql.rsplit(" LIMIT", 1)[0] + " LIMIT 1")
        column = made.columns[0]
        return Expr(f"({made.sql})", kind, column.rounded, column.fuzzy)

    def exists(self, outer: list[Expr], depth: int) -> str:
        made = self.query(max(depth, 0), outer, [self.rng.choice(["int", "text"])])
        return f"({made.sql})"

    def in_list(self, kind: str, outer: list[Expr], depth: int) -> str | None:
        made = self.query(max(depth, 0), outer, [kind])
        return f"({made.sql})"
