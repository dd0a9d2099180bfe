"""The row counts of LIMIT n, OFFSET n and FETCH FIRST n ROWS ONLY: integer constants, as
PostgreSQL requires of a view's LIMIT; and the select list positions of GROUP BY n, ORDER BY n.

>>> from tidal.sql.parser import parse_statement
>>> row_count(parse_statement("SELECT 1 LIMIT 3").args["limit"], "LIMIT")
3
>>> row_count(parse_statement("SELECT 1 LIMIT ALL").args["limit"], "LIMIT") is None
True
"""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog.sqlstate import NUMERIC_VALUE_OUT_OF_RANGE
from tidal.sql.errors import SqlError


def row_count(node: exp.Expression | None, what: str) -> int | None:
    """The row count of LIMIT n, OFFSET n or FETCH FIRST n ROWS ONLY (None: no limit)."""
    if node is None:
        return None
    if isinstance(node, exp.Fetch):
        value = node.args.get("count") or exp.Literal.number(1)  # FETCH FIRST ROW ONLY
    else:
        value = node.expression if isinstance(node, (exp.Limit, exp.Offset)) else node
    if isinstance(value, exp.Literal) and not value.is_string and value.this.isdigit():
        if int(value.this) >= 2**63:
            raise SqlError(
                f"{what} {value.this} is out of range for BIGINT",
                sqlstate=NUMERIC_VALUE_OUT_OF_RANGE,
            )
        return int(value.this)
    if isinstance(value, exp.Null) or (isinstance(value, exp.Var) and value.name.upper() == "ALL"):
        return None
    raise SqlError(f"{what} must be an integer constant")


def list_position(term: exp.Literal, clause: str, count: int) -> int:
    """The select list position (1-based) a number in GROUP BY or ORDER BY stands for.

    >>> list_position(exp.Literal.number("1.5"), "ORDER BY", 2)
    Traceback (most recent call last):
    ...
    tidal.sql.errors.SqlError: non-integer constant in ORDER BY: 1.5
    """
    if not term.this.isdigit():
        raise SqlError(f"non-integer constant in {clause}: {term.this[:40]}")
    position = int(term.this)
    if not 1 <= position <= count:
        raise SqlError(f"{clause} position {position} is not in the select list")
    return position
