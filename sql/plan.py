"""The logical plan: small immutable nodes, each with a derived output ``schema``.

Scalar expressions are sqlglot expressions whose column references name the input's columns
by position: ``c0``, ``c1``, ... (see ``ref``), and whose statement parameters (``$1``, ...) are
``TypedParameter`` nodes (see ``parameter``): a plan with parameters is bound once and run with
their values as arguments. Stateful nodes (Aggregate, Join keys, TopN,
OverWindow) take column indices, not expressions: the binder projects any expression they need
into a column first, so operators and the DuckDB lowering only ever deal with columns.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import ClassVar

from sqlglot import exp


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # canonical SQL type name (tidal.catalog.types)


def ref(index: int) -> exp.Column:
    """The expression that reads input column ``index``."""
    return exp.column(f"c{index}", quoted=True)


def cast(expression: exp.Expression, sql_type: str) -> exp.Expression:
    """``CAST(expression AS sql_type)`` (``sql_type`` in DuckDB's spelling; none where the
    expression is already of that type's kind). The type is parsed once per name."""
    return exp.cast(expression, _data_type(sql_type), dialect="duckdb")


@functools.lru_cache(maxsize=1024)
def _data_type(sql_type: str) -> exp.DataType:
    return exp.DataType.build(sql_type, dialect="duckdb")


def ref_index(column: exp.Column) -> int:
    """The input position a ``ref`` reads."""
    return int(column.name[1:])


class TypedParameter(exp.Expression):
    """Statement parameter ``$this`` as a value of SQL type ``to``, given at each run.

    A class of its own, so that a plan with a parameter never equals (or hashes like) the same
    plan with a constant, and a generator that does not know it fails instead of writing a NULL.
    """

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "to": True}


def parameter(number: int, sql_type: str) -> TypedParameter:
    """The stand-in for parameter ``$number`` of type ``sql_type`` in a bound expression.

    >>> one = parameter(1, "BIGINT")
    >>> one == parameter(1, "BIGINT"), one == parameter(2, "BIGINT"), parameter_number(one)
    (True, False, 1)
    >>> one == exp.cast(exp.null(), "BIGINT")
    False
    """
    return TypedParameter(
        this=exp.Literal.number(number), to=exp.DataType.build(sql_type, dialect="duckdb")
    )


def parameter_number(node: exp.Expression) -> int | None:
    """The number ``n`` of a ``$n`` stand-in; None for any other node."""
    return int(node.this.this) if isinstance(node, TypedParameter) else None


class Plan:
    """Base of all plan nodes."""

    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return ()

    def with_children(self, children: tuple[Plan, ...]) -> Plan:
        if not children:
            return self
        names = [
            f.name for f in dataclasses.fields(self) if isinstance(getattr(self, f.name), Plan)
        ]  # type: ignore[arg-type]
        return dataclasses.replace(self, **dict(zip(names, children)))  # type: ignore[type-var]

    def walk(self) -> Iterator[Plan]:
        yield self
        for child in self.children():
            yield from child.walk()

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.schema]

    @property
    def types(self) -> list[str]:
        return [f.type for f in self.schema]


@dataclass(frozen=True)
class Scan(Plan):
    """Read a table, a source or a materialized view by name (``kind`` says which).

    ``watermark``: the column the relation's ``WATERMARK FOR`` names, if it has one.
    ``key``: the columns of a table's primary key (they identify a row). ``append_only``: a
    table whose rows are never retracted (``APPEND ONLY``).
    """

    relation: str
    kind: str
    schema: tuple[Field, ...]
    watermark: int | None = None
    key: tuple[int, ...] = ()
    append_only: bool = False


@dataclass(frozen=True)
class Values(Plan):
    """Constant rows (each a tuple of constant expressions)."""

    rows: tuple[tuple[exp.Expression, ...], ...]
    schema: tuple[Field, ...]


