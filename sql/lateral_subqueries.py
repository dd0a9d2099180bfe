"""LATERAL subqueries, decorrelated into joins: ``FROM t, LATERAL (SELECT ... WHERE u.k = t.k)``.

Three shapes are maintained (a LATERAL subquery reading no outer column is a plain subquery):

- A subquery without aggregates, DISTINCT or LIMIT is flattened: its FROM is joined to the
  items before it on all of its WHERE conditions, and its select list, which may read outer
  columns, is computed over the joined rows. Its own columns shadow outer ones, as in
  PostgreSQL. ``LEFT JOIN LATERAL ... ON true`` keeps an outer row without matches, with NULLs.
- ``ORDER BY ... LIMIT n [OFFSET m]`` correlated by such equalities keeps the first rows of
  each group of those inner columns (ROW_NUMBER, ties broken by every column) and joins on them.
- An aggregating subquery correlated by equalities ``inner column = outer expression`` is
  grouped by those inner columns too and joined on them, once per group: without GROUP BY
  each outer row gets exactly one row (a left join; a missing group gives NULL, or 0 for a
  bare count, as in PostgreSQL), with GROUP BY one row per group of its own.

Anything else (DISTINCT per outer row, LIMIT without ORDER BY, a correlated FROM, other
correlated conditions under an aggregate or a LIMIT, RIGHT / FULL JOIN LATERAL) is refused by
name.
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from tidal.sql import aggregates, set_returning
from tidal.sql.errors import SqlError, grouping_error, unsupported
from tidal.sql.joins import make_join
from tidal.sql.plan import Field, Filter, Plan, Project, conjunction, conjuncts, ref
from tidal.sql.scope import Frame, PositionalColumn, Scope, ScopeColumn
from tidal.sql.subqueries import _is_outer, _own_columns

# A LATERAL subquery's clauses that would apply per outer row.
_PER_ROW = {"limit": "LIMIT", "offset": "OFFSET", "order": "ORDER BY", "distinct": "DISTINCT"}


def join_lateral_subquery(binder, node: exp.Lateral, join: exp.Join, frame: Frame) -> None:
    """``frame`` joined to the LATERAL subquery ``node`` (JOIN ``join``), decorrelated."""
    subquery = node.this
    query = subquery.this
    alias = node.args.get("alias")
    name = alias.name if alias is not None and alias.name else "lateral"
    kind = _kind(join)
    if not isinstance(query, exp.Select) or query.args.get("with_"):
        raise unsupported("a LATERAL subquery that is not a plain SELECT (a set operation, WITH)")
    for key in ("order", "limit", "offset"):
        if subquery.args.get(key):
            raise unsupported(f"{_PER_ROW[key]} after a LATERAL subquery: put it inside")
    inner = binder._from(query, frame.ctes, frame.scope)
    clauses = [query.args.get(k) for k in ("where", "group", "having")] + query.expressions
    columns = [c for clause in clauses if clause is not None for c in _own_columns(clause)]
    if not any(_is_outer(c, inner.scope, frame.scope) for c in columns):
        plan, scope = binder.relation(node, frame.ctes, frame.scope.outer)
        _join_plain(binder, join, frame, plan, scope, kind)
        return
    limited = query.args.get("limit") is not None or query.args.get("offset") is not None
    for key, what in _PER_ROW.items():
        if query.args.get(key) and not (limited and key != "distinct"):
            raise unsupported(f"{what} in a correlated LATERAL subquery (it applies per outer row)")
    for clause in [*clauses, query.args.get("order")]:
        if clause is not None and any(
            isinstance(n, (exp.Subquery, exp.Exists, exp.Window)) or set_returning.name_of(n)
            for n in clause.walk()
        ):
            raise unsupported(
                "a subquery, window or set-returning function inside a correlated LATERAL "
                f"subquery ({clause.sql()[:60]})"
            )
    aggregating = (
        query.args.get("group")
        or query.args.get("having")
        or any(aggregates.contains_aggregate(item) for item in query.expressions)
    )
    if limited and aggregating:
        raise unsupported("LIMIT with aggregates in a correlated LATERAL subquery")
    if limited:
        plan, fields = _top_per_key(binder, query, inner, frame, kind)
    elif aggregating:
        plan, fields = _aggregated(binder, query, inner, frame, kind)
    else:
        plan, fields = _flattened(binder, query, inner, frame, kind)
    names = [f.name for f in fields]
    if alias is not None and alias.columns:
        if len(alias.columns) > len(names):
            raise SqlError(
                f"table {name!r} has {len(names)} columns available but "
                f"{len(alias.columns)} columns specified"
            )
        names[: len(alias.columns)] = [c.name for c in alias.columns]
    width = len(frame.plan.schema)
    schema = plan.schema[:width] + tuple(Field(n, f.type) for n, f in zip(names, fields))
    frame.plan = dataclasses.replace(plan, schema=schema)
    frame.scope = frame.scope.concat(
        Scope([ScopeColumn(n, f.type, (name.lower(),)) for n, f in zip(names, fields)])
    )
    on = join.args.get("on")
    if kind == "inner" and not _is_true(on):
        condition = binder.expression(on, Frame(frame.plan, frame.scope, frame.ctes, False))
        binder._check_boolean(condition, frame.plan.schema, "JOIN ... ON")
        frame.plan = Filter(frame.plan, condition)


def _kind(join: exp.Join) -> str:
    if join.args.get("method") or join.args.get("using"):
        raise unsupported("NATURAL or USING with a LATERAL subquery: write ON")
    side = (join.args.get("side") or "").lower()
    if side in ("right", "full"):
        raise unsupported(
            f"{side.upper()} JOIN LATERAL (a lateral subquery depends on the rows before it)"
        )
    if side == "left" and not _is_true(join.args.get("on")):
        raise unsupported(
            "LEFT JOIN LATERAL (...) ON a condition other than true: move the condition "
            "into the subquery's WHERE"
        )
    return side or "inner"


def _is_true(on: exp.Expression | None) -> bool:
    return on is None or (isinstance(on, exp.Boolean) and bool(on.this))


def _join_plain(binder, join: exp.Join, frame: Frame, plan: Plan, scope: Scope, kind: str):
    """An uncorrelated LATERAL subquery: an ordinary join."""
    combined = frame.scope.concat(scope)
    on = join.args.get("on")
    condition = None
    if not _is_true(on):
        condition = binder.expression(on, Frame(frame.plan, combined, frame.ctes, False))
    frame.plan = make_join(frame.plan, plan, kind, condition, binder.infer)
    frame.scope = combined


def _placed(node: exp.Expression, inner: Scope, outer: Scope, width: int) -> exp.Expression:
    """``node`` with its columns resolved: the subquery's own first (at ``width`` on), then the
    outer row's."""

    def place(n: exp.Expression) -> exp.Expression:
        if isinstance(n, PositionalColumn):  # a column of the subquery's ``*``
            return PositionalColumn.at(width + n.position)
        if isinstance(n, exp.Column):
            if isinstance(n.this, exp.Star):
                return n
            index = inner.resolve(n)
            if index is not None:
                return PositionalColumn.at(width + index)
            index = outer.resolve(n)
            if index is None:
                raise inner.missing(n)
            return PositionalColumn.at(index)
        return n

    return node.copy().transform(place, copy=False)


