"""GROUPING SETS, ROLLUP and CUBE: one maintained GROUP BY over the input expanded once per set.

``GROUP BY a, ROLLUP(b, c)`` groups by each of the sets (a, b, c), (a, b) and (a); the result is
the union of those groupings, with the keys a set does not group by read as NULL. Following
Spark, the input is *expanded*: each row is emitted once per grouping set (an ``Unnest`` of the
set numbers, stateless), with the keys outside that set replaced by NULL and the set's number
appended; the ordinary Aggregate then groups by (keys, set number). Every aggregate stays
incremental, deletes included, with no new stateful operator.

The sets of a GROUP BY are the cross product of its items' sets, repeats kept (PostgreSQL and
DuckDB keep them: ``GROUPING SETS ((a), (a))`` gives every group twice):

>>> from tidal.sql.parser import parse_statement
>>> group = parse_statement("SELECT 1 FROM t GROUP BY a, ROLLUP(b, (c, d))").args["group"]
>>> [[k.sql() for k in s] for s in combinations(group, lambda term: term)]
[['a', 'b', 'c', 'd'], ['a', 'b'], ['a']]

An empty set (the grand total) gives its row even over no input, as a global aggregate does:
it is computed by a global Aggregate of its own, added to the others with UNION ALL.

``grouping(a, b)`` is a bitmask, PostgreSQL's order: the last argument is bit 0, and a bit is 1
where its column is not grouped in the row's set (its NULL is a total, not a NULL key).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

from sqlglot import exp

from tidal.sql.errors import grouping_error, unsupported
from tidal.sql.plan import (
    Aggregate,
    AggregateCall,
    Field,
    Plan,
    Project,
    SetOp,
    SortKey,
    Unnest,
    Values,
    cast,
    ref,
    ref_index,
    unique,
)
from tidal.sql.scope import Scope, ScopeColumn

# PostgreSQL's limit on the number of grouping sets of one query.
MAX_SETS = 4096

# The group key that stands for the grouping set's number in bound expressions (a call no user
# can write: its name is not a function), read by ``grouping()``.
SET_NUMBER = exp.Anonymous(this="__grouping_set")

# The type of the set number, and of grouping()'s result (DuckDB's).
_NUMBER_TYPE = "INTEGER"
_GROUPING_TYPE = "BIGINT"

_CONSTRUCTS = (exp.Rollup, exp.Cube, exp.GroupingSets)


def present(group: exp.Group | None) -> bool:
    """Whether a GROUP BY has a ROLLUP, CUBE or GROUPING SETS item."""
    return group is not None and any(isinstance(t, _CONSTRUCTS) for t in group.expressions)


def keys_and_sets(
    group: exp.Group | None, bind: Callable[[exp.Expression], exp.Expression]
) -> tuple[list[exp.Expression], GroupingSets | None]:
    """The bound keys of a GROUP BY, and its grouping sets (None for a plain GROUP BY, where
    ``()`` is one group, like no GROUP BY)."""
    if group and (
        group.args.get("rollup") or group.args.get("cube") or group.args.get("grouping_sets")
    ):
        raise unsupported("GROUP BY ... WITH ROLLUP / WITH CUBE: write ROLLUP (...) or CUBE")
    if not present(group):
        terms = group.expressions if group else []
        return [
            bind(t) for t in terms if not (isinstance(t, exp.Tuple) and not t.expressions)
        ], None
    sets = GroupingSets.of(combinations(group, bind))
    return list(sets.keys), sets


def combinations(group: exp.Group, bind: Callable[[exp.Expression], exp.Expression]) -> list:
    """The grouping sets of ``group``, each the list of its bound key expressions."""
    sets: list[list[exp.Expression]] = [[]]
    for term in group.expressions:
        sets = [left + right for left in sets for right in _sets(term, bind)]
        if len(sets) > MAX_SETS:
            raise unsupported(f"more than {MAX_SETS} grouping sets")
    return sets


def _sets(term: exp.Expression, bind) -> list[list[exp.Expression]]:
    if isinstance(term, exp.GroupingSets):
        return [s for item in term.expressions for s in _sets(item, bind)]
    if isinstance(term, exp.Rollup):
        parts = [_flat(item, bind) for item in term.expressions]
        return [_concat(parts[:n]) for n in range(len(parts), -1, -1)]
    if isinstance(term, exp.Cube):
        parts = [_flat(item, bind) for item in term.expressions]
        if len(parts) > 12:
            raise unsupported(f"CUBE of {len(parts)} elements (at most 12)")
        return [
            _concat([p for p, keep in zip(parts, mask) if keep])
            for mask in itertools.product((True, False), repeat=len(parts))
        ]
    return [_flat(term, bind)]


def _concat(parts: list[list[exp.Expression]]) -> list[exp.Expression]:
    return [key for part in parts for key in part]


def _flat(term: exp.Expression, bind) -> list[exp.Expression]:
    """The keys of one element: ``(a, b)`` is both, ``()`` none."""
    if isinstance(term, _CONSTRUCTS):
        raise unsupported(f"{term.key.upper()} inside ROLLUP or CUBE")
    if isinstance(term, exp.Tuple):
        return [bind(item) for item in term.expressions]
    if isinstance(term, exp.Paren):
        return [bind(term.this)]
    return [bind(term)]


@dataclasses.dataclass(frozen=True)
class GroupingSets:
    """The distinct ``keys`` of all sets, and each set as the positions in ``keys`` it groups."""

    keys: tuple[exp.Expression, ...]
    sets: tuple[frozenset[int], ...]

    @classmethod
    def of(cls, combinations: list[list[exp.Expression]]) -> GroupingSets:
        keys = unique([k for s in combinations for k in s])
        return cls(tuple(keys), tuple(frozenset(keys.index(k) for k in s) for s in combinations))

    def mask(self, number: int, arguments: list[int]) -> int:
        """grouping(arguments) in set ``number``: bit 0 is the last argument."""
        return sum(
            1 << (len(arguments) - 1 - i)
            for i, key in enumerate(arguments)
            if key not in self.sets[number]
        )


def replace_grouping(
    expression: exp.Expression,
    keys: list[exp.Expression],
    grouping: GroupingSets | None,
    scope: Scope,
) -> exp.Expression:
    """``expression`` with each ``grouping(...)`` call computed from the set number (or 0 for a
    plain GROUP BY, where every key is grouped). Its arguments must be GROUP BY keys."""

    def visit(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Grouping):
            return node
        if not node.expressions:
            raise grouping_error("grouping() needs at least one argument")
        arguments = []
        for argument in node.expressions:
            if argument not in keys:
                raise grouping_error(
                    "arguments to grouping() must be grouping expressions of the query: "
                    f"{_shown(argument, scope)} is not in GROUP BY"
                )
            arguments.append(keys.index(argument))
        if grouping is None:
            return cast(exp.Literal.number(0), _GROUPING_TYPE)
        masks = [grouping.mask(n, arguments) for n in range(len(grouping.sets))]
        if len(set(masks)) == 1:
            return cast(exp.Literal.number(masks[0]), _GROUPING_TYPE)
        case = exp.Case(
            this=SET_NUMBER.copy(),
            ifs=[
                exp.If(this=exp.Literal.number(n), true=exp.Literal.number(m))
                for n, m in enumerate(masks)
            ],
        )
        return cast(case, _GROUPING_TYPE)

    return expression.transform(visit)


def replace_in(keys, grouping: GroupingSets | None, scope: Scope, items, having, order):
    """``replace_grouping`` in the select list, HAVING and ORDER BY (None where absent)."""
    return (
        [replace_grouping(e, keys, grouping, scope) for e in items],
        replace_grouping(having, keys, grouping, scope) if having is not None else None,
        [replace_grouping(e, keys, grouping, scope) if e is not None else None for e in order],
    )


def _shown(expression: exp.Expression, scope: Scope) -> str:
    """A bound expression as the user wrote it, near enough: its columns by name."""

    def name(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return exp.column(scope.display(ref_index(node)))
        return node

    return expression.transform(name).sql()


def over_sets(
    plain: Aggregate, grouping: GroupingSets, keys: list[exp.Expression], scope: list[ScopeColumn]
) -> Plan:
    """``plain`` (the Aggregate by all the keys) over every grouping set instead; ``keys``
    (the bound keys) and ``scope`` (their columns) get the set number's, which follows them."""
    plan = aggregate(plain.input, plain.keys, grouping, plain.aggregates, plain.schema)
    keys.append(SET_NUMBER)
    scope.append(ScopeColumn("__grouping_set", _NUMBER_TYPE, (), hidden=True))
    return plan