@dataclass(frozen=True)
class Filter(Plan):
    input: Plan
    predicate: exp.Expression

    @property
    def schema(self) -> tuple[Field, ...]:  # type: ignore[override]
        return self.input.schema

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Project(Plan):
    input: Plan
    exprs: tuple[exp.Expression, ...]
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class AggregateCall:
    """``name(args [ORDER BY order]) [FILTER (WHERE filter)]``; args, order and filter are input
    column indices; ``parameters`` are the call's constants (a separator, a fraction)."""

    name: str
    args: tuple[int, ...]
    distinct: bool = False
    filter: int | None = None
    type: str = "BIGINT"
    order: tuple[SortKey, ...] = ()
    parameters: tuple[exp.Expression, ...] = ()


@dataclass(frozen=True)
class Aggregate(Plan):
    """GROUP BY ``keys``; the output is the key columns followed by one column per aggregate.

    With no keys it is a global aggregate: exactly one output row, even over no input.
    """

    input: Plan
    keys: tuple[int, ...]
    aggregates: tuple[AggregateCall, ...]
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


JOIN_KINDS = ("inner", "left", "right", "full", "semi", "anti")


@dataclass(frozen=True)
class Join(Plan):
    """Equi-join on ``left_keys[i] = right_keys[i]`` plus an optional residual ``condition``.

    The condition reads the left columns then the right columns (``c0`` .. ``c{nl+nr-1}``).
    ``semi`` and ``anti`` output only the left columns. Keys never match on NULL.
    """

    left: Plan
    right: Plan
    kind: str
    left_keys: tuple[int, ...]
    right_keys: tuple[int, ...]
    condition: exp.Expression | None
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class SetOp(Plan):
    """UNION / INTERSECT / EXCEPT, with or without ALL (``kind`` in union, intersect, except)."""

    kind: str
    all: bool
    left: Plan
    right: Plan
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.left, self.right)


@dataclass(frozen=True)
class Distinct(Plan):
    input: Plan

    @property
    def schema(self) -> tuple[Field, ...]:  # type: ignore[override]
        return self.input.schema

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class SortKey:
    column: int
    descending: bool = False
    nulls_first: bool = False

    @classmethod
    def of(cls, column: int, term: exp.Ordered) -> SortKey:
        """``column`` sorted as the ORDER BY ``term`` says (sqlglot resolves PostgreSQL's
        default NULLs order: last ascending, first descending)."""
        return cls(column, bool(term.args.get("desc")), bool(term.args.get("nulls_first")))


@dataclass(frozen=True)
class TopN(Plan):
    """The first ``limit`` rows (after ``offset``) by ``order``: ORDER BY ... LIMIT in a view.

    Ties at the boundary are broken by all the other columns, so the result is deterministic.
    """

    input: Plan
    order: tuple[SortKey, ...]
    limit: int | None
    offset: int = 0

    @property
    def schema(self) -> tuple[Field, ...]:  # type: ignore[override]
        return self.input.schema

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class WindowCall:
    """``function OVER (PARTITION BY partition ORDER BY order frame)``.

    ``function`` is an expression over the input columns (e.g. ``ROW_NUMBER()``, ``SUM("c2")``);
    partition and order are input column indices; ``frame`` is the frame clause as SQL, or None.
    """

    function: exp.Expression
    partition: tuple[int, ...]
    order: tuple[SortKey, ...]
    frame: str | None
    type: str

    @property
    def name(self) -> str:
        return (
            self.function.sql_name().lower()
            if not isinstance(self.function, exp.Anonymous)
            else self.function.name.lower()
        )


@dataclass(frozen=True)
class OverWindow(Plan):
    """Appends one column per window function call to its input rows."""

    input: Plan
    calls: tuple[WindowCall, ...]
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Unnest(Plan):
    """Each input row once per element of the longest of its lists (columns ``lists``), with
    the elements of every list appended, in step: a shorter or NULL list gives NULL. A row whose
    lists are all empty or NULL gives no row (set-returning functions in a select list)."""

    input: Plan
    lists: tuple[int, ...]
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


WINDOW_KINDS = ("tumble", "hop", "cumulate", "session")


