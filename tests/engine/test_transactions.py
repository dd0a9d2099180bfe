"""Transactions of tables (tidal.engine.transactions): one tick at COMMIT, nothing at ROLLBACK,
the block's own changes and a snapshot inside it, first committer wins, aborted blocks."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.engine.test_durability import process
from tidal.engine import Database, DataError
from tidal.engine.transactions import Session
from tidal.sql import SqlError
from tidal.sql.parser import parse_statement


def rows(result: pa.Table) -> list[tuple]:
    return sorted(tuple(r.values()) for r in result.to_pylist())


def other_session(db: Database) -> Session:
    """A second client's session over the same database (pgwire has one per connection)."""
    return Session(db.session.statements, db.transaction)


def run(session: Session, sql: str):
    return session.run(parse_statement(sql))


@pytest.fixture
def db() -> Database:
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, v VARCHAR)")
    db.execute("CREATE TABLE u (k INTEGER PRIMARY KEY, n INTEGER)")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    db.execute("CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM t")
    return db


def test_commit_applies_every_table_in_one_tick(db):
    before = db.ticks
    assert str(db.execute("BEGIN")) == "BEGIN"
    db.execute("INSERT INTO t VALUES (3, 'c')")
    db.execute("DELETE FROM t WHERE k = 1")
    db.execute("INSERT INTO u VALUES (1, 10)")
    assert db.ticks == before  # nothing applied yet
    assert rows(db.read("t")) == [(1, "a"), (2, "b")]
    assert str(db.execute("COMMIT")) == "COMMIT"
    assert db.ticks == before + 1
    assert rows(db.read("t")) == [(2, "b"), (3, "c")]
    assert rows(db.read("u")) == [(1, 10)]
    assert rows(db.read("c")) == [(2,)]


@pytest.mark.parametrize("end", ["ROLLBACK", "ABORT"])
def test_rollback_applies_nothing(db, end):
    before = db.ticks
    db.execute("START TRANSACTION")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    db.execute("UPDATE t SET v = 'z'")
    assert str(db.execute(end)) == "ROLLBACK"
    assert db.ticks == before
    assert rows(db.read("t")) == [(1, "a"), (2, "b")]


def test_end_commits(db):
    db.execute("BEGIN; INSERT INTO t VALUES (3, 'c'); END")
    assert rows(db.read("t")) == [(1, "a"), (2, "b"), (3, "c")]


def test_statements_see_the_blocks_own_changes(db):
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    assert str(db.execute("UPDATE t SET v = 'C' WHERE k = 3")) == "UPDATE 1"
    assert rows(db.execute("SELECT * FROM t WHERE k >= 2")) == [(2, "b"), (3, "C")]
    assert str(db.execute("DELETE FROM t WHERE v = 'C'")) == "DELETE 1"
    db.execute("INSERT INTO u SELECT k, k * 10 FROM t")
    assert rows(db.execute("SELECT count(*) AS n, sum(n) AS s FROM u")) == [(2, 30)]
    db.execute("COMMIT")
    assert rows(db.read("t")) == [(1, "a"), (2, "b")]
    assert rows(db.read("u")) == [(1, 10), (2, 20)]


def test_keys_are_checked_against_the_blocks_rows(db):
    db.execute("BEGIN")
    db.execute("INSERT INTO u VALUES (1, 1)")
    with pytest.raises(DataError) as caught:
        db.execute("INSERT INTO u VALUES (1, 2)")
    assert caught.value.sqlstate == "23505"
    db.execute("ROLLBACK")
    db.execute("BEGIN")
    db.execute("INSERT INTO u VALUES (1, 1)")
    db.execute("INSERT INTO u VALUES (1, 5) ON CONFLICT (k) DO UPDATE SET n = u.n + excluded.n")
    assert rows(db.execute("SELECT * FROM u")) == [(1, 6)]
    db.execute("COMMIT")
    assert rows(db.read("u")) == [(1, 6)]


