"""Set operations that match their inputs' columns by name rather than by position.

``CORRESPONDING`` (SQL's; sqlglot reads it as ``INNER ... BY NAME``) keeps the columns both
sides have, in the left side's order; ``CORRESPONDING BY (a, b)`` (``BY NAME ON``) keeps the
listed ones, in the list's order. DuckDB's ``UNION BY NAME`` (and ``FULL ... CORRESPONDING``)
keeps every column of either side, the left's first, and fills a column a side lacks with
NULL; ``LEFT ... CORRESPONDING`` keeps the left's columns. Names match case-insensitively.
Each side becomes a projection onto those columns, and the set operation is then positional.
Set operations are bound by ``SetOperations``, a mixin of the Binder.

>>> from tidal.sql.plan import Values
>>> left = Values((), (Field("a", "INTEGER"), Field("b", "INTEGER")))
>>> right = Values((), (Field("B", "BIGINT"), Field("c", "INTEGER")))
>>> matched_columns("union", "INNER", [], left, right)
[('b', 1, 0)]
>>> matched_columns("union", "FULL", [], left, right)
[('a', 0, None), ('b', 1, 0), ('c', None, 1)]
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from tidal.catalog.sqlstate import DUPLICATE_COLUMN, SYNTAX_ERROR, UNDEFINED_COLUMN
from tidal.sql.clauses import Binds
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.plan import Field, Plan, Project, SetOp, cast, ref
from tidal.sql.scope import Frame, Scope, ScopeColumn


class SetOperations:
    BINDS: ClassVar[Binds] = {
        exp.SetOperation: (
            "this",
            "expression",
            "distinct",
            "by_name",  # by_name, side, kind, on: the columns matched by name (by_name)
            "side",
            "kind",
            "on",
            "order",
            "limit",
            "offset",
            "with_",
        ),
    }

    def set_operation(self, node: exp.SetOperation, ctes, outer, top) -> tuple[Plan, Scope]:
        left, _ = self.query(node.this, ctes, outer)
        right, _ = self.query(node.expression, ctes, outer)
        left, right = by_name(node, left, right)
        if len(left.schema) != len(right.schema):
            raise SqlError(
                f"each {node.key.upper()} query must have the same number of columns "
                f"({len(left.schema)} vs {len(right.schema)})"
            )
        types = [self.infer.common_type(a.type, b.type) for a, b in zip(left.schema, right.schema)]
        left, right = _cast_to(left, types), _cast_to(right, types)
        fields = tuple(Field(f.name, t) for f, t in zip(left.schema, types))
        plan: Plan = SetOp(node.key, not node.args.get("distinct"), left, right, fields)
        scope = Scope([ScopeColumn(f.name, f.type) for f in fields], outer)
        if node.args.get("order") or node.args.get("limit") or node.args.get("offset"):
            plan = self._order_and_limit(
                node, Frame(plan, scope, ctes), list(range(len(fields))), top
            )
        return plan, scope


def by_name(node: exp.SetOperation, left: Plan, right: Plan) -> tuple[Plan, Plan]:
    """``left`` and ``right`` projected onto the columns ``node`` matches by name (the plans
    unchanged for a positional set operation)."""
    side = (node.args.get("side") or "").upper()
    kind = (node.args.get("kind") or "").upper()
    listed = [column.name for column in node.args.get("on") or []]
    if not node.args.get("by_name"):
        if side or kind or listed:
            raise unsupported(f"{side or kind} {node.key.upper()} without CORRESPONDING")
        return left, right
    if kind == "INNER" or (listed and not side):
        mode = "INNER"
    elif side in ("", "FULL", "LEFT") and not kind:
        mode = side or "FULL"
    else:
        raise unsupported(f"{side or kind} {node.key.upper()} ... CORRESPONDING")
    if mode != "INNER" and node.key != "union":
        raise unsupported(f"{mode} {node.key.upper()} ... CORRESPONDING: only UNION fills in NULLs")
    for query, which in ((node.this, "left"), (node.expression, "right")):
        _written_once(query.unnest(), which, node.key)
    matched = matched_columns(node.key, mode, listed, left, right)
    return _onto(left, right, matched), _onto(right, left, [(n, j, i) for n, i, j in matched])


def matched_columns(
    operation: str, mode: str, listed: list[str], left: Plan, right: Plan
) -> list[tuple[str, int | None, int | None]]:
    """The output columns: (name, position in left or None, position in right or None)."""
    left_names = [f.name.lower() for f in left.schema]
    right_names = [f.name.lower() for f in right.schema]
    if listed:
        names = listed
    elif mode == "INNER":
        names = [f.name for f in left.schema if f.name.lower() in right_names]
    elif mode == "LEFT":
        names = [f.name for f in left.schema]
    else:
        names = [f.name for f in left.schema]
        names += [f.name for f in right.schema if f.name.lower() not in left_names]
    if not names:
        raise SqlError(
            f"{operation.upper()} CORRESPONDING: the two sides have no column name in common",
            sqlstate=SYNTAX_ERROR,
        )
    seen: set[str] = set()
    matched = []
    for name in names:
        key = name.lower()
        if key in seen:
            raise SqlError(
                f"column {name!r} is named twice in CORRESPONDING BY", sqlstate=DUPLICATE_COLUMN
            )
        seen.add(key)
        li = _position(key, left_names, "left", operation)
        ri = _position(key, right_names, "right", operation)
        if (mode == "INNER" and (li is None or ri is None)) or (mode == "LEFT" and li is None):
            raise SqlError(
                f"column {name!r} of {operation.upper()} CORRESPONDING BY is not in both sides",
                sqlstate=UNDEFINED_COLUMN,
            )
        matched.append((left.schema[li].name if li is not None else name, li, ri))
    return matched


def _position(name: str, names: list[str], side: str, operation: str) -> int | None:
    if names.count(name) > 1:
        raise SqlError(
            f"column {name!r} appears more than once in the {side} side of "
            f"{operation.upper()} CORRESPONDING",
            sqlstate=DUPLICATE_COLUMN,
        )
    return names.index(name) if name in names else None


def _written_once(query: exp.Expression, side: str, operation: str) -> None:
    """A name written twice in a side's select list is an error, not two columns (the binder
    renames a second ``a`` of a subquery to ``a_1``, as DuckDB does)."""
    if not isinstance(query, exp.Select):
        return
    names = [n.lower() for n in query.named_selects if n != "*"]
    for name in names:
        _position(name, names, side, operation)


def _onto(plan: Plan, other: Plan, columns: list[tuple[str, int | None, int | None]]) -> Plan:
    """``plan``'s columns in the matched order, NULL (of ``other``'s type) where it has none."""
    exprs: list[exp.Expression] = []
    fields = []
    for name, mine, theirs in columns:
        if mine is not None:
            exprs.append(ref(mine))
            fields.append(Field(name, plan.schema[mine].type))
        else:
            assert theirs is not None
            sql_type = other.schema[theirs].type
            exprs.append(cast(exp.null(), sql_type))
            fields.append(Field(name, sql_type))
    return Project(plan, tuple(exprs), tuple(fields))


def _cast_to(plan: Plan, types: list[str]) -> Plan:
    if [f.type for f in plan.schema] == types:
        return plan
    exprs = tuple(
        ref(i) if f.type == t else cast(ref(i), t)
        for i, (f, t) in enumerate(zip(plan.schema, types))
    )
    return Project(plan, exprs, tuple(Field(f.name, t) for f, t in zip(plan.schema, types)))
