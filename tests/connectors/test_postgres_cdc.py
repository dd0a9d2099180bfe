"""The postgres-cdc source against a real PostgreSQL: snapshot, then the replication stream.

After every batch of upstream changes, tidal's table must equal PostgreSQL's table and a grouped
view over it must equal PostgreSQL's own GROUP BY: the upstream database is the oracle.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tidal.engine import Database
from tidal.sql.errors import SqlError

UPSTREAM = "id bigint PRIMARY KEY, owner text NOT NULL, amount numeric(12,2), note text"
DECLARED = "id BIGINT PRIMARY KEY, owner VARCHAR, amount DECIMAL(12,2), note VARCHAR"
VIEW = "SELECT owner, count(*) AS n, sum(amount) AS total FROM accounts GROUP BY owner"
WAIT_SECONDS = 20


def cdc_options(pg, table: str = "accounts", **extra: str) -> str:
    options = {
        "connector": "postgres-cdc",
        "hostname": pg.host,
        "port": str(pg.port),
        "username": pg.user,
        "password": pg.password,
        "database.name": pg.dbname,
        "table.name": table,
        **extra,
    }
    return ", ".join(f"\"{k}\" = '{v}'" for k, v in options.items())


def follow(db: Database, pg, declared: str = DECLARED, **extra: str) -> None:
    db.execute(f"CREATE TABLE accounts ({declared}) WITH ({cdc_options(pg, **extra)})")
    db.execute(f"CREATE MATERIALIZED VIEW by_owner AS {VIEW}")


def upstream_rows(pg) -> list[tuple]:
    return sorted(pg.execute("SELECT id, owner, amount, note FROM accounts"))


def upstream_groups(pg) -> list[tuple]:
    return sorted(pg.execute(VIEW))


def tidal_rows(db: Database) -> list[tuple]:
    return sorted(tuple(r.values()) for r in db.execute("SELECT * FROM accounts").to_pylist())


def tidal_groups(db: Database) -> list[tuple]:
    return sorted(tuple(r.values()) for r in db.execute("SELECT * FROM by_owner").to_pylist())


def caught_up(db: Database, pg) -> None:
    """Tick until tidal's table equals PostgreSQL's (the stream arrives asynchronously), then
    check the view against PostgreSQL's GROUP BY."""
    deadline = time.monotonic() + WAIT_SECONDS
    expected = upstream_rows(pg)
    while tidal_rows(db) != expected:
        assert time.monotonic() < deadline, (tidal_rows(db), expected, db.take_source_errors())
        db.tick()
        time.sleep(0.02)
    assert tidal_groups(db) == upstream_groups(pg)
    assert db.take_source_errors() == []


@pytest.fixture
def accounts(postgres):
    postgres.execute(f"CREATE TABLE accounts ({UPSTREAM})")
    postgres.execute(
        "INSERT INTO accounts SELECT i, 'o' || (i % 5), i * 1.25, NULL "
        "FROM generate_series(1, 200) i"
    )
    return postgres


def test_snapshot_then_every_kind_of_change(accounts):
    db = Database()
    follow(db, accounts)
    caught_up(db, accounts)
    accounts.execute("INSERT INTO accounts VALUES (1000, 'new', 5, 'x')")
    accounts.execute("UPDATE accounts SET amount = amount + 1 WHERE id % 3 = 0")
    accounts.execute("UPDATE accounts SET id = id + 5000, owner = 'moved' WHERE id < 10")
    accounts.execute("DELETE FROM accounts WHERE id BETWEEN 50 AND 60")
    caught_up(db, accounts)
    accounts.execute(
        "BEGIN; INSERT INTO accounts VALUES (2000, 'gone', 1, NULL); TRUNCATE accounts; "
        "INSERT INTO accounts VALUES (3000, 'after', 2, 'y'); COMMIT"
    )
    caught_up(db, accounts)
    assert tidal_groups(db) == [("after", 1, 2)]


def test_a_transaction_arrives_whole_in_one_tick(accounts):
    db = Database()
    follow(db, accounts)
    caught_up(db, accounts)
    subscription = db.subscribe("accounts")
    writer = accounts.connect()
    with writer.cursor() as cursor:
        cursor.execute(
            "INSERT INTO accounts SELECT i, 'tx', 1, NULL FROM generate_series(501, 520) i"
        )
        time.sleep(0.3)
        db.tick()  # the transaction is open upstream: nothing of it may arrive
        assert tidal_rows(db) == sorted(upstream_rows(accounts))
        cursor.execute("DELETE FROM accounts WHERE id = 1")
    writer.commit()
    writer.close()
    caught_up(db, accounts)
    updates = subscription.next(timeout=0)[1:]  # after the snapshot
    assert [u.rows.num_rows for u in updates] == [21]  # 20 inserts and a delete, in one tick


def test_restart_resumes_from_the_slot_with_changes_made_while_down(accounts, tmp_path):
    db = Database(tmp_path / "data")
    follow(db, accounts)
    caught_up(db, accounts)
    accounts.execute("UPDATE accounts SET owner = 'early' WHERE id < 20")
    caught_up(db, accounts)
    db.close()
    accounts.execute("UPDATE accounts SET owner = 'while down' WHERE id BETWEEN 20 AND 40")
    accounts.execute("DELETE FROM accounts WHERE id > 150")
    db = Database(tmp_path / "data")
    caught_up(db, accounts)
    accounts.execute("INSERT INTO accounts VALUES (9999, 'later', 1, NULL)")
    caught_up(db, accounts)
    db.close()


