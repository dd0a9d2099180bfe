"""The postgres sink against a real PostgreSQL: the target table follows the view, each tick once."""

from __future__ import annotations

import pyarrow as pa
import pytest

from tidal.catalog.objects import Sink
from tidal.engine import Database
from tidal.engine.connectors import open_sink
from tidal.sql.errors import SqlError

VIEW = "SELECT owner, count(*) AS n, sum(amount) AS total FROM accounts GROUP BY owner"


@pytest.fixture
def db():
    database = Database()
    database.execute("CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner VARCHAR, amount BIGINT)")
    database.execute(f"CREATE MATERIALIZED VIEW by_owner AS {VIEW}")
    yield database
    database.close()


def sink_sql(pg, name: str = "out", source: str = "by_owner", **options: str) -> str:
    written = {"connector": "postgres", "url": pg.url, "table": "by_owner_out", **options}
    listed = ", ".join(f"{k} = '{v}'" for k, v in written.items())
    return f"CREATE SINK {name} FROM {source} WITH ({listed})"


def target(pg) -> list[tuple]:
    return sorted(pg.execute("SELECT owner, n, total FROM by_owner_out"))


def view(db: Database) -> list[tuple]:
    return sorted(tuple(r.values()) for r in db.execute("SELECT * FROM by_owner").to_pylist())


def test_upsert_sink_follows_the_view_through_inserts_updates_and_deletes(db, postgres):
    postgres.execute("CREATE TABLE by_owner_out (owner text PRIMARY KEY, n bigint, total numeric)")
    db.execute("INSERT INTO accounts VALUES (1, 'a', 10), (2, 'b', 20)")
    db.execute(sink_sql(postgres, type="upsert"))
    db.tick()  # the sink's first rows are published by the next tick
    assert target(postgres) == view(db)
    db.execute("INSERT INTO accounts VALUES (3, 'a', 5), (4, 'c', 1)")
    db.execute("UPDATE accounts SET owner = 'c' WHERE id = 2")  # b disappears: a delete
    assert target(postgres) == view(db) == [("a", 2, 15), ("c", 2, 21)]
    db.execute("DELETE FROM accounts")
    assert target(postgres) == []
    progress = postgres.execute("SELECT sink, tick FROM tidal_sink_progress")
    assert progress == [("out", db.ticks)]


def test_append_only_sink_inserts_every_row_and_refuses_retractions(db, postgres):
    postgres.execute("CREATE TABLE by_owner_out (owner text, n bigint, total numeric)")
    db.execute(
        "CREATE MATERIALIZED VIEW big AS SELECT owner, id AS n, amount AS total FROM accounts"
    )
    db.execute(sink_sql(postgres, source="big", type="append-only"))
    db.execute("INSERT INTO accounts VALUES (1, 'a', 10), (2, 'a', 10)")
    assert target(postgres) == [("a", 1, 10), ("a", 2, 10)]
    with pytest.raises(Exception, match="append-only sink cannot"):
        db.execute("DELETE FROM accounts WHERE id = 1")
    assert db.execute("SELECT count(*) AS c FROM accounts").to_pylist() == [{"c": 2}]
    db.execute("DROP SINK out")
    db.execute(
        sink_sql(
            postgres, name="forced", source="big", type="append-only", force_append_only="true"
        )
    )
    db.execute("DELETE FROM accounts WHERE id = 1")
    db.execute("INSERT INTO accounts VALUES (3, 'b', 1)")
    assert ("b", 3, 1) in target(postgres)


def test_a_tick_published_before_a_crash_is_not_applied_again(postgres, tmp_path):
    postgres.execute("CREATE TABLE by_owner_out (owner text PRIMARY KEY, n bigint, total numeric)")
    schema = pa.schema([("owner", pa.string()), ("n", pa.int64()), ("total", pa.int64())])
    sink = Sink(
        "s",
        "v",
        (
            ("connector", "postgres"),
            ("url", postgres.url),
            ("table", "by_owner_out"),
            ("type", "upsert"),
        ),
    )

    def change(owner: str, n: int, weight: int) -> pa.Table:
        return pa.table(
            {"owner": [owner], "n": [n], "total": [n], "__weight": pa.array([weight], pa.int64())}
        )

    writer = open_sink(sink, schema, ["owner"], tmp_path)
    writer.validate()
    state = writer.commit()  # as a checkpoint keeps it
    writer.write(change("a", 1, 1), 1)
    writer.write(change("b", 1, 1), 2)
    writer.publish()
    writer.close()
    # After the crash, recovery runs ticks 1 and 2 again (from the log) and then tick 3.
    again = open_sink(sink, schema, ["owner"], tmp_path)
    again.restore(state)
    again.write(change("a", 1, 1), 1)
    again.write(change("b", 1, 1), 2)
    again.write(change("b", 1, -1), 3)
    again.publish()
    assert target(postgres) == [("a", 1, 1)]
    # A new run (no data directory: nothing restored) writes everything again.
    fresh = open_sink(sink, schema, ["owner"], tmp_path)
    fresh.write(change("z", 9, 1), 1)
    fresh.publish()
    assert target(postgres) == [("a", 1, 1), ("z", 9, 9)]
    again.close()
    fresh.close()


def test_ticks_that_cannot_be_written_wait_and_are_written_later(db, postgres):
    postgres.execute("CREATE TABLE by_owner_out (owner text PRIMARY KEY, n bigint, total numeric)")
    db.execute(sink_sql(postgres, type="upsert"))
    postgres.execute("ALTER TABLE by_owner_out RENAME TO away")
    db.execute("INSERT INTO accounts VALUES (1, 'a', 10)")
    db.execute("INSERT INTO accounts VALUES (2, 'b', 20)")
    errors = db.take_source_errors()
    assert any("kept for the next try" in e for e in errors), errors
    assert view(db) == [("a", 1, 10), ("b", 1, 20)]  # the ticks stand
    postgres.execute("ALTER TABLE away RENAME TO by_owner_out")
    db.tick()
    assert target(postgres) == view(db)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"type": "upsert", "table": "nowhere"}, "does not exist"),
        ({"type": "sideways"}, "type = 'sideways' is not supported"),
        ({"type": "upsert", "url": "mysql://x"}, "postgresql://"),
        ({"type": "upsert", "primary_key": "nope"}, "primary_key column nope"),
        ({"type": "upsert", "colour": "red"}, "'colour' does not apply here"),
    ],
)
def test_mistakes_are_refused_at_create(db, postgres, options, message):
    postgres.execute("CREATE TABLE by_owner_out (owner text PRIMARY KEY, n bigint, total numeric)")
    with pytest.raises(SqlError, match=message):
        db.execute(sink_sql(postgres, **options))
    assert "out" not in db.catalog


def test_upsert_needs_a_key(db, postgres):
    postgres.execute("CREATE TABLE by_owner_out (owner text, n bigint, total numeric)")
    db.execute(
        "CREATE MATERIALIZED VIEW plain AS SELECT owner, amount AS n, amount AS total FROM accounts"
    )
    with pytest.raises(SqlError, match="needs a key"):
        db.execute(sink_sql(postgres, source="plain", type="upsert"))


def test_a_target_column_that_cannot_hold_the_view_s_values_is_refused(db, postgres):
    postgres.execute("CREATE TABLE by_owner_out (owner text PRIMARY KEY, n integer, total numeric)")
    with pytest.raises(SqlError, match="integer") as error:
        db.execute(sink_sql(postgres, type="upsert"))
    assert "n" in str(error.value)
