"""Scalar subqueries in the select list and HAVING of a grouped query: joined onto the groups.

In ``SELECT g, (SELECT max(w) FROM t2 WHERE t2.name = t1.g) FROM t1 GROUP BY g`` or
``... HAVING sum(v) > (SELECT avg(w) FROM t2 WHERE t2.name = t1.g)`` the subquery is evaluated
once per group, so it may read only the group keys of the outer query (PostgreSQL: "subquery
uses ungrouped column ... from outer query", 42803). Such a subquery (one outside aggregate
calls: inside one it is evaluated per input row, before grouping) is set aside while the rest
of the clause is bound and its aggregates collected, then decorrelated like any scalar subquery
(tidal.sql.subqueries) over the aggregate's output, where only the keys are visible: a left join
of the groups with the subquery's rows, on its equalities with the keys.

>>> from tidal.sql.parser import parse_statement
>>> select = parse_statement("SELECT g, 1 + (SELECT max(w) FROM t2) FROM t1 GROUP BY g")
>>> aside = SetAside(Scope())
>>> set_aside(select.expressions[1], aside).sql(), len(aside.found)
('1 + __SUBQUERY(0)', 1)
"""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog.sqlstate import UNDEFINED_COLUMN, UNDEFINED_TABLE
from tidal.sql import aggregates
from tidal.sql.errors import SqlError, grouping_error, unsupported
from tidal.sql.plan import ref
from tidal.sql.scope import Frame, Scope

# The stand-in for the n-th subquery set aside (a call no user can write: it has no function).
_MARK = "__subquery"


class SetAside:
    """The subqueries set aside while one clause is bound, and the scope before grouping (to
    name a column a subquery reads that is not a group key)."""

    def __init__(self, before: Scope) -> None:
        self.found: list[exp.Expression] = []
        self.before = before


def grouped(select: exp.Select) -> bool:
    """Whether ``select`` groups: GROUP BY, HAVING, or an aggregate call in its select list
    outside subqueries and OVER (...)."""
    return bool(
        select.args.get("group")
        or select.args.get("having")
        or any(_aggregate_outside(item) for item in select.expressions)
    )


def _aggregate_outside(node: exp.Expression) -> bool:
    if isinstance(node, (exp.Subquery, exp.Select, exp.Exists)):
        return False
    if isinstance(node, exp.Window):
        return any(_aggregate_outside(a) for a in node.this.iter_expressions())
    if aggregates.is_aggregate(node):
        return True
    return any(_aggregate_outside(child) for child in node.iter_expressions())


def set_aside_items(select: exp.Select, items: list, aside: SetAside) -> list:
    """The select list ``items`` (expression, output name) with their subqueries set aside, if
    ``select`` groups; an item that GROUP BY names (by position or output name) keeps its
    subquery, evaluated per input row and grouped by."""
    if not grouped(select):
        return items
    named = _named_by_group(select.args.get("group"))
    return [
        (item, name)
        if str(position) in named or name.lower() in named
        else (set_aside(item, aside), name)
        for position, (item, name) in enumerate(items, 1)
    ]


def _named_by_group(group: exp.Group | None) -> set[str]:
    """The positions and bare names in a GROUP BY (ROLLUP, CUBE, GROUPING SETS included)."""
    named: set[str] = set()
    for node in group.find_all(exp.Literal, exp.Column) if group else []:
        if isinstance(node, exp.Literal) and not node.is_string:
            named.add(node.name)
        elif isinstance(node, exp.Column) and not node.table:
            named.add(node.name.lower())
    return named


def bind_having(binder, having: exp.Having | None, frame: Frame):
    """The bound HAVING condition (None without one), its subqueries set aside."""
    aside = SetAside(frame.scope)
    if having is None:
        return None, aside
    return binder.expression(set_aside(having.this, aside), frame), aside


def set_aside(node: exp.Expression, aside: SetAside) -> exp.Expression:
    """``node`` with each scalar subquery outside aggregate calls replaced by a stand-in, kept
    in ``aside``."""
    found = aside.found

    def visit(n: exp.Expression) -> exp.Expression:
        if (
            isinstance(n, exp.Subquery)
            and not (isinstance(n.parent, exp.In) and n.arg_key == "query")
            and not _inside_aggregate(n, node)
        ):
            found.append(n.copy())
            return exp.Anonymous(this=_MARK, expressions=[exp.Literal.number(len(found) - 1)])
        return n

    if isinstance(node, exp.Subquery):
        return visit(node)
    return node.copy().transform(visit, copy=False) if node.find(exp.Subquery) else node


def _inside_aggregate(node: exp.Expression, root: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and node is not root:
        if aggregates.is_aggregate(parent) or isinstance(parent, (exp.Select, exp.Exists)):
            return True
        node, parent = parent, parent.parent
    return False


def bring_back(binder, node: exp.Expression, frame: Frame, aside: SetAside) -> exp.Expression:
    """Bound ``node`` with each stand-in replaced by the column of its subquery, joined onto
    ``frame`` (the groups)."""
    found = aside.found

    def visit(n: exp.Expression) -> exp.Expression:
        if isinstance(n, exp.Anonymous) and n.name == _MARK:
            subquery = found[int(n.expressions[0].name)]
            try:
                return ref(binder._scalar_column(subquery.this, frame))
            except SqlError as error:
                if error.sqlstate in (UNDEFINED_COLUMN, UNDEFINED_TABLE):
                    _refuse_ungrouped(subquery, frame.scope, aside.before)
                raise
        return n

    return node.transform(visit) if found else node


def _refuse_ungrouped(subquery: exp.Subquery, groups: Scope, before: Scope) -> None:
    """The error for a subquery that reads an outer column that is not a group key."""
    for column in subquery.find_all(exp.Column):
        if groups.resolve(column) is None and before.resolve(column) is not None:
            if column.find_ancestor(exp.AggFunc) is not None:
                raise unsupported(
                    f"an aggregate of the outer query's {column.sql()} inside a subquery"
                )
            raise grouping_error(
                f"subquery uses ungrouped column {column.sql()} from outer query: group by it, "
                "or correlate the subquery with a GROUP BY key"
            )
