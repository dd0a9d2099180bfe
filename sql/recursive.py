"""Binding ``WITH RECURSIVE``: a CTE that reads itself becomes a ``Recursive`` plan node.

The CTE's query must be ``base UNION [ALL] step``, with the recursive reference once in
``step``, as PostgreSQL requires, and PostgreSQL's errors (SQLSTATE 42P19) refuse the rest:
the reference in the base, twice, in a subquery, on the nullable side of an outer join, under
an aggregate, in INTERSECT or the right of EXCEPT. In the step the reference is a
``WorkingTable``: the rows the previous iteration added. A column the step computes as another
type is cast to the base's type where that loses nothing (INTEGER into BIGINT) and refused
where it would (PostgreSQL refuses both; DuckDB casts both, silently rounding 1.5 to 2).

UNION ALL without a bound never ends (PostgreSQL loops forever): tidal stops after
``MAX_ITERATIONS`` iterations, or once ``MAX_ROWS`` rows are made, with an error (54001) that
names the limit.

>>> from tidal.sql.parser import parse_statement
>>> cte = parse_statement(
...     "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) "
...     "SELECT * FROM t").args["with_"].expressions[0]
>>> reads_itself(cte)
True
>>> check_form(parse_statement(
...     "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t, t AS u) "
...     "SELECT * FROM t").args["with_"].expressions[0])
Traceback (most recent call last):
...
tidal.sql.errors.SqlError: recursive reference to query "t" must not appear more than once
"""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from tidal.catalog.sqlstate import DATATYPE_MISMATCH, FEATURE_NOT_SUPPORTED, INVALID_RECURSION
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.plan import (
    Aggregate,
    Distinct,
    Field,
    Filter,
    Join,
    Plan,
    Project,
    Recursive,
    Scan,
    SetOp,
    Values,
    WorkingTable,
    bottom_up,
    cast,
    ref,
)
from tidal.sql.scope import Scope, ScopeColumn

# Iterations after the base, and rows before the last iteration, at most: one more is an error
# (a cycle under UNION ALL, a step that keeps making new rows, paths multiplying around a cycle).
MAX_ITERATIONS = 10_000
MAX_ROWS = 10_000_000


def limit_message(name: str, rows: bool = False) -> str:
    """The error of a recursion past ``MAX_ITERATIONS`` (or ``MAX_ROWS``), in both modes."""
    if rows:
        return (
            f"WITH RECURSIVE {name}: more than {MAX_ROWS} rows (under UNION ALL, paths "
            "multiply around a cycle): use UNION, or bound the step with a WHERE"
        )
    return (
        f"WITH RECURSIVE {name}: more than {MAX_ITERATIONS} iterations (a cycle under "
        "UNION ALL, or a step without a bound): use UNION, or bound the step with a WHERE"
    )


def reads_itself(cte: exp.CTE) -> bool:
    """Whether a CTE's query names the CTE (then it is recursive, in WITH RECURSIVE)."""
    return bool(_references(cte.this, cte.alias))


def _references(node: exp.Expression, name: str) -> list[exp.Table]:
    return [
        table
        for table in node.find_all(exp.Table)
        if not table.db
        and isinstance(table.this, exp.Identifier)
        and table.name.lower() == name.lower()
    ]


def _invalid(message: str) -> SqlError:
    return SqlError(message, sqlstate=INVALID_RECURSION)


def check_form(cte: exp.CTE) -> tuple[exp.Expression, exp.Expression]:
    """The base and the step of a recursive CTE, or PostgreSQL's error for its form."""
    name = cte.alias
    body = cte.this.unnest() if isinstance(cte.this, exp.Subquery) else cte.this
    if not isinstance(body, exp.Union):
        raise _invalid(
            f'recursive query "{name}" does not have the form non-recursive-term UNION [ALL] '
            "recursive-term"
        )
    for clause, words in (("order", "ORDER BY"), ("limit", "LIMIT"), ("offset", "OFFSET")):
        if body.args.get(clause):
            raise SqlError(
                f"{words} in a recursive query is not implemented",
                sqlstate=FEATURE_NOT_SUPPORTED,
            )
    if body.args.get("by_name") or body.args.get("with_"):
        raise unsupported("CORRESPONDING or WITH in the UNION of a recursive query")
    base, step = body.this, body.expression
    if _references(base, name):
        raise _invalid(
            f'recursive reference to query "{name}" must not appear within its non-recursive term'
        )
    found = _references(step, name)
    if len(found) > 1:
        raise _invalid(f'recursive reference to query "{name}" must not appear more than once')
    _check_place(found[0], step, name)
    return base, step