def test_a_block_reads_its_snapshot_of_tables(db):
    other = other_session(db)
    db.execute("BEGIN")
    assert rows(db.execute("SELECT k FROM t")) == [(1,), (2,)]  # the snapshot is taken
    run(other, "INSERT INTO t VALUES (9, 'other')")
    assert rows(db.execute("SELECT k FROM t")) == [(1,), (2,)]
    db.execute("COMMIT")  # it changed nothing: no conflict
    assert rows(db.execute("SELECT k FROM t")) == [(1,), (2,), (9,)]


def test_views_show_the_committed_rows_as_first_read(db):
    """A materialized view inside a block: without the block's changes, and the same rows
    at every read of the block (docs/sql.md, Transactions)."""
    other = other_session(db)
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    assert rows(db.execute("SELECT n FROM c")) == [(2,)]
    run(other, "INSERT INTO t VALUES (9, 'other')")
    assert rows(db.execute("SELECT n FROM c")) == [(2,)]
    db.execute("ROLLBACK")
    assert rows(db.execute("SELECT n FROM c")) == [(3,)]


def test_plain_views_are_queries_over_the_blocks_tables(db):
    db.execute("CREATE VIEW plain AS SELECT count(*) AS n FROM t")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    assert rows(db.execute("SELECT n FROM plain")) == [(3,)]
    db.execute("ROLLBACK")
    assert rows(db.execute("SELECT n FROM plain")) == [(2,)]


def test_first_committer_wins(db):
    other = other_session(db)
    db.execute("BEGIN")
    db.execute("DELETE FROM t WHERE k = 1")
    run(other, "BEGIN")
    run(other, "DELETE FROM t WHERE k = 1")
    run(other, "COMMIT")
    ticks = db.ticks
    with pytest.raises(SqlError) as caught:
        db.execute("COMMIT")
    assert caught.value.sqlstate == "40001" and "'t'" in str(caught.value)
    assert db.ticks == ticks
    assert rows(db.read("t")) == [(2, "b")]  # one retraction, not two
    assert rows(db.read("c")) == [(1,)]
    db.execute("INSERT INTO t VALUES (5, 'e')")  # the block is over
    assert rows(db.read("c")) == [(2,)]


def test_an_autocommit_change_after_the_snapshot_fails_the_commit(db):
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    db.execute("INSERT INTO u VALUES (3, 3)")
    db.apply_changes("t", pa.table({"k": [7], "v": ["api"], "__weight": [1]}))
    with pytest.raises(SqlError, match="another transaction changed table 't'"):
        db.execute("COMMIT")
    assert rows(db.read("u")) == []  # all or nothing


def test_a_delete_that_matched_nothing_still_read_its_table(db):
    db.execute("BEGIN")
    assert str(db.execute("DELETE FROM t WHERE k = 9")) == "DELETE 0"
    other_session(db).run(parse_statement("INSERT INTO t VALUES (9, 'other')"))
    with pytest.raises(SqlError) as caught:
        db.execute("COMMIT")
    assert caught.value.sqlstate == "40001"


def test_a_table_only_read_does_not_conflict(db):
    other = other_session(db)
    db.execute("BEGIN")
    db.execute("INSERT INTO u SELECT k, 0 FROM t")
    run(other, "INSERT INTO t VALUES (9, 'other')")
    db.execute("COMMIT")
    assert rows(db.read("u")) == [(1, 0), (2, 0)]


def test_a_table_dropped_and_created_again_fails_the_commit(db):
    other = other_session(db)
    db.execute("BEGIN")
    db.execute("INSERT INTO u VALUES (1, 1)")
    run(other, "DROP TABLE u")
    run(other, "CREATE TABLE u (k INTEGER PRIMARY KEY, n INTEGER)")
    with pytest.raises(SqlError, match="dropped or altered") as caught:
        db.execute("COMMIT")
    assert caught.value.sqlstate == "40001"
    assert rows(db.read("u")) == []


