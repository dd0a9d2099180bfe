"""Temporal (lookup) joins, against their own definition: a view's rows are, for each stream row,
the join with the table as it was at the end of the tick the row arrived in. Later table changes
change nothing already joined, so this cannot equal a batch recomputation (which has only the
table's current version, and is what an ad hoc query and batch mode give)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.engine import Database
from tidal.sql.errors import SqlError

SETUP = """
    CREATE TABLE orders (id INTEGER, cust INTEGER, qty INTEGER) APPEND ONLY;
    CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR, level INTEGER);
"""
ENRICHED = (
    "SELECT o.id, o.cust, c.name, c.level FROM orders o "
    "LEFT JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() AS c ON o.cust = c.id"
)


def _rows(db: Database, name: str) -> list[tuple]:
    return sorted((tuple(r.values()) for r in db.read(name).to_pylist()), key=repr)


def _expected(joined: list[tuple], inner: bool = False) -> list[tuple]:
    return sorted((r for r in joined if not inner or r[2] is not None), key=repr)


def test_later_table_changes_leave_joined_rows_as_they_were():
    db = Database()
    db.execute(SETUP)
    db.execute(f"CREATE MATERIALIZED VIEW enriched AS {ENRICHED}")
    db.execute("INSERT INTO customers VALUES (1, 'ann', 1), (2, 'bob', 2)")
    db.execute("INSERT INTO orders VALUES (10, 1, 5), (11, 3, 1)")
    db.execute("UPDATE customers SET name = 'Ann' WHERE id = 1")
    db.execute("INSERT INTO customers VALUES (3, 'cy', 3)")
    db.execute("INSERT INTO orders VALUES (12, 1, 2), (13, 3, 4)")
    db.execute("DELETE FROM customers WHERE id = 1")
    db.execute("INSERT INTO orders VALUES (14, 1, 1)")
    assert _rows(db, "enriched") == [
        (10, 1, "ann", 1),
        (11, 3, None, None),
        (12, 1, "Ann", 1),
        (13, 3, "cy", 3),
        (14, 1, None, None),
    ]
    # A query run now has one version of the table: the current one.
    current = db.execute(ENRICHED).to_pylist()
    assert sorted((tuple(r.values()) for r in current), key=repr) == [
        (10, 1, None, None),
        (11, 3, "cy", 3),
        (12, 1, None, None),
        (13, 3, "cy", 3),
        (14, 1, None, None),
    ]


def test_a_view_created_later_joins_the_existing_stream_with_the_table_as_it_is_then():
    db = Database()
    db.execute(SETUP)
    db.execute("INSERT INTO customers VALUES (1, 'ann', 1)")
    db.execute("INSERT INTO orders VALUES (10, 1, 5)")
    db.execute("UPDATE customers SET level = 9 WHERE id = 1")
    db.execute(f"CREATE MATERIALIZED VIEW enriched AS {ENRICHED}")
    db.execute("UPDATE customers SET level = 7 WHERE id = 1")
    db.execute("INSERT INTO orders VALUES (11, 1, 5)")
    assert _rows(db, "enriched") == [(10, 1, "ann", 9), (11, 1, "ann", 7)]


def test_batch_mode_joins_the_tables_current_version():
    db = Database(batch_mode=True)
    db.execute(SETUP)
    db.execute(f"CREATE MATERIALIZED VIEW enriched AS {ENRICHED}")
    db.execute("INSERT INTO customers VALUES (1, 'ann', 1)")
    db.execute("INSERT INTO orders VALUES (10, 1, 5)")
    db.execute("UPDATE customers SET level = 9 WHERE id = 1")
    assert _rows(db, "enriched") == [(10, 1, "ann", 9)]


# One statement per tick: a table change, or stream rows.
_TABLE_CHANGES = st.one_of(
    st.builds(
        "INSERT INTO customers VALUES ({}, '{}', {}) ON CONFLICT (id) DO UPDATE SET "
        "name = excluded.name, level = excluded.level".format,
        st.integers(0, 3),
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 2),
    ),
    st.builds("DELETE FROM customers WHERE id = {}".format, st.integers(0, 3)),
    st.builds("UPDATE customers SET level = level + 1 WHERE id <= {}".format, st.integers(0, 3)),
)
_ORDERS = st.lists(
    st.tuples(st.integers(0, 99), st.one_of(st.none(), st.integers(0, 4))), min_size=1, max_size=4
)


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.one_of(_TABLE_CHANGES, _ORDERS), min_size=1, max_size=12),
    created_at=st.integers(0, 12),
    residual=st.booleans(),
)
def test_each_stream_row_is_joined_with_the_table_at_its_tick(steps, created_at, residual):
    db = Database()
    db.execute(SETUP)
    condition = " AND c.level > 0" if residual else ""
    inner = (
        "SELECT o.id, o.cust, c.name, c.level FROM orders o "
        f"JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() AS c ON o.cust = c.id{condition}"
    )
    joined: list[tuple] = []  # the definition: each order with the table at its arrival
    table: dict[int, tuple[str, int]] = {}

    def lookup(orders):
        for order_id, cust in orders:
            row = table.get(cust)
            if row is not None and (not residual or row[1] > 0):
                joined.append((order_id, cust, *row))
            else:
                joined.append((order_id, cust, None, None))

    def create():
        db.execute(f"CREATE MATERIALIZED VIEW lookup_left AS {ENRICHED}{condition}")
        db.execute(f"CREATE MATERIALIZED VIEW lookup_inner AS {inner}")
        existing = [(r["id"], r["cust"]) for r in db.execute("SELECT * FROM orders").to_pylist()]
        lookup(existing)

    for position, step in enumerate(steps):
        if position == created_at:
            create()
        if isinstance(step, str):
            db.execute(step)
            table = {
                r["id"]: (r["name"], r["level"])
                for r in db.execute("SELECT * FROM customers").to_pylist()
            }
        else:
            db.execute(
                "INSERT INTO orders VALUES "
                + ", ".join(f"({i}, {'NULL' if c is None else c}, 1)" for i, c in step)
            )
            if position >= created_at:
                lookup(step)
        if position >= created_at:
            assert _rows(db, "lookup_left") == _expected(joined)
            assert _rows(db, "lookup_inner") == _expected(joined, inner=True)


def test_lookups_chain_and_read_a_stream_with_a_watermark():
    db = Database()
    db.execute(
        "CREATE TABLE clicks (ts TIMESTAMP, page INTEGER, WATERMARK FOR ts AS ts);"
        "CREATE TABLE pages (id INTEGER, site INTEGER);"
        "CREATE TABLE sites (id INTEGER, name VARCHAR);"
        "INSERT INTO pages VALUES (1, 10), (2, 20); INSERT INTO sites VALUES (10, 'x');"
        "CREATE MATERIALIZED VIEW per_site AS SELECT s.name, count(*) AS n FROM clicks c "
        "JOIN pages FOR SYSTEM_TIME AS OF PROCTIME() p ON c.page = p.id "
        "LEFT JOIN sites FOR SYSTEM_TIME AS OF PROCTIME() s ON p.site = s.id GROUP BY s.name;"
        "INSERT INTO clicks VALUES ('2024-01-01 00:00:01', 1), ('2024-01-01 00:00:02', 2);"
        "INSERT INTO sites VALUES (20, 'y'); DELETE FROM pages WHERE id = 1;"
        "INSERT INTO clicks VALUES ('2024-01-01 00:00:03', 2), ('2024-01-01 00:00:04', 1);"
    )
    assert _rows(db, "per_site") == [("x", 1), ("y", 1), (None, 1)]


@pytest.mark.parametrize(
    "sql, words",
    [
        ("SELECT * FROM customers FOR SYSTEM_TIME AS OF PROCTIME()", "to the right of a JOIN"),
        (
            (
                "SELECT * FROM orders o JOIN customers FOR SYSTEM_TIME AS OF now() c "
                "ON o.cust = c.id"
            ),
            "FOR SYSTEM_TIME AS OF CURRENT_TIMESTAMP: a temporal join looks",
        ),
        (
            "SELECT * FROM orders o JOIN customers FOR SYSTEM_TIME AS OF o.id c ON o.cust = c.id",
            "tidal has no versioned tables",
        ),
        (
            (
                "SELECT * FROM customers c JOIN orders FOR SYSTEM_TIME AS OF PROCTIME() o "
                "ON o.cust = c.id"
            ),
            "its left side must be insert-only",
        ),
        (
            (
                "SELECT * FROM orders o JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() c "
                "ON o.cust > c.id"
            ),
            "without an equality",
        ),
        (
            (
                "SELECT * FROM orders o FULL JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() c "
                "ON o.cust = c.id"
            ),
            "FULL JOIN ... FOR SYSTEM_TIME AS OF",
        ),
        (
            (
                "SELECT * FROM orders o ASOF JOIN customers FOR SYSTEM_TIME AS OF PROCTIME() c "
                "ON o.cust = c.id AND o.id >= c.level"
            ),
            "ASOF JOIN ... FOR SYSTEM_TIME AS OF",
        ),
    ],
)
def test_other_time_travel_is_refused_by_name(sql, words):
    db = Database()
    db.execute(SETUP)
    for statement in (sql, f"CREATE MATERIALIZED VIEW refused AS {sql}"):
        with pytest.raises(SqlError) as caught:
            db.execute(statement)
        assert caught.value.sqlstate == "0A000"
        assert words in caught.value.message, caught.value.message


def test_explain_says_only_the_table_is_kept():
    db = Database()
    db.execute(SETUP)
    lines = db.execute(f"EXPLAIN {ENRICHED}").column(0).to_pylist()
    assert "  TemporalJoin left keys=[cust = id] (lookup as of arrival)" in lines
    assert "    -- state: the table side, arranged by join key; none of the stream side" in lines
