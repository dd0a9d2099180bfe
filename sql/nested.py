"""Reading a field of a STRUCT column: ``s.a``, ``t.s.a`` and PostgreSQL's ``(s).a``.

sqlglot parses ``s.a`` as column ``a`` of table ``s``; as DuckDB does, the binder reads it so
first, and only when no table ``s`` has a column ``a`` as field ``a`` of column ``s``. Each
field access becomes ``struct_extract(value, 'field')``, which means the same thing to DuckDB
whatever the value is (a dotted name after a quoted column could read as a table's column).

>>> from tidal.sql.scope import Scope, ScopeColumn
>>> scope = Scope([ScopeColumn("s", "STRUCT(a INTEGER)", ("t",))])
>>> print(field_access(exp.column("a", "s"), scope).sql())
STRUCT_EXTRACT(s, 'a')
>>> field_access(exp.column("a", "t"), scope) is None
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from tidal.sql.errors import unsupported

if TYPE_CHECKING:
    from tidal.sql.scope import Scope


def field_access(column: exp.Column, scope: Scope) -> exp.Expression | None:
    """``column`` (``s.a``, ``t.s.a``, ``s.a.b``) as fields of a column of ``scope``: the
    column itself, unresolved (the caller binds it), inside ``struct_extract`` calls; None if
    no prefix of its parts names a column."""
    parts = [p.name for p in column.parts]
    for length in (2, 1):  # ``t.s`` before ``s``
        if len(parts) <= length:
            continue
        base = exp.column(parts[length - 1], parts[length - 2] if length == 2 else None)
        if scope.resolve(base) is None:
            continue
        node: exp.Expression = base
        for name in parts[length:]:
            node = extract(node, name)
        return node
    if len(parts) > 3:
        raise unsupported(f"column reference {column.sql()}: no column of it has that field")
    return None


def extract(value: exp.Expression, name: str) -> exp.Expression:
    """Field ``name`` of the STRUCT ``value``."""
    return exp.Anonymous(this="struct_extract", expressions=[value, exp.Literal.string(name)])


def paren_field(node: exp.Dot) -> exp.Expression | None:
    """PostgreSQL's ``(s).a`` (a Dot whose left side is not a name) as a field access."""
    if isinstance(node.this, (exp.Column, exp.Dot)) or not isinstance(
        node.expression, exp.Identifier
    ):
        return None
    return extract(node.this, node.expression.name)