def test_a_failing_statement_aborts_the_block(db):
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    with pytest.raises(SqlError):
        db.execute("SELECT * FROM nowhere")
    with pytest.raises(SqlError) as caught:
        db.execute("SELECT 1")
    assert caught.value.sqlstate == "25P02"
    assert "current transaction is aborted" in str(caught.value)
    assert str(db.execute("COMMIT")) == "ROLLBACK"  # as PostgreSQL answers it
    assert rows(db.read("t")) == [(1, "a"), (2, "b")]
    assert rows(db.execute("SELECT 1 AS one")) == [(1,)]


def test_ddl_in_a_block_is_refused_by_name(db):
    db.execute("BEGIN")
    with pytest.raises(SqlError, match="CREATE TABLE cannot run inside a transaction block") as e:
        db.execute("CREATE TABLE z (x INTEGER)")
    assert e.value.sqlstate == "0A000"
    db.execute("ROLLBACK")
    assert "z" not in db.catalog
    db.execute("BEGIN")
    with pytest.raises(SqlError, match="DROP TABLE"):
        db.execute("DROP TABLE t")
    db.execute("ROLLBACK")
    db.execute("BEGIN")
    db.execute("SET TimeZone = 'UTC'")  # settings and SHOW are fine
    db.execute("SHOW TABLES")
    db.execute("CHECKPOINT")
    db.execute("COMMIT")


def test_warnings_for_begin_in_a_block_and_commit_outside(db):
    assert db.execute("COMMIT").notices == ("there is no transaction in progress",)
    assert db.execute("ROLLBACK").notices == ("there is no transaction in progress",)
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    assert db.execute("BEGIN").notices == ("there is already a transaction in progress",)
    db.execute("COMMIT")  # the second BEGIN did nothing: one COMMIT ends the block
    assert rows(db.read("c")) == [(3,)]


def test_savepoints(db):
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    db.execute("SAVEPOINT one")
    db.execute("INSERT INTO t VALUES (4, 'd')")
    with pytest.raises(SqlError):
        db.execute("SELECT * FROM nowhere")
    db.execute("ROLLBACK TO SAVEPOINT one")  # undoes (4, 'd') and the failure
    assert rows(db.execute("SELECT k FROM t")) == [(1,), (2,), (3,)]
    db.execute("RELEASE SAVEPOINT one")
    with pytest.raises(SqlError) as caught:
        db.execute("ROLLBACK TO one")
    assert caught.value.sqlstate == "3B001"
    db.execute("ROLLBACK")


def test_no_lock_is_held_between_statements(db):
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    done = threading.Event()

    def elsewhere():
        other_session(db).run(parse_statement("INSERT INTO u VALUES (1, 1)"))
        done.set()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(10)
    assert done.is_set()
    db.execute("COMMIT")  # u changed, but this block did not write it
    assert rows(db.read("u")) == [(1, 1)] and rows(db.read("c")) == [(3,)]


def test_a_view_that_cannot_take_the_commit_applies_nothing(db):
    db.execute("CREATE MATERIALIZED VIEW inv AS SELECT 10 / n AS x FROM u")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (3, 'c')")
    db.execute("INSERT INTO u VALUES (1, 0)")
    with pytest.raises(DataError):
        db.execute("COMMIT")
    assert rows(db.read("t")) == [(1, "a"), (2, "b")] and rows(db.read("u")) == []
    db.execute("INSERT INTO t VALUES (3, 'c')")  # the block is over
    assert rows(db.read("c")) == [(3,)]


def test_copy_from_a_file_in_a_block(tmp_path):
    db = Database(base_dir=tmp_path)
    db.execute("CREATE TABLE t (k INTEGER, v VARCHAR)")
    (tmp_path / "rows.csv").write_text("1,a\n2,b\n")
    db.execute("BEGIN")
    assert str(db.execute("COPY t FROM 'rows.csv' (FORMAT csv)")) == "COPY 2"
    assert rows(db.execute("SELECT count(*) FROM t")) == [(2,)]
    assert db.read("t").num_rows == 0
    db.execute("COMMIT")
    assert rows(db.read("t")) == [(1, "a"), (2, "b")]


