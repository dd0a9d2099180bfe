"""Binding window functions: each ``f(...) OVER (...)`` becomes a call of an OverWindow node,
its partition and order expressions projected into columns first. A mixin of the Binder."""

from __future__ import annotations

from sqlglot import exp

from tidal.sql import aggregates
from tidal.sql.errors import SqlError
from tidal.sql.lower import window_expression
from tidal.sql.plan import Field, OverWindow, Project, SortKey, WindowCall, ref, unique
from tidal.sql.scope import Frame, Scope, ScopeColumn


class WindowFunctions:
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