def _flattened(binder, query: exp.Select, inner: Frame, frame: Frame, kind: str):
    """The subquery's FROM joined on its WHERE; its select list over the joined rows."""
    width = len(frame.plan.schema)
    right = inner.plan
    if kind == "left":  # a marker that is NULL on an outer row the subquery gave no row for
        right = Project(
            right,
            tuple(ref(i) for i in range(len(right.schema))) + (exp.true(),),
            right.schema + (Field("__matched", "BOOLEAN"),),
        )
    shape = make_join(frame.plan, right, kind, None, binder.infer)
    combined = Scope(
        frame.scope.columns
        + inner.scope.columns
        + [ScopeColumn(f.name, f.type, (), True) for f in right.schema[len(inner.plan.schema) :]]
    )
    over = Frame(shape, combined, frame.ctes, False)
    condition = None
    where = query.args.get("where")
    if where is not None:
        condition = binder.expression(_placed(where.this, inner.scope, frame.scope, width), over)
        if aggregates.contains_aggregate(condition):
            raise grouping_error("aggregate functions are not allowed in WHERE: use HAVING")
        binder._check_boolean(condition, shape.schema, "WHERE")
    joined = make_join(frame.plan, right, kind, condition, binder.infer)
    items = binder._select_items(query, inner)
    bound = []
    for item, _ in items:
        value = binder.expression(_placed(item, inner.scope, frame.scope, width), over)
        if kind == "left":
            marker = ref(width + len(inner.plan.schema))
            value = exp.Case(ifs=[exp.If(this=marker, true=value)])
        bound.append(value)
    types = binder.infer.infer(bound, joined.schema)
    fields = tuple(Field(n, t) for (_, n), t in zip(items, types))
    exprs = tuple(ref(i) for i in range(width)) + tuple(bound)
    return Project(joined, exprs, frame.plan.schema + fields), fields