def test_prepared_statements_run_through_a_transaction(db):
    transaction = db.transaction()
    insert = db.prepare("INSERT INTO t VALUES ($1, $2)", ["INTEGER", "VARCHAR"])
    read = db.prepare("SELECT v FROM t WHERE k = $1", ["INTEGER"])
    insert.run([3, "c"], transaction=transaction)
    assert read.run([3], transaction=transaction).to_pylist() == [{"v": "c"}]
    assert read.run([3]).to_pylist() == []
    transaction.commit()
    assert read.run([3]).to_pylist() == [{"v": "c"}]


# --- random interleavings against a model, the result against DuckDB ------------------------------

SESSIONS = 2
KEYS = st.integers(0, 3)
OPS = st.one_of(
    st.tuples(st.sampled_from(["begin", "commit", "rollback"]), st.integers(0, SESSIONS - 1)),
    st.tuples(st.just("insert"), st.integers(0, SESSIONS), KEYS, st.integers(0, 9)),
    st.tuples(st.sampled_from(["update", "delete", "upsert"]), st.integers(0, SESSIONS), KEYS),
    st.tuples(st.just("select"), st.integers(0, SESSIONS - 1)),
)
# t is a multiset (retractions of duplicates), u is keyed (upserts look keys up).
SQL = {
    "insert": "INSERT INTO t VALUES ({}, {})",
    "update": "UPDATE t SET v = v + 1 WHERE k = {}",
    "delete": "DELETE FROM t WHERE k = {}",
    "upsert": "INSERT INTO u VALUES ({}, 1) ON CONFLICT (k) DO UPDATE SET n = u.n + 1",
}


class Model:
    """What the tables must hold: committed rows, and each open block's snapshot (taken at its
    first statement) plus its own changes. A block conflicts at COMMIT when a table it touched
    was changed by a commit after its snapshot."""

    def __init__(self) -> None:
        self.tables: dict[str, list] = {"t": [], "u": []}  # u: [k, n] lists, one per key
        self.versions = {"t": 0, "u": 0}  # commits that changed each table
        self.blocks: dict[int, dict] = {}

    def begin(self, session: int) -> None:
        self.blocks.setdefault(session, {"tables": None, "touched": {}})

    def seen(self, session: int) -> dict[str, list]:
        """The tables as ``session`` sees them (its block's snapshot taken now if not yet)."""
        block = self.blocks.get(session)
        if block is None:
            return self.tables
        if block["tables"] is None:
            block["tables"] = {name: [list(r) for r in rows] for name, rows in self.tables.items()}
            block["start"] = dict(self.versions)
        return block["tables"]

    def step(self, session: int, op: str, *args) -> int:
        """A DML op in ``session`` (SESSIONS: autocommit); returns the rows its tag counts."""
        table = "u" if op == "upsert" else "t"
        rows = self.seen(session)[table]
        changed = _apply(rows, op, *args)
        block = self.blocks.get(session)
        if block is not None:
            block["touched"][table] = block["touched"].get(table, 0) + changed
        elif changed:
            self.versions[table] += 1
        return 1 if op == "upsert" else changed // 2 if op == "update" else changed

    def commit(self, session: int) -> bool:
        block = self.blocks.pop(session)
        touched = block["touched"]
        if any(self.versions[name] > block["start"][name] for name in touched):
            return False
        for name, changed in touched.items():
            self.tables[name] = block["tables"][name]
            self.versions[name] += bool(changed)
        return True


def _apply(rows: list, op: str, *args) -> int:
    """Apply an op to a model table; returns how many changes (+1/-1 rows) it made."""
    if op == "insert":
        rows.append(list(args))
        return 1
    hits = [i for i, row in enumerate(rows) if row[0] == args[0]]
    if op == "upsert":
        if hits:
            rows[hits[0]][1] += 1
            return 2
        rows.append([args[0], 1])
        return 1
    for i in reversed(hits):
        k, v = rows.pop(i)
        if op == "update":
            rows.append([k, v + 1])
    return len(hits) * (2 if op == "update" else 1)