@dataclass(frozen=True)
class WindowTVF(Plan):
    """A window table function: each input row with the bounds of each window it falls in,
    appended as ``window_start`` and ``window_end`` (the time column's type).

    Durations are in microseconds. Windows are aligned to the epoch plus ``offset``.
    tumble: ``size``; hop: windows of ``size`` every ``slide``; cumulate: windows from each
    ``size``-aligned start growing by ``slide`` (the step) up to ``size``; session: a row starts a
    new session when it is ``size`` (the gap) or more after the previous row of its
    ``partition``, and a session ends at its last row plus the gap.
    """

    input: Plan
    kind: str
    time: int
    size: int
    slide: int
    offset: int
    partition: tuple[int, ...]
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Emit(Plan):
    """EMIT ON WINDOW CLOSE: only the final rows of the input, those whose column ``time`` is
    below that column's watermark (tidal.sql.eventtime); each appears once and never changes."""

    input: Plan
    time: int

    @property
    def schema(self) -> tuple[Field, ...]:  # type: ignore[override]
        return self.input.schema

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Sort(Plan):
    """ORDER BY of an ad hoc query (a view's rows have no order unless it is a TopN)."""

    input: Plan
    order: tuple[SortKey, ...]

    @property
    def schema(self) -> tuple[Field, ...]:  # type: ignore[override]
        return self.input.schema

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class Limit(Plan):
    """LIMIT / OFFSET of an ad hoc query."""

    input: Plan
    limit: int | None
    offset: int = 0

    @property
    def schema(self) -> tuple[Field, ...]:  # type: ignore[override]
        return self.input.schema

    def children(self) -> tuple[Plan, ...]:
        return (self.input,)


@dataclass(frozen=True)
class WorkingTable(Plan):
    """The recursive reference of a ``WITH RECURSIVE`` step (tidal.sql.recursive): the rows
    the previous iteration added."""

    name: str
    schema: tuple[Field, ...]


@dataclass(frozen=True)
class Recursive(Plan):
    """``WITH RECURSIVE name AS (base UNION [ALL] step)``: ``base``'s rows, then ``step`` run
    over the rows the last iteration added (its ``WorkingTable``), until it adds none. Without
    ``all``, duplicates of any earlier row are discarded (PostgreSQL's semantics)."""

    name: str
    base: Plan
    step: Plan
    all: bool
    schema: tuple[Field, ...]

    def children(self) -> tuple[Plan, ...]:
        return (self.base, self.step)


def scans(plan: Plan) -> list[Scan]:
    return [node for node in plan.walk() if isinstance(node, Scan)]


def bottom_up(plan: Plan, visit: Callable[[Plan], Plan]) -> Plan:
    """Apply ``visit`` to every node, children first."""
    children = tuple(bottom_up(child, visit) for child in plan.children())
    if children != plan.children():
        plan = plan.with_children(children)
    return visit(plan)


def referenced(expression: exp.Expression) -> set[int]:
    """The input positions an expression reads."""
    return {ref_index(c) for c in expression.find_all(exp.Column)}


def remap(expression: exp.Expression, mapping) -> exp.Expression:
    """A copy of ``expression`` reading input column ``mapping(i)`` wherever it read ``i``."""

    def visit(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return ref(mapping(ref_index(node)))
        return node

    return expression.transform(visit)


def conjuncts(expression: exp.Expression | None) -> list[exp.Expression]:
    """``a AND b AND c`` as ``[a, b, c]``."""
    if expression is None:
        return []
    if isinstance(expression, exp.Paren):
        return conjuncts(expression.this)
    if isinstance(expression, exp.And):
        return conjuncts(expression.this) + conjuncts(expression.expression)
    return [expression]


def conjunction(parts: list[exp.Expression]) -> exp.Expression | None:
    if not parts:
        return None
    return exp.and_(*parts, copy=False) if len(parts) > 1 else parts[0]


def unique(items: list) -> list:
    """``items`` without repeats, in first-seen order (for unhashable-equal plan expressions)."""
    out: list = []
    for item in items:
        if item not in out:
            out.append(item)
    return out