def _aggregated(binder, query: exp.Select, inner: Frame, frame: Frame, kind: str):
    """The subquery grouped by the inner columns of its correlating equalities as well, joined
    on them."""
    width = len(frame.plan.schema)
    local, pairs, keys = _correlation(query, inner, frame, "an aggregating")
    grouped = query.args.get("group") is not None
    if query.args.get("having") and not grouped:
        raise unsupported("HAVING without GROUP BY in a correlated LATERAL subquery")
    select = query.copy()
    select.set("where", exp.Where(this=conjunction(local)) if local else None)
    items = binder._select_items(query, inner)
    select.set(
        "expressions",
        [exp.alias_(e.copy(), n, quoted=True) for e, n in items]
        + [exp.alias_(k.copy(), f"__corr{i}") for i, k in enumerate(keys)],
    )
    group = [g.copy() for g in query.args["group"].expressions] if grouped else []
    select.set("group", exp.Group(expressions=group + [k.copy() for k in keys]))
    sub_plan, _ = binder.query(select, frame.ctes, None)
    condition = _key_condition(binder, frame, pairs, keys, width + len(items))
    joined = make_join(frame.plan, sub_plan, kind if grouped else "left", condition, binder.infer)
    values = []
    for position, (item, _) in enumerate(items):
        value: exp.Expression = ref(width + position)
        if not grouped and _counts(item):
            value = exp.func("COALESCE", value, exp.Literal.number(0))
        values.append(value)
    fields = tuple(Field(n, sub_plan.schema[i].type) for i, (_, n) in enumerate(items))
    exprs = tuple(ref(i) for i in range(width)) + tuple(values)
    return Project(joined, exprs, frame.plan.schema + fields), fields


def _correlation(query: exp.Select, inner: Frame, frame: Frame, what: str):
    """The subquery's uncorrelated WHERE conjuncts, its correlating (inner column, outer
    value) equalities, and those inner columns once each; outer columns elsewhere refused."""
    local, pairs = [], []
    where = query.args.get("where")
    for part in conjuncts(where.this if where is not None else None):
        if not any(_is_outer(c, inner.scope, frame.scope) for c in _own_columns(part)):
            local.append(part)
            continue
        pairs.append(_equality(part, inner.scope, frame.scope, what))
    order = query.args.get("order")
    others = [query.args.get("group"), query.args.get("having"), order, *query.expressions]
    for clause in others:
        for column in _own_columns(clause) if clause is not None else ():
            if _is_outer(column, inner.scope, frame.scope):
                raise unsupported(
                    f"outer column {column.sql()} in {what} LATERAL subquery outside its "
                    "WHERE: correlate it by equalities (inner column = outer value)"
                )
    keys: list[exp.Column] = []
    for column, _ in pairs:
        if column not in keys:
            keys.append(column)
    return local, pairs, keys


def _key_condition(binder, frame: Frame, pairs, keys, first: int) -> exp.Expression | None:
    """The join condition: each correlating inner column (at ``first`` on, in the order of
    ``keys``) equal to its outer value."""
    outer_frame = Frame(frame.plan, frame.scope, frame.ctes, False)
    return conjunction(
        [
            exp.EQ(
                this=ref(first + keys.index(column)),
                expression=binder.expression(value, outer_frame),
            )
            for column, value in pairs
        ]
    )


