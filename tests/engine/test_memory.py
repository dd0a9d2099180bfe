"""The memory budget: sizes, DuckDB's limit, state measured per tick, backpressure, refusals.

Budgets are tens of MB and state is measured (Arrow bytes held), not the process's RSS: the
tests must not take the machine's memory.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from connector_helpers import source

from tidal.catalog.objects import Column
from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE, OUT_OF_MEMORY, TidalError
from tidal.engine import Database
from tidal.engine import memory as memory_module
from tidal.engine.connectors.datagen import READ_AT_ONCE_ROWS, open_datagen
from tidal.engine.memory import MemoryBudget, Usage, default_limit, duckdb_connection, parse_size

MB = 1 << 20
# An unbounded stream as fast as the ticks take it: each poll after the first fills a batch.
FAST = "connector = 'datagen', 'rows-per-second' = '1000000000', 'fields.name.length' = '20'"


def fill_until_paused(db: Database, ticks: int = 400) -> int:
    """Tick until the sources pause; returns the ticks it took (fails if they never do)."""
    for tick in range(ticks):
        db.tick()
        if db.tick_loop.memory.paused:
            return tick
    raise AssertionError(f"sources not paused after {ticks} ticks: {db.tick_loop.memory.held()}")


def count(db: Database, name: str) -> int:
    return db.execute(f"SELECT count(*) AS n FROM {name}").column("n")[0].as_py()


# --- sizes and limits ---------------------------------------------------------------------------


def test_sizes_are_read_in_powers_of_1024_and_bad_ones_refused():
    assert parse_size("1GB") == parse_size("1 GiB") == 1 << 30
    assert parse_size("1.5gb") == 3 << 29
    assert parse_size("300kB") == 300 << 10
    with pytest.raises(TidalError, match="512MB") as error:
        Database(memory_limit="lots")
    assert error.value.sqlstate == INVALID_PARAMETER_VALUE
    for bad in ("0MB", "-1GB", "1PB", ""):
        with pytest.raises(TidalError):
            parse_size(bad)


def test_the_default_is_half_of_the_cgroup_limit_when_it_is_below_the_machine(
    tmp_path, monkeypatch
):
    limit = tmp_path / "memory.max"
    limit.write_text("1073741824\n")  # 1 GiB: below any machine that runs the suite
    monkeypatch.setattr(memory_module, "_CGROUP_LIMITS", (str(limit),))
    assert default_limit() == 512 * MB
    limit.write_text("max\n")  # cgroup v2 without a limit: the machine's memory counts
    assert default_limit() > 512 * MB
    assert MemoryBudget().limit == default_limit()


def test_each_duckdb_instance_gets_a_quarter_of_the_budget_and_batch_mode_all_of_it():
    setting = "SELECT current_setting('memory_limit')"
    assert duckdb_connection(48 * MB).execute(setting).fetchall() == [("48.0 MiB",)]
    db = Database(memory_limit="48MB")
    for backend in (db.backend, db.reads.backend):  # the engine's work, clients' queries
        assert backend.query(setting, {}).column(0).to_pylist() == ["12.0 MiB"]
    batch = Database(memory_limit="48MB", batch_mode=True)
    assert batch.reads.backend.query(setting, {}).column(0).to_pylist() == ["48.0 MiB"]


def test_pausing_and_resuming_are_said_once_each():
    budget = MemoryBudget(100 * MB)
    assert budget.update(Usage(80 * MB)) is None
    paused = budget.update(Usage(92 * MB, (("source s", 92 * MB),)))
    assert paused.startswith("memory budget: 92 MiB of 100 MiB held (92%), most by source s")
    assert budget.update(Usage(99 * MB)) is None  # still paused: nothing new to say
    assert budget.update(Usage(87 * MB)) is None  # not below RESUME_SHARE yet
    assert budget.update(Usage(50 * MB)).endswith("sources are read again")
    assert not budget.paused


# --- backpressure -------------------------------------------------------------------------------


def test_a_retained_unbounded_stream_stops_at_the_budget_and_drop_resumes_it():
    db = Database(memory_limit="24MB", batch_rows=8192)
    db.execute(f"CREATE SOURCE clicks (id BIGINT, name VARCHAR) WITH ({FAST})")
    db.execute("CREATE TABLE notes (k INTEGER, note VARCHAR)")
    fill_until_paused(db)
    held = db.tick_loop.memory.usage.total
    assert 0.9 * 24 * MB <= held < 24 * MB
    (said,) = db.take_source_errors()
    assert "most by source clicks" in said and "of 24 MiB held" in said
    rows = count(db, "clicks")
    for _ in range(20):
        db.tick()
    assert count(db, "clicks") == rows  # nothing read while paused
    assert db.take_source_errors() == []  # said once
    # Queries and DML on tables go on.
    db.execute("INSERT INTO notes VALUES (1, 'still here')")
    assert db.execute("SELECT * FROM notes").to_pylist() == [{"k": 1, "note": "still here"}]
    db.execute("DROP SOURCE clicks")
    db.execute(f"CREATE SOURCE fresh (id BIGINT, name VARCHAR) WITH ({FAST})")
    db.tick()
    assert db.take_source_errors() == [
        "memory budget: 27 B of 24 MiB held (0%): sources are read again"  # the table's row
    ]
    db.tick()
    assert count(db, "fresh") > 0


def test_a_view_over_a_huge_sequence_fills_tick_by_tick_and_is_named_when_it_stops():
    db = Database(memory_limit="16MB", batch_rows=8192)
    db.execute(
        "CREATE SOURCE numbers (n BIGINT, pad VARCHAR) WITH (connector = 'datagen', "
        "'fields.n.kind' = 'sequence', 'fields.n.start' = '1', "
        "'fields.n.end' = '1000000000000', 'rows-per-second' = '1000000000', "
        "'fields.pad.length' = '40', retain = 'false')"
    )
    # Not read at once: the view is created at once, over what the source has produced.
    db.execute("CREATE MATERIALIZED VIEW everything AS SELECT n, pad FROM numbers")
    assert count(db, "everything") < READ_AT_ONCE_ROWS
    fill_until_paused(db)
    (said,) = db.take_source_errors()
    assert "most by view everything" in said and "of 16 MiB held" in said
    assert db.tick_loop.memory.usage.total < 16 * MB


def test_a_group_by_over_ever_new_keys_counts_its_accumulators():
    db = Database(memory_limit="8MB", batch_rows=8192)
    db.execute(
        "CREATE SOURCE numbers (n BIGINT) WITH (connector = 'datagen', "
        "'fields.n.kind' = 'sequence', 'fields.n.start' = '1', "
        "'fields.n.end' = '1000000000000', 'rows-per-second' = '1000000000', retain = 'false')"
    )
    db.execute("CREATE MATERIALIZED VIEW per_n AS SELECT n, count(*) AS c FROM numbers GROUP BY n")
    fill_until_paused(db)  # the view keeps no Arrow rows: its numpy state is what grows
    (said,) = db.take_source_errors()
    assert "most by view per_n" in said
    assert db.tick_loop.memory.usage.holders[0][0] == "view per_n"


def test_a_sequence_longer_than_read_at_once_is_read_at_its_rate():
    column = (Column("n", "BIGINT"),)
    huge = source(column, connector="datagen", **{"fields.n.kind": "sequence"}, **{
        "fields.n.start": "1", "fields.n.end": str(10**12), "rows-per-second": "100"
    })  # fmt: skip
    now = [0.0]
    reader = open_datagen(huge, clock=lambda: now[0])
    assert not reader.bounded
    assert reader.poll(1000, drain=True) is None  # the rate holds even when draining
    now[0] = 1.0
    assert reader.poll(1000, drain=True).num_rows == 100
    small = source(column, connector="datagen", **{"number-of-rows": str(READ_AT_ONCE_ROWS)})
    assert open_datagen(small, clock=lambda: 0.0).bounded


# --- refusals -----------------------------------------------------------------------------------


def test_dml_past_the_budget_is_refused_and_changes_nothing_while_deletes_go_on():
    db = Database(memory_limit="4MB")
    db.execute("CREATE TABLE t (k BIGINT, v BIGINT)")
    db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 100000) AS s(g)")  # 1.6 MB
    with pytest.raises(TidalError) as error:
        db.execute("INSERT INTO t SELECT g, g FROM generate_series(1, 200000) AS s(g)")
    assert error.value.sqlstate == OUT_OF_MEMORY
    assert "adding rows to t" in str(error.value) and "of 4 MiB held" in str(error.value)
    assert count(db, "t") == 100_000
    db.execute("DELETE FROM t WHERE k > 50000")
    assert count(db, "t") == 50_000
    db.execute("INSERT INTO t VALUES (0, 0)")  # a small one fits
    assert count(db, "t") == 50_001


def test_a_view_whose_backfill_exceeds_the_budget_is_refused_and_not_kept():
    db = Database(memory_limit="8MB")
    db.execute("CREATE TABLE t (k BIGINT)")
    db.execute("INSERT INTO t SELECT g FROM generate_series(1, 100000) AS s(g)")  # 1.6 MB
    wide = ", ".join(f"k + {i} AS c{i}" for i in range(12))  # 12 columns: 9.6 MB
    with pytest.raises(TidalError) as error:
        db.execute(f"CREATE MATERIALIZED VIEW wide AS SELECT {wide} FROM t")
    assert error.value.sqlstate == OUT_OF_MEMORY
    message = str(error.value)
    assert "materialized view wide would take the state past the memory budget" in message
    assert "8 MiB" in message
    assert "wide" not in db.catalog
    assert db.tick_loop.memory.usage.total == 1_600_000  # the table's k and weights
    db.execute("CREATE MATERIALIZED VIEW narrow AS SELECT k + 1 AS c FROM t")  # room for it
    assert count(db, "narrow") == 100_000


def test_a_query_that_needs_more_than_the_budget_fails_with_53200_and_writes_no_file(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # DuckDB would spill under the working directory
    db = Database(memory_limit="20MB")
    db.execute("CREATE TABLE t (k BIGINT)")
    db.execute("INSERT INTO t SELECT g FROM generate_series(1, 300000) AS s(g)")
    heavy = (
        "SELECT count(*) AS n FROM (SELECT DISTINCT a.k * 100 + b.k AS x "
        "FROM t AS a, (SELECT k FROM t WHERE k < 40) AS b) AS q"
    )
    with pytest.raises(TidalError) as error:
        db.execute(heavy)
    assert error.value.sqlstate == OUT_OF_MEMORY
    assert str(error.value) == (
        "out of memory: the query needs more than its share of the memory budget; make it "
        "smaller or raise --memory-limit"
    )
    # Nothing spilled: DuckDB makes its (empty) files there, but writes nothing to them.
    assert sum(path.stat().st_size for path in tmp_path.rglob("*") if path.is_file()) == 0
    assert count(db, "t") == 300_000  # and the database goes on


# --- the command line ---------------------------------------------------------------------------


def tidal_run(tmp_path, *flags: str, script: str) -> subprocess.CompletedProcess:
    path = tmp_path / "s.sql"
    path.write_text(script)
    return subprocess.run(  # noqa: PLW1510 - each test asserts the exit code
        [sys.executable, "-m", "tidal.shell.cli", "run", *flags, str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tidal_run_takes_the_memory_limit_and_refuses_a_bad_one(tmp_path):
    script = (
        "CREATE TABLE t (k BIGINT);\n"
        "INSERT INTO t SELECT g FROM generate_series(1, 1000000) AS s(g);\n"  # 16 MB
        "SELECT count(*) AS n FROM t;\n"
    )
    assert tidal_run(tmp_path, "--memory-limit", "64MB", script=script).returncode == 0
    refused = tidal_run(tmp_path, "--memory-limit", "8MB", script=script)
    assert refused.returncode == 1
    assert "out of memory: adding rows to t" in refused.stderr
    assert "of 8 MiB held" in refused.stderr
    bad = tidal_run(tmp_path, "--memory-limit", "lots", script=script)
    assert bad.returncode == 1
    assert "memory limit 'lots' is not a size: write e.g. 512MB" in bad.stderr


def test_dml_whose_views_would_grow_past_the_budget_is_undone():
    db = Database(memory_limit="16MB")
    db.execute("CREATE TABLE a (x BIGINT)")
    db.execute("CREATE TABLE b (y BIGINT)")
    db.execute("INSERT INTO b SELECT g FROM generate_series(1, 20000) AS s(g)")
    db.execute("CREATE MATERIALIZED VIEW pairs AS SELECT x, y FROM a, b")
    db.execute("INSERT INTO a VALUES (1)")  # 20,000 pairs: fits
    with pytest.raises(TidalError) as error:  # 100 rows, but 2,000,000 more pairs
        db.execute("INSERT INTO a SELECT g FROM generate_series(2, 101) AS s(g)")
    assert error.value.sqlstate == OUT_OF_MEMORY
    assert "adding rows to a" in str(error.value)
    assert (count(db, "a"), count(db, "pairs")) == (1, 20_000)
    assert db.tick_loop.memory.usage.total < 4 * MB


def test_without_a_ticker_a_query_after_a_drop_reads_the_sources_again():
    db = Database(memory_limit="16MB", batch_rows=8192)  # as `tidal run` and the shell
    db.execute(f"CREATE SOURCE clicks (id BIGINT, name VARCHAR) WITH ({FAST})")
    db.execute(f"CREATE SOURCE later (id BIGINT, name VARCHAR) WITH ({FAST}, retain = 'true')")
    fill_until_paused(db)
    db.execute("DROP SOURCE clicks")
    before = count(db, "later")  # the query reads the sources first: room again
    assert db.take_source_errors()[-1].endswith("sources are read again")
    assert count(db, "later") > before
