"""Lowering a plan to DuckDB SQL: batch mode, ad hoc queries, and the reference for tests.

Every node becomes a SELECT whose columns are named ``c0`` .. ``cN`` (the names plan expressions
use), so a node's SQL is its children's SQL in parentheses. ``to_sql`` renames the columns to
the plan's output names at the end. Orderings are spelled out fully (NULLS FIRST/LAST) and ties
that would make a result depend on the engine (ROW_NUMBER, a TopN boundary) are broken by the
remaining columns, the same way the incremental operators break them. Statement parameters
become a prepared statement's ``$n`` (``parameter_numbers`` says which a plan's SQL reads).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

from sqlglot import exp

from tidal.sql.asof_joins import AsofJoin
from tidal.sql.plan import (
    Aggregate,
    Distinct,
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
    SortKey,
    TopN,
    TypedParameter,
    Unnest,
    Values,
    WindowCall,
    WindowTVF,
    WorkingTable,
    parameter_number,
)
from tidal.sql.recursive import MAX_ITERATIONS, MAX_ROWS, limit_message
from tidal.sql.temporal_joins import TemporalJoin
from tidal.sql.typeinfer import duckdb_sql

ScanSql = Callable[[Scan], str]

# Window functions whose value depends on the order among rows with equal ORDER BY keys.
_ORDER_SENSITIVE = ("row_number", "ntile", "lag", "lead", "first_value", "last_value", "nth_value")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column(index: int, table: str | None = None) -> str:
    return f'{table}."c{index}"' if table else f'"c{index}"'


def sql(expression: exp.Expression) -> str:
    return duckdb_sql(expression)


def parameter_numbers(plan: Plan) -> list[int]:
    """The numbers ``n`` of the ``$n`` that ``plan``'s SQL reads, ascending: a prepared
    statement takes a value for each of them and no other."""
    numbers = {
        parameter_number(found)
        for node in plan.walk()
        for field in dataclasses.fields(node)  # type: ignore[arg-type]
        for expression in _expressions(getattr(node, field.name))
        for found in expression.find_all(TypedParameter)
    }
    return sorted(numbers)  # type: ignore[type-var]


def _expressions(value) -> Iterator[exp.Expression]:
    """The scalar expressions in a plan node's field (those of its inputs excepted)."""
    if isinstance(value, exp.Expression):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _expressions(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, Plan):
        for field in dataclasses.fields(value):
            yield from _expressions(getattr(value, field.name))


def to_sql(plan: Plan, scan_sql: ScanSql) -> str:
    """A query whose result columns carry the plan's output names, in order."""
    names = ", ".join(f"{column(i)} AS {quote(f.name)}" for i, f in enumerate(plan.schema))
    return f"SELECT {names or '*'} FROM ({lower(plan, scan_sql)}) AS t"


def lower(plan: Plan, scan_sql: ScanSql) -> str:
    visit = _VISITORS.get(type(plan))
    if visit is None:
        raise NotImplementedError(f"not supported in batch mode: {type(plan).__name__}")
    return visit(plan, scan_sql)


def _scan(plan: Scan, scan_sql: ScanSql) -> str:
    columns = ", ".join(f"{quote(f.name)} AS {column(i)}" for i, f in enumerate(plan.schema))
    return f"SELECT {columns} FROM {scan_sql(plan)}"


def _values(plan: Values, scan_sql: ScanSql) -> str:
    if not plan.schema:
        return "SELECT 1 AS __unit"
    rows = ", ".join(
        "(" + ", ".join(_typed_value(v, f.type) for v, f in zip(row, plan.schema)) + ")"
        for row in plan.rows
    )
    names = ", ".join(column(i) for i in range(len(plan.schema)))
    return f"SELECT * FROM (VALUES {rows}) AS v({names})"


def _typed_value(value: exp.Expression, sql_type: str) -> str:
    # A column of only NULLs has type NULL, which DuckDB cannot CAST to: the bare NULL has it.
    return sql(value) if sql_type == "NULL" else f"CAST({sql(value)} AS {sql_type})"


def _filter(plan: Filter, scan_sql: ScanSql) -> str:
    return f"SELECT * FROM ({lower(plan.input, scan_sql)}) AS t WHERE {sql(plan.predicate)}"


def _project(plan: Project, scan_sql: ScanSql) -> str:
    items = ", ".join(f"{sql(e)} AS {column(i)}" for i, e in enumerate(plan.exprs))
    return f"SELECT {items or '1 AS __unit'} FROM ({lower(plan.input, scan_sql)}) AS t"


