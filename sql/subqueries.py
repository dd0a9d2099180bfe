"""Decorrelating subqueries into joins.

- ``[NOT] EXISTS (q)`` and ``x IN (q)`` as WHERE conjuncts become semi / anti joins. Conditions in
  ``q``'s WHERE that read outer columns become the join condition; the inner columns they read
  are added to ``q``'s select list.
- ``x NOT IN (q)`` follows SQL's three-valued logic: no row passes if ``q`` has a NULL, every row
  passes if ``q`` is empty. Uncorrelated: an anti join plus ``q``'s row and NULL counts;
  correlated: an anti join whose condition also matches NULLs on either side.
- A scalar subquery becomes a column: uncorrelated, a left join with its one row; correlated by
  equalities, its aggregate is grouped by the inner side of those equalities and left-joined on
  them. An outer row no group matches gets the select item computed over no rows (0 for a
  bare COUNT, 1 for ``count(*) + 1``, NULL when the subquery's HAVING rejects no rows), as in
  PostgreSQL.
"""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog.sqlstate import SYNTAX_ERROR
from tidal.sql import aggregates
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.joins import make_join
from tidal.sql.plan import (
    Aggregate,
    AggregateCall,
    Field,
    Filter,
    Plan,
    Project,
    conjunction,
    conjuncts,
    ref,
)
from tidal.sql.scope import Frame, PositionalColumn, Scope, ScopeColumn


def is_predicate(part: exp.Expression) -> bool:
    inner = part.this if isinstance(part, exp.Not) else part
    return isinstance(inner, exp.Exists) or (
        isinstance(inner, exp.In) and inner.args.get("query") is not None
    )


def _frame_over(frame: Frame, scope: Scope) -> Frame:
    return Frame(frame.plan, scope, frame.ctes, subqueries_allowed=False)


def _own_columns(node: exp.Expression):
    """Column references of ``node`` outside nested subqueries."""
    if isinstance(node, exp.Column):
        yield node
        return
    if isinstance(node, (exp.Select, exp.Subquery, exp.SetOperation)):
        return
    for child in node.iter_expressions():
        yield from _own_columns(child)


def _is_outer(column: exp.Column, inner: Scope, outer: Scope) -> bool:
    if isinstance(column, PositionalColumn) or inner.resolve(column) is not None:
        return False
    return outer.resolve(column) is not None


def _aggregated(query: exp.Select) -> bool:
    return bool(
        query.args.get("group")
        or query.args.get("distinct")
        or query.args.get("limit")
        or query.args.get("having")
        or any(aggregates.contains_aggregate(e) for e in query.expressions)
    )


def _scalar_subqueries(node: exp.Expression):
    if isinstance(node, exp.Subquery):
        parent = node.parent
        if not (isinstance(parent, exp.In) and node.arg_key == "query"):
            yield node
        return
    if isinstance(node, (exp.Select, exp.Exists)):
        return
    for child in list(node.iter_expressions()):
        yield from _scalar_subqueries(child)


