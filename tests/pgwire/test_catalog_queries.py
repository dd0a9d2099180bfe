"""pg_catalog and information_schema for tools, without a server.

The SQL in catalog_sql/ is what psql 15, pgjdbc and Grafana really send (see each file's
header); every statement must be recognised as a catalog query and answer with the rows
PostgreSQL would give for a catalog holding a table, a source, a view and a materialized view.
"""

from __future__ import annotations

import pathlib
import re

import duckdb
import pytest

from tidal.catalog import Catalog, Column, Source, Table, View
from tidal.catalog.objects import Function
from tidal.catalog.pg_catalog import PgCatalog, stable_oids
from tidal.shell.pgwire.catalog import queries as catalog_queries
from tidal.shell.pgwire.catalog.queries import CatalogQueries
from tidal.shell.pgwire.settings import VERSION
from tidal.sql.errors import SqlError

CAPTURED = pathlib.Path(__file__).parent / "catalog_sql"


def statements(name: str) -> list[str]:
    """The statements of a capture file: comment lines dropped, each ending in ';'."""
    text = (CAPTURED / name).read_text()
    body = "\n".join(line for line in text.splitlines() if not line.startswith("-- "))
    return [s.strip() for s in re.split(r";[ \t]*$", body, flags=re.MULTILINE) if s.strip()]


ALL_CAPTURED = [
    pytest.param(path.name, index, id=f"{path.stem}-{index}")
    for path in sorted(CAPTURED.glob("*.sql"))
    for index in range(len(statements(path.name)))
]


def make_catalog() -> Catalog:
    catalog = Catalog()
    orders = (
        Column("id", "BIGINT", nullable=False),
        Column("customer", "VARCHAR"),
        Column("amount", "DECIMAL(10,2)"),
        Column("ts", "TIMESTAMP"),
    )
    catalog.add(Table("orders", orders))
    clicks = (Column("user_id", "BIGINT"), Column("url", "VARCHAR"), Column("at", "TIMESTAMP"))
    catalog.add(Source("clicks", clicks, options=(("connector", "datagen"),)))
    catalog.add(
        View(
            "big_orders",
            (Column("id", "BIGINT"), Column("amount", "DECIMAL(10,2)")),
            definition="SELECT id, amount FROM orders WHERE amount > 100",
            inputs=("orders",),
        )
    )
    catalog.add(
        View(
            "revenue",
            (Column("customer", "VARCHAR"), Column("total", "DECIMAL(38,2)")),
            definition="SELECT customer, sum(amount) AS total FROM orders GROUP BY customer",
            materialized=True,
            inputs=("orders",),
        )
    )
    catalog.add(Function("add_tax", (Column("x", "DOUBLE"),), "DOUBLE", "x * 1.2"))
    return catalog


@pytest.fixture(scope="module")
def queries() -> CatalogQueries:
    return CatalogQueries(make_catalog(), user="alice")


def rows(table) -> list[tuple]:
    return list(zip(*(column.to_pylist() for column in table.columns), strict=True))


def describe(queries: CatalogQueries, name: str, relation: str) -> list:
    """Runs psql's ``\\d relation`` queries as psql does: the oid found by the first one
    goes into the others."""
    first, *rest = statements(name)
    first = first.replace("^(orders)$", f"^({relation})$")
    found = queries.run(first)
    assert rows(found)[0][1:] == ("public", relation)
    oid = rows(found)[0][0]
    return [found] + [queries.run(s.replace("{oid}", str(oid))) for s in rest]


# --- every captured statement ------------------------------------------------------------


@pytest.mark.parametrize(("name", "index"), ALL_CAPTURED)
def test_captured_statement_is_handled_and_runs(queries, name, index):
    sql = statements(name)[index].replace("{oid}", "16386")
    assert queries.handles(sql)
    result = queries.run(sql, [25] if "$1" in sql else None)
    assert result.num_columns > 0


# --- psql ----------------------------------------------------------------------------------