def aggregate_call_sql(call) -> str:
    from tidal.sql.aggregates import call_sql

    return sql(call_sql(call))


def _aggregate(plan: Aggregate, scan_sql: ScanSql) -> str:
    keys = [column(k) for k in plan.keys]
    items = [f"{k} AS {column(i)}" for i, k in enumerate(keys)]
    items += [
        f"{aggregate_call_sql(c)} AS {column(len(keys) + j)}" for j, c in enumerate(plan.aggregates)
    ]
    group = f" GROUP BY {', '.join(keys)}" if keys else ""
    return f"SELECT {', '.join(items)} FROM ({lower(plan.input, scan_sql)}) AS t{group}"


def join_condition_sql(plan: Join, left: str = "l", right: str = "r") -> str:
    width = len(plan.left.schema)
    parts = [
        f"{column(a, left)} = {column(b, right)}" for a, b in zip(plan.left_keys, plan.right_keys)
    ]
    if plan.condition is not None:

        def qualify(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column):
                index = int(node.name[1:])
                table, position = (left, index) if index < width else (right, index - width)
                return exp.column(f"c{position}", table=table, quoted=True)
            return node

        parts.append(sql(plan.condition.copy().transform(qualify, copy=False)))
    return " AND ".join(f"({p})" for p in parts) or "true"


def _join(plan: Join, scan_sql: ScanSql) -> str:
    left_sql, right_sql = lower(plan.left, scan_sql), lower(plan.right, scan_sql)
    on = join_condition_sql(plan)
    if plan.kind in ("semi", "anti"):
        negate = "NOT " if plan.kind == "anti" else ""
        return (
            f"SELECT * FROM ({left_sql}) AS l WHERE {negate}EXISTS "
            f"(SELECT 1 FROM ({right_sql}) AS r WHERE {on})"
        )
    width = len(plan.left.schema)
    items = [f"{column(i, 'l')} AS {column(i)}" for i in range(width)]
    items += [f"{column(i, 'r')} AS {column(width + i)}" for i in range(len(plan.right.schema))]
    kind = {"inner": "JOIN", "left": "LEFT JOIN", "right": "RIGHT JOIN", "full": "FULL JOIN"}[
        plan.kind
    ]
    return f"SELECT {', '.join(items)} FROM ({left_sql}) AS l {kind} ({right_sql}) AS r ON {on}"


def _asof_join(plan: AsofJoin, scan_sql: ScanSql) -> str:
    """DuckDB's ASOF JOIN, over the right rows with ties on keys and time broken (the least by
    the other columns), so that the match is the same row in batch and incremental runs."""
    width, right_width = len(plan.left.schema), len(plan.right.schema)
    match = (*plan.right_keys, plan.right_time)
    partition = ", ".join(column(k) for k in match)
    order = order_sql(tie_broken((), right_width, match)) or "1"
    right = (
        f"SELECT * FROM ({lower(plan.right, scan_sql)}) AS r QUALIFY row_number() OVER "
        f"(PARTITION BY {partition} ORDER BY {order}) = 1"
    )
    on = [f"{column(a, 'l')} = {column(b, 'r')}" for a, b in zip(plan.left_keys, plan.right_keys)]
    on.append(f"{column(plan.left_time, 'l')} {plan.op} {column(plan.right_time, 'r')}")
    items = [f"{column(i, 'l')} AS {column(i)}" for i in range(width)]
    items += [f"{column(i, 'r')} AS {column(width + i)}" for i in range(right_width)]
    kind = "ASOF LEFT JOIN" if plan.kind == "left" else "ASOF JOIN"
    return (
        f"SELECT {', '.join(items)} FROM ({lower(plan.left, scan_sql)}) AS l {kind} ({right}) "
        f"AS r ON {' AND '.join(on)}"
    )


def _set_op(plan: SetOp, scan_sql: ScanSql) -> str:
    operator = plan.kind.upper() + (" ALL" if plan.all else "")
    return f"({lower(plan.left, scan_sql)}) {operator} ({lower(plan.right, scan_sql)})"


def _distinct(plan: Distinct, scan_sql: ScanSql) -> str:
    return f"SELECT DISTINCT * FROM ({lower(plan.input, scan_sql)}) AS t"


def order_sql(keys: tuple[SortKey, ...] | list[SortKey], table: str | None = None) -> str:
    return ", ".join(
        f"{column(k.column, table)} {'DESC' if k.descending else 'ASC'} "
        f"NULLS {'FIRST' if k.nulls_first else 'LAST'}"
        for k in keys
    )


