"""Catalog queries in PostgreSQL's SQL, recognised and rewritten for DuckDB.

``is_catalog_query(tree)`` says whether a statement reads pg_catalog or information_schema (or
calls a catalog function, or casts to ``regclass`` ...) and nothing of the user's.
``CatalogRewriter(oids, user).rewrite(tree)`` turns such a statement into DuckDB SQL over the
relations of ``tidal.catalog.pg_catalog``, registered under private names
(``__tidal_pg_catalog_pg_class``):
DuckDB has a ``pg_catalog`` and an ``information_schema`` of its own, and a qualified name
``pg_catalog.pg_class`` would reach DuckDB's. Catalog functions become calls of the DuckDB
macros of ``macros.py`` (schema ``pgfn``), or lookups of the registered rows.

>>> import sqlglot
>>> tree = sqlglot.parse_one("SELECT relname FROM pg_catalog.pg_class", read="postgres")
>>> is_catalog_query(tree), is_catalog_query(sqlglot.parse_one("SELECT * FROM orders"))
(True, False)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

from tidal.catalog import pg_catalog
from tidal.catalog.pg_schema import RELATIONS, TYPES, format_type
from tidal.catalog.sqlstate import UNDEFINED_FUNCTION, UNDEFINED_OBJECT, UNDEFINED_TABLE
from tidal.engine import system_relations
from tidal.shell.pgwire.catalog.macros import SCHEMA, macros
from tidal.sql.errors import SqlError

CATALOG_SCHEMAS = ("pg_catalog", "information_schema")
PREFIX = "__tidal_"
SYSTEM_RELATIONS = {relation.name for relation in system_relations.RELATIONS}
VIEW_DEFINITIONS = f"{PREFIX}view_definitions"
FUNCTION_SIGNATURES = f"{PREFIX}function_signatures"
INDEX_DEFINITIONS = f"{PREFIX}index_definitions"

_MACROS = frozenset(macros()) - {"nspname"}
# Functions any query may call: they do not make a statement a catalog query by themselves.
_GENERIC = frozenset({"array_upper", "array_lower", "array_length"})


def registered_name(qualified: str) -> str:
    """The private name a catalog relation is registered under on the DuckDB connection."""
    return qualified if qualified.startswith(PREFIX) else PREFIX + qualified.replace(".", "_")


def _first(column: str, relation: str, where: str = "{t}.oid = a0") -> tuple[str, tuple[str]]:
    """A lookup of one value in registered rows: its SQL over arguments a0, a1 and a table
    alias {t} of its own (so that it hides none of the query's aliases), and what it reads."""
    name = registered_name(relation)
    return f"(SELECT first({{t}}.{column}) FROM {name} AS {{t}} WHERE {where})", (relation,)


_ROLES, _DESCRIPTIONS = "pg_catalog.pg_roles", "pg_catalog.pg_description"
_OWNER, _ = _first("rolname", _ROLES)
_LOOKUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "pg_get_userbyid": (f"COALESCE({_OWNER}, 'unknown (OID=' || a0 || ')')", (_ROLES,)),
    "obj_description": _first("description", _DESCRIPTIONS, "{t}.objoid = a0 AND {t}.objsubid = 0"),
    "col_description": _first(
        "description", _DESCRIPTIONS, "{t}.objoid = a0 AND {t}.objsubid = a1"
    ),
    "shobj_description": ("CAST(NULL AS VARCHAR)", ()),
    "pg_get_viewdef": _first("definition", VIEW_DEFINITIONS),
    "pg_get_indexdef": _first("indexdef", INDEX_DEFINITIONS),
    "pg_get_constraintdef": _first("constraintdef", INDEX_DEFINITIONS, "{t}.conoid = a0"),
    "pg_get_function_result": _first("result", FUNCTION_SIGNATURES),
    "pg_get_function_arguments": _first("arguments", FUNCTION_SIGNATURES),
    "pg_get_function_identity_arguments": _first("arguments", FUNCTION_SIGNATURES),
    "regclass": _first("relname", "pg_catalog.pg_class"),
}

CATALOG_FUNCTIONS = (_MACROS - _GENERIC) | set(_LOOKUPS) - {"regclass"}