def _top_per_key(binder, query: exp.Select, inner: Frame, frame: Frame, kind: str):
    """``ORDER BY ... LIMIT n [OFFSET m]`` per outer row: the first rows of each group of the
    correlating inner columns, by ROW_NUMBER (ties broken by every column, as everywhere in
    tidal), joined on those columns."""
    width = len(frame.plan.schema)
    local, pairs, keys = _correlation(query, inner, frame, "a limited")
    if not query.args.get("order"):
        raise unsupported(
            "LIMIT without ORDER BY in a LATERAL subquery (it picks arbitrary rows): add ORDER BY"
        )
    items = binder._select_items(query, inner)
    order = [_order_term(o, items, inner.scope) for o in query.args["order"].expressions]
    number = exp.Window(
        this=exp.RowNumber(),
        partition_by=[k.copy() for k in keys],
        order=exp.Order(expressions=order),
    )
    select = exp.Select(
        expressions=[exp.alias_(e.copy(), f"__item{i}") for i, (e, _) in enumerate(items)]
        + [exp.alias_(k.copy(), f"__corr{i}") for i, k in enumerate(keys)]
        + [exp.alias_(number, "__rn")],
    )
    select.set("from_", query.args["from_"].copy())
    select.set("joins", [j.copy() for j in query.args.get("joins") or []])
    if local:
        select.set("where", exp.Where(this=conjunction(local)))
    limit = query.args.get("limit")
    offset = query.args.get("offset")
    bounds = []
    if offset is not None:
        bounds.append(exp.GT(this=exp.column("__rn"), expression=offset.expression.copy()))
    if limit is not None:
        last = limit.expression.copy()
        if offset is not None:
            last = exp.Add(this=exp.paren(last), expression=offset.expression.copy())
        bounds.append(exp.LTE(this=exp.column("__rn"), expression=last))
    top = exp.select("*").from_(select.subquery("__ranked")).where(conjunction(bounds))
    sub_plan, _ = binder.query(top, frame.ctes, None)
    condition = _key_condition(binder, frame, pairs, keys, width + len(items))
    joined = make_join(frame.plan, sub_plan, kind, condition, binder.infer)
    fields = tuple(Field(n, sub_plan.schema[i].type) for i, (_, n) in enumerate(items))
    exprs = tuple(ref(i) for i in range(width + len(items)))
    return Project(joined, exprs, frame.plan.schema + fields), fields


def _order_term(term: exp.Ordered, items, scope: Scope) -> exp.Ordered:
    """An ORDER BY term over the subquery's FROM: a position or output name is its item."""
    ordered = term.copy()
    key = term.this
    if isinstance(key, exp.Literal) and not key.is_string:
        ordered.set("this", items[int(key.this) - 1][0].copy())
    elif isinstance(key, exp.Column) and not key.table and scope.resolve(key) is None:
        named = [e for e, n in items if n.lower() == key.name.lower()]
        if named:
            ordered.set("this", named[0].copy())
    return ordered


def _equality(part: exp.Expression, inner: Scope, outer: Scope, what: str):
    """(inner column, outer value) of a correlating ``inner = outer`` condition."""
    if isinstance(part, exp.EQ):
        for column, value in ((part.this, part.expression), (part.expression, part.this)):
            value_columns = list(_own_columns(value))
            if (
                isinstance(column, exp.Column)
                and inner.resolve(column) is not None
                and value_columns
                and all(_is_outer(c, inner, outer) for c in value_columns)
            ):
                return column, value
    raise unsupported(
        f"correlated condition {part.sql()[:60]} in {what} LATERAL subquery: only "
        "equalities of an inner column and an outer value correlate one"
    )


def _counts(item: exp.Expression) -> bool:
    """Whether ``item`` is a bare count (0, not NULL, over no rows); another expression of a
    count is refused, since it would need the count of an absent group."""
    bare = item.this if isinstance(item, exp.Filter) else item
    if isinstance(bare, exp.Count):
        return True
    if any(isinstance(n, exp.Count) or "count" in n.key for n in item.walk()):
        raise unsupported(
            f"{item.sql()[:60]} in a correlated LATERAL subquery without GROUP BY: "
            "select the bare count and compute with it outside"
        )
    return False
