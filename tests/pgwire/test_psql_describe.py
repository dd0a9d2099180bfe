"""psql's ``\\d`` family against a live ``tidal serve``: what users see of the catalog."""

from __future__ import annotations

import shutil

import pytest
from conftest import start_server

pytestmark = pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")

SCHEMA = """
CREATE TABLE orders (id BIGINT NOT NULL, customer VARCHAR, amount DECIMAL(10,2), ts TIMESTAMP);
CREATE SOURCE clicks (user_id BIGINT, url VARCHAR)
    WITH (connector = 'datagen', 'number-of-rows' = '10');
CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100;
CREATE MATERIALIZED VIEW revenue AS
    SELECT customer, sum(amount) AS total FROM orders GROUP BY customer;
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("describe"), init=SCHEMA)
    yield running
    running.stop()


def psql(served, command: str, *flags: str) -> list[str]:
    result = served.psql(*flags, "-c", command)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def unaligned(served, command: str) -> list[list[str]]:
    """The rows psql prints with -A -t (no header, no footer), split on '|'."""
    return [line.split("|") for line in psql(served, command, "-A", "-t") if line]


def test_d_lists_every_relation(served):
    assert unaligned(served, r"\d") == [
        ["public", "big_orders", "view", "tidal"],
        ["public", "clicks", "table", "tidal"],
        ["public", "orders", "table", "tidal"],
        ["public", "revenue", "materialized view", "tidal"],
    ]
    lines = psql(served, r"\d")
    assert lines[0].strip() == "List of relations"
    assert [c.strip() for c in lines[1].split("|")] == ["Schema", "Name", "Type", "Owner"]


def test_dt_dv_dm(served):
    assert [r[1] for r in unaligned(served, r"\dt")] == ["clicks", "orders"]
    assert [r[1] for r in unaligned(served, r"\dv")] == ["big_orders"]
    assert [r[1] for r in unaligned(served, r"\dm")] == ["revenue"]


def test_d_table_shows_columns(served):
    lines = psql(served, r"\d orders")
    assert lines[0].strip() == 'Table "public.orders"'
    rows = [[c.strip() for c in line.split("|")] for line in lines[3:] if "|" in line]
    assert rows == [
        ["id", "bigint", "", "not null", ""],
        ["customer", "text", "", "", ""],
        ["amount", "numeric(10,2)", "", "", ""],
        ["ts", "timestamp without time zone", "", "", ""],
    ]


def test_d_source_view_and_materialized_view(served):
    assert psql(served, r"\d clicks")[0].strip() == 'Table "public.clicks"'
    view = psql(served, r"\d big_orders")
    assert view[0].strip() == 'View "public.big_orders"'
    assert any(line.split("|")[0].strip() == "amount" for line in view)
    matview = psql(served, r"\d revenue")
    assert matview[0].strip() == 'Materialized view "public.revenue"'
    assert [line.split("|")[1].strip() for line in matview[3:] if "|" in line] == [
        "text",
        "numeric(38,2)",
    ]


def test_d_plus_view_prints_its_definition(served):
    lines = psql(served, r"\d+ big_orders")
    definition = lines.index("View definition:")
    assert "FROM orders" in lines[definition + 1]


def test_dt_plus_describes_the_source(served):
    described = {r[1]: r[-1] for r in unaligned(served, r"\dt+")}
    assert described == {"clicks": "source (connector 'datagen')", "orders": ""}


def test_l_and_dn(served):
    assert [r[:3] for r in unaligned(served, r"\l")] == [["tidal", "tidal", "UTF8"]]
    assert unaligned(served, r"\dn") == [["public", "tidal"]]


def test_catalog_query_with_a_parameter_over_the_extended_protocol(served):
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(served.dsn, connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) "
            "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "WHERE c.relname = %s ORDER BY a.attnum",
            ["revenue"],
        ).fetchall()
    assert rows == [("customer", "text"), ("total", "numeric(38,2)")]
