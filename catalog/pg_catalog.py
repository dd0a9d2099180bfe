"""The rows of pg_catalog and information_schema, generated from tidal's catalog.

Tools learn what exists by querying these (psql's ``\\d``, JDBC's ``DatabaseMetaData``,
Grafana's table and column pickers). ``PgCatalog(catalog).table("pg_catalog.pg_class")`` builds
one relation as an Arrow table, fresh from the catalog: the tables are small and cheap to make.
The shape of every relation (columns, types, oids) is in ``tidal.catalog.pg_schema``.

Choices (see docs/pgwire.md, "Catalog for tools"):

- One database, ``tidal``; every user object is in schema ``public``, owned by role ``tidal``.
- relkind: tables and sources ``r`` (a source is read like a table, and tools list ``r``
  everywhere), views ``v``, materialized views ``m``. pg_description says which are sources.
- An object's oid is a hash of its name, at least 16384, so it stays the same across restarts
  and when other objects come and go.
- tidal's system relations (``tidal_sources``, ...) are in pg_class and pg_attribute, in
  schema pg_catalog (psql's ``\\dS`` lists them, ``\\d tidal_sources`` describes one).
- Populated: pg_namespace, pg_class, pg_attribute, pg_type (built-in types only, real oids),
  pg_database, pg_proc (tidal's functions), pg_description, pg_roles, pg_user, pg_settings,
  pg_am, pg_tablespace, pg_language, pg_collation, pg_tables, pg_views, pg_matviews, and for
  primary keys pg_constraint, pg_index and each key's index in pg_class
  (tidal.catalog.pg_constraints); information_schema's schemata, tables, columns, views,
  table_constraints and key_column_usage. Every other relation is empty.

>>> from tidal.catalog import Catalog, Column, Table
>>> c = Catalog(); c.add(Table("orders", (Column("id", "BIGINT", nullable=False),)))
>>> rows = PgCatalog(c).table("pg_catalog.pg_attribute").to_pylist()
>>> [(r["attname"], r["atttypid"], r["attnotnull"]) for r in rows if r["attname"] == "id"]
[('id', 20, True)]
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable, Iterable

import pyarrow as pa

from tidal.catalog import types
from tidal.catalog.catalog import Catalog
from tidal.catalog.objects import Function, Relation, Source, Table, View
from tidal.catalog.pg_constraints import BTREE, Keys, object_names
from tidal.catalog.pg_schema import (
    RELATIONS,
    TYPE_BY_OID,
    TYPES,
    format_type,
)

DATABASE = "tidal"
DATABASE_OID = 16384
OWNER = "tidal"
OWNER_OID = 10
NAMESPACES = {"pg_catalog": 11, "public": 2200, "information_schema": 13207}
FIRST_USER_OID = 16384
SERVER_VERSION = "15.0"
SERVER_VERSION_NUM = "150000"
SEARCH_PATH = '"$user", public'

# name -> (setting, category, short description)
SETTINGS = {
    "application_name": ("", "Reporting and Logging", "Sets the application name."),
    "client_encoding": ("UTF8", "Client Connection Defaults", "Sets the client's encoding."),
    "DateStyle": ("ISO, MDY", "Client Connection Defaults", "Sets the date display format."),
    "default_transaction_read_only": ("off", "Client Connection Defaults", "Read-only."),
    "integer_datetimes": ("on", "Preset Options", "Datetimes are integer based."),
    "IntervalStyle": ("postgres", "Client Connection Defaults", "Interval display format."),
    "is_superuser": ("on", "Preset Options", "Whether the user is a superuser."),
    "lc_collate": ("C", "Preset Options", "The collation order locale."),
    "lc_ctype": ("C", "Preset Options", "The character classification locale."),
    "max_identifier_length": ("63", "Preset Options", "The maximum identifier length."),
    "search_path": (SEARCH_PATH, "Client Connection Defaults", "The schema search order."),
    "server_encoding": ("UTF8", "Preset Options", "The server (database) character set."),
    "server_version": (SERVER_VERSION, "Preset Options", "The server version."),
    "server_version_num": (SERVER_VERSION_NUM, "Preset Options", "The server version number."),
    "standard_conforming_strings": ("on", "Version and Platform Compatibility", "'\\' is literal."),
    "TimeZone": ("UTC", "Client Connection Defaults", "The time zone for timestamps."),
    "transaction_isolation": ("read committed", "Client Connection Defaults", "Isolation level."),
}

_RELKIND = {"table": "r", "source": "r", "view": "v", "materialized view": "m"}
_TABLE_TYPE = {"r": "BASE TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW"}


def _relkind(relation: Relation) -> str:
    return _RELKIND.get(relation.kind, "r")


def stable_oids(names: Iterable[str]) -> dict[str, int]:
    """An oid per name (case-insensitive): a hash of the name, so it does not depend on what
    else exists; two names that hash alike get consecutive oids, in name order.

    >>> stable_oids(["Orders"])["orders"] == stable_oids(["orders", "revenue"])["orders"]
    True
    """
    span = 2**31 - FIRST_USER_OID
    taken: set[int] = set()
    oids = {}
    for name in sorted({n.lower() for n in names}):
        oid = FIRST_USER_OID + zlib.crc32(name.encode()) % span
        while oid in taken:
            oid = FIRST_USER_OID + (oid - FIRST_USER_OID + 1) % span
        taken.add(oid)
        oids[name] = oid
    return oids


def type_modifier(sql_type: str) -> int:
    """atttypmod of a tidal type: numeric precision and scale, timestamp precision, else -1."""
    sql_type = types.normalize(sql_type)
    if sql_type.startswith("DECIMAL("):
        precision, scale = sql_type[len("DECIMAL(") : -1].split(",")
        return (int(precision) << 16 | int(scale)) + 4
    return {"TIMESTAMP_S": 0, "TIMESTAMP_MS": 3}.get(sql_type, -1)


class PgCatalog:
    """pg_catalog and information_schema for one state of a tidal catalog.

    pg_roles lists the owner ``tidal``, the users made with ``CREATE USER`` and ``user``, the
    connected role.
    """

    def __init__(self, catalog: Catalog, user: str | None = None) -> None:
        self.relations = [o for o in catalog.objects() if isinstance(o, Relation)]
        self.functions = [o for o in catalog.objects() if isinstance(o, Function)]
        # tidal_sources, ...: in schema pg_catalog, as PostgreSQL's pg_stat_* views are
        self.system = catalog.system_relations()
        self.user = user or OWNER
        users = getattr(catalog, "users", None)  # CREATE USER's logins, where the catalog has them
        self.logins = list(users.names()) if users is not None else []
        # Who may manage users (tidal.sql.roles.authorize): the owner, superusers, and everyone
        # while no superuser exists.
        superusers = users.superusers() if users is not None else set()
        self.superusers = {OWNER} | superusers if superusers else None
        names = {r.name.lower() for r in self.relations}
        keyed = [
            r for r in self.relations if isinstance(r, Table) and r.constraint.lower() not in names
        ]
        self.oids = stable_oids(
            [o.name for o in self.relations + self.functions + self.system] + object_names(keyed)
        )
        self.keys = Keys(keyed, self.oids)
        self._builders: dict[str, Callable[[], list[dict]]] = {
            "pg_catalog.pg_namespace": self._namespaces,
            "pg_catalog.pg_class": self._classes,
            "pg_catalog.pg_attribute": self._attributes,
            "pg_catalog.pg_type": _types,
            "pg_catalog.pg_database": _databases,
            "pg_catalog.pg_proc": self._procs,
            "pg_catalog.pg_description": self._descriptions,
            "pg_catalog.pg_roles": self._roles,
            "pg_catalog.pg_user": self._users,
            "pg_catalog.pg_settings": _settings,
            "pg_catalog.pg_am": lambda: _rows("oid amname amhandler amtype", _AMS),
            "pg_catalog.pg_tablespace": lambda: _rows("oid spcname spcowner", _TABLESPACES),
            "pg_catalog.pg_language": _languages,
            "pg_catalog.pg_collation": _collations,
            "pg_catalog.pg_tables": self._pg_tables,
            "pg_catalog.pg_views": self._pg_views,
            "pg_catalog.pg_matviews": self._pg_matviews,
            "pg_catalog.pg_index": self.keys.pg_index,
            "pg_catalog.pg_constraint": self.keys.pg_constraint,
            "information_schema.table_constraints": self.keys.table_constraints,
            "information_schema.key_column_usage": self.keys.key_column_usage,
            "information_schema.schemata": _schemata,
            "information_schema.tables": self._is_tables,
            "information_schema.columns": self._is_columns,
            "information_schema.views": self._is_views,
        }

    def table(self, qualified: str) -> pa.Table:
        """The rows of ``schema.name``, e.g. ``pg_catalog.pg_class``; KeyError if unknown."""
        relation = RELATIONS[qualified]
        builder = self._builders.get(qualified)
        if builder is None:
            return relation.empty()
        return pa.Table.from_pylist(builder(), schema=relation.arrow_schema())

    def view_definitions(self) -> dict[int, str]:
        """The SELECT of every view and materialized view, by oid (for ``pg_get_viewdef``)."""
        return {
            self.oids[v.name.lower()]: _definition(v) for v in self.relations if isinstance(v, View)
        }

    def index_definitions(self) -> list[tuple[int, int, str, str]]:
        """(index oid, constraint oid, definition of each) of each primary key, as
        ``pg_get_indexdef`` and ``pg_get_constraintdef`` print them."""
        return self.keys.definitions()

    def function_signatures(self) -> list[tuple[int, str, str]]:
        """(oid, result type, arguments) of each function, as ``pg_get_function_*`` print them."""
        return [
            (self.oids[f.name.lower()], _pg_type_name(f.returns), _arguments(f))
            for f in self.functions
        ]

    # --- pg_catalog ---------------------------------------------------------------------------

    def _namespaces(self) -> list[dict]:
        return [
            {"oid": oid, "nspname": name, "nspowner": OWNER_OID} for name, oid in NAMESPACES.items()
        ]

    def _classes(self) -> list[dict]:
        rows = list(_catalog_classes())
        indexed = {t.name.lower() for t in self.keys.tables}
        for relation in self.relations:
            oid, kind = self.oids[relation.name.lower()], _relkind(relation)
            row = _class_row(oid, relation.name, NAMESPACES["public"], kind, len(relation.columns))
            rows.append(row | {"relhasindex": relation.name.lower() in indexed})
        for oid, name, width in self.keys.index_classes():
            rows.append(_class_row(oid, name, NAMESPACES["public"], "i", width) | {"relam": BTREE})
        for relation in self.system:
            oid, width = self.oids[relation.name], len(relation.columns)
            rows.append(_class_row(oid, relation.name, NAMESPACES["pg_catalog"], "r", width))
        return rows

    def _attributes(self) -> list[dict]:
        rows = list(_catalog_attributes())
        for relation in self.relations + self.system:
            oid = self.oids[relation.name.lower()]
            for number, column in enumerate(relation.columns, start=1):
                type_oid, typmod = types.pg_oid(column.type), type_modifier(column.type)
                rows.append(_attribute_row(oid, column.name, number, type_oid, typmod,
                                           not column.nullable))  # fmt: skip
        return rows

    def _procs(self) -> list[dict]:
        return [
            {
                "oid": self.oids[f.name.lower()],
                "proname": f.name,
                "pronamespace": NAMESPACES["public"],
                "proowner": OWNER_OID,
                "prolang": 14,
                "procost": 100.0,
                "prorows": 0.0,
                "provariadic": 0,
                "prosupport": "-",
                "prokind": "f",
                "prosecdef": False,
                "proleakproof": False,
                "proisstrict": False,
                "proretset": False,
                "provolatile": "i",
                "proparallel": "s",
                "pronargs": len(f.parameters),
                "pronargdefaults": 0,
                "prorettype": types.pg_oid(f.returns),
                "proargtypes": [types.pg_oid(p.type) for p in f.parameters],
                "proargnames": [p.name for p in f.parameters],
                "prosrc": f.body,
            }
            for f in self.functions
        ]

    def _descriptions(self) -> list[dict]:
        return [
            {
                "objoid": self.oids[s.name.lower()],
                "classoid": RELATIONS["pg_catalog.pg_class"].oid,
                "objsubid": 0,
                "description": f"source (connector '{s.option('connector', '?')}')",
            }
            for s in self.relations
            if isinstance(s, Source)
        ]

    def _roles(self) -> list[dict]:
        return [
            {
                "rolname": name,
                "rolsuper": self._superuser(name),
                "rolinherit": True,
                "rolcreaterole": self._superuser(name),
                "rolcreatedb": True,
                "rolcanlogin": True,
                "rolreplication": False,
                "rolconnlimit": -1,
                "rolpassword": "********",
                "rolbypassrls": True,
                "oid": oid,
            }
            for name, oid in self._role_oids().items()
        ]

    def _users(self) -> list[dict]:
        return [
            {
                "usename": name,
                "usesysid": oid,
                "usecreatedb": True,
                "usesuper": self._superuser(name),
                "userepl": False,
                "usebypassrls": True,
                "passwd": "********",
            }
            for name, oid in self._role_oids().items()
        ]

    def _superuser(self, name: str) -> bool:
        return self.superusers is None or name.lower() in self.superusers

    def _role_oids(self) -> dict[str, int]:
        names = {n.lower(): n for n in [*self.logins, self.user] if n.lower() != OWNER}
        oids = stable_oids(names)
        return {OWNER: OWNER_OID} | {names[key]: oid for key, oid in oids.items()}

    def _pg_tables(self) -> list[dict]:
        catalog_tables = [(r.schema, r.name) for r in RELATIONS.values() if r.relkind == "r"]
        user_tables = [("public", r.name) for r in self.relations if _relkind(r) == "r"]
        indexed = {t.name.lower() for t in self.keys.tables}
        return [
            {"schemaname": schema, "tablename": name, "tableowner": OWNER,
             "hasindexes": name.lower() in indexed, "hasrules": False, "hastriggers": False,
             "rowsecurity": False}
            for schema, name in catalog_tables + user_tables
        ]  # fmt: skip

    def _pg_views(self) -> list[dict]:
        return [
            {"schemaname": "public", "viewname": v.name, "viewowner": OWNER,
             "definition": _definition(v)}
            for v in self.relations if isinstance(v, View) and not v.materialized
        ]  # fmt: skip

    def _pg_matviews(self) -> list[dict]:
        return [
            {"schemaname": "public", "matviewname": v.name, "matviewowner": OWNER,
             "hasindexes": False, "ispopulated": True, "definition": _definition(v)}
            for v in self.relations if isinstance(v, View) and v.materialized
        ]  # fmt: skip

    # --- information_schema -------------------------------------------------------------------

    def _is_tables(self) -> list[dict]:
        rows = list(_catalog_is_tables())
        rows += [_is_table_row("public", r.name, _relkind(r)) for r in self.relations]
        return rows

    def _is_columns(self) -> list[dict]:
        rows = list(_catalog_is_columns())
        for r in self.relations:
            for number, c in enumerate(r.columns, start=1):
                row = _is_column_row("public", r.name, _relkind(r), c.name, number,
                                     types.pg_oid(c.type), type_modifier(c.type))  # fmt: skip
                row["is_nullable"] = "YES" if c.nullable else "NO"
                row["column_default"] = c.default
                rows.append(row)
        return rows

    def _is_views(self) -> list[dict]:
        return [
            {"table_catalog": DATABASE, "table_schema": "public", "table_name": v.name,
             "view_definition": _definition(v), "check_option": "NONE", "is_updatable": "NO",
             "is_insertable_into": "NO", "is_trigger_updatable": "NO",
             "is_trigger_deletable": "NO", "is_trigger_insertable_into": "NO"}
            for v in self.relations if isinstance(v, View) and not v.materialized
        ]  # fmt: skip


# --- rows that do not depend on the catalog ---------------------------------------------------

_AMS = [(2, "heap", "heap_tableam_handler", "t"), (403, "btree", "bthandler", "i")]
_TABLESPACES = [(1663, "pg_default", OWNER_OID), (1664, "pg_global", OWNER_OID)]
_CATALOG_TYPE_OIDS = {t.typname: t.oid for t in TYPES}


def _rows(columns: str, values: list[tuple]) -> list[dict]:
    names = columns.split()
    return [dict(zip(names, row, strict=True)) for row in values]


def _class_row(oid: int, name: str, namespace: int, relkind: str, natts: int) -> dict:
    return {
        "oid": oid, "relname": name, "relnamespace": namespace, "reltype": 0, "reloftype": 0,
        "relowner": OWNER_OID, "relam": 0, "relfilenode": 0, "reltablespace": 0, "relpages": 0,
        "reltuples": -1.0, "relallvisible": 0, "reltoastrelid": 0, "relhasindex": False,
        "relisshared": False, "relpersistence": "p", "relkind": relkind, "relnatts": natts,
        "relchecks": 0, "relhasrules": False, "relhastriggers": False, "relhassubclass": False,
        "relrowsecurity": False, "relforcerowsecurity": False, "relispopulated": True,
        "relreplident": "n" if relkind == "v" else "d", "relispartition": False,
        "relrewrite": 0, "relfrozenxid": 0, "relminmxid": 0,
    }  # fmt: skip


def _attribute_row(
    relation: int, name: str, number: int, type_oid: int, typmod: int, notnull: bool
) -> dict:
    pg_type = TYPE_BY_OID[type_oid]
    return {
        "attrelid": relation, "attname": name, "atttypid": type_oid, "attstattarget": -1,
        "attlen": pg_type.typlen, "attnum": number, "attndims": 0, "attcacheoff": -1,
        "atttypmod": typmod, "attbyval": pg_type.typbyval, "attalign": pg_type.typalign,
        "attstorage": pg_type.typstorage, "attcompression": "", "attnotnull": notnull,
        "atthasdef": False, "atthasmissing": False, "attidentity": "", "attgenerated": "",
        "attisdropped": False, "attislocal": True, "attinhcount": 0,
        "attcollation": pg_type.typcollation,
    }  # fmt: skip


# The rows that describe the catalog relations themselves never change: made once.


@functools.cache
def _catalog_classes() -> tuple[dict, ...]:
    return tuple(
        _class_row(r.oid, r.name, NAMESPACES[r.schema], r.relkind, len(r.columns))
        for r in RELATIONS.values()
    )


@functools.cache
def _catalog_attributes() -> tuple[dict, ...]:
    return tuple(
        _attribute_row(r.oid, name, number, _CATALOG_TYPE_OIDS[typname], -1, False)
        for r in RELATIONS.values()
        for number, (name, typname) in enumerate(r.columns, start=1)
    )


@functools.cache
def _catalog_is_tables() -> tuple[dict, ...]:
    return tuple(_is_table_row(r.schema, r.name, r.relkind) for r in RELATIONS.values())


@functools.cache
def _catalog_is_columns() -> tuple[dict, ...]:
    return tuple(
        _is_column_row(r.schema, r.name, r.relkind, name, number, _CATALOG_TYPE_OIDS[typname])
        for r in RELATIONS.values()
        for number, (name, typname) in enumerate(r.columns, start=1)
    )


@functools.cache
def _types() -> list[dict]:
    return [
        {
            "oid": t.oid, "typname": t.typname, "typnamespace": NAMESPACES["pg_catalog"],
            "typowner": OWNER_OID, "typlen": t.typlen, "typbyval": t.typbyval,
            "typtype": t.typtype, "typcategory": t.typcategory,
            "typispreferred": t.typispreferred, "typisdefined": True, "typdelim": ",",
            "typrelid": 0,
            "typsubscript": "array_subscript_handler" if t.typname.startswith("_") else "-",
            "typelem": t.typelem, "typarray": t.typarray, "typinput": t.typinput,
            "typoutput": t.typoutput, "typreceive": t.typreceive, "typsend": t.typsend,
            "typmodin": "-", "typmodout": "-", "typanalyze": "-", "typalign": t.typalign,
            "typstorage": t.typstorage, "typnotnull": False, "typbasetype": 0,
            "typtypmod": -1, "typndims": 0, "typcollation": t.typcollation,
        }
        for t in TYPES
    ]  # fmt: skip


def _databases() -> list[dict]:
    return [
        {
            "oid": DATABASE_OID, "datname": DATABASE, "datdba": OWNER_OID, "encoding": 6,
            "datlocprovider": "c", "datistemplate": False, "datallowconn": True,
            "datconnlimit": -1, "datfrozenxid": 0, "datminmxid": 1, "dattablespace": 1663,
            "datcollate": "C", "datctype": "C",
        }
    ]  # fmt: skip


def _settings() -> list[dict]:
    return [
        {
            "name": name, "setting": value, "category": category, "short_desc": description,
            "context": "user", "vartype": "string", "source": "default", "boot_val": value,
            "reset_val": value, "pending_restart": False,
        }
        for name, (value, category, description) in SETTINGS.items()
    ]  # fmt: skip


def _languages() -> list[dict]:
    names = {12: "internal", 13: "c", 14: "sql"}
    return [
        {"oid": oid, "lanname": name, "lanowner": OWNER_OID, "lanispl": False,
         "lanpltrusted": name == "sql", "lanplcallfoid": 0, "laninline": 0, "lanvalidator": 0}
        for oid, name in names.items()
    ]  # fmt: skip


def _collations() -> list[dict]:
    names = {100: ("default", "d", None), 950: ("C", "c", "C"), 951: ("POSIX", "c", "POSIX")}
    return [
        {"oid": oid, "collname": name, "collnamespace": NAMESPACES["pg_catalog"],
         "collowner": OWNER_OID, "collprovider": provider, "collisdeterministic": True,
         "collencoding": -1, "collcollate": locale, "collctype": locale}
        for oid, (name, provider, locale) in names.items()
    ]  # fmt: skip


def _schemata() -> list[dict]:
    return [
        {"catalog_name": DATABASE, "schema_name": name, "schema_owner": OWNER}
        for name in NAMESPACES
    ]


def _is_table_row(schema: str, name: str, relkind: str) -> dict:
    return {
        "table_catalog": DATABASE, "table_schema": schema, "table_name": name,
        "table_type": _TABLE_TYPE[relkind],
        "is_insertable_into": "YES" if relkind == "r" else "NO", "is_typed": "NO",
    }  # fmt: skip


def _is_column_row(
    schema: str, table: str, relkind: str, name: str, number: int, type_oid: int, typmod: int = -1
) -> dict:
    pg_type = TYPE_BY_OID[type_oid]
    precision, radix, scale = _numeric_shape(type_oid, typmod)
    return {
        "table_catalog": DATABASE, "table_schema": schema, "table_name": table,
        "column_name": name, "ordinal_position": number, "is_nullable": "YES",
        "data_type": "ARRAY" if pg_type.typcategory == "A" else format_type(type_oid, None),
        "character_octet_length": 1073741824 if pg_type.typcategory == "S" else None,
        "numeric_precision": precision, "numeric_precision_radix": radix, "numeric_scale": scale,
        "datetime_precision": _datetime_precision(type_oid, typmod),
        "udt_catalog": DATABASE, "udt_schema": "pg_catalog", "udt_name": pg_type.typname,
        "dtd_identifier": str(number), "is_self_referencing": "NO", "is_identity": "NO",
        "identity_cycle": "NO", "is_generated": "NEVER",
        "is_updatable": "YES" if relkind == "r" else "NO",
    }  # fmt: skip


_BINARY_PRECISION = {21: 16, 23: 32, 20: 64, 700: 24, 701: 53}


def _numeric_shape(type_oid: int, typmod: int) -> tuple[int | None, int | None, int | None]:
    if type_oid in _BINARY_PRECISION:
        return _BINARY_PRECISION[type_oid], 2, 0 if type_oid in (20, 21, 23) else None
    if type_oid == 1700:
        if typmod < 0:
            return None, 10, None
        return (typmod - 4) >> 16, 10, (typmod - 4) & 0xFFFF
    return None, None, None


def _datetime_precision(type_oid: int, typmod: int) -> int | None:
    if type_oid == 1082:
        return 0
    if type_oid in (1083, 1114, 1184, 1186):
        return 6 if typmod < 0 else typmod
    return None


def _definition(view: View) -> str:
    return view.definition.strip().rstrip(";") + ";"


def _pg_type_name(sql_type: str) -> str:
    return format_type(types.pg_oid(sql_type), type_modifier(sql_type)) or "text"


def _arguments(function: Function) -> str:
    return ", ".join(f"{p.name} {_pg_type_name(p.type)}" for p in function.parameters)
