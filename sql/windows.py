"""Binding window functions: each ``f(...) OVER (...)`` becomes a call of an OverWindow node,
its partition and order expressions projected into columns first. A mixin of the Binder.

Named windows (``WINDOW w AS (...)``, ``OVER w``, ``OVER (w ORDER BY ...)``) are spelled out
first, by PostgreSQL's rules, so the rest of binding sees only inline windows:

>>> from tidal.sql.parser import parse_statement
>>> select = parse_statement(
...     "SELECT rank() OVER w, sum(x) OVER (w ORDER BY x) FROM t WINDOW w AS (PARTITION BY g)")
>>> expand_named_windows(select).sql()
'SELECT RANK() OVER (PARTITION BY g), SUM(x) OVER (PARTITION BY g ORDER BY x NULLS LAST) FROM t'
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from tidal.catalog.sqlstate import UNDEFINED_OBJECT, WINDOWING_ERROR
from tidal.sql import aggregates
from tidal.sql.clauses import Binds
from tidal.sql.errors import SqlError
from tidal.sql.lower import window_expression
from tidal.sql.plan import Field, OverWindow, Project, SortKey, WindowCall, ref, unique
from tidal.sql.scope import Frame, Scope, ScopeColumn


class WindowFunctions:
    BINDS: ClassVar[Binds] = {
        exp.Select: ("windows",),  # spelled out by expand_named_windows
        exp.Window: ("this", "partition_by", "order", "spec", "alias", "over"),
        exp.WindowSpec: ("kind", "start", "start_side", "end", "end_side", "exclude"),
    }

    def _windows(self, bound_items, frame: Frame):
        windows = unique([w for e in bound_items for w in e.find_all(exp.Window)])
        base_width = len(frame.plan.schema)
        extra: list[exp.Expression] = []

        def column(e: exp.Expression) -> int:
            if isinstance(e, exp.Column):
                return int(e.name[1:])
            if e not in extra:
                extra.append(e)
            return base_width + extra.index(e)

        specs = []
        for window in windows:
            function = window.this
            if function.find(exp.Window) and function.find(exp.Window) is not function:
                raise SqlError("window function calls cannot be nested")
            aggregates.check_window_function(function)
            partition = tuple(column(p) for p in window.args.get("partition_by") or [])
            order_node = window.args.get("order")
            order = tuple(
                SortKey(column(o.this), bool(o.args.get("desc")), bool(o.args.get("nulls_first")))
                for o in (order_node.expressions if order_node else [])
            )
            spec = window.args.get("spec")
            frame_sql = spec.sql(dialect="duckdb") if spec is not None else None
            specs.append((window, function, partition, order, frame_sql))
        if extra:
            types = self.infer.infer(extra, frame.plan.schema)
            exprs = tuple(ref(i) for i in range(base_width)) + tuple(extra)
            fields = frame.plan.schema + tuple(Field(f"w{i}", t) for i, t in enumerate(types))
            frame.plan = Project(frame.plan, exprs, fields)
        calls = []
        for window, function, partition, order, frame_sql in specs:
            untyped = WindowCall(function, partition, order, frame_sql, "")
            (result_type,) = self.infer.infer([window_expression(untyped)], frame.plan.schema)
            calls.append(WindowCall(function, partition, order, frame_sql, result_type))
        width = len(frame.plan.schema)
        fields = frame.plan.schema + tuple(Field(c.name, c.type) for c in calls)
        plan = OverWindow(frame.plan, tuple(calls), fields)
        position = {w: width + i for i, (w, *_) in enumerate(specs)}

        def replace(n: exp.Expression) -> exp.Expression:
            return ref(position[n]) if isinstance(n, exp.Window) else n

        columns = frame.scope.columns + [
            ScopeColumn(f.name, f.type, (), hidden=True) for f in fields[len(frame.scope.columns) :]
        ]
        new_frame = Frame(plan, Scope(columns, frame.scope.outer), frame.ctes)
        for attr in ("aggregate_rewrite", "pre_aggregate_order"):
            if hasattr(frame, attr):
                setattr(new_frame, attr, getattr(frame, attr))
        return [e.copy().transform(replace, copy=False) for e in bound_items], new_frame


def expand_named_windows(select: exp.Select) -> exp.Select:
    """``select`` without its WINDOW clause, each window of its own (not a subquery's) that
    names one written out in full. A window that names another takes its PARTITION BY, and its
    ORDER BY and frame unless it has its own; PostgreSQL's errors where it may not."""
    definitions = select.args.get("windows") or []
    if not definitions and not any(_names_a_window(w, select) for w in select.find_all(exp.Window)):
        return select
    select = select.copy()
    named: dict[str, exp.Window] = {}
    for definition in select.args.get("windows") or []:
        name = definition.this.name
        if name.lower() in named:
            raise SqlError(f"window {name!r} is already defined", sqlstate=WINDOWING_ERROR)
        named[name.lower()] = _spelled_out(definition, named)
    select.set("windows", None)
    for window in list(select.find_all(exp.Window)):
        if _names_a_window(window, select):
            window.replace(_spelled_out(window, named))
    return select


def _names_a_window(window: exp.Window, select: exp.Select) -> bool:
    return bool(window.args.get("alias")) and window.parent_select is select


def _spelled_out(window: exp.Window, named: dict[str, exp.Window]) -> exp.Window:
    """``window`` with the window it names (if any) copied into it."""
    reference = window.args.get("alias")
    if reference is None:
        return window
    name = reference.name
    base = named.get(name.lower())
    if base is None:
        raise SqlError(f"window {name!r} does not exist", sqlstate=UNDEFINED_OBJECT)
    order, spec = window.args.get("order"), window.args.get("spec")
    if window.args.get("partition_by"):
        raise SqlError(
            f"cannot override PARTITION BY clause of window {name!r}", sqlstate=WINDOWING_ERROR
        )
    if order is not None and base.args.get("order") is not None:
        raise SqlError(
            f"cannot override ORDER BY clause of window {name!r}", sqlstate=WINDOWING_ERROR
        )
    if (order is not None or spec is not None) and base.args.get("spec") is not None:
        raise SqlError(
            f"cannot copy window {name!r} because it has a frame clause",
            sqlstate=WINDOWING_ERROR,
        )
    result = window.copy()
    result.set("alias", None)
    result.set("partition_by", [p.copy() for p in base.args.get("partition_by") or []])
    for arg in ("order", "spec"):
        if result.args.get(arg) is None and base.args.get(arg) is not None:
            result.set(arg, base.args[arg].copy())
    return result


def expand_row_orderings(select: exp.Select) -> exp.Select:
    """``select`` with each ``ORDER BY (a, b)`` (a row, in the query's or a window's ORDER BY)
    written as ``ORDER BY a, b`` in the row's direction: rows compare field by field, as in
    PostgreSQL.

    >>> expand_row_orderings(exp.maybe_parse("SELECT 1 FROM t ORDER BY (a, b) DESC")).sql()
    'SELECT 1 FROM t ORDER BY a DESC, b DESC'
    """
    rows = [o for o in select.find_all(exp.Ordered) if isinstance(o.this, exp.Tuple)]
    if not rows:
        return select
    select = select.copy()
    for order in select.find_all(exp.Order):
        terms = []
        for term in order.expressions:
            if isinstance(term.this, exp.Tuple):
                for field in term.this.expressions:
                    spelled = term.copy()
                    spelled.set("this", field.copy())
                    terms.append(spelled)
            else:
                terms.append(term)
        order.set("expressions", terms)
    return select
