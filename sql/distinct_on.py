"""SELECT DISTINCT ON (expressions): the first row of each group of rows equal on them.

``SELECT DISTINCT ON (g) g, v FROM t ORDER BY g, v DESC`` keeps, for each ``g``, the row that
comes first by the ORDER BY. It is bound as what the documentation used to tell users to write:
the rows numbered by ``ROW_NUMBER() OVER (PARTITION BY g ORDER BY v DESC)``, the first kept, before
the select list is computed (so the ORDER BY may read any column). Over insert-only input that
is the per-partition top-1 operator, which keeps one row per group.

PostgreSQL's rules: the expressions are read like ORDER BY terms (an output name, a position or
an expression), and an ORDER BY must begin with them, in any order (42P10 otherwise); the terms
after them pick the row. Rows tied on all of those are told apart by the row's other columns
(the same rule as ROW_NUMBER and ``ORDER BY ... LIMIT``), so the result is deterministic; it
equals PostgreSQL's and DuckDB's whenever the tied rows give the same output row. Without a
term that picks the row, PostgreSQL keeps an arbitrary one: a view or subquery that selects
more than the DISTINCT ON expressions is refused then, as LIMIT without ORDER BY is.
"""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog.sqlstate import INVALID_COLUMN_REFERENCE
from tidal.sql import aggregates
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.plan import (
    Field,
    Filter,
    OverWindow,
    Project,
    SortKey,
    WindowCall,
    ref,
    unique,
)
from tidal.sql.scope import Frame


def keep_first(
    binder, select: exp.Select, frame: Frame, items: list[exp.Expression], names, top: bool
) -> None:
    """Filter ``frame.plan`` to the first row of each DISTINCT ON group (its columns unchanged).

    ``items`` are the bound select list, ``names`` its output names; ``binder`` binds the
    expressions (an ORDER BY term of a grouped query was bound with the aggregates).
    """
    pre_order = getattr(frame, "pre_aggregate_order", None)
    rewrite = getattr(frame, "aggregate_rewrite", None)

    def order_term(position: int, term: exp.Expression) -> exp.Expression:
        if pre_order is not None and rewrite is not None:
            return rewrite(pre_order[position])
        return binder.expression(term, frame)

    def bind(term: exp.Expression) -> exp.Expression:
        return binder.expression(term, frame)

    terms = select.args["distinct"].args["on"]
    terms = terms.expressions if isinstance(terms, exp.Tuple) else [terms]
    keys = unique([_item(term, items, names) or _bound(bind, term) for term in terms])
    order = select.args.get("order")
    ordered = []
    for position, term in enumerate(order.expressions if order else []):
        bound = _item(term.this, items, names)
        if bound is None:
            bound = _bound(lambda t, p=position: order_term(p, t), term.this, aggregated=True)
        ordered.append((bound, bool(term.args.get("desc")), bool(term.args.get("nulls_first"))))
    picking = _picking(keys, ordered)
    if not picking and not top and any(item not in keys for item in items):
        raise unsupported(
            "DISTINCT ON without an ORDER BY that picks the row, in a view or subquery (it "
            "keeps an arbitrary row): ORDER BY the DISTINCT ON expressions, then what decides"
        )
    width = len(frame.plan.schema)
    extra: list[exp.Expression] = []

    def column(expression: exp.Expression) -> int:
        if isinstance(expression, exp.Column):
            return int(expression.name[1:])
        if expression not in extra:
            extra.append(expression)
        return width + extra.index(expression)

    partition = tuple(column(k) for k in keys)
    sort = tuple(SortKey(column(e), desc, first) for e, desc, first in picking)
    below = frame.plan
    if extra:
        types = binder.infer.infer(extra, frame.plan.schema)
        below = Project(
            below,
            tuple(ref(i) for i in range(width)) + tuple(extra),
            below.schema + tuple(Field(f"__distinct_on{i}", t) for i, t in enumerate(types)),
        )
    call = WindowCall(exp.RowNumber(), partition, sort, None, "BIGINT")
    numbered = OverWindow(below, (call,), below.schema + (Field("__row_number", "BIGINT"),))
    first = Filter(numbered, exp.EQ(this=ref(len(below.schema)), expression=exp.Literal.number(1)))
    frame.plan = Project(first, tuple(ref(i) for i in range(width)), frame.plan.schema)


def _item(term: exp.Expression, items: list[exp.Expression], names: list[str]):
    """The select-list item a term names by position or output name; None if it names none."""
    if isinstance(term, exp.Literal) and not term.is_string:
        position = int(term.this)
        if not 1 <= position <= len(items):
            raise SqlError(f"DISTINCT ON / ORDER BY position {position} is not in the select list")
        return items[position - 1]
    if isinstance(term, exp.Column) and not term.table:
        for item, name in zip(items, names):
            if name.lower() == term.name.lower():
                return item
    return None


def _bound(bind, term: exp.Expression, aggregated: bool = False) -> exp.Expression:
    """A DISTINCT ON expression or ORDER BY term that is not an output column, bound. Window
    functions and subqueries there are refused (they would be evaluated row by row); so are
    aggregates, except in an ORDER BY term of a grouped query (bound with the others)."""
    if term.find(exp.Subquery, exp.Window) or (
        not aggregated and aggregates.contains_aggregate(term)
    ):
        raise unsupported(
            f"a subquery, aggregate or window function in DISTINCT ON or its ORDER BY "
            f"({term.sql()}): select it and name its output column"
        )
    return bind(term)


def _picking(keys: list[exp.Expression], ordered: list) -> list:
    """The ORDER BY terms after those that are DISTINCT ON expressions, which must lead it."""
    covered: list[exp.Expression] = []
    for index, (expression, _, _) in enumerate(ordered):
        if expression in keys:
            covered.append(expression)
            continue
        if any(k not in covered for k in keys):
            raise SqlError(
                "SELECT DISTINCT ON expressions must match initial ORDER BY expressions",
                sqlstate=INVALID_COLUMN_REFERENCE,
            )
        return ordered[index:]
    return []