# sqlglot parses some PostgreSQL functions into nodes of their own.
_TYPED_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.CurrentSchemas: "current_schemas",
    exp.CurrentSchema: "current_schema",
    exp.CurrentDatabase: "current_database",
    exp.CurrentCatalog: "current_database",
    exp.CurrentVersion: "version",
    exp.ArraySize: "array_length",
}
_USER_NODES = (exp.CurrentUser, exp.SessionUser)
_TABLE_FUNCTIONS = (exp.ExplodingGenerateSeries, exp.Explode)
_REG_TYPES = ("regclass", "regtype", "regnamespace", "regproc", "regprocedure", "regrole")

# PostgreSQL type names that DuckDB spells differently.
_DUCKDB_TYPES = {
    **dict.fromkeys(("oid", "xid", "cid", "tid", "int8"), "BIGINT"),
    **dict.fromkeys(("name", "text", '"char"', "char", "bpchar", "pg_node_tree"), "VARCHAR"),
    **dict.fromkeys(("regproc", "regprocedure", "varchar", "aclitem"), "VARCHAR"),
    "int2": "SMALLINT",
    "int4": "INTEGER",
    "float4": "REAL",
    "float8": "DOUBLE",
    "bool": "BOOLEAN",
    "int2vector": "SMALLINT[]",
    "oidvector": "BIGINT[]",
}
_OPERATORS = {
    "~": lambda a, b: exp.RegexpLike(this=a, expression=b),
    "!~": lambda a, b: exp.Not(this=exp.RegexpLike(this=a, expression=b)),
    "~*": lambda a, b: exp.RegexpILike(this=a, expression=b),
    "!~*": lambda a, b: exp.Not(this=exp.RegexpILike(this=a, expression=b)),
    "=": lambda a, b: exp.EQ(this=a, expression=b),
    "<>": lambda a, b: exp.NEQ(this=a, expression=b),
}
# What ``'...'::regtype`` accepts: type names and how format_type spells them.
_TYPE_OIDS = {t.typname: t.oid for t in TYPES} | {format_type(t.oid, None): t.oid for t in TYPES}
_TYPE_OIDS |= {"int": 23, "decimal": 1700, "timestamp": 1114, "time": 1083}
_PG_ARRAY_LITERAL = re.compile(r"^\{([^{}\"']*)\}$")


def function_name(node: exp.Expression) -> str | None:
    """The PostgreSQL name of a function call (lower case), or None if it is not one."""
    if isinstance(node, exp.Anonymous):
        return node.name.lower()
    for kind, name in _TYPED_FUNCTIONS.items():
        if isinstance(node, kind):
            return name
    return None


def _table_kind(table: exp.Table, ctes: set[str]) -> str:
    """'catalog', 'function' (a table function tools use), 'cte' or 'user'."""
    if isinstance(table.this, exp.Func):
        fn = table.this
        known = isinstance(fn, (*_TABLE_FUNCTIONS, exp.StringToArray, *_TYPED_FUNCTIONS))
        return "function" if known or function_name(fn) in _MACROS else "user"
    schema, database = table.db.lower(), table.catalog.lower()
    if (database and database != pg_catalog.DATABASE) or table.name.startswith(PREFIX):
        return "user"
    if table.name.lower() in SYSTEM_RELATIONS and schema in ("", "pg_catalog"):
        return "user"  # tidal_sources, ...: listed in pg_catalog, read by the engine
    if schema in CATALOG_SCHEMAS:
        return "catalog"
    if not schema and table.name.lower() in ctes:
        return "cte"
    if schema in ("", "pg_catalog") and f"pg_catalog.{table.name.lower()}" in RELATIONS:
        return "catalog"
    return "user"


def _uses_catalog_function(node: exp.Expression) -> bool:
    if isinstance(node, _USER_NODES):
        return True
    if isinstance(node, exp.Cast):
        return _type_name(node.to) in _REG_TYPES
    return function_name(node) in CATALOG_FUNCTIONS


def is_catalog_query(tree: exp.Expression) -> bool:
    """True for a query over catalog relations or catalog functions only (see module doc)."""
    if not isinstance(tree, exp.Query):
        return False
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    catalog = False
    for table in tree.find_all(exp.Table):
        kind = _table_kind(table, ctes)
        if kind == "user":
            return False
        catalog = catalog or kind == "catalog"
    return catalog or any(_uses_catalog_function(n) for n in tree.walk())


def _type_name(to: exp.Expression) -> str:
    """A cast's target as PostgreSQL spells it, without ``pg_catalog.``: ``regclass``,
    ``int2[]``."""
    name = to.sql(dialect="postgres").lower()
    return name.removeprefix("pg_catalog.").replace(" ", "")


