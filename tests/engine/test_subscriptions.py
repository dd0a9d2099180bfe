"""Subscriptions: snapshot + changes fold up to the view, progress, AS OF resume, backpressure,
ends (drop, stall, overflow), errors, and the background ticker."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidal.engine import Database
from tidal.engine.subscriptions import Subscription, Update
from tidal.engine.ticker import Ticker
from tidal.sql import SqlError

Rows = dict[tuple, int]


def fold(updates: list[Update], into: Rows | None = None) -> Rows:
    """Sum of diffs per row."""
    into = dict(into or {})
    for update in updates:
        if update.progress:
            continue
        assert update.rows.column_names[-1] == "diff"
        data = update.rows.drop_columns(["diff"]).to_pylist()
        for row, diff in zip(data, update.rows.column("diff").to_pylist()):
            assert diff in (1, -1)
            key = tuple(row.values())
            into[key] = into.get(key, 0) + diff
            if into[key] == 0:
                del into[key]
    return into


def contents(db: Database, name: str) -> Rows:
    """``db.read(name)`` as a count per row."""
    table = db.read(name)
    return fold([Update(0, table.append_column("diff", pa.array([1] * table.num_rows)))])


def data_log(updates: list[Update]) -> list[tuple[int, list]]:
    return [(u.tick, sorted(map(str, u.rows.to_pylist()))) for u in updates if not u.progress]


def wait_until(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


def make_db() -> Database:
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    db.execute("CREATE TABLE other (x INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW agg AS SELECT k, count(*) AS n, sum(v) AS total FROM t GROUP BY k"
    )
    db.execute("CREATE MATERIALIZED VIEW pos AS SELECT k, v FROM t WHERE v >= 0")
    return db


@pytest.fixture
def db() -> Database:
    db = make_db()
    yield db
    db.close()


# --- folding up to the view, at every tick, over random DML ---------------------------------------

KEYS = st.integers(0, 3)
OPS = st.one_of(
    st.tuples(
        st.just("insert"), st.lists(st.tuples(KEYS, st.integers(-2, 2)), min_size=1, max_size=4)
    ),
    st.tuples(st.just("delete"), KEYS),
    st.tuples(st.just("update"), KEYS, st.integers(-2, 2)),
    st.tuples(st.just("other")),  # a tick that does not change t
    st.tuples(st.just("subscribe"), st.sampled_from(["t", "agg", "pos"]), st.booleans()),
    st.tuples(st.just("disconnect")),
    st.tuples(st.just("resume")),
)


def run_dml(db: Database, op: tuple) -> None:
    if op[0] == "insert":
        db.execute("INSERT INTO t VALUES " + ", ".join(f"({k}, {v})" for k, v in op[1]))
    elif op[0] == "delete":
        db.execute(f"DELETE FROM t WHERE k = {op[1]}")
    elif op[0] == "update":
        db.execute(f"UPDATE t SET v = v + {op[2]} WHERE k = {op[1]}")
    elif op[0] == "other":
        db.execute("INSERT INTO other VALUES (1)")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(KEYS, st.integers(-2, 2)), max_size=4),
    st.lists(OPS, min_size=1, max_size=14),
)
def test_updates_fold_up_to_the_relation_after_every_tick_and_resume_continues(initial, ops):
    db = make_db()
    if initial:
        run_dml(db, ("insert", initial))
    # (subscription, relation, rows it started from: nothing with a snapshot, else the contents)
    subscribers: list[tuple[Subscription, str, Rows]] = []
    folded: dict[int, Rows] = {}
    reference = db.subscribe("agg", progress=True)  # never interrupted
    resumable: Subscription | None = db.subscribe("agg", progress=True)
    reference_log = reference.next(timeout=0)
    resumed_log = resumable.next(timeout=0)
    last_seen = resumable.tick
    for op in ops:
        ticks = db.ticks
        if op[0] == "subscribe":
            subscription = db.subscribe(op[1], snapshot=op[2])
            start = {} if op[2] else contents(db, op[1])
            subscribers.append((subscription, op[1], start))
        elif op[0] == "disconnect" and resumable is not None:
            resumable.close()
            assert resumable.next(timeout=0) == []
            resumable = None
        elif op[0] == "resume" and resumable is None:
            resumable = db.subscribe("agg", snapshot=False, progress=True, as_of=last_seen)
            assert resumable.tick == last_seen
        else:
            run_dml(db, op)
        for i, (subscription, name, start) in enumerate(subscribers):
            folded[i] = fold(subscription.next(timeout=0), folded.get(i, start))
            assert folded[i] == contents(db, name), (name, op)
        reference_log += reference.next(timeout=0)
        if resumable is not None:
            got = resumable.next(timeout=0)
            resumed_log += got
            last_seen = max([last_seen, *(u.tick for u in got)])
            if db.ticks > ticks:
                assert got and got[-1].progress and got[-1].tick == db.ticks
    assert fold(reference_log) == contents(db, "agg")
    if resumable is not None:
        assert data_log(resumed_log) == data_log(reference_log)


def test_rows_of_weight_above_one_repeat_with_diff_one_retractions_first(db):
    subscription = db.subscribe("pos", snapshot=False)
    db.execute("INSERT INTO t VALUES (1, 5), (1, 5), (1, 5), (2, 0)")
    db.execute("UPDATE t SET v = 6 WHERE k = 1")
    first, second = subscription.next(timeout=0)
    assert sorted(first.rows.to_pylist(), key=str) == sorted(
        [{"k": 1, "v": 5, "diff": 1}] * 3 + [{"k": 2, "v": 0, "diff": 1}], key=str
    )
    assert (
        second.rows.to_pylist()
        == [{"k": 1, "v": 5, "diff": -1}] * 3 + [{"k": 1, "v": 6, "diff": 1}] * 3
    )
    assert subscription.schema.names == ["k", "v", "diff"]
    assert second.rows.schema == subscription.schema
    assert second.tick == first.tick + 1 == db.ticks


def test_a_tick_whose_changes_cancel_out_sends_no_rows(db):
    db.execute("INSERT INTO t VALUES (1, 1)")
    subscription = db.subscribe("pos", snapshot=False, progress=True)
    db.execute("UPDATE t SET v = v + 0")  # -(1, 1) +(1, 1)
    assert [(u.tick, u.progress) for u in subscription.next(timeout=0)] == [(db.ticks, True)]


def test_snapshot_is_the_current_rows_at_the_last_tick(db):
    db.execute("INSERT INTO t VALUES (1, 1), (1, 2), (2, 3)")
    subscription = db.execute("SUBSCRIBE TO agg")
    assert isinstance(subscription, Subscription)
    (snapshot,) = subscription.next(timeout=0)
    assert snapshot.tick == subscription.tick == db.ticks
    assert fold([snapshot]) == {(1, 2, 3): 1, (2, 1, 3): 1}
    assert subscription.next(timeout=0) == []


# --- progress ----------------------------------------------------------------------------------


def test_progress_follows_every_tick_in_order_after_that_ticks_changes(db):
    subscription = db.subscribe("agg", snapshot=False, progress=True)
    seen = []
    for sql in [
        "INSERT INTO t VALUES (1, 1)",
        "INSERT INTO other VALUES (1)",  # changes nothing in agg: progress only
        "UPDATE t SET v = 2",
        "INSERT INTO other VALUES (2)",
    ]:
        db.execute(sql)
        seen += subscription.next(timeout=0)
    start = subscription.tick
    assert [(u.tick - start, u.progress) for u in seen] == [
        (0, True),
        (1, False),
        (1, True),
        (2, True),
        (3, False),
        (3, True),
        (4, True),
    ]


def test_progress_of_an_unread_subscription_does_not_pile_up(db):
    subscription = db.subscribe("agg", snapshot=False, progress=True)
    for i in range(20):
        db.execute(f"INSERT INTO other VALUES ({i})")
    updates = subscription.next(timeout=0)
    assert [(u.tick, u.progress) for u in updates] == [(db.ticks, True)]


# --- AS OF ---------------------------------------------------------------------------------------


def test_as_of_with_snapshot_gives_the_rows_as_of_that_tick_then_the_later_changes(db):
    db.subscribe("pos").close()  # history starts here
    db.execute("INSERT INTO t VALUES (1, 1)")
    as_of = db.ticks
    db.execute("INSERT INTO t VALUES (2, 2)")
    db.execute("DELETE FROM t WHERE k = 1")
    subscription = db.subscribe("pos", as_of=as_of)
    updates = subscription.next(timeout=0)
    assert [u.tick for u in updates] == [as_of, as_of + 1, as_of + 2]
    assert fold(updates[:1]) == {(1, 1): 1}
    assert fold(updates) == contents(db, "pos") == {(2, 2): 1}


def test_as_of_outside_the_kept_history_is_22023_saying_what_is_available(db):
    db.feeds.history_ticks = 3
    with pytest.raises(SqlError) as error:
        db.subscribe("agg", as_of=db.ticks - 1)  # no history before the first SUBSCRIBE
    assert error.value.sqlstate == "22023"
    first = db.ticks
    db.subscribe("agg").close()
    for i in range(5):
        db.execute(f"INSERT INTO t VALUES ({i}, 1)")
    with pytest.raises(SqlError) as error:
        db.execute(f"SUBSCRIBE agg AS OF {first}")
    assert error.value.sqlstate == "22023"
    assert f"ticks {db.ticks - 3} to {db.ticks}" in error.value.message
    with pytest.raises(SqlError) as error:
        db.execute(f"SUBSCRIBE agg AS OF {db.ticks + 1}")
    assert error.value.sqlstate == "22023" and "not happened yet" in error.value.message
    resumed = db.subscribe("agg", snapshot=False, as_of=db.ticks - 3)
    assert [u.tick for u in resumed.next(timeout=0)] == [db.ticks - 2, db.ticks - 1, db.ticks]


# --- ends and errors -----------------------------------------------------------------------------


def test_drop_ends_subscriptions_and_what_was_buffered_stays_readable(db):
    on_view = db.subscribe("agg", snapshot=False)
    on_table = db.subscribe("t", snapshot=False)
    db.execute("INSERT INTO t VALUES (1, 1)")
    db.execute("DROP TABLE t CASCADE")
    for subscription, name in [(on_view, "agg"), (on_table, "t")]:
        assert subscription.closed
        assert subscription.error == f"relation {name} was dropped"
        assert subscription.sqlstate == "42P01"
        assert len(subscription.next(timeout=0)) == 1
        assert subscription.next(timeout=None) == []  # at once: ended and drained


def test_a_recreated_relation_keeps_no_history_of_the_dropped_one(db):
    db.subscribe("pos").close()
    tick = db.ticks
    db.execute("INSERT INTO t VALUES (1, 1)")
    db.execute("DROP MATERIALIZED VIEW pos")
    db.execute("CREATE MATERIALIZED VIEW pos AS SELECT k, v FROM t WHERE v >= 0")
    with pytest.raises(SqlError):
        db.subscribe("pos", as_of=tick)


def test_close_is_idempotent_and_the_database_forgets_the_subscription(db):
    subscription = db.subscribe("agg")
    subscription.close()
    subscription.close()
    assert subscription.closed and subscription.error is None
    db.execute("INSERT INTO t VALUES (1, 1)")
    assert db.feeds.subscriptions() == []
    assert subscription.next(timeout=None) == []


def test_closing_the_database_ends_its_subscriptions(db):
    subscription = db.subscribe("agg")
    db.close()
    assert subscription.closed and "closed" in subscription.error


@pytest.mark.parametrize(
    "sql, code, says",
    [
        ("SUBSCRIBE nothing", "42P01", "does not exist"),
        ("SUBSCRIBE plain", "0A000", "CREATE MATERIALIZED VIEW"),
        ("SUBSCRIBE out", "42809", "sink"),
        ("SUBSCRIBE stream", "55000", "SNAPSHOT = false"),
    ],
)
def test_what_cannot_be_subscribed_to_says_why(db, tmp_path, sql, code, says):
    db.execute("CREATE VIEW plain AS SELECT k FROM t")
    db.execute(
        f"CREATE SINK out FROM agg WITH (connector = 'file', path = '{tmp_path}/o.jsonl', "
        "format = 'jsonl')"
    )
    db.execute("CREATE SOURCE stream (n BIGINT) WITH (connector = 'datagen', retain = 'false')")
    with pytest.raises(SqlError) as error:
        db.execute(sql)
    assert error.value.sqlstate == code
    assert says in error.value.message


def test_a_non_retaining_source_can_be_subscribed_to_without_snapshot(db):
    db.execute(
        "CREATE SOURCE stream (n BIGINT) WITH (connector = 'datagen', retain = 'false', "
        "'rows-per-second' = '1000000')"
    )
    subscription = db.subscribe("stream", snapshot=False)
    db.tick()
    assert sum(u.rows.num_rows for u in subscription.next(timeout=0)) > 0


def test_a_table_subscription_sees_on_time_rows_and_the_late_table_the_late_ones():
    db = Database()
    db.execute(
        "CREATE TABLE e (id INTEGER, ts TIMESTAMP, WATERMARK FOR ts AS ts) "
        "WITH (late_table = 'e_late')"
    )
    events, late = db.subscribe("e", snapshot=False), db.subscribe("e_late", snapshot=False)
    db.execute("INSERT INTO e VALUES (1, TIMESTAMP '2026-01-01 10:00:00')")
    db.execute("INSERT INTO e VALUES (2, TIMESTAMP '2026-01-01 09:00:00')")
    assert [r["id"] for u in events.next(timeout=0) for r in u.rows.to_pylist()] == [1]
    assert [r["id"] for u in late.next(timeout=0) for r in u.rows.to_pylist()] == [2]


def test_a_failed_tick_sends_nothing(db):
    db.execute("CREATE MATERIALIZED VIEW inv AS SELECT 10 / v AS r FROM t")
    subscription = db.subscribe("t", snapshot=False, progress=True)
    ticks = db.ticks
    with pytest.raises(Exception, match="divide by zero|division by zero"):
        db.execute("INSERT INTO t VALUES (1, 0)")
    assert db.ticks == ticks
    assert [u for u in subscription.next(timeout=0) if u.tick > ticks] == []


# --- backpressure --------------------------------------------------------------------------------

BATCH_ROWS = 200


@pytest.fixture
def streaming() -> Database:
    db = Database(batch_rows=BATCH_ROWS)
    db.execute(
        "CREATE SOURCE g (n BIGINT, s VARCHAR) WITH (connector = 'datagen', "
        "'rows-per-second' = '40000', 'fields.n.min' = '0', 'fields.n.max' = '1000000')"
    )
    yield db
    db.close()


def test_a_full_buffer_holds_the_sources_back_and_reading_lets_them_go_on(streaming):
    db = streaming
    subscription = db.subscribe("g", buffer_rows=1000)
    received = subscription.next(timeout=0)
    largest = 0

    def watch() -> bool:
        nonlocal largest
        largest = max(largest, subscription.buffered_rows)
        return subscription.buffered_rows >= 1000

    with Ticker(db, interval=0.01):
        assert wait_until(watch)
        held_at = db.ticks
        assert not wait_until(lambda: watch() and db.ticks > held_at, seconds=0.3)
        assert db.feeds.blocked()
        assert 1000 <= largest <= 1000 - 1 + BATCH_ROWS
        received += subscription.next(timeout=0)
        assert wait_until(lambda: db.ticks > held_at)
        db.execute("CREATE TABLE t (x INTEGER)")
        db.execute("INSERT INTO t VALUES (1)")  # DML ticks whatever the subscribers
    assert largest <= 1000 - 1 + BATCH_ROWS
    expected = contents(db, "g")  # reading runs a last tick, whose rows are sent too
    received += subscription.next(timeout=0)
    assert fold(received) == expected
    assert sum(expected.values()) > 1000


def test_a_reader_that_stops_reading_is_ended_after_the_stall_timeout(streaming):
    db = streaming
    subscription = db.subscribe("g", buffer_rows=50, stall_timeout=0.2)
    with Ticker(db, interval=0.01):
        assert wait_until(lambda: subscription.closed)
        assert subscription.sqlstate == "53400"
        assert "fell behind" in subscription.error
        assert subscription.next(timeout=None) == []
        ended_at = db.ticks
        assert wait_until(lambda: db.ticks > ended_at)  # the sources flow again
    assert not db.feeds.blocked()


def test_dml_past_four_times_the_buffer_ends_the_subscription(db):
    subscription = db.subscribe("t", snapshot=False, buffer_rows=2)
    db.execute("INSERT INTO t VALUES (1, 1), (2, 2), (3, 3)")
    assert db.feeds.blocked() and not subscription.closed
    db.execute("INSERT INTO t VALUES " + ", ".join(f"({i}, 0)" for i in range(6)))
    assert subscription.closed and subscription.sqlstate == "53400"
    assert "4 x buffer_rows" in subscription.error
    assert subscription.next(timeout=0) == [] and subscription.buffered_rows == 0
    assert not db.feeds.blocked()


def test_a_snapshot_larger_than_the_buffer_is_not_falling_behind(db):
    db.execute("INSERT INTO t VALUES " + ", ".join(f"({i}, {i})" for i in range(20)))
    subscription = db.subscribe("pos", buffer_rows=2)
    assert subscription.buffered_rows == 20 and db.feeds.blocked()
    db.execute("INSERT INTO t VALUES (100, 1)")
    assert not subscription.closed
    db.execute("INSERT INTO t VALUES " + ", ".join(f"({i}, 0)" for i in range(8)))
    assert subscription.closed and subscription.sqlstate == "53400"


# --- threads and the ticker ----------------------------------------------------------------------


def test_a_reader_thread_blocks_on_next_while_the_ticker_ticks(streaming):
    db = streaming
    subscription = db.subscribe("g", snapshot=False, progress=True)
    collected: list[Update] = []

    def read() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            collected.extend(subscription.next(timeout=0.2))
            if sum(u.rows.num_rows for u in collected if not u.progress) >= 1000:
                return

    reader = threading.Thread(target=read)
    with Ticker(db):
        reader.start()
        reader.join(30)
    assert not reader.is_alive()
    assert sum(u.rows.num_rows for u in collected if not u.progress) >= 1000
    data_ticks = [u.tick for u in collected if not u.progress]
    assert data_ticks == sorted(set(data_ticks))
    progress_ticks = [u.tick for u in collected if u.progress]
    assert progress_ticks == sorted(set(progress_ticks))


def test_close_from_another_thread_wakes_a_blocked_reader(db):
    subscription = db.subscribe("agg", snapshot=False)
    result: list = []
    reader = threading.Thread(target=lambda: result.append(subscription.next(timeout=None)))
    reader.start()
    time.sleep(0.05)
    subscription.close()
    reader.join(5)
    assert not reader.is_alive() and result == [[]]


def test_next_with_a_timeout_returns_nothing_when_nothing_happens(db):
    subscription = db.subscribe("agg", snapshot=False)
    assert subscription.next(timeout=0.01) == []
    assert not subscription.closed


def test_the_ticker_stops_and_keeps_ticking_after_a_tick_that_raised(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("")
    db = Database(base_dir=tmp_path)
    db.execute(
        "CREATE SOURCE s (x INTEGER) WITH (connector = 'file', path = 'in.jsonl', format = 'jsonl')"
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT 10 / x AS y FROM s")
    ticker = Ticker(db, interval=0.01).start()
    assert ticker.running
    with path.open("a") as f:
        f.write('{"x": 0}\n')
    assert wait_until(lambda: ticker.failures == 1)
    with path.open("a") as f:
        f.write('{"x": 5}\n')
    assert wait_until(lambda: ticker.ticks >= 1)
    ticker.stop()
    assert not ticker.running
    assert any("division by zero" in e for e in db.take_source_errors())
    assert db.read("v").to_pylist() == [{"y": 2}]  # the bad batch was skipped
    db.close()


def test_a_stopped_ticker_no_longer_ticks(streaming):
    db = streaming
    ticker = Ticker(db, interval=0.01).start()
    assert wait_until(lambda: db.ticks > 0)
    ticker.stop()
    stopped_at = db.ticks
    time.sleep(0.1)
    assert db.ticks == stopped_at
