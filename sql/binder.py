"""The binder: a parsed query plus the catalog give a typed logical plan.

Column references become positional ``ref``s, every expression is typed by DuckDB's rules
(tidal.sql.typeinfer), aggregates and window functions become plan nodes over projected
columns, and subqueries are decorrelated into joins (tidal.sql.subqueries).
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from tidal.catalog import Catalog
from tidal.catalog.sqlstate import DATATYPE_MISMATCH
from tidal.sql import (
    aggregates,
    distinct_on,
    functions,
    grouped_subqueries,
    grouping_sets,
    json_functions,
    set_returning,
    similar_to,
    subqueries,
)
from tidal.sql.clauses import Binds
from tidal.sql.dialect import EmitOnWindowClose
from tidal.sql.errors import SqlError, grouping_error, unsupported
from tidal.sql.eventtime import emit_on_window_close
from tidal.sql.from_clause import FromClause, _renamed
from tidal.sql.lateral import LateralJoins
from tidal.sql.nested import field_access, paren_field
from tidal.sql.plan import (
    Aggregate,
    Distinct,
    Field,
    Filter,
    Limit,
    Plan,
    Project,
    Sort,
    SortKey,
    TopN,
    conjunction,
    conjuncts,
    ref,
    unique,
)
from tidal.sql.recursive import bind_recursive, reads_itself
from tidal.sql.row_counts import list_position, row_count
from tidal.sql.scope import Frame, PositionalColumn, Scope, ScopeColumn
from tidal.sql.set_operations import SetOperations
from tidal.sql.subqueries import Subqueries
from tidal.sql.typeinfer import TypeInference
from tidal.sql.windows import WindowFunctions, expand_named_windows, expand_row_orderings


class Binder(FromClause, LateralJoins, WindowFunctions, Subqueries, SetOperations):
    # The arguments of query nodes this class binds (tidal.sql.clauses refuses any other);
    # the mixins list those of FROM, joins, windows and set operations.
    BINDS: ClassVar[Binds] = {
        EmitOnWindowClose: ("this",),
        exp.Select: (
            "expressions",
            "where",
            "group",
            "having",
            "order",
            "limit",
            "offset",
            "distinct",
            "with_",
        ),
        exp.Subquery: ("this", "alias", "order", "limit", "offset"),
        exp.With: ("expressions", "recursive"),  # recursive: tidal.sql.recursive
        exp.CTE: ("this", "alias", "materialized"),  # [NOT] MATERIALIZED: how, not what
        exp.Where: ("this",),
        exp.Having: ("this",),
        exp.Group: ("expressions", "rollup", "cube", "grouping_sets"),  # refused by _aggregate
        exp.Distinct: ("expressions", "on"),  # DISTINCT ON: refused by select
        exp.Order: ("this", "expressions"),
        exp.Ordered: ("this", "desc", "nulls_first"),
        exp.Limit: ("expression", "limit_options"),
        exp.Offset: ("expression",),
        exp.Fetch: ("direction", "count", "limit_options"),
        exp.LimitOptions: ("rows",),  # ROW or ROWS; PERCENT and WITH TIES are not bound
        exp.Star: ("except_", "replace"),  # refused by _select_items
        exp.Column: ("this", "table", "db"),  # db: ``t.s.a``, field a of column s (nested.py)
        exp.Alias: ("this", "alias"),
        exp.Values: ("expressions", "alias"),
    }

    def __init__(self, catalog: Catalog, infer: TypeInference | None = None) -> None:
        self.catalog = catalog
        self.infer = infer or TypeInference()
        self._views_in_progress: list[str] = []
        self.referenced: set[str] = set()  # catalog names the last bound query read

    # --- entry points -----------------------------------------------------------------------

    def bind_query(self, query: exp.Expression, *, ad_hoc: bool = True) -> Plan:
        """The plan of a SELECT (or set operation). ``ad_hoc`` keeps ORDER BY and LIMIT as Sort and
        Limit; in a view, ORDER BY ... LIMIT becomes a TopN and ORDER BY alone is dropped."""
        self.referenced = set()
        plan, _ = self.query(query, {}, None, top=ad_hoc)
        return plan

    # --- queries ------------------------------------------------------------------------------

    def query(
        self, node: exp.Expression, ctes: dict, outer: Scope | None, top: bool = False
    ) -> tuple[Plan, Scope]:
        if isinstance(node, EmitOnWindowClose):
            plan, scope = self.query(node.this, ctes, outer, top)
            return emit_on_window_close(plan), scope
        if isinstance(node, exp.Subquery):
            inner_plan, inner_scope = self.query(node.this, ctes, outer, top)
            return self._order_limit_of_subquery(node, inner_plan, inner_scope, ctes, outer, top)
        ctes = self._with(node, ctes, outer)
        if isinstance(node, exp.Select):
            return self.select(node, ctes, outer, top)
        if isinstance(node, exp.SetOperation):
            return self.set_operation(node, ctes, outer, top)
        if isinstance(node, exp.Values):
            return self.values(node)
        raise unsupported(f"{node.key.upper()} as a query")

    def _order_limit_of_subquery(self, node, plan, scope, ctes, outer, top):
        if node.args.get("order") or node.args.get("limit"):
            frame = Frame(plan, scope, ctes)
            plan = self._order_and_limit(node, frame, list(range(len(plan.schema))), top)
            return plan, Scope(scope.columns[: len(plan.schema)], outer)
        return plan, scope

    def _with(self, node: exp.Expression, ctes: dict, outer: Scope | None) -> dict:
        with_ = node.args.get("with_")
        if not with_:
            return ctes
        ctes = dict(ctes)
        for cte in with_.expressions:
            if with_.args.get("recursive") and reads_itself(cte):
                ctes[cte.alias.lower()] = bind_recursive(self, cte, ctes, outer)
                continue
            plan, scope = self.query(cte.this, ctes, outer)
            names = (
                [c.name for c in cte.args["alias"].columns] if cte.args["alias"].columns else None
            )
            if names:
                if len(names) > len(plan.schema):
                    raise SqlError(
                        f"WITH {cte.alias} names {len(names)} columns but its query has "
                        f"{len(plan.schema)}"
                    )
                scope = _renamed(scope, names)
            ctes[cte.alias.lower()] = (plan, scope)
        return ctes

    def select(
        self, select: exp.Select, ctes: dict, outer: Scope | None, top: bool
    ) -> tuple[Plan, Scope]:
        select = expand_row_orderings(expand_named_windows(select))
        frame = self._from(select, ctes, outer)
        where = select.args.get("where")
        if where is not None:
            self._where(where.this, frame)
        items = self._select_items(select, frame)
        aside = grouped_subqueries.SetAside(frame.scope)  # scalar subqueries joined onto groups
        items = grouped_subqueries.set_aside_items(select, items, aside)
        group = select.args.get("group")
        having = select.args.get("having")
        order = select.args.get("order")
        order_terms = [o.this for o in order.expressions] if order else []
        bound_items = [self.expression(item, frame, select_item=True) for item, _ in items]
        for bound in bound_items:
            set_returning.check_placement(bound)
        returns_sets = any(set_returning.contains(e) for e in bound_items)
        frame.subqueries_allowed = False
        if group or having or any(aggregates.contains_aggregate(e) for e in bound_items):
            bound_items, frame = self._aggregate(select, items, bound_items, frame)
        else:
            frame.subqueries_allowed = True
        bound_items = [grouped_subqueries.bring_back(self, e, frame, aside) for e in bound_items]
        if any(e.find(exp.Window) for e in bound_items):
            bound_items, frame = self._windows(bound_items, frame)
        if returns_sets:
            set_returning.refuse_below(frame.plan)
            bound_items, frame = set_returning.expand(bound_items, frame, self.infer)
        names = [name for _, name in items]
        distinct = select.args.get("distinct")
        if distinct is not None and distinct.args.get("on"):
            distinct_on.keep_first(self, select, frame, bound_items, names, top)
            distinct = None
        types = self.infer.infer(bound_items, frame.plan.schema) if bound_items else []
        if len(set(names)) < len(names) and not top:
            names = _dedupe(names)
        fields = tuple(Field(n, t) for n, t in zip(names, types))
        plan: Plan = Project(frame.plan, tuple(bound_items), fields)
        output = Scope([ScopeColumn(n, t, ()) for n, t in zip(names, types)], outer)
        if distinct is not None:
            plan = Distinct(plan)
        if order_terms or select.args.get("limit") or select.args.get("offset"):
            plan = self._select_order_limit(
                select, plan, output, frame, bound_items, names, top, distinct is not None
            )
        return plan, output

    # --- WHERE --------------------------------------------------------------------------------

    def _where(self, condition: exp.Expression, frame: Frame) -> None:
        # Plain conditions first: over a comma join they become join keys (filter_into_join)
        # before a subquery's join lands on top of the cross product and hides them.
        parts = conjuncts(condition)
        predicates = [p for p in parts if subqueries.is_predicate(p)]
        scalar = [p for p in parts if p not in predicates and p.find(exp.Subquery)]
        self._filter([p for p in parts if p not in predicates and p not in scalar], frame)
        for part in predicates:
            frame.plan = self.predicate_join(part, frame)
        self._filter(scalar, frame)

    def _filter(self, parts: list[exp.Expression], frame: Frame) -> None:
        if not parts:
            return
        predicate = self.expression(conjunction(parts), frame)
        if aggregates.contains_aggregate(predicate):
            raise grouping_error("aggregate functions are not allowed in WHERE: use HAVING")
        if predicate.find(exp.Window):
            raise grouping_error(
                "window functions are not allowed in WHERE: filter in an outer query"
            )
        self._check_boolean(predicate, frame.plan.schema, "WHERE")
        frame.plan = Filter(frame.plan, predicate)

    def _check_boolean(
        self, condition: exp.Expression, fields: tuple[Field, ...], clause: str
    ) -> None:
        """A WHERE / HAVING / ON condition must be BOOLEAN, as in PostgreSQL (no cast of text)."""
        (condition_type,) = self.infer.infer([condition], fields)
        if condition_type not in ("BOOLEAN", "NULL"):
            raise SqlError(
                f"the condition of {clause} must be BOOLEAN, not {condition_type}: "
                "compare it with something (e.g. x = 1, x IS NOT NULL)",
                sqlstate=DATATYPE_MISMATCH,
            )

    # --- expressions --------------------------------------------------------------------------

    def expression(
        self, node: exp.Expression, frame: Frame, *, select_item: bool = False
    ) -> exp.Expression:
        """``node`` with column references resolved to ``ref``s over ``frame.plan``; a
        set-returning function in it is an error unless it is a ``select_item``."""
        node = functions.expand(node, self.catalog, self.referenced)
        node = similar_to.rewrite(node)
        node = json_functions.rewrite(node)
        node = self.replace_scalar_subqueries(node, frame)

        def visit(n: exp.Expression) -> exp.Expression:
            if isinstance(n, PositionalColumn):
                return ref(n.position)
            if isinstance(n, exp.Column):
                if isinstance(n.this, exp.Star):
                    raise SqlError(f"{n.sql()} is only allowed in the SELECT list")
                index = frame.scope.resolve(n)
                if index is None and (field := field_access(n, frame.scope)) is not None:
                    return field.transform(visit, copy=False)
                if index is None:
                    if frame.scope.outer is not None and frame.scope.outer.resolve(n) is not None:
                        raise unsupported(
                            f"correlated reference {n.sql()!r} here: outer columns may "
                            "appear only in the subquery's WHERE conditions"
                        )
                    raise frame.scope.missing(n)
                return ref(index)
            if isinstance(n, exp.Dot) and (field := paren_field(n)) is not None:
                return field.transform(visit, copy=False)
            if isinstance(n, (exp.Subquery, exp.Exists)) or (
                isinstance(n, exp.In) and n.args.get("query")
            ):
                raise unsupported(
                    f"subquery here ({n.sql()[:60]}): subqueries may appear as "
                    "[NOT] IN / [NOT] EXISTS conditions in WHERE, or as scalar subqueries"
                )
            if isinstance(n, (exp.Placeholder, exp.Parameter)):
                raise SqlError("query parameters are not supported in this context")
            if isinstance(n, exp.Anonymous) and n.name.lower() == "proctime":
                raise unsupported(
                    "PROCTIME(): processing-time attributes; windows run on event time (a "
                    "column with WATERMARK FOR), and now() works in temporal filters"
                )
            return n

        bound = node.copy().transform(visit, copy=False)
        if not select_item:
            set_returning.refuse(bound)
        self.infer.check_string_literals(bound, frame.plan.schema)
        json_functions.check_operators(bound, self.infer, frame.plan.schema)
        return bound

    def typed(
        self, exprs: list[exp.Expression], frame: Frame, originals: list[exp.Expression]
    ) -> list[str]:
        try:
            return self.infer.infer(exprs, frame.plan.schema)
        except SqlError as error:
            texts = ", ".join(aggregates.shown(o) for o in originals)
            raise SqlError(f"{error.message} in {texts}", sqlstate=error.sqlstate) from None

    def _select_items(self, select: exp.Select, frame: Frame) -> list[tuple[exp.Expression, str]]:
        items: list[tuple[exp.Expression, str]] = []
        for item in select.expressions:
            if isinstance(item, exp.Star) or (
                isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
            ):
                table = item.table if isinstance(item, exp.Column) else None
                if isinstance(item, exp.Star) and (
                    item.args.get("except_") or item.args.get("replace")
                ):
                    raise unsupported("* EXCLUDE / REPLACE")
                for index in frame.scope.star(table):
                    column = frame.scope.columns[index]
                    items.append((_column_at(frame.scope, index), column.name))
                continue
            items.append(
                (item.unalias() if isinstance(item, exp.Alias) else item, _output_name(item))
            )
        if not items:
            raise SqlError("SELECT list is empty")
        return items

    # --- aggregation --------------------------------------------------------------------------

    def _aggregate(self, select, items, bound_items, frame: Frame):
        group = select.args.get("group")
        keys, sets = grouping_sets.keys_and_sets(
            group, lambda term: self._group_term(term, items, bound_items, frame)
        )
        bound_having, having_aside = grouped_subqueries.bind_having(
            self, select.args.get("having"), frame
        )
        order = select.args.get("order")
        bound_order = []
        if order:
            for term in order.expressions:
                bound_order.append(
                    self._order_term_pre_aggregate(term.this, items, bound_items, frame)
                )
        bound_items, bound_having, bound_order = grouping_sets.replace_in(
            keys, sets, frame.scope, bound_items, bound_having, bound_order
        )
        everything = (
            bound_items
            + ([bound_having] if bound_having is not None else [])
            + [o for o in bound_order if o is not None]
        )
        calls = aggregates.collect(everything)
        # A scalar subquery's column has one value per group (it is uncorrelated, or correlated on
        # group keys), so reading it outside an aggregate is grouping by it.
        for expression in everything:
            for column in aggregates.free_columns(expression):
                if frame.scope.columns[int(column.name[1:])].name == "__scalar":
                    if sets is not None:
                        raise unsupported("scalar subqueries with GROUPING SETS, ROLLUP or CUBE")
                    keys.append(column)
        keys = unique(keys)
        pre = keys + [arg for call in calls for arg in call.inputs]
        pre_unique = unique(pre)
        key_types = self.typed(pre_unique, frame, pre_unique) if pre_unique else []
        pre_names = [
            _key_name(e, frame.scope) if isinstance(e, exp.Column) else f"expr{i}"
            for i, e in enumerate(pre_unique)
        ]
        pre_fields = tuple(Field(n, t) for n, t in zip(pre_names, key_types))
        pre_plan = Project(frame.plan, tuple(pre_unique), pre_fields)
        position = {e: i for i, e in enumerate(pre_unique)}
        agg_calls = []
        for call in calls:
            agg_calls.append(call.plan_call(position, pre_fields, self.infer))
        names = [_key_name(k, frame.scope) for k in keys]
        key_fields = tuple(Field(n, pre_fields[position[k]].type) for n, k in zip(names, keys))
        agg_fields = tuple(
            Field("count" if c.name == "count_star" else c.name, c.type) for c in agg_calls
        )
        key_positions = tuple(position[k] for k in keys)
        plan: Plan = Aggregate(pre_plan, key_positions, tuple(agg_calls), key_fields + agg_fields)
        key_scope = [
            ScopeColumn(n, f.type, _key_tables(k, frame.scope))
            for n, f, k in zip(names, key_fields, keys)
        ]
        if sets is not None:  # the set number becomes a key, after the others
            plan = grouping_sets.over_sets(plan, sets, keys, key_scope)
        agg_scope = [ScopeColumn(f.name, f.type, (), hidden=True) for f in agg_fields]
        rewrite = aggregates.Rewriter(keys, calls, frame.scope)
        new_frame = Frame(
            plan,
            Scope(key_scope + agg_scope, frame.scope.outer),
            frame.ctes,
            subqueries_allowed=True,
        )
        if bound_having is not None:
            # Typed over the groups: over the input rows a key next to an aggregate
            # (k > min(v)) would read as an ungrouped column.
            condition = grouped_subqueries.bring_back(
                self, rewrite(bound_having), new_frame, having_aside
            )
            self._check_boolean(condition, new_frame.plan.schema, "HAVING")
            new_frame.plan = Filter(new_frame.plan, condition)
        new_frame.aggregate_rewrite = rewrite  # type: ignore[attr-defined]
        new_frame.pre_aggregate_order = bound_order  # type: ignore[attr-defined]
        return [rewrite(e) for e in bound_items], new_frame

    def _group_term(self, term, items, bound_items, frame):
        if isinstance(term, exp.Literal) and not term.is_string:
            return bound_items[list_position(term, "GROUP BY", len(items)) - 1]
        if isinstance(term, exp.Column) and not term.table and frame.scope.resolve(term) is None:
            for (item, name), bound in zip(items, bound_items):
                if name.lower() == term.name.lower():
                    return bound
        return self.expression(term, frame)

    def _order_term_pre_aggregate(self, term, items, bound_items, frame):
        """ORDER BY terms of an aggregate query that are not select-list positions or aliases."""
        if isinstance(term, exp.Literal) and not term.is_string:
            return None
        if (
            isinstance(term, exp.Column)
            and not term.table
            and any(name.lower() == term.name.lower() for _, name in items)
        ):
            return None
        return self.expression(term, frame)

    # --- ORDER BY / LIMIT ---------------------------------------------------------------------

    def _select_order_limit(
        self,
        select,
        plan: Project,
        output: Scope,
        frame: Frame,
        bound_items,
        names,
        top: bool,
        distinct: bool,
    ) -> Plan:
        order = select.args.get("order")
        keys: list[SortKey] = []
        hidden: list[exp.Expression] = []
        pre_order = getattr(frame, "pre_aggregate_order", None)
        rewrite = getattr(frame, "aggregate_rewrite", None)
        for position, term in enumerate(order.expressions if order else []):
            column = _select_position(term.this, names)
            if column is None and term.this.find(exp.Subquery, exp.Window):
                raise unsupported(  # (computed over the wrong rows: row by row, or unjoined)
                    f"a subquery or window function in ORDER BY ({term.this.sql()}): select "
                    "it with a name and ORDER BY the name"
                )
            if column is None:
                bound = (
                    pre_order[position]
                    if pre_order is not None
                    else self.expression(term.this, frame)
                )
                if rewrite is not None and pre_order is not None:
                    bound = rewrite(bound)
                if bound in bound_items:
                    column = bound_items.index(bound)
                else:
                    if distinct:
                        raise SqlError(
                            "for SELECT DISTINCT, ORDER BY expressions must appear in the "
                            "select list"
                        )
                    hidden.append(bound)
                    column = len(bound_items) + len(hidden) - 1
            keys.append(SortKey.of(column, term))
        if hidden:
            hidden_types = self.infer.infer(hidden, frame.plan.schema)
            if isinstance(plan, Project):
                plan = Project(
                    plan.input,
                    plan.exprs + tuple(hidden),
                    plan.schema
                    + tuple(Field(f"__order{i}", t) for i, t in enumerate(hidden_types)),
                )
        frame_for_limit = Frame(plan, output, frame.ctes)
        result = self._order_and_limit(select, frame_for_limit, list(range(len(names))), top, keys)
        return result

    def _order_and_limit(
        self, node, frame: Frame, visible: list[int], top: bool, keys: list[SortKey] | None = None
    ) -> Plan:
        plan = frame.plan
        if keys is None:
            keys = []
            order = node.args.get("order")
            for term in order.expressions if order else []:
                column = _select_position(term.this, [c.name for c in frame.scope.columns])
                if column is None:
                    raise unsupported(
                        f"ORDER BY {term.this.sql()} here: order by an output column "
                        "name or position"
                    )
                keys.append(SortKey.of(column, term))
        limit = row_count(node.args.get("limit"), "LIMIT")
        offset = row_count(node.args.get("offset"), "OFFSET") or 0
        if top:
            if keys:
                plan = Sort(plan, tuple(keys))
            if limit is not None or offset:
                plan = Limit(plan, limit, offset)
        elif limit is not None or offset:
            if not keys:
                raise unsupported(
                    "LIMIT without ORDER BY in a view or subquery (it picks "
                    "arbitrary rows): add ORDER BY so the result is well defined"
                )
            plan = TopN(plan, tuple(keys), limit, offset)
        if len(plan.schema) > len(visible):
            plan = Project(
                plan, tuple(ref(i) for i in visible), tuple(plan.schema[i] for i in visible)
            )
        return plan


# --- helpers --------------------------------------------------------------------------------


def _column_at(scope: Scope, index: int) -> exp.Column:
    """An AST column that resolves to exactly ``index`` in ``scope``."""
    column = scope.columns[index]
    table = column.tables[0] if column.tables else None
    candidate = exp.column(column.name, table=table, quoted=True)
    try:
        if scope.resolve(candidate) == index:
            return candidate
    except SqlError:
        pass
    return PositionalColumn.at(index)


def _output_name(item: exp.Expression) -> str:
    if isinstance(item, exp.Alias):
        return item.alias
    if isinstance(item, exp.Column):
        return item.name
    if isinstance(item, (exp.Bracket, exp.Dot)):  # PostgreSQL: the column's or field's name
        return _output_name(item.this) if isinstance(item, exp.Bracket) else item.name
    if isinstance(item, exp.Cast):
        return (
            _output_name(item.this) if isinstance(item.this, exp.Column) else item.to.sql().lower()
        )
    if isinstance(item, exp.Window):
        return _output_name(item.this)
    if isinstance(item, exp.Filter):
        return _output_name(item.this)
    if isinstance(item, exp.Func):
        return set_returning.output_name(item) or (
            (item.sql_name() if not isinstance(item, exp.Anonymous) else item.name).lower()
        )
    return "?column?"


def _dedupe(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count}")
    return out


def _key_name(key: exp.Expression, scope: Scope) -> str:
    if isinstance(key, exp.Column):
        return scope.display(int(key.name[1:]))
    return "?column?"


def _key_tables(key: exp.Expression, scope: Scope) -> tuple[str, ...]:
    if isinstance(key, exp.Column):
        return scope.columns[int(key.name[1:])].tables
    return ()


def _select_position(term: exp.Expression, names: list[str]) -> int | None:
    if isinstance(term, exp.Literal) and not term.is_string:
        return list_position(term, "ORDER BY", len(names)) - 1
    if isinstance(term, exp.Column) and not term.table:
        matches = [i for i, n in enumerate(names) if n.lower() == term.name.lower()]
        if matches:
            return matches[0]
    return None