def _as_rows(model_rows: list) -> list[tuple]:
    return sorted(tuple(r) for r in model_rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=15, max_size=40))
def test_interleaved_blocks_match_duckdb_over_the_committed_changes(ops):
    db = Database()
    db.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    db.execute("CREATE TABLE u (k INTEGER PRIMARY KEY, n INTEGER)")
    db.execute(
        "CREATE MATERIALIZED VIEW g AS SELECT t.k, count(*) AS c, sum(v) AS s, max(u.n) AS m "
        "FROM t LEFT JOIN u ON t.k = u.k GROUP BY t.k"
    )
    sessions = [other_session(db) for _ in range(SESSIONS + 1)]
    model = Model()
    for op, session, *args in ops:
        client = sessions[session]
        if op == "begin":
            run(client, "BEGIN")
            model.begin(session)
        elif op == "rollback":
            run(client, "ROLLBACK")
            model.blocks.pop(session, None)
        elif op == "commit":
            if session not in model.blocks:
                run(client, "COMMIT")
            elif model.commit(session):
                assert str(run(client, "COMMIT")) == "COMMIT"
            else:
                with pytest.raises(SqlError) as caught:
                    run(client, "COMMIT")
                assert caught.value.sqlstate == "40001"
        elif op == "select":
            got = rows(run(client, "SELECT t.k, v, n FROM t LEFT JOIN u ON t.k = u.k"))
            seen = model.seen(session)
            keyed = {k: n for k, n in seen["u"]}
            assert got == sorted((k, v, keyed.get(k)) for k, v in seen["t"])
        else:
            count = model.step(session, op, *args)
            assert str(run(client, SQL[op].format(*args))).split()[-1] == str(count)
    assert rows(db.read("t")) == _as_rows(model.tables["t"])
    assert rows(db.read("u")) == _as_rows(model.tables["u"])
    connection = duckdb.connect()
    for name in ("t", "u"):
        names = ["k", "v"] if name == "t" else ["k", "n"]
        table = pa.table(
            {
                c: pa.array([r[i] for r in model.tables[name]], pa.int32())
                for i, c in enumerate(names)
            }
        )
        connection.register(name, table)
    expected = connection.sql(
        "SELECT t.k, count(*) AS c, sum(v) AS s, max(u.n) AS m "
        "FROM t LEFT JOIN u ON t.k = u.k GROUP BY t.k"
    ).fetchall()
    assert [(k, c, int(s), m) for k, c, s, m in rows(db.read("g"))] == sorted(
        (k, c, int(s), m) for k, c, s, m in expected
    )


# --- with a data directory (tidal.engine.durability) -----------------------------------------------


def test_a_committed_block_survives_kill_as_one_tick_and_an_open_one_does_not(tmp_path):
    directory = tmp_path / "db"
    schema = [
        "CREATE TABLE t (k INTEGER, v VARCHAR)",
        "CREATE TABLE u (k INTEGER PRIMARY KEY, n INTEGER)",
        "CREATE MATERIALIZED VIEW c AS SELECT count(*) AS n FROM t",
    ]
    first = process(
        directory,
        [
            *schema,
            "BEGIN",
            "INSERT INTO t VALUES (1, 'a'), (2, 'b')",
            "INSERT INTO u VALUES (1, 10)",
            "COMMIT",
            "BEGIN",
            "INSERT INTO t VALUES (3, 'rolled back')",
            "ROLLBACK",
            "BEGIN",
            "INSERT INTO t VALUES (4, 'never committed')",
        ],
    )
    assert first["ticks"] == 1  # the commit's tick, nothing else
    db = Database(directory)
    try:
        assert db.ticks == 1
        assert rows(db.read("t")) == [(1, "a"), (2, "b")]
        assert rows(db.read("u")) == [(1, 10)] and rows(db.read("c")) == [(2,)]
    finally:
        db.close()