def _qualified_name(text: str) -> str:
    """``public."Orders"`` -> ``Orders``; ``pg_catalog.pg_class`` -> ``pg_class``."""
    last = text.split(".")[-1].strip()
    return last[1:-1].replace('""', '"') if last.startswith('"') else last.lower()


@dataclass
class Rewritten:
    """DuckDB SQL, and what must be registered for it: catalog relations by qualified name,
    and the private helper relations (view definitions, function signatures)."""

    sql: str
    relations: set[str] = field(default_factory=set)


class CatalogRewriter:
    """Rewrites one catalog query (a parsed PostgreSQL statement) into DuckDB SQL."""

    def __init__(self, oids: Mapping[str, int], user: str) -> None:
        self.oids = oids  # user relations and functions by lower-case name
        self.user = user
        self.relations: set[str] = set()
        self.ctes: set[str] = set()
        self.lookups = 0

    def rewrite(self, tree: exp.Expression) -> Rewritten:
        tree = normalize_identifiers(tree.copy(), dialect="postgres")
        self.ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        return Rewritten(self._sub(tree).sql(dialect="duckdb"), self.relations)

    def _sub(self, node: exp.Expression) -> exp.Expression:
        """``node`` rewritten. ``_node`` returns a node unchanged to have its children
        rewritten, or a new node whose parts it has rewritten itself."""
        return node.transform(self._node, copy=False)

    def _node(self, node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table):
            return self._table(node)
        if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Func):
            if node.this.name.lower() not in CATALOG_SCHEMAS:
                return node
            inner = node.expression
            rewritten = self._node(inner)
            return self._sub(inner) if rewritten is inner else rewritten
        if isinstance(node, exp.Column):
            if node.name == "user" and not node.table:
                return exp.Literal.string(self.user)
            node.set("db", None)
            node.set("catalog", None)
            return node
        if isinstance(node, _USER_NODES):
            return exp.Literal.string(self.user)
        if isinstance(node, exp.Cast):
            return self._cast(node)
        if isinstance(node, exp.Operator):
            return self._operator(node)
        if isinstance(node, exp.Collate):
            return self._sub(node.this)
        if isinstance(node, (exp.EQ, exp.NEQ)):
            return self._array_literal_comparison(node)
        name = function_name(node)
        if name in _LOOKUPS:
            return self._lookup(name, _arguments(node))
        if name in _MACROS:
            args = [self._sub(a) for a in _arguments(node)]
            call = exp.Anonymous(this=name, expressions=args)
            return exp.Dot(this=exp.to_identifier(SCHEMA), expression=call)
        return node

    # --- relations ------------------------------------------------------------------------

    def _table(self, table: exp.Table) -> exp.Expression:
        kind = _table_kind(table, self.ctes)
        if kind == "function":
            return self._table_function(table)
        if kind != "catalog":
            return table
        schema = table.db.lower() or "pg_catalog"
        qualified = f"{schema}.{table.name.lower()}"
        if qualified not in RELATIONS:
            raise SqlError(f'relation "{qualified}" does not exist', sqlstate=UNDEFINED_TABLE)
        self.relations.add(qualified)
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        return exp.Table(this=exp.to_identifier(registered_name(qualified)), alias=alias)

    def _table_function(self, table: exp.Table) -> exp.Expression:
        """``generate_series(...) AS i``: PostgreSQL names the column after the alias too.
        A scalar function in FROM (``string_to_array(...) s``) is one row of one column."""
        table.set("db", None)
        alias = table.args.get("alias")
        fn = table.this
        if not isinstance(fn, _TABLE_FUNCTIONS):
            name = alias.name if alias else (function_name(fn) or "value")
            select = exp.select(exp.alias_(self._sub(fn), name, quoted=True))
            return exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier(name)))
        if alias and not alias.columns:
            alias.set("columns", [exp.to_identifier(alias.name)])
        return table

    # --- expressions ----------------------------------------------------------------------

    def _lookup(self, name: str, args: list[exp.Expression]) -> exp.Expression:
        template, relations = _LOOKUPS[name]
        self.relations.update(relations)
        self.lookups += 1
        alias = f"{PREFIX}l{self.lookups}"
        lookup = sqlglot.parse_one(template.format(t=alias), read="duckdb")
        args = [self._sub(a) for a in args]

        def substitute(node: exp.Expression) -> exp.Expression:
            if isinstance(node, exp.Column) and not node.table and node.name in ("a0", "a1"):
                index = int(node.name[1])
                return args[index].copy() if index < len(args) else exp.Null()
            return node

        return lookup.transform(substitute)

    def _cast(self, cast: exp.Cast) -> exp.Expression:
        target = _type_name(cast.to)
        if target not in _REG_TYPES and target.removesuffix("[]") not in _DUCKDB_TYPES:
            return cast
        value = self._sub(cast.this)
        literal = value.this if isinstance(value, exp.Literal) and value.is_string else None
        if target in _REG_TYPES:
            return self._reg_cast(target, value, literal)
        duck = _DUCKDB_TYPES[target.removesuffix("[]")]
        suffix = "[]" if target.endswith("[]") else ""
        return exp.Cast(this=value, to=exp.DataType.build(duck + suffix, dialect="duckdb"))

    def _reg_cast(self, target: str, value: exp.Expression, literal: str | None):
        """``'pg_class'::regclass`` is an oid (compared with oid columns); ``c.oid::regclass``
        is the name it prints as."""
        if literal is not None and literal.isdigit():
            return exp.Literal.number(int(literal))
        if target in ("regproc", "regprocedure"):
            if literal is not None:
                return exp.Literal.string(_qualified_name(literal.split("(")[0]))
            return exp.Cast(this=value, to=exp.DataType.build("VARCHAR"))
        if literal is not None:
            return exp.Literal.number(self._resolve(target, literal))
        if target == "regclass":
            return self._lookup("regclass", [value])
        if target == "regrole":
            return self._lookup("pg_get_userbyid", [value])
        macro = "format_type" if target == "regtype" else "nspname"
        args = [value, exp.Null()] if target == "regtype" else [value]
        call = exp.Anonymous(this=macro, expressions=args)
        return exp.Dot(this=exp.to_identifier(SCHEMA), expression=call)

    def _resolve(self, target: str, literal: str) -> int:
        name = _qualified_name(literal)
        if target == "regclass":
            schema = literal.split(".")[0].lower() if "." in literal else ""
            relation = RELATIONS.get(f"{schema or 'pg_catalog'}.{name.lower()}")
            oid = relation.oid if relation else self.oids.get(name.lower())
        elif target == "regtype":
            oid = _TYPE_OIDS.get(" ".join(literal.lower().split()).removeprefix("pg_catalog."))
        elif target == "regnamespace":
            oid = pg_catalog.NAMESPACES.get(name)
        else:
            oid = {pg_catalog.OWNER: pg_catalog.OWNER_OID}.get(name)
        if oid is None:
            kind = {"regclass": "relation", "regtype": "type", "regnamespace": "schema"}
            code = UNDEFINED_TABLE if target == "regclass" else UNDEFINED_OBJECT
            raise SqlError(f'{kind.get(target, "role")} "{literal}" does not exist', sqlstate=code)
        return oid

    def _operator(self, node: exp.Operator) -> exp.Expression:
        """``a OPERATOR(pg_catalog.~) b`` -> ``a ~ b``."""
        op = str(node.args.get("operator") or "").split(".")[-1].strip()
        make = _OPERATORS.get(op)
        if make is None:
            raise SqlError(f"operator {op} is not supported here", sqlstate=UNDEFINED_FUNCTION)
        return make(self._sub(node.this), self._sub(node.expression))

    def _array_literal_comparison(self, node: exp.Expression) -> exp.Expression:
        """``polroles = '{0}'``: DuckDB reads a list from text written ``[0]``."""
        for side in ("this", "expression"):
            value = node.args.get(side)
            if isinstance(value, exp.Literal) and value.is_string:
                match = _PG_ARRAY_LITERAL.match(value.this)
                if match:
                    node.set(side, exp.Literal.string(f"[{match.group(1)}]"))
        return node


def _arguments(node: exp.Expression) -> list[exp.Expression]:
    """A call's arguments in order, for anonymous and typed function nodes alike."""
    if isinstance(node, exp.Anonymous):
        return list(node.expressions)
    args: list[exp.Expression] = []
    for key in node.arg_types:
        value = node.args.get(key)
        if isinstance(value, list):
            args.extend(value)
        elif isinstance(value, exp.Expression):
            args.append(value)
    return args
