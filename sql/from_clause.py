"""Binding FROM: named relations (inlining plain views), subqueries, VALUES, and joins with
ON or USING. A mixin of the Binder (tidal.sql.binder)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from sqlglot import exp

from tidal.catalog import CatalogError
from tidal.catalog.objects import View
from tidal.catalog.sqlstate import AMBIGUOUS_COLUMN, UNDEFINED_COLUMN
from tidal.sql.asof_joins import asof_using, make_asof_join
from tidal.sql.clauses import Binds
from tidal.sql.dialect import WindowFunction
from tidal.sql.errors import SqlError, grouping_error, undefined_table, unsupported
from tidal.sql.joins import make_join
from tidal.sql.plan import Field, Plan, Project, Scan, Values, conjunction, ref
from tidal.sql.scope import Frame, Scope, ScopeColumn
from tidal.sql.temporal_join_binding import lookup_table, make_temporal_join, refuse_version
from tidal.sql.window_tvf import bind_window_function


class FromClause:
    BINDS: ClassVar[Binds] = {
        exp.Select: ("from_", "joins"),
        exp.From: ("this",),
        exp.Join: ("this", "on", "using", "side", "kind", "method"),
        # ONLY: tidal's tables have no children; version: FOR SYSTEM_TIME AS OF (temporal_joins)
        exp.Table: ("this", "db", "alias", "only", "version"),
        exp.TableAlias: ("this", "columns"),
        WindowFunction: ("this", "kind", "time", "expressions", "partition"),
    }

    def _from(self, select: exp.Select, ctes: dict, outer: Scope | None) -> Frame:
        from_ = select.args.get("from_")
        if from_ is None:
            return Frame(Values(((),), ()), Scope([], outer), ctes)
        plan, scope = self.relation(from_.this, ctes, outer)
        frame = Frame(plan, scope, ctes)
        after_comma = False
        for join in select.args.get("joins") or []:
            _check_precedence(join, after_comma)
            after_comma = after_comma or not any(
                join.args.get(k) for k in ("side", "kind", "on", "using", "method")
            )
            self._join(join, frame)
        return frame

    def relation(self, node: exp.Expression, ctes: dict, outer: Scope | None) -> tuple[Plan, Scope]:
        """A FROM item: a named relation, a subquery or VALUES, with its alias applied."""
        alias = node.args.get("alias")
        function = self.function_relation(node, ctes, outer)
        if function is not None:
            return function
        if isinstance(node, exp.Table):
            # pg_catalog lists the system relations (tidal.catalog.pg_catalog): found there too
            system = node.db.lower() == "pg_catalog" and self.catalog.is_system(node.name)
            if node.db and node.db.lower() not in ("public", "tidal") and not system:
                raise undefined_table(
                    f"schema {node.db!r} does not exist; tidal has one schema, public"
                )
            if isinstance(node.this, WindowFunction):
                plan, scope = bind_window_function(self, node.this, node.alias, ctes, outer)
                if alias is not None and alias.columns:
                    scope = _renamed(scope, [c.name for c in alias.columns])
                return plan, Scope(scope.columns, outer)
            refuse_version(node)
            plan, scope = self._named(node.name, ctes, outer)
            scope = scope.requalified(node.alias_or_name)
        elif isinstance(node, exp.Subquery):
            plan, scope = self.query(node, ctes, outer)
            scope = scope.requalified(node.alias or "subquery")
        elif isinstance(node, exp.Values):
            plan, scope = self.values(node)
            scope = scope.requalified(node.alias or "values")
        else:
            raise unsupported(f"{node.sql()} in FROM")
        if alias is not None and alias.columns:
            scope = _renamed(scope, [c.name for c in alias.columns])
        return plan, Scope(scope.columns, outer)

    def _named(self, name: str, ctes: dict, outer: Scope | None) -> tuple[Plan, Scope]:
        if name.lower() in ctes:
            plan, scope = ctes[name.lower()]
            return plan, Scope(list(scope.columns), outer)
        try:
            relation = self.catalog.relation(name)
        except CatalogError as error:
            raise undefined_table(str(error)) from None
        self.referenced.add(relation.name)
        if isinstance(relation, View) and not relation.materialized:
            return self._inline_view(relation, outer)
        fields = tuple(Field(c.name, c.type) for c in relation.columns)
        watermark = getattr(relation, "watermark", None)
        names = [c.name.lower() for c in relation.columns]
        plan = Scan(
            relation.name,
            relation.kind,
            fields,
            names.index(watermark.column.lower()) if watermark else None,
            tuple(relation.key_positions()),
            getattr(relation, "append_only", False),
        )
        return plan, Scope([ScopeColumn(f.name, f.type) for f in fields], outer)

    def _inline_view(self, view: View, outer: Scope | None) -> tuple[Plan, Scope]:
        from tidal.sql.parser import parse_statement

        if view.name in self._views_in_progress:
            raise SqlError(f"view {view.name!r} refers to itself")
        self._views_in_progress.append(view.name)
        try:
            plan, scope = self.query(parse_statement(view.definition), {}, None)
        finally:
            self._views_in_progress.pop()
        return plan, Scope(scope.columns, outer)

    def _join(self, join: exp.Join, frame: Frame) -> None:
        if self.lateral_join(join, frame):
            return
        lookup = lookup_table(join.this)  # FOR SYSTEM_TIME AS OF PROCTIME(): a temporal join
        right, right_scope = self.relation(lookup or join.this, frame.ctes, frame.scope.outer)
        kind = _join_kind(join)
        combined = frame.scope.concat(right_scope)
        condition = None
        on = join.args.get("on")
        using = [identifier.name for identifier in join.args.get("using") or []]
        method = (join.args.get("method") or "").upper()
        if method == "NATURAL":
            using = _common_names(frame.scope, right_scope)
        elif method and method != "ASOF":
            raise unsupported(f"{method} JOIN")
        if on is not None:
            condition = self.expression(on, Frame(frame.plan, combined, frame.ctes))
            if condition.find(exp.AggFunc):
                raise grouping_error("aggregate functions are not allowed in JOIN conditions")
            self._check_boolean(condition, frame.plan.schema + right.schema, "JOIN ... ON")
        elif using:
            condition = self._using(using, frame.scope, right_scope)
            if method == "ASOF":  # the last USING column is the inequality, left >= right
                condition = asof_using(condition)
        elif method == "NATURAL" and kind not in ("inner", "cross"):
            condition = exp.true()  # nothing in common: every pair matches
        elif kind not in ("inner", "cross"):
            raise SqlError(f"{kind.upper()} JOIN needs an ON or USING condition")
        if method == "ASOF" and lookup is None:
            plan = make_asof_join(frame.plan, right, kind, condition, self.infer)
        elif method == "ASOF":
            raise unsupported("ASOF JOIN ... FOR SYSTEM_TIME AS OF")
        elif lookup is not None:
            plan = make_temporal_join(frame.plan, right, kind, condition, self.infer)
        else:
            plan = make_join(
                frame.plan, right, "inner" if kind == "cross" else kind, condition, self.infer
            )
        frame.plan = plan
        frame.scope = combined
        if using:
            self._merge_using(using, frame, kind, len(combined.columns) - len(right_scope.columns))

    def _using(self, using: list[str], left: Scope, right: Scope) -> exp.Expression:
        parts = []
        width = len(left.columns)
        for name in using:
            column = exp.column(name)
            li, ri = left.resolve(column), right.resolve(column)
            if li is None or ri is None:
                raise SqlError(
                    f"column {name!r} named in USING must exist on both sides",
                    sqlstate=UNDEFINED_COLUMN,
                )
            parts.append(exp.EQ(this=ref(li), expression=ref(width + ri)))
        return conjunction(parts)

    def _merge_using(self, using: list[str], frame: Frame, kind: str, width: int) -> None:
        """After ``JOIN ... USING (k)`` the join's columns are, as in PostgreSQL, the merged
        ``k`` first (the left's, the right's for RIGHT JOIN, COALESCE of both for FULL JOIN),
        then the left's other columns, then the right's. A bare ``k`` and ``*`` mean the merged
        column; ``a.k`` and ``a.*`` still reach each side's own."""
        columns = list(frame.scope.columns)
        merged: list[exp.Expression] = []
        names = []
        for name in using:
            column = exp.column(name)
            li = Scope(columns[:width]).resolve(column)
            ri = width + Scope(columns[width:]).resolve(column)
            if kind == "full":
                merged.append(exp.func("COALESCE", ref(li), ref(ri)))
            else:
                merged.append(ref(ri if kind == "right" else li))
            names.append(columns[li].name)
            for side in (li, ri):
                columns[side] = dataclasses.replace(columns[side], qualified_only=True)
        types = self.infer.infer(merged, frame.plan.schema)
        exprs = tuple(merged) + tuple(ref(i) for i in range(len(columns)))
        fields = tuple(Field(n, t) for n, t in zip(names, types)) + frame.plan.schema
        frame.plan = Project(frame.plan, exprs, fields)
        merged_columns = [ScopeColumn(n, t) for n, t in zip(names, types)]
        frame.scope = Scope(merged_columns + columns, frame.scope.outer)

    def values(self, node: exp.Values) -> tuple[Plan, Scope]:
        rows = []
        for row in node.expressions:
            items = row.expressions if isinstance(row, exp.Tuple) else [row]
            for item in items:
                if item.find(exp.Column) or item.find(exp.Subquery):
                    raise SqlError("VALUES may contain only constant expressions")
            rows.append(tuple(items))
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise SqlError("VALUES lists must all be the same length")
        types = self.infer.values_types(rows)
        names = [f"column{i + 1}" for i in range(len(types))]
        if node.alias and node.args["alias"].columns:
            names[: len(node.args["alias"].columns)] = [c.name for c in node.args["alias"].columns]
        fields = tuple(Field(n, t) for n, t in zip(names, types))
        return Values(tuple(rows), fields), Scope([ScopeColumn(f.name, f.type) for f in fields])