def test_psql_d_lists_every_relation_with_its_kind(queries):
    [sql] = statements("psql_d.sql")
    result = queries.run(sql)
    assert result.column_names == ["Schema", "Name", "Type", "Owner"]
    assert rows(result) == [
        ("public", "big_orders", "view", "tidal"),
        ("public", "clicks", "table", "tidal"),
        ("public", "orders", "table", "tidal"),
        ("public", "revenue", "materialized view", "tidal"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("psql_dt.sql", [("clicks", "table"), ("orders", "table")]),
        ("psql_dv.sql", [("big_orders", "view")]),
        ("psql_dm.sql", [("revenue", "materialized view")]),
        ("psql_di.sql", []),
        ("psql_dE.sql", []),
    ],
)
def test_psql_list_commands_filter_by_kind(queries, name, expected):
    [sql] = statements(name)
    assert [(r[1], r[2]) for r in rows(queries.run(sql))] == expected


def test_psql_dt_plus_says_which_table_is_a_source(queries):
    [sql] = statements("psql_dt_plus.sql")
    result = queries.run(sql)
    assert result.column_names[-1] == "Description"
    described = {r["Name"]: r["Description"] for r in result.to_pylist()}
    assert described == {"clicks": "source (connector 'datagen')", "orders": None}
    assert {r["Size"] for r in result.to_pylist()} == {"0 bytes"}


def test_psql_d_table_shows_columns_types_and_nullability(queries):
    _, flags, columns, *rest = describe(queries, "psql_d_table.sql", "orders")
    assert rows(flags)[0][:2] == (0, "r")
    assert columns.column_names[:4] == ["attname", "format_type", "pg_get_expr", "attnotnull"]
    assert [r[:4] for r in rows(columns)] == [
        ("id", "bigint", None, True),
        ("customer", "text", None, False),
        ("amount", "numeric(10,2)", None, False),
        ("ts", "timestamp without time zone", None, False),
    ]
    assert [t.num_rows for t in rest] == [0] * 5  # policies, statistics, publications, ...


def test_psql_d_source_is_described_as_a_table(queries):
    _, flags, columns, *_ = describe(queries, "psql_d_table.sql", "clicks")
    assert rows(flags)[0][1] == "r"
    assert [r[:2] for r in rows(columns)] == [
        ("user_id", "bigint"),
        ("url", "text"),
        ("at", "timestamp without time zone"),
    ]


def test_psql_d_view_and_materialized_view(queries):
    _, flags, columns = describe(queries, "psql_d_view.sql", "big_orders")
    assert rows(flags)[0][1] == "v"
    assert [r[:2] for r in rows(columns)] == [("id", "bigint"), ("amount", "numeric(10,2)")]
    _, flags, columns, *_ = describe(queries, "psql_d_matview.sql", "revenue")
    assert rows(flags)[0][1] == "m"
    assert [r[:2] for r in rows(columns)] == [("customer", "text"), ("total", "numeric(38,2)")]


def test_psql_d_plus_view_prints_the_definition(queries):
    results = describe(queries, "psql_d_plus_view.sql", "big_orders")
    viewdef = results[3]
    assert viewdef.column_names == ["pg_get_viewdef"]
    assert rows(viewdef) == [("SELECT id, amount FROM orders WHERE amount > 100;",)]
    results = describe(queries, "psql_d_plus_matview.sql", "revenue")
    assert "GROUP BY customer" in rows(results[6])[0][0]


def test_psql_d_plus_table_storage_and_descriptions(queries):
    _, _, columns, *_ = describe(queries, "psql_d_plus_table.sql", "orders")
    by_name = {r["attname"]: r for r in columns.to_pylist()}
    assert by_name["customer"]["attstorage"] == "x"
    assert by_name["id"]["attstattarget"] is None
    assert by_name["id"]["col_description"] is None


