"""EXPLAIN: a plan as an indented tree, saying for each stateful node what it keeps and what
bounds that state (and, for EXPLAIN ANALYZE, what the caller adds to each node's line)."""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from tidal.sql.asof_joins import AsofJoin
from tidal.sql.changes import accumulates
from tidal.sql.eventtime import duration_text, state_expiry
from tidal.sql.plan import (
    Aggregate,
    Distinct,
    Emit,
    Filter,
    Join,
    Limit,
    OverWindow,
    Plan,
    Project,
    Recursive,
    Scan,
    SetOp,
    Sort,
    TopN,
    Values,
    WindowTVF,
    WorkingTable,
    remap,
)
from tidal.sql.python_functions import shown_names
from tidal.sql.temporal import is_temporal
from tidal.sql.temporal_joins import TemporalJoin


def explain(plan: Plan, annotate: Callable[[Plan], list[str]] | None = None) -> str:
    """The plan's lines; ``annotate``, if given: text for a node (EXPLAIN ANALYZE's numbers),
    the first item at the end of its line, the others on lines of their own below it."""
    lines: list[str] = []
    _walk(plan, 0, lines, annotate or (lambda node: []))
    return "\n".join(lines)


def _expr(e: exp.Expression, child: Plan) -> str:
    names = [f.name for f in child.schema]
    duplicated = {n for n in names if names.count(n) > 1}

    def label(i: int) -> str:
        return f"{names[i]}#{i}" if names[i] in duplicated or not names[i] else names[i]

    rendered = remap(e, lambda i: i).sql(dialect="duckdb")
    for i in sorted(range(len(names)), reverse=True):
        rendered = rendered.replace(f'"c{i}"', label(i))
    return shown_names(rendered)


def _state(node: Plan) -> str | None:
    base = _kept(node)
    if base is None:
        return None
    expiry = state_expiry(node)
    if not expiry:
        return base
    kept = base.split(";")[0]
    dropped = ", ".join(
        f"{_input_column(node, e.input, e.column)} < {e.bound.describe()}" for e in expiry
    )
    return f"{kept}; bounded by watermark: drops rows where {dropped}"


def _input_column(node: Plan, index: int, column: int) -> str:
    if isinstance(node, (WindowTVF, Emit)):  # their expiry names their own output column
        return node.schema[column].name
    name = node.children()[index].schema[column].name
    return f"{('left', 'right')[index]}.{name}" if isinstance(node, Join) else name


def _kept(node: Plan) -> str | None:
    if isinstance(node, Recursive):
        how = "recomputed" if node.all else "semi-naive on insertions, recomputed on deletions"
        return f"state: the rows it reads and its result ({how}); unbounded"
    if isinstance(node, WindowTVF):
        if node.kind != "session":
            return None
        return "state: rows of open sessions per partition; unbounded without a watermark"
    if isinstance(node, Emit):
        return "state: rows of windows not yet closed; unbounded without a watermark"
    if isinstance(node, Filter) and is_temporal(node):
        return "state: rows whose visibility can still change as the clock moves; bounded by time"
    if isinstance(node, Aggregate):
        if accumulates(node) and any(c.distinct for c in node.aggregates):
            return (
                "state: one accumulator row per group, and a count per (group, value) of each "
                "COUNT(DISTINCT); bounded by the number of distinct values per group"
            )
        if accumulates(node):
            return "state: one accumulator row per group; bounded by the number of groups"
        return (
            "state: input rows per group (for MIN/MAX/DISTINCT under retraction); "
            "bounded by the input"
        )
    if isinstance(node, (Join, AsofJoin)):
        return "state: both inputs, arranged by join key; unbounded (grows with the inputs)"
    if isinstance(node, TemporalJoin):
        return "state: the table side, arranged by join key; none of the stream side"
    if isinstance(node, (Distinct, SetOp)) and not (
        isinstance(node, SetOp) and node.kind == "union" and node.all
    ):
        return "state: distinct rows with their counts; bounded by the number of distinct rows"
    if isinstance(node, TopN):
        return "state: all input rows; bounded by the input"
    if isinstance(node, OverWindow):
        return "state: input and output rows per partition; bounded by the input"
    return None


