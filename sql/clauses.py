"""The binder binds every clause and argument sqlglot parsed into a query, or refuses it by name.

A query's structure (SELECT, FROM, JOIN, GROUP BY, OVER, LIMIT ...) is what the binder
implements; anything sqlglot parsed that it does not (QUALIFY, TABLESAMPLE, GROUP BY ALL,
FETCH ... WITH TIES, a clause a future sqlglot adds) must be an error, never dropped. So each
part of the binder says which arguments of which node classes it binds, in a class-level table
``BINDS`` next to the code that binds them, and ``check`` refuses a query with any other
argument set on such a node (SQLSTATE 0A000, naming the clause). Nodes no table names are
scalar expressions, which DuckDB types and evaluates whole.

>>> from tidal.sql.parser import parse_statement
>>> class Binder:
...     BINDS = {exp.Select: ("expressions", "from_", "where"), exp.From: ("this",)}
>>> check(parse_statement("SELECT k FROM t WHERE k = 5"), Binder)
>>> check(parse_statement("SELECT k FROM t QUALIFY k = 5"), Binder)
Traceback (most recent call last):
...
tidal.sql.errors.SqlError: not supported: QUALIFY in SELECT (QUALIFY k = 5)
"""

from __future__ import annotations

import functools

from sqlglot import exp

from tidal.sql.errors import unsupported

Binds = dict[type[exp.Expression], tuple[str, ...]]

# How a node is named in a message (its key, upper-cased, otherwise).
_PLACES = {
    "group": "GROUP BY",
    "order": "ORDER BY",
    "ordered": "ORDER BY",
    "table": "FROM",
    "tablealias": "an alias",
    "cte": "WITH",
    "limitoptions": "LIMIT / FETCH",
    "window": "OVER",
    "windowspec": "a window frame",
    "column": "a column reference",
}


def check(query: exp.Expression, binder: type) -> None:
    """Refuse ``query`` if a node of a class ``binder`` binds has an argument it does not.

    One pass over the tree's argument dicts (sqlglot's ``walk`` alone costs as much): about
    8 microseconds for ``SELECT * FROM t WHERE k = 5``, whose compiling takes 300-400.
    """
    bound = _by_class(binder)
    stack = [query]
    while stack:
        node = stack.pop()
        arguments = bound[type(node)]
        for key, value in node.args.items():
            if isinstance(value, exp.Expression):
                stack.append(value)
            elif isinstance(value, list):
                if not value:
                    continue
                stack.extend(v for v in value if isinstance(v, exp.Expression))
            elif value is None or value is False:
                continue
            if arguments is not None and key not in arguments:
                raise unsupported(_named(node, key, value))


def _named(node: exp.Expression, key: str, value: object) -> str:
    """``QUALIFY in SELECT (QUALIFY x = 1)``: the argument, the node, the text."""
    words = key.rstrip("_").replace("_", " ").upper()
    place = _PLACES.get(node.key, node.key.upper())
    if isinstance(value, list) and all(isinstance(v, exp.Expression) for v in value):
        text = " ".join(v.sql(dialect="postgres") for v in value)
    elif isinstance(value, exp.Expression) and not isinstance(value, exp.Identifier):
        text = value.sql(dialect="postgres")
    else:  # a flag or a name: the clause it is part of says more
        clause = node.parent if isinstance(node, exp.LimitOptions) and node.parent else node
        text = clause.sql(dialect="postgres")
    return f"{words} in {place} ({text.strip()[:80]})"


@functools.cache
def _bound_by(binder: type) -> Binds:
    """The ``BINDS`` tables of ``binder`` and its bases, merged."""
    merged: dict[type[exp.Expression], set[str]] = {}
    for klass in binder.__mro__:
        for node_class, arguments in vars(klass).get("BINDS", {}).items():
            merged.setdefault(node_class, set()).update(arguments)
    return {node_class: tuple(sorted(arguments)) for node_class, arguments in merged.items()}


class _ByClass(dict):
    """Node class -> the arguments bound of it (None for a scalar expression), filled in as
    classes are met: the nearest class in its MRO that a ``BINDS`` table names."""

    def __init__(self, tables: Binds) -> None:
        super().__init__()
        self.tables = tables

    def __missing__(self, node_class: type) -> frozenset[str] | None:
        entry = next((self.tables[k] for k in node_class.__mro__ if k in self.tables), None)
        self[node_class] = None if entry is None else frozenset(entry)
        return self[node_class]


@functools.cache
def _by_class(binder: type) -> _ByClass:
    return _ByClass(_bound_by(binder))