def aggregate(
    pre: Plan,
    keys: tuple[int, ...],
    grouping: GroupingSets,
    calls: tuple[AggregateCall, ...],
    schema: tuple[Field, ...],
) -> Plan:
    """The Aggregate of ``pre`` over every grouping set: its rows are the ``keys`` (input
    columns of ``pre``; NULL where a set does not group by one), the set number, then the
    ``calls``; ``schema`` is that of the keys and calls (the set number's is added)."""
    key_fields, call_fields = schema[: len(keys)], schema[len(keys) :]
    number_field = Field("__grouping_set", _NUMBER_TYPE)
    grouped = [n for n, s in enumerate(grouping.sets) if s]
    totals = [n for n, s in enumerate(grouping.sets) if not s]
    branches: list[Plan] = []
    if grouped:
        expanded = _expand(pre, keys, grouping, grouped, key_fields)
        shift = len(keys) + 1
        branches.append(
            Aggregate(
                expanded,
                tuple(range(shift)),
                tuple(_shifted(c, shift) for c in calls),
                key_fields + (number_field,) + call_fields,
            )
        )
    if totals:
        # A global aggregate has its row over no input too; one copy per empty set.
        total: Plan = Aggregate(pre, (), calls, call_fields)
        if not calls:  # the one row of a global aggregate of nothing
            total = Values(((exp.Literal.number(1),),), (Field("__one", _NUMBER_TYPE),))
        listed, number = _numbered(total, totals)
        nulls = tuple(_null(f.type) for f in key_fields)
        calls_at = tuple(ref(i) for i in range(len(call_fields)))
        branches.append(
            Project(
                listed,
                nulls + (number,) + calls_at,
                key_fields + (number_field,) + call_fields,
            )
        )
    plan = branches[0]
    for branch in branches[1:]:
        plan = SetOp("union", True, plan, branch, plan.schema)
    return plan