def describe(node: Plan) -> str:
    """A node's line, without its state."""
    child = node.children()[0] if node.children() else None
    if isinstance(node, Scan):
        return f"Scan {node.kind} {node.relation}"
    if isinstance(node, Values):
        return f"Values ({len(node.rows)} rows)"
    if isinstance(node, Filter):
        return f"Filter {_expr(node.predicate, child)}"
    if isinstance(node, Project):
        items = ", ".join(
            _expr(e, child) + (f" AS {f.name}" if _expr(e, child) != f.name else "")
            for e, f in zip(node.exprs, node.schema)
        )
        return f"Project {items}"
    if isinstance(node, Aggregate):
        keys = ", ".join(child.schema[k].name for k in node.keys) or "()"
        calls = ", ".join(_call(c, child) for c in node.aggregates)
        return f"Aggregate keys=[{keys}] calls=[{calls}]"
    if isinstance(node, Join):
        pairs = ", ".join(
            f"{node.left.schema[a].name} = {node.right.schema[b].name}"
            for a, b in zip(node.left_keys, node.right_keys)
        )
        condition = (
            f" condition={_expr(node.condition, _Both(node))}" if node.condition is not None else ""
        )
        return f"Join {node.kind} keys=[{pairs}]{condition}"
    if isinstance(node, SetOp):
        return f"{node.kind.title()}{' all' if node.all else ''}"
    if isinstance(node, Distinct):
        return "Distinct"
    if isinstance(node, TopN):
        return f"TopN limit={node.limit} offset={node.offset} order=[{_order(node.order, child)}]"
    if isinstance(node, OverWindow):
        calls = ", ".join(_window_call(c, child) for c in node.calls)
        return f"OverWindow {calls}"
    if isinstance(node, Sort):
        return f"Sort [{_order(node.order, child)}]"
    if isinstance(node, Limit):
        return f"Limit {node.limit} offset {node.offset}"
    if isinstance(node, WindowTVF):
        return f"{_window(node)} time={child.schema[node.time].name}"
    if isinstance(node, Emit):
        return f"Emit on window close by {node.schema[node.time].name}"
    if isinstance(node, (Recursive, WorkingTable)):
        union = "" if isinstance(node, WorkingTable) else " union all" if node.all else " union"
        return f"{type(node).__name__} {node.name}{union}"
    if isinstance(node, (AsofJoin, TemporalJoin)):
        return node.describe()
    return type(node).__name__


def _window(node: WindowTVF) -> str:
    def duration(micros: int) -> str:
        return (duration_text(micros) or " 0s").strip().removeprefix("+ ")

    if node.kind == "tumble":
        text = f"Tumble size={duration(node.size)}"
    elif node.kind == "hop":
        text = f"Hop slide={duration(node.slide)} size={duration(node.size)}"
    elif node.kind == "cumulate":
        text = f"Cumulate step={duration(node.slide)} size={duration(node.size)}"
    else:
        partition = ", ".join(node.input.schema[p].name for p in node.partition)
        text = f"Session gap={duration(node.size)} partition=[{partition}]"
    return text + (f" offset={duration(node.offset)}" if node.offset else "")


class _Both:
    def __init__(self, join: Join) -> None:
        self.schema = join.left.schema + join.right.schema


def _call(call, child: Plan) -> str:
    args = ", ".join([child.schema[a].name for a in call.args] + [p.sql() for p in call.parameters])
    if call.order:
        args += f" ORDER BY {_order(call.order, child)}"
    name = "count" if call.name == "count_star" else shown_names(call.name)
    text = f"{name}({'DISTINCT ' if call.distinct else ''}{args or '*'})"
    if call.filter is not None:
        text += f" FILTER (WHERE {child.schema[call.filter].name})"
    return text


def _window_call(call, child: Plan) -> str:
    partition = ", ".join(child.schema[p].name for p in call.partition)
    frame = f" {call.frame}" if call.frame else ""
    return (
        f"{_expr(call.function, child)} OVER (partition=[{partition}] "
        f"order=[{_order(call.order, child)}]{frame})"
    )


def _order(keys, child: Plan) -> str:
    return ", ".join(
        f"{child.schema[k.column].name}{' DESC' if k.descending else ''}" for k in keys
    )


def _walk(node: Plan, depth: int, lines: list[str], annotate, inside: bool = False) -> None:
    """``inside``: under a Recursive node, whose operator holds the state of its sub-plans."""
    pad = "  " * depth
    added = annotate(node)
    lines.append(pad + describe(node) + "".join(f"  {text}" for text in added[:1]))
    lines.extend(pad + "  " + text for text in added[1:])
    state = None if inside else _state(node)
    if state:
        lines.append(pad + "  -- " + state)
    for child in node.children():
        _walk(child, depth + 1, lines, annotate, inside or isinstance(node, Recursive))