class Subqueries:
    """Subqueries in WHERE and in expressions, decorrelated into joins. A mixin of the Binder
    (tidal.sql.binder), like FromClause and WindowFunctions."""

    def predicate_join(self, part: exp.Expression, frame: Frame) -> Plan:
        negated = isinstance(part, exp.Not)
        inner = part.this if negated else part
        if isinstance(inner, exp.Exists):
            query = inner.this
            probe = None
        else:
            query = inner.args["query"].this
            probe = inner.this
        if not isinstance(query, exp.Select):
            if probe is None or negated:
                raise unsupported(
                    f"{'NOT ' if negated else ''}{'IN' if probe is not None else 'EXISTS'} "
                    "over a set operation: wrap it in SELECT * FROM (...)"
                )
            query = exp.select("*").from_(
                exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier("q")))
            )
        if probe is not None and negated:
            return self._not_in(probe, query, frame)
        uncorrelated, correlated, inner_scope = self._split(query, frame)
        if correlated and _aggregated(query):
            raise unsupported(
                "a correlated [NOT] EXISTS / IN subquery with GROUP BY, aggregates, DISTINCT or LIMIT"
            )
        keep_first = probe is not None
        if keep_first and len(query.expressions) != 1:
            raise SqlError("subquery in IN must return exactly one column", sqlstate=SYNTAX_ERROR)
        sub_plan, _, condition_parts = self._bind_with_correlation(
            uncorrelated, correlated, inner_scope, frame, keep_first
        )
        width = len(frame.plan.schema)
        if probe is not None:
            outer = self.expression(probe, frame)
            condition_parts.append(exp.EQ(this=outer, expression=ref(width)))
        kind = "anti" if negated else "semi"
        return make_join(frame.plan, sub_plan, kind, conjunction(condition_parts), self.infer)

    def _bind_with_correlation(
        self,
        uncorrelated: exp.Select,
        correlated,
        inner_scope: Scope,
        frame: Frame,
        keep_first: bool,
        group: bool = False,
        marked: bool = False,
    ):
        """Bind ``uncorrelated`` with the inner columns of ``correlated`` appended to its select list,
        and the correlated conditions rewritten over (outer columns, subquery columns). ``marked``
        appends a last column that is true on every row, NULL where an outer join found none."""
        inner_columns: list[exp.Column] = []
        for part in correlated:
            for column in _own_columns(part):
                if inner_scope.resolve(column) is not None and column not in inner_columns:
                    inner_columns.append(column)
        select = uncorrelated.copy()
        items = list(select.expressions) if keep_first else []
        items += [exp.alias_(c.copy(), f"__corr{i}") for i, c in enumerate(inner_columns)]
        if marked:
            items.append(exp.alias_(exp.true(), "__matched"))
        if not items:
            items = [exp.Literal.number(1)]
        select.set("expressions", items)
        if group and inner_columns:
            select.set("group", exp.Group(expressions=[c.copy() for c in inner_columns]))
        sub_plan, _ = self.query(select, frame.ctes, None)
        width = len(frame.plan.schema)
        offset = 1 if keep_first else 0
        parts = []
        for part in correlated:

            def place(node: exp.Expression) -> exp.Expression:
                if isinstance(node, exp.Column) and not isinstance(node, PositionalColumn):
                    if inner_scope.resolve(node) is not None:
                        return PositionalColumn.at(width + offset + inner_columns.index(node))
                    outer_index = frame.scope.resolve(node)
                    if outer_index is None:
                        raise frame.scope.missing(node)
                    return PositionalColumn.at(outer_index)
                return node

            placed = part.copy().transform(place, copy=False)
            combined = Scope(
                frame.scope.columns
                + [ScopeColumn(f.name, f.type, (), True) for f in sub_plan.schema]
            )
            parts.append(self.expression(placed, _frame_over(frame, combined)))
        return sub_plan, len(sub_plan.schema), parts

    def _split(self, query: exp.Select, frame: Frame):
        """``query`` without its correlated WHERE conjuncts, those conjuncts, and its FROM scope."""
        inner = self._from(query, frame.ctes, None)
        where = query.args.get("where")
        local, correlated = [], []
        for part in conjuncts(where.this if where is not None else None):
            if any(_is_outer(c, inner.scope, frame.scope) for c in _own_columns(part)):
                correlated.append(part)
            else:
                local.append(part)
        for item in query.expressions:
            if any(_is_outer(c, inner.scope, frame.scope) for c in _own_columns(item)):
                raise unsupported(
                    f"outer column in a subquery's select list ({item.sql()}): "
                    "move the condition into the subquery's WHERE"
                )
        uncorrelated = query.copy()
        uncorrelated.set("where", exp.Where(this=conjunction(local)) if local else None)
        return uncorrelated, correlated, inner.scope

    def _not_in(self, probe: exp.Expression, query: exp.Select, frame: Frame) -> Plan:
        uncorrelated, correlated, inner_scope = self._split(query, frame)
        if len(query.expressions) != 1:
            raise SqlError(
                "subquery in NOT IN must return exactly one column", sqlstate=SYNTAX_ERROR
            )
        if correlated:
            return self._correlated_not_in(probe, uncorrelated, correlated, inner_scope, frame)
        sub_plan, _ = self.query(uncorrelated, frame.ctes, None)
        width = len(frame.plan.schema)
        counts = Aggregate(
            sub_plan,
            (),
            (
                AggregateCall("count_star", (), type="BIGINT"),
                AggregateCall("count", (0,), type="BIGINT"),
            ),
            (Field("rows", "BIGINT"), Field("non_null", "BIGINT")),
        )
        with_counts = make_join(frame.plan, counts, "inner", None, self.infer)
        outer = self.expression(probe, frame)
        anti = make_join(
            with_counts, sub_plan, "anti", exp.EQ(this=outer, expression=ref(width + 2)), self.infer
        )
        rows, non_null = ref(width), ref(width + 1)
        passes = exp.or_(
            exp.EQ(this=rows, expression=exp.Literal.number(0)),
            exp.and_(
                exp.Not(this=exp.Is(this=outer.copy(), expression=exp.Null())),
                exp.EQ(this=rows, expression=non_null),
            ),
        )
        kept = Filter(anti, passes)
        return Project(kept, tuple(ref(i) for i in range(width)), frame.plan.schema)

    def _correlated_not_in(
        self,
        probe: exp.Expression,
        uncorrelated: exp.Select,
        correlated,
        inner_scope: Scope,
        frame: Frame,
    ) -> Plan:
        """``x NOT IN (q)`` with ``q`` correlated: an anti join on the correlation that drops an outer
        row when its own set holds x, holds a NULL, or is probed with a NULL x (NOT IN is then false
        or NULL); an outer row whose set is empty passes."""
        if _aggregated(uncorrelated):
            raise unsupported(
                "a correlated NOT IN subquery with GROUP BY, aggregates, DISTINCT or LIMIT"
            )
        sub_plan, _, parts = self._bind_with_correlation(
            uncorrelated, correlated, inner_scope, frame, keep_first=True
        )
        outer = self.expression(probe, frame)
        value = ref(len(frame.plan.schema))
        parts.append(
            exp.or_(
                exp.EQ(this=outer, expression=value),
                exp.Is(this=value.copy(), expression=exp.Null()),
                exp.Is(this=outer.copy(), expression=exp.Null()),
            )
        )
        return make_join(frame.plan, sub_plan, "anti", conjunction(parts), self.infer)

    def replace_scalar_subqueries(self, node: exp.Expression, frame: Frame) -> exp.Expression:
        """``node`` with each scalar subquery replaced by a column joined onto ``frame``."""
        found = [s for s in _scalar_subqueries(node)]
        if not found:
            return node
        if not frame.subqueries_allowed:
            raise unsupported(
                "a scalar subquery in this clause: use it in WHERE or in the SELECT list"
            )
        node = node.copy()
        for sub in list(_scalar_subqueries(node)):
            index = self._scalar_column(sub.this, frame)
            if sub is node:
                return PositionalColumn.at(index)
            sub.replace(PositionalColumn.at(index))
        return node

    def _scalar_column(self, query: exp.Expression, frame: Frame) -> int:
        if not isinstance(query, exp.Select):
            raise unsupported("a set operation as a scalar subquery")
        if len(query.expressions) != 1:
            raise SqlError("subquery must return only one column", sqlstate=SYNTAX_ERROR)
        uncorrelated, correlated, inner_scope = self._split(query, frame)
        one_row = not query.args.get("group") and any(
            aggregates.contains_aggregate(e) for e in query.expressions
        )
        limit_one = (
            query.args.get("limit") is not None and query.args["limit"].expression.sql() == "1"
        )
        width = len(frame.plan.schema)
        if correlated:
            if not one_row:
                raise unsupported(
                    "a correlated scalar subquery must be an aggregate without GROUP BY"
                )
            for part in correlated:
                if not isinstance(part, exp.EQ):
                    raise unsupported(
                        f"correlated condition {part.sql()}: only equalities (inner = outer) "
                        "are supported in a correlated scalar subquery"
                    )
            sub_plan, _, parts = self._bind_with_correlation(
                uncorrelated,
                correlated,
                inner_scope,
                frame,
                keep_first=True,
                group=True,
                marked=_needs_marker(query),
            )
            plan = make_join(frame.plan, sub_plan, "left", conjunction(parts), self.infer)
        else:
            if not (one_row or limit_one):
                raise unsupported(
                    "a scalar subquery that may return several rows: make it an aggregate "
                    "or add ORDER BY ... LIMIT 1"
                )
            sub_plan, _ = self.query(uncorrelated, frame.ctes, None)
            plan = make_join(frame.plan, sub_plan, "left", None, self.infer)
        value = ref(width)
        value_type = sub_plan.schema[0].type
        if correlated:
            value = self._unmatched_value(
                query, value, value_type, width + len(sub_plan.schema) - 1, frame
            )
        exprs = tuple(ref(i) for i in range(width)) + (value,)
        plan = Project(plan, exprs, frame.plan.schema + (Field("__scalar", value_type),))
        frame.append(plan, [ScopeColumn("__scalar", value_type, (), hidden=True)])
        return width

    def _unmatched_value(self, query, value, value_type: str, marker: int, frame: Frame):
        """The correlated aggregate's value for an outer row no group matched: the select item
        over no rows (``count`` is 0), or NULL if the subquery's HAVING rejects no rows."""
        empty = _over_no_rows(query)
        if isinstance(empty, exp.Null):
            return value
        empty = self.expression(exp.cast(empty, value_type), frame)
        if not _needs_marker(query):  # a bare count is never NULL where a group matched
            return exp.func("COALESCE", value, empty)
        missing = exp.Is(this=ref(marker), expression=exp.null())
        return exp.Case(ifs=[exp.If(this=missing, true=empty)], default=value)


def _over_no_rows(query: exp.Select) -> exp.Expression:
    """A correlated aggregate subquery's value over no rows (its HAVING applied)."""
    empty = aggregates.over_no_rows(query.expressions[0].unalias())
    having = query.args.get("having")
    if having is not None:
        empty = exp.Case(ifs=[exp.If(this=aggregates.over_no_rows(having.this), true=empty)])
    return empty


def _needs_marker(query: exp.Select) -> bool:
    """Whether telling an unmatched outer row from a group whose value is NULL takes a marker
    column: unless the value over no rows is NULL anyway, or the item is a bare count."""
    item = query.expressions[0].unalias()
    count = item.this if isinstance(item, exp.Filter) else item
    bare_count = isinstance(count, exp.Count) and not query.args.get("having")
    return not bare_count and not isinstance(_over_no_rows(query), exp.Null)
