"""Primary keys in the engine: conflict resolution on every column type, prepared upserts,
upserts seen by subscribers and sinks, and a failed statement changing nothing."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from tidal.catalog.objects import CONFLICT_UPDATE_IF_NOT_NULL, Column, Table
from tidal.engine import Database
from tidal.engine.primary_keys import KeyViolation, resolve_insert, rows_with_keys
from tidal.engine.zset import WEIGHT
from tidal.sql.dml import Conflict


@pytest.fixture
def db():
    database = Database()
    yield database
    database.close()


def _rows(db: Database, sql: str) -> list[tuple]:
    return [tuple(r.values()) for r in db.execute(sql).to_pylist()]


def test_do_update_if_not_null_merges_every_column_type():
    """Each column's last non-NULL value wins, whatever its Arrow type (decimals and
    intervals have no 'last' aggregate in Arrow)."""
    columns = (
        Column("k", "INTEGER", False),
        Column("d", "DECIMAL(6,2)"),
        Column("i", "INTERVAL"),
        Column("ts", "TIMESTAMP"),
        Column("s", "VARCHAR"),
    )
    table = Table("t", columns, primary_key=("k",))
    schema = table.arrow_schema()
    held = pa.Table.from_pylist(
        [{"k": 1, "d": Decimal("1.50"), "i": None, "ts": dt.datetime(2026, 1, 1), "s": "a"}],
        schema=schema,
    )
    proposed = pa.Table.from_pylist(
        [
            {"k": 1, "d": None, "i": pa.MonthDayNano([0, 1, 0]), "ts": None, "s": None},
            {"k": 1, "d": Decimal("2.25"), "i": None, "ts": None, "s": None},
            {"k": 2, "d": None, "i": None, "ts": None, "s": "new"},
        ],
        schema=schema,
    )
    resolved = resolve_insert(
        table, proposed, Conflict(CONFLICT_UPDATE_IF_NOT_NULL), lambda keys: held, None
    )
    assert resolved.deletions.to_pylist() == held.to_pylist()
    merged = sorted(resolved.insertions.to_pylist(), key=lambda r: r["k"])
    assert [(r["k"], r["d"], r["ts"], r["s"]) for r in merged] == [
        (1, Decimal("2.25"), dt.datetime(2026, 1, 1), "a"),
        (2, None, None, "new"),
    ]
    assert merged[0]["i"] == pa.MonthDayNano([0, 1, 0])
    assert resolved.count == 3


def test_rows_with_keys_sums_the_appended_changes():
    """A key inserted, deleted and inserted again is held once; a deleted one not at all."""
    changes = pa.table(
        {
            "c0": pa.array([1, 2, 1, 1, 3], pa.int64()),
            "c1": pa.array(["x", "y", "x", "z", "w"]),
            WEIGHT: pa.array([1, 1, -1, 1, 1], pa.int64()),
        }
    )
    found = rows_with_keys(changes, [0], pa.table({"k": pa.array([1, 2, 9], pa.int64())}))
    assert sorted(found.to_pylist(), key=lambda r: r["c0"]) == [
        {"c0": 1, "c1": "z", WEIGHT: 1},
        {"c0": 2, "c1": "y", WEIGHT: 1},
    ]


def test_composite_keys_match_whole_keys_only():
    changes = pa.table(
        {
            "c0": pa.array([1, 1, 2], pa.int64()),
            "c1": pa.array(["x", "y", "x"]),
            WEIGHT: pa.array([1, 1, 1], pa.int64()),
        }
    )
    sought = pa.table({"a": pa.array([1, 2], pa.int64()), "b": pa.array(["y", "y"])})
    assert rows_with_keys(changes, [0, 1], sought).to_pylist() == [{"c0": 1, "c1": "y", WEIGHT: 1}]


def test_a_key_violation_changes_nothing_anywhere(db):
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    db.execute("CREATE MATERIALIZED VIEW s AS SELECT sum(v) AS total FROM t")
    db.execute("INSERT INTO t VALUES (1, 10)")
    ticks = db.tick_loop.ticks
    with pytest.raises(KeyViolation) as error:
        db.execute("INSERT INTO t VALUES (2, 20), (3, 30), (1, 5)")
    assert error.value.sqlstate == "23505"
    assert db.tick_loop.ticks == ticks  # no tick ran
    assert _rows(db, "SELECT * FROM s") == [(10,)]
    assert _rows(db, "SELECT * FROM t") == [(1, 10)]


def test_an_upsert_is_one_tick_of_a_retraction_and_an_insertion(db):
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 10), (2, 20)")
    subscription = db.subscribe("t", snapshot=False)
    ticks = db.tick_loop.ticks
    db.execute("INSERT INTO t VALUES (1, 11), (3, 30) ON CONFLICT (k) DO UPDATE SET v = excluded.v")
    assert db.tick_loop.ticks == ticks + 1
    updates = [u for u in subscription.next(timeout=5) if u.rows is not None]
    assert [u.tick for u in updates] == [ticks + 1]
    got = sorted((r["k"], r["v"], r["diff"]) for r in updates[0].rows.to_pylist())
    assert got == [(1, 10, -1), (1, 11, 1), (3, 30, 1)]
    subscription.close()


def test_prepared_upserts_take_parameters_in_values_and_set(db):
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    upsert = db.prepare(
        "INSERT INTO t VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = t.v + excluded.v * $3",
        ["INTEGER", "INTEGER", "INTEGER"],
    )
    assert str(upsert.run([1, 5, 10])) == "INSERT 0 1"
    assert str(upsert.run([1, 2, 10])) == "INSERT 0 1"
    assert str(upsert.run([2, 7, 0])) == "INSERT 0 1"
    assert _rows(db, "SELECT * FROM t ORDER BY k") == [(1, 25), (2, 7)]
    with pytest.raises(KeyViolation):
        db.prepare("INSERT INTO t VALUES ($1, 0)", ["INTEGER"]).run([2])


def test_a_sink_of_a_keyed_table_upserts_by_its_key(db, tmp_path):
    db.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER)")
    path = tmp_path / "t.jsonl"
    db.execute(
        f"CREATE SINK out FROM t WITH (connector = 'file', path = '{path}', format = 'jsonl', "
        "mode = 'upsert')"
    )
    db.execute("INSERT INTO t VALUES (1, 10)")
    db.execute("INSERT OR REPLACE INTO t VALUES (1, 11)")
    db.execute("DELETE FROM t")
    db.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(line["op"], line["k"], line["v"]) for line in lines] == [
        ("upsert", 1, 10),
        ("upsert", 1, 11),
        ("delete", 1, 11),
    ]