def test_psql_l_dn_df_du(queries):
    [databases] = [queries.run(s) for s in statements("psql_l.sql")]
    assert [r[:3] for r in rows(databases)] == [("tidal", "tidal", "UTF8")]
    assert databases.column_names[0] == "Name"
    [schemas] = [queries.run(s) for s in statements("psql_dn.sql")]
    assert rows(schemas) == [("public", "tidal")]
    [functions] = [queries.run(s) for s in statements("psql_df.sql")]
    assert rows(functions) == [
        ("public", "add_tax", "double precision", "x double precision", "func")
    ]
    [roles] = [queries.run(s) for s in statements("psql_du.sql")]
    assert [(r["rolname"], r["rolsuper"], r["memberof"]) for r in roles.to_pylist()] == [
        ("alice", True, "{}"),
        ("tidal", True, "{}"),
    ]


# --- JDBC ----------------------------------------------------------------------------------


def test_jdbc_get_tables(queries):
    everything, public = (queries.run(s) for s in statements("jdbc_get_tables.sql"))
    assert rows(public) == [
        (None, "public", "revenue", "MATERIALIZED VIEW", None, "", "", "", "", ""),
        (None, "public", "clicks", "TABLE", "source (connector 'datagen')", "", "", "", "", ""),
        (None, "public", "orders", "TABLE", None, "", "", "", "", ""),
        (None, "public", "big_orders", "VIEW", None, "", "", "", "", ""),
    ]
    kinds = {(r["table_schem"], r["table_name"]): r["table_type"] for r in everything.to_pylist()}
    assert kinds[("pg_catalog", "pg_class")] == "SYSTEM TABLE"
    assert kinds[("pg_catalog", "pg_roles")] == "SYSTEM VIEW"
    assert kinds[("information_schema", "tables")] == "SYSTEM VIEW"
    assert kinds[("public", "orders")] == "TABLE"


def test_jdbc_get_columns(queries):
    orders, everything = (queries.run(s) for s in statements("jdbc_get_columns.sql"))
    assert [
        (r["attname"], r["atttypid"], r["atttypmod"], r["attnotnull"], r["attnum"])
        for r in orders.to_pylist()
    ] == [
        ("id", 20, -1, True, 1),
        ("customer", 25, -1, False, 2),
        ("amount", 1700, (10 << 16 | 2) + 4, False, 3),
        ("ts", 1114, -1, False, 4),
    ]
    public = [(r["relname"], r["attname"]) for r in everything.to_pylist()
              if r["nspname"] == "public"]  # fmt: skip
    assert public == [
        ("big_orders", "id"),
        ("big_orders", "amount"),
        ("clicks", "user_id"),
        ("clicks", "url"),
        ("clicks", "at"),
        ("orders", "id"),
        ("orders", "customer"),
        ("orders", "amount"),
        ("orders", "ts"),
        ("revenue", "customer"),
        ("revenue", "total"),
    ]


@pytest.mark.parametrize(
    ("oid", "name", "is_array"), [(25, "text", False), ("1009", "_text", True)]
)
def test_jdbc_type_lookup(queries, oid, name, is_array):
    visible, info = statements("jdbc_type_info.sql")
    assert rows(queries.run(visible, [oid])) == [(True, "pg_catalog", name)]
    assert rows(queries.run(info, [oid])) == [(is_array, "b", name, int(oid))]


def test_jdbc_schemas_and_primary_keys(queries):
    [schemas] = [queries.run(s) for s in statements("jdbc_get_schemas.sql")]
    assert [r[0] for r in rows(schemas)] == ["information_schema", "pg_catalog", "public"]
    [keys] = [queries.run(s) for s in statements("jdbc_get_primary_keys.sql")]
    assert keys.num_rows == 0
    assert keys.column_names == [
        "table_cat", "table_schem", "table_name", "column_name", "key_seq", "pk_name",
    ]  # fmt: skip


# --- Grafana -------------------------------------------------------------------------------


