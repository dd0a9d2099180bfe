"""PostgreSQL's catalog functions, as DuckDB macros in a schema of their own (``pgfn``).

Tools call these in their catalog queries (``format_type``, ``pg_table_is_visible``,
``has_table_privilege``, ``current_schemas``, ...). The macros live on the private catalog
connection only, and calls reach them because the rewriter qualifies them (``pgfn.format_type``):
DuckDB has its own ``pg_catalog`` functions of some of these names, which must not answer.

Functions whose answer depends on the catalog's rows (``pg_get_userbyid``, ``obj_description``,
``pg_get_viewdef``, ...) are not macros: the rewriter turns them into lookups of the rows
(see ``rewrite.LOOKUPS``).
"""

from __future__ import annotations

from tidal.catalog import pg_catalog
from tidal.catalog.pg_schema import TYPES, format_type
from tidal.shell.pgwire.settings import DEFAULTS, VERSION

SCHEMA = "pgfn"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _format_type_body() -> str:
    """format_type(t, m): every built-in type's name, with its modifier where it has one."""
    cases = []
    for t in TYPES:
        plain = _literal(format_type(t.oid, None) or "")
        if t.oid == 1700:
            modified = "'numeric(' || ((m - 4) >> 16) || ',' || ((m - 4) & 65535) || ')'"
        elif t.oid in (1042, 1043):
            modified = f"{plain} || '(' || (m - 4) || ')'"
        elif t.oid in (1083, 1114, 1184):
            name = format_type(t.oid, None) or ""
            head, _, tail = name.partition(" with")
            modified = f"{_literal(head)} || '(' || m || ') with' || {_literal(tail)}"
        else:
            cases.append(f"WHEN {t.oid} THEN {plain}")
            continue
        cases.append(f"WHEN {t.oid} THEN CASE WHEN m IS NULL OR m < 0 THEN {plain} "
                     f"ELSE {modified} END")  # fmt: skip
    return f"CASE t {' '.join(cases)} ELSE CASE WHEN t IS NULL THEN NULL ELSE '???' END END"


def _settings_body() -> str:
    """current_setting(name): the defaults a session starts with (``SET`` inside a catalog
    query's session is not seen here; the session answers plain ``current_setting``)."""
    settings = {name.lower(): value for name, (value, _, _) in pg_catalog.SETTINGS.items()}
    settings |= {name.lower(): value for name, value in DEFAULTS.items()}
    cases = " ".join(
        f"WHEN {_literal(name)} THEN {_literal(value)}" for name, value in settings.items()
    )
    return f"CASE lower(name) {cases} END"


def _namespace_body() -> str:
    cases = " ".join(f"WHEN {oid} THEN {_literal(n)}" for n, oid in pg_catalog.NAMESPACES.items())
    return f"CASE n {cases} ELSE CAST(n AS VARCHAR) END"


_SIZE_PRETTY = (
    "CASE WHEN n IS NULL THEN NULL WHEN abs(n) < 10240 THEN n || ' bytes' "
    "WHEN abs(n) < 10485760 THEN round(n / 1024.0) || ' kB' "
    "WHEN abs(n) < 10737418240 THEN round(n / 1048576.0) || ' MB' "
    "ELSE round(n / 1073741824.0) || ' GB' END"
)

_QUOTE_IDENT = (
    "CASE WHEN s IS NULL THEN NULL WHEN regexp_full_match(s, '[a-z_][a-z0-9_$]*') THEN s "
    "ELSE '\"' || replace(s, '\"', '\"\"') || '\"' END"
)

# parse_ident('a."B"') = ['a', 'B']: unquoted parts fold to lower case (dots inside quotes are
# not supported).
_PARSE_IDENT = (
    "list_transform(string_split(s, '.'), lambda p: CASE WHEN p LIKE '\"%\"' "
    "THEN replace(p[2:-2], '\"\"', '\"') ELSE lower(trim(p)) END)"
)

