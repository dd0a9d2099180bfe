"""A cancelled statement stops at its next check and changes nothing (tidal.engine.cancellation)."""

from __future__ import annotations

import threading

import pytest

from tidal.engine import Database
from tidal.engine.cancellation import (
    STATEMENT_TIMEOUT,
    Cancellation,
    QueryCanceled,
    current_cancellation,
)
from tidal.engine.operators.project import ProjectOperator


@pytest.fixture
def db():
    db = Database()
    db.execute("CREATE TABLE t (k VARCHAR, v INTEGER)")
    db.execute("INSERT INTO t VALUES ('a', 1), ('b', 2)")
    db.execute("CREATE MATERIALIZED VIEW totals AS SELECT k, sum(v) AS total FROM t GROUP BY k")
    return db


@pytest.fixture
def cancel_in_a_step(monkeypatch):
    """Cancel the running statement from inside its first projection's step, as a
    CancelRequest arriving in the middle of its work would."""
    switch = Cancellation()
    step = ProjectOperator.step

    def cancelling_step(self, inputs):
        if current_cancellation() is switch:
            switch.cancel(STATEMENT_TIMEOUT)
        return step(self, inputs)

    monkeypatch.setattr(ProjectOperator, "step", cancelling_step)
    return switch


def totals(db) -> list[dict]:
    return db.execute("SELECT * FROM totals ORDER BY k").to_pylist()


def test_a_cancelled_backfill_creates_nothing(db, cancel_in_a_step):
    with cancel_in_a_step.scope(), pytest.raises(QueryCanceled, match="statement timeout"):
        db.execute("CREATE MATERIALIZED VIEW doubled AS SELECT k, v * 2 AS w, v + 1 AS u FROM t")
    assert "doubled" not in db.catalog
    db.execute("CREATE MATERIALIZED VIEW doubled AS SELECT k, v * 2 AS w FROM t")  # free again
    assert db.execute("SELECT w FROM doubled ORDER BY w").column("w").to_pylist() == [2, 4]


def test_a_cancelled_change_is_undone(db, cancel_in_a_step):
    db.execute("CREATE MATERIALIZED VIEW scaled AS SELECT k, v * 10 AS w FROM t")
    before = totals(db), db.ticks
    with cancel_in_a_step.scope(), pytest.raises(QueryCanceled):
        db.execute("INSERT INTO t VALUES ('a', 5), ('c', 7)")
    assert (totals(db), db.ticks) == before
    assert db.execute("SELECT count(*) AS n FROM t").column("n").to_pylist() == [2]


def test_a_statement_waiting_for_the_engine_stops_waiting():
    db = Database()
    db.execute("CREATE TABLE t (v INTEGER)")
    switch, outcome = Cancellation(), []

    def insert() -> None:
        with switch.scope():
            try:
                db.execute("INSERT INTO t VALUES (1)")
                outcome.append("inserted")
            except QueryCanceled as error:
                outcome.append(error.sqlstate)

    with db.tick_loop.exclusive():  # another statement holds the engine meanwhile
        waiting = threading.Thread(target=insert)
        waiting.start()
        waiting.join(0.3)
        assert waiting.is_alive()  # it waits for the lock
        switch.cancel()
        waiting.join(10)
        assert outcome == ["57014"]
    assert db.execute("SELECT count(*) AS n FROM t").column("n").to_pylist() == [0]


def test_a_statement_cancelled_before_it_starts_does_not_start(db):
    switch = Cancellation()
    switch.cancel()
    with pytest.raises(QueryCanceled), switch.scope():
        db.execute("INSERT INTO t VALUES ('z', 9)")
    assert db.execute("SELECT count(*) AS n FROM t").column("n").to_pylist() == [2]


def test_a_cancel_after_the_statement_is_too_late(db):
    switch = Cancellation()
    with switch.scope():
        db.execute("INSERT INTO t VALUES ('z', 9)")
    switch.cancel()  # as in PostgreSQL, the statement that finished stands
    assert {"k": "z", "total": 9} in totals(db)
