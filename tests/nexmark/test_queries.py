"""Every Nexmark query (queries/nexmark/qN.sql) maintained incrementally equals DuckDB in batch.

Each script runs as ``tidal bench nexmark`` runs it (``Script``: its statements up to the one
creating ``qN``, the nexmark sources' options overridden), over 100,000 events, fed in small
ticks (2,000 rows per source and tick, 46 ticks of bids). The event clock is slowed to 1,000
events per second (``first_event_rate``), so the events span 100 s of event time: tumbling and
sliding windows close, sessions end and interval joins drop state during the run, and what
follows is computed from what was kept. A sink's query is read as a materialized view.

The view is compared with two batch answers over the same generated events:

- an independent one: the three streams generated once with every column (queries/nexmark/
  sources.sql) and read whole, registered in DuckDB, and queried with the hand-written DuckDB
  SQL of queries/nexmark/duckdb/qN.sql (windows by epoch arithmetic, sessions by gaps and
  islands);
- tidal's own lowering to DuckDB (``Database(batch_mode=True)``) of the same script.

q12 needs processing time, which tidal does not have: it must fail, saying so.
"""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pyarrow as pa
import pytest

from tidal.engine import Database
from tidal.shell.bench_nexmark import (
    GENERATOR,
    QUERIES,
    QUERY_DIR,
    REFUSED,
    Script,
    batch_answer,
    compare,
    duckdb_answer,
    execute,
    export_events,
)
from tidal.sql import SqlError
from tidal.sql.ddl import source

EVENTS = 100_000
OPTIONS = {"first_event_rate": "1000"}  # 100 s of event time
BATCH_ROWS = 2_000
BOUNDED = ("q5", "q7", "q11")  # windowed views whose state the watermark bounds
MAINTAINED = [q for q in QUERIES if q not in REFUSED]
REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def events() -> dict[str, pa.Table]:
    """The three streams with every column, and q13's side table, read whole."""
    tables = export_events(GENERATOR, EVENTS, **OPTIONS)
    tables["side_input"] = export_events("q13", 1_000)["side_input"]
    return tables


def _incremental(name: str) -> tuple[pa.Table, Database, list[int]]:
    """The view (a sink's query as a view), fed tick by tick; its state rows after each tick."""
    db = Database(batch_rows=BATCH_ROWS)
    execute(db, Script.load(name, EVENTS, **OPTIONS).setup(as_view=True))
    states = []
    while db.tick():
        states.append(db.relations.state_rows(name))
    return db.read(name), db, states


@pytest.mark.parametrize("name", MAINTAINED)
def test_query_equals_duckdb_batch(name, events):
    ours, db, states = _incremental(name)
    assert ours.num_rows > 0
    assert len(states) >= 3, "the events should arrive over several ticks"
    if name in BOUNDED:
        # Windows close, sessions end and the interval join forgets old bids as the watermark
        # moves: the state after the last tick is no larger than half again the most it held
        # in the first half of the run (a view keeping every event would have doubled).
        assert len(states) > 30
        assert 0 < states[-1] <= 1.5 * max(states[: len(states) // 2])
    assert sum(r.late_rows for r in db.watermarks.relations.values()) == 0
    theirs, _ = duckdb_answer(name, events)
    assert compare(ours, theirs) is None, f"DuckDB: {compare(ours, theirs)}"
    batch, _ = batch_answer(name, EVENTS, **OPTIONS)
    assert compare(ours, batch) is None, f"tidal batch mode: {compare(ours, batch)}"


@pytest.mark.parametrize("name", [q for q in MAINTAINED if Script.load(q).is_sink])
def test_sink_runs_and_writes(name):
    """A pass-through query as its script has it: a sink of the query, into the blackhole."""
    db = Database(batch_rows=BATCH_ROWS)
    execute(db, Script.load(name, 20_000).setup())
    while db.tick():
        pass
    view, _ = _view_rows(name, 20_000)
    written = db.relations.sinks[name].writer.snapshot()["rows"]
    assert 0 < written <= view  # identical rows of one tick are written once, with a weight


def _view_rows(name: str, events: int) -> tuple[int, Database]:
    db = Database(batch_rows=BATCH_ROWS)
    execute(db, Script.load(name, events).setup(as_view=True))
    return db.read(name).num_rows, db


def test_q12_needs_processing_time_and_fails_saying_so():
    with pytest.raises(SqlError, match=r"PROCTIME\(\): processing-time") as refused:
        execute(Database(), Script.load("q12", 1_000).setup())
    assert refused.value.sqlstate == "0A000"
    finished = subprocess.run(
        [sys.executable, "-m", "tidal.shell.cli", "run", str(QUERY_DIR / "q12.sql")],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    assert re.search(r"q12\.sql:\d+: not supported: PROCTIME\(\): processing-time", finished.stderr)


@pytest.mark.parametrize("name", QUERIES)
def test_script_is_complete(name):
    """Each file: a comment first; every nexmark source with the same events option and the
    4-second watermark, keeping no rows; the query named qN; something printed at the end.
    Run whole (with fewer events), every statement but q12's query succeeds."""
    text = (QUERY_DIR / f"{name}.sql").read_text()
    assert text.startswith(f"-- Nexmark {name}")
    script = Script.load(name)
    nexmark = [
        source(s)
        for s in script.sources()
        if s.args.get("kind") == "SOURCE" and "'nexmark'" in s.sql()
    ]
    assert nexmark
    for relation in nexmark:
        options = dict(relation.options)
        assert options["events"] == "100000" and options["retain"] == "false"
        assert relation.watermark.column == "date_time" and relation.watermark.delay == 4_000_000
    db, statements = Database(batch_rows=5_000), Script.load(name, 10_000).statements
    if name in REFUSED:
        with pytest.raises(SqlError):
            execute(db, statements)
        return
    for statement in statements:
        result = db.execute_statement(statement)
    assert isinstance(result, pa.Table) and result.num_rows > 0