def test_grafana_tables_and_columns(queries):
    schemas, tables, in_public = (queries.run(s) for s in statements("grafana_tables.sql"))
    assert rows(schemas) == [("public",)]
    expected = [("big_orders",), ("clicks",), ("orders",), ("revenue",)]
    assert tables.column_names == ["table"]
    assert rows(tables) == expected
    assert rows(in_public) == expected
    for sql in statements("grafana_columns.sql"):
        result = queries.run(sql)
        assert result.column_names == ["column", "type"]
        assert rows(result) == [
            ("id", "bigint"),
            ("customer", "text"),
            ("amount", "numeric"),
            ("ts", "timestamp without time zone"),
        ]


def test_grafana_version_and_timescale_check(queries):
    version, timescale = (queries.run(s) for s in statements("grafana_version.sql"))
    assert rows(version) == [(1500,)]
    assert timescale.num_rows == 0


# --- what is and is not a catalog query ----------------------------------------------------


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM orders",
        "SELECT 1",
        "SELECT count(*) FROM orders WHERE id > 1",
        "SELECT version() FROM orders",
        "SELECT * FROM columns",
        "SELECT * FROM public.tables",
        "SELECT * FROM pg_class, read_csv('/etc/passwd')",
        "SELECT relname FROM pg_class WHERE relname IN (SELECT * FROM read_text('/etc/passwd'))",
        "INSERT INTO orders VALUES (1, 'a', 1.0, NULL)",
        "SHOW search_path",
        "SET search_path = public",
        "SELECT 1; SELECT version()",
        "not sql at all (",
    ],
)
def test_ordinary_statements_are_not_catalog_queries(queries, sql):
    assert not queries.handles(sql)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT version()", [("version", VERSION)]),
        ("SELECT current_database(), current_schema()", [("current_database", "tidal"),
                                                         ("current_schema", "public")]),
        ("SELECT current_user, session_user", [("current_user", "alice"), ("session_user", "alice")]),
        ("SELECT pg_catalog.current_schemas(true)", [("current_schemas", "{pg_catalog,public}")]),
        ("SELECT current_setting('search_path')", [("current_setting", '"$user", public')]),
        ("SELECT 'orders'::regclass::oid = (SELECT oid FROM pg_class WHERE relname = 'orders')",
         [("?column?", True)]),
        ("SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c WHERE c.relname = 'revenue'",
         [("oid", "revenue")]),
        ("SELECT 1700::regtype, 'int8'::regtype::oid, 2200::regnamespace",
         [("regtype", "numeric"), ("oid", 20), ("regnamespace", "public")]),
        ("SELECT 'double precision'::regtype::oid, 'pg_catalog.text'::regtype::oid",
         [("oid", 701), ("oid", 25)]),
        ("SELECT proargnames FROM pg_proc WHERE proname = 'add_tax'", [("proargnames", "{x}")]),
        ("SELECT has_table_privilege('orders', 'SELECT'), pg_table_is_visible(1)",
         [("has_table_privilege", True), ("pg_table_is_visible", True)]),
        ("SELECT quote_ident('Orders'), quote_ident('orders')",
         [("quote_ident", '"Orders"'), ("quote_ident", "orders")]),
    ],
)  # fmt: skip
def test_catalog_functions(queries, sql, expected):
    assert queries.handles(sql)
    result = queries.run(sql)
    assert list(zip(result.column_names, rows(result)[0], strict=True)) == expected


def test_duckdb_own_catalog_is_not_visible(queries):
    names = rows(queries.run("SELECT table_schema, count(*) FROM information_schema.tables "
                             "GROUP BY 1 ORDER BY 1"))  # fmt: skip
    assert [n[0] for n in names] == ["information_schema", "pg_catalog", "public"]
    assert rows(queries.run("SELECT count(*) FROM pg_class WHERE relname LIKE 'duckdb%'")) == [(0,)]
    [(count,)] = rows(queries.run("SELECT count(*) FROM pg_catalog.pg_namespace"))
    assert count == 3


