"""A change a view cannot process (division by zero, overflow) fails and changes nothing.

The statement raises DataError; every table and view keeps its rows; the views are still
maintained correctly afterwards. The property test also checks *when* tidal refuses: exactly
when DuckDB, running the view's SQL over the changed tables, raises an error.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tidal.engine.errors import DataError

from .harness import Session
from .profiles import PROFILE
from .reference import assert_same_rows
from .schema import changes

ROW = "(1, 'a', {v}, 1.5, 2.25, TIMESTAMP '2024-01-01 00:00:00', true)"


def _insert(*vs: int) -> str:
    return "INSERT INTO t1 VALUES " + ", ".join(ROW.format(v=v) for v in vs)


def _assert_unchanged(before: dict[str, pa.Table], after: dict[str, pa.Table]) -> None:
    assert before.keys() == after.keys()
    for name, rows in before.items():
        assert_same_rows(after[name], rows, False, f"{name} after the failed statement")


def _fails_and_changes_nothing(session: Session, statement: str, *fragments: str) -> None:
    before = session.contents()
    with pytest.raises(DataError) as error:
        session.db.execute(statement)
    message = str(error.value).lower()
    assert all(f in message for f in fragments), message
    _assert_unchanged(before, session.contents())
    session.check(f"after the failed {statement}")


@pytest.fixture
def session():
    session = Session(("t1", "t2"))
    yield session
    session.close()


def test_insert_dividing_by_zero_fails_and_changes_nothing(session):
    session.create_view("q", "SELECT k, 100 / v AS q FROM t1", True, False)
    session.create_view("s", "SELECT g, sum(v) AS s, count(*) AS n FROM t1 GROUP BY g", True, False)
    session.both(_insert(5, 4))
    _fails_and_changes_nothing(session, _insert(2, 0, 1), "by zero")
    session.both(_insert(2, 1))
    session.check("after the next insert")


def test_update_making_a_group_fail_changes_nothing(session):
    session.create_view(
        "x", "SELECT g, 10 / (count(*) - 2) AS x, min(v) AS mn FROM t1 GROUP BY g", True, False
    )
    session.both(_insert(1, 2, 3))
    _fails_and_changes_nothing(session, "DELETE FROM t1 WHERE v = 3", "by zero")
    _fails_and_changes_nothing(session, "UPDATE t1 SET g = 'b' WHERE v = 3", "by zero")
    session.both("DELETE FROM t1 WHERE v >= 2")
    session.check("after a delete that leaves one row")


def test_overflow_in_a_join_fails_and_changes_nothing(session):
    session.create_view(
        "j", "SELECT t1.k, t1.v * t2.w AS p FROM t1 JOIN t2 ON t1.k = t2.k", True, False
    )
    session.create_view(
        "c", "SELECT k, CAST(v AS INTEGER) * 1000000000 AS big FROM t1", True, False
    )
    session.both(_insert(1, 2))
    session.both("INSERT INTO t2 VALUES (1, 'x', 10)")
    _fails_and_changes_nothing(
        session, "INSERT INTO t2 VALUES (1, 'y', 9223372036854775807)", "overflow"
    )
    _fails_and_changes_nothing(session, "UPDATE t1 SET v = 3 WHERE v = 2", "overflow")
    session.both("INSERT INTO t2 VALUES (1, 'y', 20)")
    session.check("after a join insert that fits")


def test_failure_in_a_view_on_a_view_undoes_the_first_view(session):
    session.create_view("kept", "SELECT k, v FROM t1 WHERE b", True, False)
    session.create_view("inverse", "SELECT k, 60 / v AS q FROM kept", True, False)
    session.both(_insert(3))
    _fails_and_changes_nothing(session, _insert(0), "by zero")
    session.both(_insert(6))
    session.check("after the next insert")


def test_view_whose_backfill_fails_is_not_created(session):
    session.both(_insert(0, 1))
    before = session.contents()
    with pytest.raises(DataError, match="(?i)by zero"):
        session.db.execute("CREATE MATERIALIZED VIEW bad AS SELECT 100 / v AS q FROM t1")
    assert session.db.catalog.find("bad") is None
    _assert_unchanged(before, session.contents())
    session.both("DELETE FROM t1 WHERE v = 0")
    session.create_view("bad", "SELECT 100 / v AS q FROM t1", True, False)
    session.check("after creating the view once the data allows it")


# Views that fail on some of the generated data: a zero divisor, an INTEGER overflow, a group
# of exactly two rows, a zero weight in a join.
FALLIBLE = [
    "SELECT k, 100 / v AS q FROM t1",
    "SELECT g, sum(v) AS s, 10 / (count(*) - 2) AS x FROM t1 GROUP BY g",
    "SELECT g, 100 / min(v) AS q FROM t1 GROUP BY g",
    "SELECT t1.k, t1.v * 1000 / t2.w AS r FROM t1 JOIN t2 ON t1.k = t2.k",
    "SELECT k, v * 1000000000 AS big FROM t1",
]


def _reference_accepts(session: Session, statement: str) -> bool:
    """Whether DuckDB can still compute every view after ``statement`` (if not, it is undone)."""
    reference = session.reference
    reference.execute("BEGIN TRANSACTION")
    reference.execute(statement)
    try:
        for view in session.views:
            reference.query(f"SELECT * FROM {view.name}")
    except duckdb.Error:
        reference.execute("ROLLBACK")
        return False
    reference.execute("COMMIT")
    return True


@pytest.mark.slow
@pytest.mark.parametrize(
    "view", FALLIBLE, ids=["divide", "group_of_two", "min_divisor", "join_divisor", "overflow"]
)
@PROFILE
@given(data=st.data())
def test_tidal_refuses_exactly_what_duckdb_cannot_compute(view, data):
    statements = data.draw(
        st.lists(st.sampled_from(["t1", "t2"]).flatmap(changes), min_size=1, max_size=8),
        label="statements",
    )
    session = Session(("t1", "t2"))
    try:
        session.create_view("v", view, True, False)
        for statement in statements:
            before = session.contents()
            accepted = _reference_accepts(session, statement)
            try:
                session.db.execute(statement)
            except DataError:
                assert not accepted, f"tidal refused {statement!r}, which DuckDB computes"
                _assert_unchanged(before, session.contents())
            else:
                assert accepted, f"tidal accepted {statement!r}, on which DuckDB fails"
            session.check(f"after {statement}")
    finally:
        session.close()
