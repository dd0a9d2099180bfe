"""The engine's counters (tidal.engine.telemetry): what ticks, sources and checkpoints count,
and that what is kept stays bounded."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.engine.telemetry import KEPT_ERRORS, KEPT_TICKS, TICK_BUCKETS, Telemetry


def test_ticks_fall_in_their_bucket_and_slow_ones_in_inf_only():
    telemetry = Telemetry()
    for tick, seconds in enumerate([0.0005, 0.001, 0.003, 60.0], start=1):
        telemetry.tick_done(tick, 0.0, seconds, 1, 1)
    assert telemetry.tick_buckets[0] == 2  # le 0.001 includes 0.001 itself
    assert telemetry.tick_buckets[TICK_BUCKETS.index(0.005)] == 1
    assert sum(telemetry.tick_buckets) == 3 and telemetry.tick_count == 4
    assert telemetry.tick_seconds == pytest.approx(60.0045)


def test_recent_ticks_and_errors_are_bounded():
    telemetry = Telemetry(clock=lambda: 5.0)
    for tick in range(1, KEPT_TICKS + 11):
        telemetry.tick_done(tick, float(tick), 0.001, 0, 0)
    for n in range(KEPT_ERRORS + 5):
        telemetry.source_error("s", None, f"f.csv:{n}: bad")
    assert len(telemetry.ticks) == KEPT_TICKS and telemetry.ticks[0].tick == 11
    assert telemetry.tick_started_at(11) == 11.0
    assert telemetry.tick_started_at(10) is None  # forgotten
    assert len(telemetry.errors) == KEPT_ERRORS
    assert telemetry.sources["s"].errors == KEPT_ERRORS + 5  # the count keeps them all
    assert telemetry.errors[-1].location == f"f.csv:{KEPT_ERRORS + 4}"


def test_a_problem_without_a_place():
    telemetry = Telemetry(clock=lambda: 5.0)
    telemetry.source_error("s", None, "cannot read 'x.csv'")
    problem = telemetry.errors[0]
    assert (problem.location, problem.problem, problem.at) == ("", "cannot read 'x.csv'", 5.0)


def test_statements_and_errors_by_sqlstate():
    telemetry = Telemetry()
    telemetry.connection_opened()
    telemetry.statement_ran()
    telemetry.statement_ran("42P01")
    telemetry.statement_ran("42P01")
    telemetry.connection_closed()
    clients = telemetry.clients
    assert (clients.connections, clients.queries, clients.errors) == (0, 3, {"42P01": 2})


def test_the_database_counts_polled_rows_and_ticks(tmp_path):
    (tmp_path / "a.csv").write_text("k\n1\n2\nx\n")
    db = Database(base_dir=tmp_path)
    db.execute(
        "CREATE SOURCE s (k INTEGER) WITH (connector = 'file', path = 'a.csv', format = 'csv')"
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n FROM s")
    db.catch_up()
    counts = db.telemetry.sources["s"]
    assert (counts.rows, counts.errors) == (2, 1)
    assert db.telemetry.tick_count == db.ticks == 1
    assert db.take_source_errors()  # still said to the server's stderr as before
    db.execute("DROP SOURCE s CASCADE")
    (tmp_path / "a.csv").write_text("k\n5\n")
    db.execute(
        "CREATE SOURCE s (k INTEGER) WITH (connector = 'file', path = 'a.csv', format = 'csv')"
    )
    assert db.execute("SELECT rows, errors FROM tidal_sources").to_pylist() == [
        {"rows": 1, "errors": 0}
    ]  # a new source counts from zero


def test_a_checkpoint_is_timed_and_sized(tmp_path):
    db = Database(tmp_path / "data")
    db.execute("CREATE TABLE t (k INTEGER)")
    db.execute("INSERT INTO t SELECT * FROM range(1000)")
    db.execute("CHECKPOINT")
    checkpoints = db.telemetry.checkpoints
    assert checkpoints.count >= 1
    assert checkpoints.last_bytes >= 1000 * 4  # the table's rows at least
    assert 0 < checkpoints.last_seconds < 60
    db.close()