_EXPAND_ARRAY = (
    "unnest(list_transform(range(1, len(a) + 1), lambda i: struct_pack(x := a[i], n := i)))"
)


def macros() -> dict[str, str]:
    """Macro name -> its ``CREATE MACRO`` parameter lists and bodies (DuckDB overloads)."""
    true1, true2, true3 = "(a) AS true", "(a, b) AS true", "(a, b, c) AS true"
    privilege = f"{true2}, {true3}"
    null1, null2, null3 = "(a) AS NULL", "(a, b) AS NULL", "(a, b, c) AS NULL"
    return {
        "format_type": f"(t, m) AS {_format_type_body()}",
        "pg_table_is_visible": true1,
        "pg_type_is_visible": true1,
        "pg_function_is_visible": true1,
        "pg_get_expr": f"{null2}, {null3}",
        "pg_get_ruledef": f"{null1}, {null2}",
        "pg_get_triggerdef": f"{null1}, {null2}",
        "pg_get_partkeydef": null1,
        "pg_get_statisticsobjdef_columns": null1,
        "pg_get_serial_sequence": null2,
        "pg_encoding_to_char": "(e) AS CASE e WHEN 6 THEN 'UTF8' WHEN 0 THEN 'SQL_ASCII' ELSE '' END",
        "pg_relation_size": "(a) AS 0, (a, b) AS 0",
        "pg_total_relation_size": "(a) AS 0",
        "pg_table_size": "(a) AS 0",
        "pg_indexes_size": "(a) AS 0",
        "pg_size_pretty": f"(n) AS {_SIZE_PRETTY}",
        "pg_tablespace_location": "(a) AS ''",
        "pg_relation_is_publishable": "(a) AS false",
        "pg_is_other_temp_schema": "(a) AS false",
        "pg_my_temp_schema": "() AS 0",
        "pg_is_in_recovery": "() AS false",
        "pg_backend_pid": "() AS 0",
        "pg_postmaster_start_time": "() AS TIMESTAMPTZ '2000-01-01 00:00:00+00'",
        "pg_advisory_unlock_all": "() AS NULL",
        "pg_client_encoding": "() AS 'UTF8'",
        "has_table_privilege": privilege,
        "has_schema_privilege": privilege,
        "has_database_privilege": privilege,
        "has_function_privilege": privilege,
        "has_sequence_privilege": privilege,
        "has_any_column_privilege": privilege,
        "has_column_privilege": f"{true3}, (a, b, c, d) AS true",
        "pg_has_role": privilege,
        "current_schemas": "(i) AS CASE WHEN i THEN ['pg_catalog', 'public'] ELSE ['public'] END",
        "current_schema": "() AS 'public'",
        "current_database": f"() AS {_literal(pg_catalog.DATABASE)}",
        "current_setting": f"(name) AS {_settings_body()}, (name, missing) AS {_settings_body()}",
        "set_config": "(name, value, local) AS value",
        "version": f"() AS {_literal(VERSION)}",
        "nspname": f"(n) AS {_namespace_body()}",
        "quote_ident": f"(s) AS {_QUOTE_IDENT}",
        "parse_ident": f"(s) AS {_PARSE_IDENT}, (s, strict) AS {_PARSE_IDENT}",
        "array_upper": "(a, d) AS CASE WHEN len(a) > 0 AND d = 1 THEN len(a) END",
        "array_lower": "(a, d) AS CASE WHEN len(a) > 0 AND d = 1 THEN 1 END",
        "array_length": "(a, d) AS CASE WHEN len(a) > 0 AND d = 1 THEN len(a) END",
        "_pg_expandarray": f"(a) AS {_EXPAND_ARRAY}",
    }


def create_statements() -> list[str]:
    """The statements that make the schema and every macro."""
    statements = [f"CREATE SCHEMA {SCHEMA}"]
    for name, definition in macros().items():
        statements.append(f"CREATE MACRO {SCHEMA}.{name}{definition}")
    return statements