def _check_precedence(join: exp.Join, after_comma: bool) -> None:
    """``FROM a, b RIGHT JOIN c`` is ``a x (b RIGHT JOIN c)``: JOIN binds tighter than a comma.
    Joined left to right it would keep each unmatched c once, not once per row of a (a RIGHT
    or FULL join; for inner and left joins the two readings agree)."""
    if after_comma and join.side.upper() in ("RIGHT", "FULL"):
        raise unsupported(
            f"{join.side.upper()} JOIN after a comma in FROM (it joins only the item before "
            "it, so the comma's cross product comes after): write the comma as CROSS JOIN to "
            "join the whole FROM list, or move the join into a subquery"
        )


def _join_kind(join: exp.Join) -> str:
    side = (join.args.get("side") or "").lower()
    kind = (join.args.get("kind") or "").lower()
    if kind == "cross":
        return "cross"
    if kind in ("semi", "anti"):
        raise unsupported(f"{kind.upper()} JOIN syntax: write [NOT] EXISTS (...)")
    if side in ("left", "right", "full"):
        return side
    return "inner"


def _common_names(left: Scope, right: Scope) -> list[str]:
    """The columns a NATURAL JOIN joins on: the names both sides show in ``*``, in the left's
    order (none: the join is a cross join, as in PostgreSQL)."""
    right_names = [right.columns[i].name.lower() for i in right.star()]
    left_names = [left.columns[i].name for i in left.star()]
    common = [n for n in left_names if n.lower() in right_names]
    for name in common:
        for side, names in (("left", [n.lower() for n in left_names]), ("right", right_names)):
            if names.count(name.lower()) > 1:
                raise SqlError(
                    f"common column name {name!r} appears more than once in the {side} "
                    "side of NATURAL JOIN",
                    sqlstate=AMBIGUOUS_COLUMN,
                )
    return common


def _renamed(scope: Scope, names: list[str]) -> Scope:
    columns = list(scope.columns)
    for i, name in enumerate(names):
        c = columns[i]
        columns[i] = dataclasses.replace(c, name=name)
    return Scope(columns, scope.outer)