def test_unknown_catalog_relation_or_name_is_an_error(queries):
    with pytest.raises(SqlError) as error:
        queries.run("SELECT * FROM pg_catalog.pg_no_such_thing")
    assert error.value.sqlstate == "42P01"
    with pytest.raises(SqlError) as error:
        queries.run("SELECT 'no_such_relation'::regclass")
    assert error.value.sqlstate == "42P01"


# --- security ------------------------------------------------------------------------------


def test_file_access_is_refused(queries):
    with pytest.raises(SqlError):
        queries.run("SELECT * FROM pg_class, read_csv('/etc/passwd')")
    connection = catalog_queries._connection()
    try:
        with pytest.raises(duckdb.PermissionException):
            connection.sql("SELECT * FROM read_csv('/etc/passwd')").fetchall()
        with pytest.raises(duckdb.Error):
            connection.execute("SET enable_external_access = true")
    finally:
        connection.close()


def test_only_queries_run(queries):
    with pytest.raises(SqlError):
        queries.run("CREATE MACRO pgfn.evil() AS 1")


# --- oids ----------------------------------------------------------------------------------


def test_oids_are_stable_and_independent_of_other_objects():
    small = Catalog()
    small.add(Table("orders", (Column("id", "BIGINT"),)))
    full = PgCatalog(make_catalog())
    assert PgCatalog(small).oids["orders"] == full.oids["orders"]
    assert len(set(full.oids.values())) == len(full.oids)
    assert all(oid >= 16384 for oid in full.oids.values())
    assert stable_oids(["a", "b"]) == stable_oids(["b", "a"])


def test_a_real_database_catalog():
    from tidal.engine import Database

    db = Database()
    try:
        db.execute("CREATE TABLE t (a INTEGER NOT NULL, b VARCHAR)")
        db.execute("CREATE MATERIALIZED VIEW m AS SELECT b, count(*) AS n FROM t GROUP BY b")
        result = CatalogQueries(db.catalog).run(
            "SELECT c.relname, c.relkind, a.attname, pg_catalog.format_type(a.atttypid, "
            "a.atttypmod) FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
            "WHERE c.relnamespace = 2200 ORDER BY 1, a.attnum"
        )
    finally:
        db.close()
    assert rows(result) == [
        ("m", "m", "b", "text"),
        ("m", "m", "n", "bigint"),
        ("t", "r", "a", "integer"),
        ("t", "r", "b", "text"),
    ]


@pytest.mark.parametrize(
    "sql_type",
    ["BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UBIGINT", "HUGEINT", "REAL",
     "DOUBLE", "DECIMAL(12,3)", "VARCHAR", "BLOB", "DATE", "TIME", "TIMESTAMP", "TIMESTAMP(3)",
     "TIMESTAMPTZ", "INTERVAL", "UUID", "JSON", "INTEGER[]"],
)  # fmt: skip
def test_every_tidal_type_is_a_built_in_type(sql_type):
    catalog = Catalog()
    catalog.add(Table("t", (Column("c", sql_type),)))
    result = CatalogQueries(catalog).run(
        "SELECT format_type(a.atttypid, a.atttypmod), t.typname FROM pg_attribute a "
        "JOIN pg_type t ON t.oid = a.atttypid WHERE a.attname = 'c'"
    )
    [(formatted, typname)] = rows(result)
    assert formatted != "???" and typname


def test_roles_are_the_owner_the_users_and_the_session_user():
    catalog = Catalog()
    if hasattr(catalog, "users"):
        from tidal.catalog.users import User

        catalog.users.add(User("bob"))
        expected = ["alice", "bob", "tidal"]
    else:
        expected = ["alice", "tidal"]
    result = CatalogQueries(catalog, user="alice").run(
        "SELECT r.rolname, pg_get_userbyid(r.oid) = r.rolname FROM pg_roles r ORDER BY 1"
    )
    assert rows(result) == [(name, True) for name in expected]
