"""The tidal_* system relations from the embedded Database: each column against what the
engine knows, joins with user relations, and every way to change them refused."""

from __future__ import annotations

import datetime
import json

import pytest

from tidal.catalog import CatalogError
from tidal.engine import Database
from tidal.engine.connectors import SINK_CONNECTORS, ConnectorError, SinkWriter
from tidal.engine.dataflow import Dataflow
from tidal.sql.errors import SqlError

CSV = "id,amount\n1,10\n2,oops\n3,30\n4,40\n"


@pytest.fixture
def db(tmp_path):
    (tmp_path / "pay.csv").write_text(CSV)
    db = Database(base_dir=tmp_path)
    db.execute(
        "CREATE SOURCE pay (id INTEGER, amount INTEGER) "
        "WITH (connector = 'file', path = 'pay.csv', format = 'csv')"
    )
    db.execute(
        "CREATE MATERIALIZED VIEW pay_total AS SELECT count(*) AS n, sum(amount) AS s FROM pay"
    )
    yield db
    db.close()


def test_sources_count_rows_bytes_and_bad_records(db):
    rows = db.execute("SELECT * FROM tidal_sources").to_pylist()
    assert len(rows) == 1
    source = rows[0]
    assert (source["name"], source["kind"], source["connector"]) == ("pay", "source", "file")
    assert source["rows"] == 3  # 4 lines, one bad
    assert source["errors"] == 1
    assert source["bytes"] == db.read("pay").nbytes  # the rows read, as Arrow
    assert source["watermark"] is None and source["lag_seconds"] is None


def test_source_errors_say_where_and_what(db):
    db.catch_up()
    (error,) = db.execute("SELECT * FROM tidal_source_errors").to_pylist()
    assert error["source"] == "pay"
    assert error["location"] == "pay.csv:3"
    assert "oops" in error["problem"]
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert abs((now - error["at"]).total_seconds()) < 60


def test_a_join_with_a_user_view_sees_the_same_tick(db):
    joined = db.execute(
        "SELECT s.rows, t.n FROM tidal_sources s JOIN pay_total t ON s.rows = t.n"
    ).to_pylist()
    assert joined == [{"rows": 3, "n": 3}]


def test_views_state_rows_as_the_dataflow_counts_them(db):
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute("CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS c FROM t GROUP BY k")
    db.execute("CREATE VIEW plain AS SELECT k FROM t")
    db.execute("INSERT INTO t VALUES (1), (2), (2), (3)")
    views = {r["name"]: r for r in db.execute("SELECT * FROM tidal_views").to_pylist()}
    assert set(views) == {"pay_total", "per_k", "plain"}
    assert views["per_k"]["state_rows"] == db.stats()["per_k"].state_rows
    assert views["per_k"]["state_rows"] >= 3  # one group per key at least
    assert views["per_k"]["state_bytes"] > 0
    assert views["plain"]["materialized"] is False
    assert views["plain"]["state_rows"] is None
    assert views["plain"]["definition"] == "SELECT k FROM t"


def test_ticks_keep_rows_in_and_out(tmp_path):
    db = Database(clock=lambda: 1_800_000_000.0)
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute("CREATE MATERIALIZED VIEW f AS SELECT k FROM t WHERE k > 1")
    db.execute("INSERT INTO t VALUES (1), (2), (3)")
    db.execute("DELETE FROM t WHERE k = 3")
    ticks = db.execute("SELECT * FROM tidal_ticks ORDER BY tick").to_pylist()
    assert [t["tick"] for t in ticks] == [1, 2] == list(range(1, db.ticks + 1))
    assert [(t["rows_in"], t["rows_out"]) for t in ticks] == [(3, 2), (1, 1)]
    assert ticks[0]["started_at"] == datetime.datetime(2027, 1, 15, 8, 0)
    assert all(t["seconds"] > 0 for t in ticks)


def test_watermark_and_lag_follow_the_clock():
    clock = [1_800_000_000.0]  # 2027-01-15 08:00:00 UTC
    db = Database(clock=lambda: clock[0])
    (
        db.execute(
            "CREATE TABLE e (ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND) "
            "WITH (connector = 'datagen', 'number-of-rows' = '1', "
            "'fields.ts.min' = '2027-01-15 07:59:00', 'fields.ts.max' = '2027-01-15 07:59:00')"
        )
    )
    db.catch_up()
    clock[0] += 10
    (source,) = db.execute("SELECT * FROM tidal_sources").to_pylist()
    assert source["watermark"] == datetime.datetime(2027, 1, 15, 7, 58, 55)
    assert source["lag_seconds"] == pytest.approx(65 + 10)
    assert source["kind"] == "table" and source["rows"] == 1


def test_sinks_count_the_rows_written(db, tmp_path):
    db.execute(
        "CREATE SINK out FROM pay_total WITH (connector = 'file', path = 'out.jsonl', "
        "format = 'jsonl')"
    )
    db.catch_up()
    (tmp_path / "pay.csv").write_text(CSV + "5,50\n")
    db.catch_up()
    (sink,) = db.execute("SELECT * FROM tidal_sinks").to_pylist()
    written = (tmp_path / "out.jsonl").read_text().splitlines()
    assert sink["rows"] == len(written) == 3  # the total, then its retraction and new value
    assert [json.loads(line)["n"] for line in written] == [3, 3, 4]
    assert sink["last_tick"] == db.ticks
    assert (sink["connector"], sink["staged_ticks"], sink["lag_seconds"]) == ("file", 0, 0.0)