def tie_broken(
    keys: tuple[SortKey, ...], width: int, exclude: tuple[int, ...] = ()
) -> tuple[SortKey, ...]:
    """``keys`` followed by every other column ascending: a total order on distinct rows."""
    used = {k.column for k in keys} | set(exclude)
    return tuple(keys) + tuple(SortKey(i) for i in range(width) if i not in used)


def _top_n(plan: TopN, scan_sql: ScanSql) -> str:
    width = len(plan.schema)
    order = order_sql(tie_broken(plan.order, width))
    names = ", ".join(column(i) for i in range(width))
    upper = f" AND __rn <= {plan.offset + plan.limit}" if plan.limit is not None else ""
    return (
        f"SELECT {names} FROM (SELECT *, ROW_NUMBER() OVER (ORDER BY {order}) AS __rn "
        f"FROM ({lower(plan.input, scan_sql)}) AS t) AS t WHERE __rn > {plan.offset}{upper}"
    )


def window_expression(call: WindowCall, width: int | None = None) -> str:
    """``f(...) OVER (...)`` in DuckDB SQL; with ``width``, order-sensitive calls break ties."""
    order = call.order
    frame = call.frame or ""
    if width is not None and (call.name in _ORDER_SENSITIVE or frame.upper().startswith("ROWS")):
        order = tie_broken(order, width, call.partition)
    parts = []
    if call.partition:
        parts.append("PARTITION BY " + ", ".join(column(p) for p in call.partition))
    if order:
        parts.append("ORDER BY " + order_sql(order))
    if frame:
        parts.append(frame)
    return f"{sql(call.function)} OVER ({' '.join(parts)})"


def _over_window(plan: OverWindow, scan_sql: ScanSql) -> str:
    width = len(plan.input.schema)
    items = [
        f"{window_expression(c, width)} AS {column(width + i)}" for i, c in enumerate(plan.calls)
    ]
    return f"SELECT *, {', '.join(items)} FROM ({lower(plan.input, scan_sql)}) AS t"


def _unnest(plan: Unnest, scan_sql: ScanSql) -> str:
    # DuckDB unnests the lists of one select list in step, padding the shorter with NULL.
    width = len(plan.input.schema)
    items = [f"UNNEST({column(c)}) AS {column(width + i)}" for i, c in enumerate(plan.lists)]
    return f"SELECT *, {', '.join(items)} FROM ({lower(plan.input, scan_sql)}) AS t"


def _sort(plan: Sort, scan_sql: ScanSql) -> str:
    return f"SELECT * FROM ({lower(plan.input, scan_sql)}) AS t ORDER BY {order_sql(plan.order)}"


def _limit(plan: Limit, scan_sql: ScanSql) -> str:
    inner = lower(plan.input, scan_sql)
    limit = f" LIMIT {plan.limit}" if plan.limit is not None else ""
    offset = f" OFFSET {plan.offset}" if plan.offset else ""
    if isinstance(plan.input, Sort):  # keep ORDER BY and LIMIT in one SELECT
        return f"{inner}{limit}{offset}"
    return f"SELECT * FROM ({inner}) AS t{limit}{offset}"


