"""Subscriptions over the wire: DECLARE ... CURSOR FOR SUBSCRIBE + FETCH, and COPY (SUBSCRIBE)
TO STDOUT, with changes made by another connection."""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import pytest
from psycopg import errors


def connect(server, autocommit=True) -> psycopg.Connection:
    return psycopg.connect(server.dsn, autocommit=autocommit, connect_timeout=5)


def fetch_until(cursor, enough, seconds=15.0) -> list[tuple]:
    """FETCH with a timeout until ``enough(rows)`` or ``seconds`` pass."""
    rows: list[tuple] = []
    deadline = time.monotonic() + seconds
    while not enough(rows) and time.monotonic() < deadline:
        rows += cursor.execute("FETCH ALL sub WITH (timeout = '200ms')").fetchall()
    return rows


def test_subscriber_sees_every_change_in_order(server):
    writer = connect(server)
    writer.execute("CREATE TABLE ledger (account VARCHAR, amount INTEGER)")
    writer.execute(
        "CREATE MATERIALIZED VIEW balances AS SELECT account, sum(amount) AS balance "
        "FROM ledger GROUP BY account"
    )
    reader = connect(server, autocommit=False)
    cursor = reader.cursor()
    cursor.execute("DECLARE sub CURSOR FOR SUBSCRIBE balances")
    changes = [
        "INSERT INTO ledger VALUES ('x', 10)",
        "INSERT INTO ledger VALUES ('y', 5), ('x', 1)",
        "UPDATE ledger SET amount = amount * 2 WHERE account = 'y'",
        "DELETE FROM ledger WHERE account = 'x' AND amount = 1",
        "INSERT INTO ledger VALUES ('z', 7)",
    ]
    for statement in changes:
        writer.execute(statement)
    expected = [
        [("x", 10, 1)],
        [("x", 10, -1), ("x", 11, 1), ("y", 5, 1)],
        [("y", 5, -1), ("y", 10, 1)],
        [("x", 11, -1), ("x", 10, 1)],
        [("z", 7, 1)],
    ]
    rows = fetch_until(cursor, lambda r: len(r) >= sum(map(len, expected)))
    ticks = [r[0] for r in rows]
    assert ticks == sorted(ticks)
    by_tick: dict[int, list] = {}
    for tick, diff, account, balance in rows:
        by_tick.setdefault(tick, []).append((account, int(balance), diff))
    assert [sorted(v) for v in by_tick.values()] == [sorted(e) for e in expected]
    folded: Counter = Counter()
    for _, diff, account, balance in rows:
        folded[(account, int(balance))] += diff
    final = writer.execute("SELECT account, balance FROM balances").fetchall()
    assert {k for k, v in folded.items() if v} == {(a, int(b)) for a, b in final}
    cursor.execute("CLOSE sub")
    reader.commit()
    reader.close()
    writer.close()


def test_fetch_waits_for_a_row_and_honours_timeout(server):
    reader = connect(server, autocommit=False)
    cursor = reader.cursor()
    cursor.execute("DECLARE sub CURSOR FOR SUBSCRIBE named WITH (SNAPSHOT = false, PROGRESS)")
    names = [d.name for d in cursor.execute("FETCH 0 sub").description]
    assert names == ["mz_timestamp", "mz_progressed", "mz_diff", "id", "name"]
    started = time.monotonic()
    quiet = cursor.execute("FETCH ALL sub WITH (timeout = '300ms')").fetchall()
    assert all(row[1] for row in quiet)  # only progress rows: nothing changed
    assert time.monotonic() - started < 5

    def insert_later():
        time.sleep(0.5)
        with connect(server) as writer:
            writer.execute("INSERT INTO events VALUES (1, 'late')")

    thread = threading.Thread(target=insert_later)
    thread.start()
    rows = []
    while not [r for r in rows if not r[1]]:
        rows += cursor.execute("FETCH 10 sub").fetchall()  # no timeout: waits for a row
    thread.join(10)
    data = [r for r in rows if not r[1]]
    assert [(r[2], r[3], r[4]) for r in data] == [(1, 1, "late")]
    reader.rollback()  # the cursor, declared in the block, closes with it
    with pytest.raises(errors.InvalidCursorName):
        reader.execute("FETCH 1 sub")
    reader.close()


def test_copy_subscribe_is_cancelled(server):
    conn = connect(server)
    rows = []

    def cancel_soon():
        time.sleep(1.0)
        conn.cancel()

    threading.Thread(target=cancel_soon).start()
    statement = "COPY (SUBSCRIBE totals WITH (PROGRESS)) TO STDOUT"
    with pytest.raises(errors.QueryCanceled), conn.cursor().copy(statement) as copy:
        rows.extend(copy.rows())
    data = [r for r in rows if r[1] == "f"]
    assert sorted((r[3], r[4]) for r in data) == [("a", "4"), ("b", "2")]
    assert conn.execute("SELECT 1").fetchone() == (1,)  # the connection goes on
    conn.close()


def test_dropped_view_ends_the_subscription(server):
    writer = connect(server)
    writer.execute("CREATE MATERIALIZED VIEW doomed AS SELECT k FROM t")
    reader = connect(server)
    cursor = reader.cursor()
    cursor.execute("DECLARE sub CURSOR FOR SUBSCRIBE doomed")
    assert len(cursor.execute("FETCH ALL sub WITH (timeout = '1s')").fetchall()) == 3
    writer.execute("DROP MATERIALIZED VIEW doomed")
    with pytest.raises(errors.UndefinedTable):
        cursor.execute("FETCH ALL sub")
    reader.close()
    writer.close()


def test_disconnect_during_copy_leaves_server_working(server):
    conn = connect(server)
    conn.pgconn.send_query(b"COPY (SUBSCRIBE totals) TO STDOUT")
    time.sleep(0.3)
    conn.pgconn.finish()  # the socket closes mid-COPY
    with connect(server) as other:
        assert other.execute("SELECT count(*) FROM totals").fetchone() == (2,)