def _check_place(table: exp.Table, step: exp.Expression, name: str) -> None:
    """PostgreSQL's rules for where in the step the recursive reference may be."""
    owner: exp.Select | None = None
    below: exp.Expression = table
    node = table.parent
    while node is not None and below is not step:
        if isinstance(node, exp.Select) and owner is None:
            owner = node
        elif isinstance(node, exp.Intersect) or (
            isinstance(node, exp.Except) and below is node.expression
        ):
            raise _invalid(
                f'recursive reference to query "{name}" must not appear within {node.key.upper()}'
            )
        elif isinstance(node, exp.Subquery) and (
            node is step or isinstance(node.parent, exp.SetOperation)
        ):
            pass  # parentheses around the step or a branch of its set operation
        elif not isinstance(node, (exp.From, exp.Join, exp.SetOperation)) or (
            isinstance(node, (exp.From, exp.Join)) and owner is not None
        ):
            raise _invalid(
                f'recursive reference to query "{name}" must not appear within a subquery'
            )
        below, node = node, node.parent
    assert owner is not None
    joins = owner.args.get("joins") or []
    place = joins.index(table.parent) if isinstance(table.parent, exp.Join) else -1
    sides = [(join.args.get("side") or "").upper() for join in joins]
    if (place >= 0 and sides[place] in ("LEFT", "FULL")) or any(
        side in ("RIGHT", "FULL") for side in sides[place + 1 :]
    ):
        raise _invalid(
            f'recursive reference to query "{name}" must not appear within an outer join'
        )


def bind_recursive(binder, cte: exp.CTE, ctes: dict, outer: Scope | None) -> tuple[Plan, Scope]:
    """The ``Recursive`` plan of a CTE that reads itself, and its scope."""
    name = cte.alias
    base_query, step_query = check_form(cte)
    base, base_scope = binder.query(base_query, ctes, outer)
    names = [c.name for c in cte.args["alias"].columns]
    if len(names) > len(base.schema):
        raise SqlError(
            f"WITH {name} names {len(names)} columns but its query has {len(base.schema)}"
        )
    names += [c.name for c in base_scope.columns[len(names) :]]
    fields = tuple(Field(n, f.type) for n, f in zip(names, base.schema))
    scope = Scope([ScopeColumn(f.name, f.type) for f in fields], outer)
    working = WorkingTable(name.lower(), fields)
    step, _ = binder.query(step_query, {**ctes, name.lower(): (working, scope)}, outer)
    if len(step.schema) != len(fields):
        raise SqlError(
            f"each UNION query must have the same number of columns "
            f"({len(fields)} vs {len(step.schema)})"
        )
    if any(isinstance(node, Aggregate) for node in _above(step, working)):
        raise _invalid("aggregate functions are not allowed in a recursive query's recursive term")
    step = _cast_step(binder, step, fields, name)
    distinct = cte.this.unnest() if isinstance(cte.this, exp.Subquery) else cte.this
    plan = Recursive(name.lower(), base, step, not distinct.args.get("distinct"), fields)
    return plan, scope


def _above(plan: Plan, target: Plan) -> list[Plan]:
    """The nodes on the way from ``plan`` down to ``target`` (empty if it is not there)."""
    if plan == target:
        return [plan]
    for child in plan.children():
        path = _above(child, target)
        if path:
            return [plan, *path]
    return []


def _cast_step(binder, step: Plan, fields: tuple[Field, ...], name: str) -> Plan:
    if [f.type for f in step.schema] == [f.type for f in fields]:
        return step
    exprs = []
    for i, (own, wanted) in enumerate(zip(step.schema, fields)):
        if own.type == wanted.type or own.type == "NULL":
            exprs.append(ref(i) if own.type == wanted.type else cast(ref(i), wanted.type))
            continue
        if binder.infer.common_type(wanted.type, own.type) != wanted.type:
            raise SqlError(
                f'recursive query "{name}" column {i + 1} has type {wanted.type} in '
                f"non-recursive term but type {own.type} overall: cast the non-recursive "
                f"term's column to {own.type}",
                sqlstate=DATATYPE_MISMATCH,
            )
        exprs.append(cast(ref(i), wanted.type))
    return Project(step, tuple(exprs), tuple(dataclasses.replace(f) for f in fields))


# Nodes whose output only grows when their inputs only grow (no negation, no aggregate, no
# NULL-padding): through them a recursion over inserted rows needs only the new derivations.
_GROWING = (Scan, WorkingTable, Values, Project, Filter, Distinct)


def grows_with_inputs(plan: Plan) -> bool:
    """Whether every node of ``plan`` is monotone (inner and semi joins, UNION, filters...).

    >>> t = Scan("t", "table", (Field("x", "INTEGER"),))
    >>> grows_with_inputs(SetOp("except", False, t, t, t.schema))
    False
    """
    for node in plan.walk():
        if isinstance(node, Join) and node.kind in ("inner", "semi"):
            continue
        if isinstance(node, SetOp) and node.kind == "union":
            continue
        if isinstance(node, Recursive) and node.all:
            return False
        if not isinstance(node, (*_GROWING, Recursive)):
            return False
    return True


def over(step: Plan, working: WorkingTable, rows: Plan) -> Plan:
    """``step`` reading ``rows`` where it read its working table."""
    return bottom_up(step, lambda node: rows if node == working else node)
