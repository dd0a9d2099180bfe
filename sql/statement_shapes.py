"""Statements sqlglot accepts although a required part is missing, refused as syntax errors.

sqlglot parses ``CREATE VIEW recent`` (no query), ``DELETE dept`` (no FROM) or a bare
``EXPLAIN`` into nodes without the part, which later code took for granted (an
AttributeError reached the client). PostgreSQL refuses them as syntax errors, and so does
``check_complete``:

    >>> from sqlglot import parse_one
    >>> from tidal.sql.dialect import Tidal
    >>> check_complete(parse_one("DELETE dept WHERE k = 1", read=Tidal))
    Traceback (most recent call last):
    ...
    tidal.sql.errors.SqlError: syntax error: DELETE needs FROM: DELETE FROM dept WHERE ...
    >>> check_complete(parse_one("DELETE FROM dept WHERE k = 1", read=Tidal))
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp

from tidal.sql.dialect import Explain
from tidal.sql.errors import SqlError


def check_complete(statement: exp.Expression) -> None:
    """Raise a syntax error naming the missing part if ``statement`` lacks one."""
    check = _CHECKS.get(type(statement))
    problem = check(statement) if check is not None else None
    if problem:
        raise SqlError(f"syntax error: {problem}")
    if isinstance(statement, Explain):
        check_complete(statement.this)


def _explain(node: Explain) -> str | None:
    if node.this is None:
        return "EXPLAIN needs a statement: EXPLAIN SELECT ..."
    return None


def _create(node: exp.Create) -> str | None:
    kind = (node.args.get("kind") or "").upper()
    if kind == "VIEW" and node.expression is None:
        return f"CREATE VIEW needs a query: CREATE VIEW {node.this.sql()} AS SELECT ..."
    return None


def _delete(node: exp.Delete) -> str | None:
    if not isinstance(node.this, exp.Table):
        names = ", ".join(t.sql() for t in node.args.get("tables") or ()) or "t"
        return f"DELETE needs FROM: DELETE FROM {names} WHERE ..."
    return None


def _insert(node: exp.Insert) -> str | None:
    if not isinstance(node.this, (exp.Table, exp.Schema)):
        return "INSERT needs a table: INSERT INTO t VALUES (...)"
    if node.expression is None and not node.args.get("default"):
        return "INSERT needs rows: INSERT INTO t VALUES (...), INSERT INTO t SELECT ..."
    conflict = node.args.get("conflict")
    if conflict is not None and not all(isinstance(e, exp.EQ) for e in conflict.expressions):
        return "ON CONFLICT ... DO UPDATE needs SET column = value, ..."
    return None


def _update(node: exp.Update) -> str | None:
    if not node.expressions or not all(isinstance(e, exp.EQ) for e in node.expressions):
        return "UPDATE needs SET column = value: UPDATE t SET column = value WHERE ..."
    return None


_CHECKS: dict[type, Callable] = {
    Explain: _explain,
    exp.Create: _create,
    exp.Delete: _delete,
    exp.Insert: _insert,
    exp.Update: _update,
}