def test_read_fresh_not_from_a_snapshot():
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER)")
    before = db.execute("SELECT count(*) AS n FROM tidal_ticks").to_pylist()
    db.execute("INSERT INTO t VALUES (1)")
    after = db.execute("SELECT count(*) AS n FROM tidal_ticks").to_pylist()
    assert (before, after) == ([{"n": 0}], [{"n": 1}])


@pytest.mark.parametrize(
    ("statement", "error", "sqlstate", "says"),
    [
        ("INSERT INTO tidal_sources (name) VALUES ('x')", SqlError, "42809", "system relation"),
        ("DELETE FROM tidal_ticks", SqlError, "42809", "system relation"),
        ("UPDATE tidal_views SET name = 'x'", SqlError, "42809", "system relation"),
        ("CREATE TABLE tidal_ticks (a INTEGER)", CatalogError, "42P07", "choose another name"),
        ("DROP TABLE tidal_ticks", SqlError, "42809", "system relation"),
        (
            "CREATE MATERIALIZED VIEW m AS SELECT count(*) FROM tidal_ticks",
            CatalogError,
            "0A000",
            "query them directly",
        ),
        (
            "CREATE SINK k FROM tidal_sinks WITH (connector = 'blackhole')",
            CatalogError,
            "0A000",
            "query them directly",
        ),
    ],
)
def test_changing_them_is_refused(statement, error, sqlstate, says):
    db = Database()
    with pytest.raises(error, match=says) as raised:
        db.execute(statement)
    assert raised.value.sqlstate == sqlstate


def test_a_plain_view_may_read_them_a_materialized_one_over_it_may_not():
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute("CREATE VIEW slow AS SELECT tick FROM tidal_ticks WHERE seconds >= 0")
    db.execute("INSERT INTO t VALUES (1)")
    assert db.execute("SELECT * FROM slow").to_pylist() == [{"tick": 1}]
    with pytest.raises(CatalogError, match="tidal_ticks"):
        db.execute("CREATE MATERIALIZED VIEW m AS SELECT * FROM slow")


@pytest.mark.skipif(
    not hasattr(Dataflow, "operator_stats"), reason="Dataflow.operator_stats not merged yet"
)
def test_operators_of_every_view():
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute("CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS c FROM t GROUP BY k")
    db.execute("INSERT INTO t VALUES (1), (2), (2)")
    rows = db.execute("SELECT * FROM tidal_operators").to_pylist()
    assert {r["view"] for r in rows} == {"per_k"}
    stats = db.relations.views["per_k"].dataflow.operator_stats()
    assert [r["operator"] for r in rows] == [s.operator for s in stats]
    assert sum(r["state_rows"] or 0 for r in rows) == db.stats()["per_k"].state_rows


class StagingWriter(SinkWriter):
    """A sink that stages (as Kafka's and PostgreSQL's do) and publishes when ``up``."""

    stages = True

    def __init__(self, *_) -> None:
        self.staged: list = []
        self.up = False

    def write(self, changes, tick: int) -> None:
        self.staged.append((tick, changes))

    def publish(self) -> None:
        if not self.up:
            raise ConnectorError("sink out: the outside is down")
        self.staged.clear()


def test_a_staging_sink_shows_its_ticks_waiting_and_their_age(monkeypatch):
    writers = []
    monkeypatch.setitem(
        SINK_CONNECTORS, "staging", lambda *a: writers.append(StagingWriter()) or writers[-1]
    )
    clock = [1_800_000_000.0]
    db = Database(clock=lambda: clock[0])
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute("CREATE SINK out FROM t WITH (connector = 'staging')")
    db.execute("INSERT INTO t VALUES (1), (2)")
    clock[0] += 5
    db.execute("INSERT INTO t VALUES (3)")
    clock[0] += 2
    (sink,) = db.execute("SELECT * FROM tidal_sinks").to_pylist()
    assert (sink["rows"], sink["last_tick"], sink["staged_ticks"]) == (3, 2, 2)
    assert sink["lag_seconds"] == pytest.approx(7.0)  # the oldest staged tick started 7 s ago
    writers[0].up = True
    db.execute("INSERT INTO t VALUES (4)")
    (sink,) = db.execute("SELECT staged_ticks, lag_seconds FROM tidal_sinks").to_pylist()
    assert sink == {"staged_ticks": 0, "lag_seconds": 0.0}


def test_prepared_statements_and_transactions_read_them_too():
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute("INSERT INTO t VALUES (1)")
    newest = db.prepare("SELECT tick FROM tidal_ticks WHERE tick >= $1", ["BIGINT"])
    assert newest.run([1]).to_pylist() == [{"tick": 1}]
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (2)")
    inside = db.execute("SELECT count(*) AS n FROM tidal_ticks").to_pylist()
    db.execute("COMMIT")
    assert inside == [{"n": 1}]  # the block's insert is not a tick until COMMIT
    assert newest.run([1]).to_pylist() == [{"tick": 1}, {"tick": 2}]