def _window_tvf(plan: WindowTVF, scan_sql: ScanSql) -> str:
    """Windows by arithmetic on epoch microseconds; sessions by gaps and islands.

    A window bound is the time minus a duration (never an epoch converted back to a timestamp),
    so it keeps the time column's type and time zone.
    """
    inner = lower(plan.input, scan_sql)
    time = column(plan.time)
    time_type = plan.schema[plan.time].type
    start, end = column(len(plan.input.schema)), column(len(plan.input.schema) + 1)
    if plan.kind == "session":
        return _session(plan, inner, time, time_type, start, end)

    def at(micros: str) -> str:
        return f"CAST({time} - to_microseconds({micros}) AS {time_type})"

    def into(period: int) -> str:  # how far the time is into its period, in [0, period)
        return f"((epoch_us({time}) - {plan.offset}) % {period} + {period}) % {period}"

    if plan.kind == "tumble":
        return (
            f"SELECT *, {at(into(plan.size))} AS {start}, "
            f"{at(f'{into(plan.size)} - {plan.size}')} AS {end} FROM ({inner}) AS t"
        )
    if plan.kind == "hop":  # the windows starting i slides before the row's latest window
        windows = -(-plan.size // plan.slide)
        back = f"({into(plan.slide)} + __i * {plan.slide})"
        return (
            f"SELECT t.*, {at(back)} AS {start}, {at(f'{back} - {plan.size}')} AS {end} "
            f"FROM ({inner}) AS t, range({windows}) AS w(__i) WHERE {back} < {plan.size}"
        )
    # cumulate: from the row's size-aligned start, the windows growing by steps past the row
    steps = plan.size // plan.slide
    return (
        f"SELECT t.*, {at(into(plan.size))} AS {start}, "
        f"{at(f'{into(plan.size)} - __k * {plan.slide}')} AS {end} "
        f"FROM ({inner}) AS t, range(1, {steps + 1}) AS w(__k) "
        f"WHERE __k * {plan.slide} > {into(plan.size)}"
    )


def _session(plan: WindowTVF, inner: str, time: str, time_type: str, start: str, end: str):
    partition = ", ".join(column(p) for p in plan.partition)
    by = f"PARTITION BY {partition} " if partition else ""
    session = f"PARTITION BY {', '.join([*[column(p) for p in plan.partition], '__session'])}"
    width = len(plan.input.schema)
    names = ", ".join(column(i) for i in range(width))
    return (
        f"SELECT {names}, CAST(min({time}) OVER ({session}) AS {time_type}) AS {start}, "
        f"CAST(max({time}) OVER ({session}) + to_microseconds({plan.size}) AS {time_type}) "
        f"AS {end} FROM (SELECT *, sum(__new) OVER ({by}ORDER BY {time} "
        ") AS __session FROM (SELECT *, CASE WHEN "
        f"epoch_us({time}) - epoch_us(lag({time}) OVER ({by}ORDER BY {time})) < {plan.size} "
        f"THEN 0 ELSE 1 END AS __new FROM ({inner}) AS t) AS t) AS t"
    )


def _recursive(plan: Recursive, scan_sql: ScanSql) -> str:
    """DuckDB's own WITH RECURSIVE. Each row carries its iteration and the number of rows the
    iterations before it made: a row made past ``MAX_ITERATIONS`` or ``MAX_ROWS`` raises the
    error that names the limit. UNION keeps a row no earlier iteration made (``recurring``
    reads them all), keyed by its own columns only."""
    name = quote(f"__recursive_{plan.name}")
    names = ", ".join(column(i) for i in range(len(plan.schema)))
    base, step = lower(plan.base, scan_sql), lower(plan.step, scan_sql)
    too_many = [
        f"WHEN {condition} THEN error('{_escaped(limit_message(plan.name, rows))}')"
        for condition, rows in ((f"i.n >= {MAX_ITERATIONS}", False), (f"i.r > {MAX_ROWS}", True))
    ]
    counts = f"CASE {' '.join(too_many)} ELSE i.n + 1 END, i.r"
    latest = f"(SELECT max(__iteration) AS n, max(__rows) + count(*) AS r FROM {name}) AS i"
    columns = f"{name}({names}, __iteration, __rows)"
    if plan.all:
        body = (
            f"SELECT *, 0, 0 FROM ({base}) AS t UNION ALL "
            f"SELECT s.*, {counts} FROM ({step}) AS s, {latest}"
        )
        return f"WITH RECURSIVE {columns} AS ({body}) SELECT {names} FROM {name}"
    seen = " AND ".join(
        f"o.{column(i)} IS NOT DISTINCT FROM s.{column(i)}" for i in range(len(plan.schema))
    )
    body = (
        f"SELECT DISTINCT *, 0, 0 FROM ({base}) AS t UNION "
        f"SELECT DISTINCT s.*, {counts} FROM ({step}) AS s({names}), {latest} "
        f"WHERE NOT EXISTS (SELECT 1 FROM recurring.{name} AS o WHERE {seen})"
    )
    return f"WITH RECURSIVE {columns} USING KEY ({names}) AS ({body}) SELECT {names} FROM {name}"


def _escaped(text: str) -> str:
    return text.replace("'", "''")


def _working_table(plan: WorkingTable, scan_sql: ScanSql) -> str:
    names = ", ".join(column(i) for i in range(len(plan.schema)))
    return f"SELECT {names} FROM {quote(f'__recursive_{plan.name}')}"


_VISITORS: dict[type, Callable[..., str]] = {
    Scan: _scan,
    Values: _values,
    Filter: _filter,
    Project: _project,
    Aggregate: _aggregate,
    Join: _join,
    AsofJoin: _asof_join,
    TemporalJoin: _join,  # one version of the table in a batch run: the current one
    SetOp: _set_op,
    Distinct: _distinct,
    TopN: _top_n,
    OverWindow: _over_window,
    Unnest: _unnest,
    Sort: _sort,
    Limit: _limit,
    WindowTVF: _window_tvf,
    Recursive: _recursive,
    WorkingTable: _working_table,
}