def _numbered(plan: Plan, numbers: list[int]) -> tuple[Plan, exp.Expression]:
    """``plan``'s rows once per set number in ``numbers``, the number appended (read by the
    returned expression)."""
    width = len(plan.schema)
    listed = Project(
        plan,
        tuple(ref(i) for i in range(width))
        + (exp.Array(expressions=[exp.Literal.number(n) for n in numbers]),),
        plan.schema + (Field("__grouping_sets", f"{_NUMBER_TYPE}[]"),),
    )
    unnested = Unnest(listed, (width,), listed.schema + (Field("__grouping_set", _NUMBER_TYPE),))
    return unnested, ref(width + 1)


def _expand(pre, keys, grouping: GroupingSets, numbers: list[int], key_fields) -> Plan:
    """Each row of ``pre`` once per set in ``numbers``: the keys (NULL outside the set), the
    set number, then ``pre``'s columns unchanged (the aggregates read those)."""
    width = len(pre.schema)
    unnested, number = _numbered(pre, numbers)
    nulled = []
    for position, (column, field) in enumerate(zip(keys, key_fields)):
        inside = [n for n in numbers if position in grouping.sets[n]]
        if len(inside) == len(numbers):
            nulled.append(ref(column))
        elif not inside:
            nulled.append(_null(field.type))
        else:
            test = exp.In(this=number.copy(), expressions=[exp.Literal.number(n) for n in inside])
            nulled.append(exp.Case(ifs=[exp.If(this=test, true=ref(column))]))
    number_field = Field("__grouping_set", _NUMBER_TYPE)
    return Project(
        unnested,
        tuple(nulled) + (number,) + tuple(ref(i) for i in range(width)),
        tuple(key_fields) + (number_field,) + pre.schema,
    )


def _shifted(call: AggregateCall, shift: int) -> AggregateCall:
    """``call`` reading its input columns ``shift`` places further right."""
    return dataclasses.replace(
        call,
        args=tuple(a + shift for a in call.args),
        filter=call.filter + shift if call.filter is not None else None,
        order=tuple(SortKey(k.column + shift, k.descending, k.nulls_first) for k in call.order),
    )


def _null(sql_type: str) -> exp.Expression:
    return exp.Null() if sql_type == "NULL" else cast(exp.Null(), sql_type)
