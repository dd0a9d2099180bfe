"""Set-returning functions in a select list: the values stay with the row they came from, in
views as in queries, and the column has PostgreSQL's name."""

from __future__ import annotations

from tidal.engine import Database


def rows(table) -> list[tuple]:
    return sorted(tuple(row.values()) for row in table.to_pylist())


def test_a_view_pairs_each_value_with_its_own_row_and_names_the_column():
    db = Database()
    db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (0), (1)")
    query = "SELECT x, generate_series(1, 2, x) FROM t"
    db.execute(f"CREATE MATERIALIZED VIEW mv AS {query}")
    assert [c.name for c in db.catalog.get("mv").columns] == ["x", "generate_series"]
    assert rows(db.read("mv")) == rows(db.execute(query)) == [(1, 1), (1, 2)]
    db.execute("INSERT INTO t VALUES (2); DELETE FROM t WHERE x = 1")
    assert rows(db.read("mv")) == rows(db.execute(query)) == [(2, 1)]


def test_a_series_longer_than_the_input_does_not_break_the_batch():
    db = Database()
    db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (0), (1)")
    db.execute("CREATE MATERIALIZED VIEW mv AS SELECT x, generate_series(1, 2) FROM t")
    assert rows(db.read("mv")) == [(0, 1), (0, 2), (1, 1), (1, 2)]


def test_batch_mode_gives_the_same_rows():
    db = Database(batch_mode=True)
    db.execute("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (0), (1), (3)")
    db.execute("CREATE MATERIALIZED VIEW mv AS SELECT x, unnest(ARRAY[x, -x]) AS v FROM t")
    assert rows(db.execute("SELECT * FROM mv")) == [
        (0, 0),
        (0, 0),
        (1, -1),
        (1, 1),
        (3, -3),
        (3, 3),
    ]