def test_the_slot_is_confirmed_once_the_rows_are_durable_and_dropped_with_the_table(accounts):
    db = Database()
    follow(db, accounts)
    caught_up(db, accounts)
    slot = f"tidal_{accounts.dbname}_accounts"
    before = accounts.execute(
        "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = %s", (slot,)
    )
    accounts.execute("UPDATE accounts SET amount = 0 WHERE id = 7")
    caught_up(db, accounts)
    deadline = time.monotonic() + WAIT_SECONDS  # the confirmation is a message in flight
    while accounts.execute(
        "SELECT confirmed_flush_lsn > %s::pg_lsn FROM pg_replication_slots WHERE slot_name = %s",
        (before[0][0], slot),
    ) != [(True,)]:
        assert time.monotonic() < deadline
        db.tick()
        time.sleep(0.05)
    db.execute("DROP TABLE accounts CASCADE")
    assert (
        accounts.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (slot,)) == []
    )


def test_unchanged_large_values_need_replica_identity_full(accounts):
    db = Database()
    follow(db, accounts)
    # A value stored out of line (TOAST; random, so not compressed inline): an UPDATE of
    # other columns does not send it.
    accounts.execute(
        "UPDATE accounts SET note = (SELECT string_agg(md5(random()::text), '') "
        "FROM generate_series(1, 4000)) WHERE id = 3"
    )
    caught_up(db, accounts)
    accounts.execute("UPDATE accounts SET amount = 1 WHERE id = 3")
    time.sleep(0.5)
    db.tick()
    assert any("REPLICA IDENTITY FULL" in e for e in db.take_source_errors())
    db.execute("DROP TABLE accounts CASCADE")
    accounts.execute("ALTER TABLE accounts REPLICA IDENTITY FULL")
    follow(db, accounts)
    caught_up(db, accounts)
    accounts.execute("UPDATE accounts SET amount = 2 WHERE id = 3")
    caught_up(db, accounts)


@pytest.mark.parametrize(
    ("declared", "extra", "message"),
    [
        ("id BIGINT, owner VARCHAR", {}, "PRIMARY KEY"),
        ("owner VARCHAR PRIMARY KEY, id BIGINT", {}, r"must be the upstream table's \(id\)"),
        ("id BIGINT PRIMARY KEY, missing VARCHAR", {}, "missing"),
        (DECLARED, {"table.name": "nowhere"}, "does not exist"),
        (DECLARED, {"port": "1"}, "cannot connect to PostgreSQL"),
        (DECLARED, {"slot.nam": "x"}, "'slot.nam' does not apply here"),
    ],
)
def test_mistakes_are_refused_at_create_saying_what_to_fix(accounts, declared, extra, message):
    db = Database()
    options = cdc_options(accounts, **extra)
    with pytest.raises(SqlError, match=message):
        db.execute(f"CREATE TABLE accounts ({declared}) WITH ({options})")
    assert "accounts" not in db.catalog


def test_changes_to_a_followed_table_are_refused(accounts):
    db = Database()
    follow(db, accounts)
    with pytest.raises(SqlError, match="fed by connector 'postgres-cdc'") as error:
        db.execute("DELETE FROM accounts")
    assert error.value.sqlstate == "42809"


# Upstream statements the property test runs, in transactions of its choosing.
_statement = st.one_of(
    st.tuples(st.just("insert"), st.integers(1, 40), st.sampled_from("abc"), st.integers(0, 99)),
    st.tuples(st.just("update"), st.integers(1, 40), st.sampled_from("abc"), st.integers(0, 99)),
    st.tuples(st.just("rekey"), st.integers(1, 40), st.integers(41, 80), st.just(0)),
    st.tuples(st.just("delete"), st.integers(1, 80), st.just(""), st.just(0)),
)


def _run(cursor, statement) -> None:
    kind, key, text, number = statement
    if kind == "insert":
        cursor.execute(
            "INSERT INTO accounts VALUES (%s, %s, %s, NULL) ON CONFLICT (id) DO UPDATE SET "
            "owner = EXCLUDED.owner, amount = EXCLUDED.amount",
            (key, text, number),
        )
    elif kind == "update":
        cursor.execute(
            "UPDATE accounts SET owner = %s, amount = %s WHERE id = %s", (text, number, key)
        )
    elif kind == "rekey":
        cursor.execute(
            "UPDATE accounts SET id = %s WHERE id = %s AND NOT EXISTS "
            "(SELECT 1 FROM accounts WHERE id = %s)",
            (text, key, text),
        )
    else:
        cursor.execute("DELETE FROM accounts WHERE id = %s", (key,))


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    batches=st.lists(
        st.lists(st.lists(_statement, min_size=1, max_size=6), min_size=1, max_size=4),
        min_size=1,
        max_size=4,
    )
)
def test_after_every_batch_the_table_and_view_equal_postgres(postgres, batches):
    postgres.execute("DROP TABLE IF EXISTS accounts")
    postgres.execute(f"CREATE TABLE accounts ({UPSTREAM})")
    postgres.execute("INSERT INTO accounts SELECT i, 'a', i, NULL FROM generate_series(1, 10) i")
    db = Database()
    follow(db, postgres)
    caught_up(db, postgres)
    writer = postgres.connect()
    try:
        for transactions in batches:  # each batch: several transactions, then tidal catches up
            for statements in transactions:
                with writer.cursor() as cursor:
                    for statement in statements:
                        _run(cursor, statement)
                writer.commit()
            caught_up(db, postgres)
    finally:
        writer.close()
        db.execute("DROP TABLE accounts CASCADE")
        db.close()
