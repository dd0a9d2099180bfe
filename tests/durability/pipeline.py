"""The pipeline the crash tests run, its inputs as the test writes them, and the checks after.

One data directory holds: a keyed table the client writes numbered rows into (``items``), a
paced datagen (``gen``), a watermarked JSON lines file source the test appends to (``clicks``,
late rows into ``late_clicks``), grouped and windowed views over each, and a file sink of each
kind. ``check_recovered`` opens the directory in a fresh ``Database`` (a recovery of its own)
and compares everything with what the inputs say it must be:

- the table: every acknowledged statement's rows exactly once, an unacknowledged statement's
  rows all or none (``Statements.check``; some inserts of several rows are transactions of
  one-row INSERTs, acknowledged by their COMMIT);
- the sources: datagen's rows 0 .. its recovered position (generated again by a fresh in-memory
  database), the click lines up to the file source's recovered byte offset, late ones (by
  construction: see ``ClickWriter``) in ``late_clicks`` and nowhere else;
- every view: equal to DuckDB's answer over those inputs (plain SQL written here, not tidal's
  lowering, so the oracle shares nothing with the engine);
- every sink: its file's changes (``+I -U +U -D``) folded up equal the view, with no change
  removing a row that is not there (a row written twice, or a retraction without its insert,
  makes the fold differ).
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io
import json
import os
import pathlib
import random
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from tidal.engine.database import Database

GEN_RATE = 200  # datagen rows per second
LATE_DELAY_S = 5  # the click source's watermark delay
WINDOW_S = 10
EPOCH = dt.datetime(2026, 1, 1)

DDL = f"""
CREATE TABLE items (id BIGINT PRIMARY KEY, statement BIGINT, grp INTEGER, v BIGINT);
CREATE SOURCE gen (u BIGINT, k INTEGER, amount INTEGER)
  WITH (connector = 'datagen', 'rows-per-second' = '{GEN_RATE}', seed = '7',
        'fields.k.min' = '0', 'fields.k.max' = '9',
        'fields.amount.min' = '1', 'fields.amount.max' = '100');
CREATE SOURCE clicks (id BIGINT, user_id INTEGER, ts TIMESTAMP,
                      WATERMARK FOR ts AS ts - INTERVAL '{LATE_DELAY_S}' SECOND)
  WITH (connector = 'file', path = 'clicks.jsonl', format = 'jsonl',
        late_table = 'late_clicks');
CREATE MATERIALIZED VIEW items_by_grp AS
  SELECT grp, count(*) AS n, sum(v) AS total FROM items GROUP BY grp;
CREATE MATERIALIZED VIEW gen_by_k AS
  SELECT k, count(*) AS n, sum(amount) AS total, max(u) AS top FROM gen GROUP BY k;
CREATE MATERIALIZED VIEW clicks_by_user AS
  SELECT user_id, count(*) AS n, max(id) AS last_id FROM clicks GROUP BY user_id;
CREATE MATERIALIZED VIEW clicks_per_window AS
  SELECT window_start, window_end, user_id, count(*) AS n
  FROM TUMBLE(clicks, ts, INTERVAL '{WINDOW_S}' SECOND)
  GROUP BY window_start, window_end, user_id
  EMIT ON WINDOW CLOSE;
CREATE MATERIALIZED VIEW clicks_open_windows AS
  SELECT window_start, count(*) AS n, max(id) AS last_id
  FROM TUMBLE(clicks, ts, INTERVAL '{WINDOW_S}' SECOND)
  GROUP BY window_start;
CREATE SINK items_out FROM items_by_grp
  WITH (connector = 'file', path = 'out/items.jsonl', format = 'jsonl');
CREATE SINK gen_out FROM gen_by_k
  WITH (connector = 'file', path = 'out/gen.csv', format = 'csv');
CREATE SINK windows_out FROM clicks_per_window
  WITH (connector = 'file', path = 'out/windows/', format = 'parquet');
"""

# Tables and views only: what runs where sources and sinks cannot be recovered.
TABLES_ONLY_DDL = """
CREATE TABLE items (id BIGINT PRIMARY KEY, statement BIGINT, grp INTEGER, v BIGINT);
CREATE MATERIALIZED VIEW items_by_grp AS
  SELECT grp, count(*) AS n, sum(v) AS total FROM items GROUP BY grp;
"""

# Each view as DuckDB computes it over the inputs (tables items, gen, clicks; $wm: the watermark).
_BUCKET = f"make_timestamp(CAST(floor(epoch_us(ts) / {WINDOW_S * 1_000_000}) AS BIGINT) * {WINDOW_S * 1_000_000})"
ORACLE = {
    "items_by_grp": "SELECT grp, count(*) AS n, sum(v) AS total FROM items GROUP BY grp",
    "gen_by_k": "SELECT k, count(*), sum(amount), max(u) FROM gen GROUP BY k",
    "clicks_by_user": "SELECT user_id, count(*), max(id) FROM clicks GROUP BY user_id",
    "clicks_per_window": f"""
        SELECT ws, ws + INTERVAL {WINDOW_S} SECOND AS we, user_id, count(*)
        FROM (SELECT {_BUCKET} AS ws, user_id FROM clicks)
        WHERE ws + INTERVAL {WINDOW_S} SECOND <= $wm
        GROUP BY ws, user_id""",
    "clicks_open_windows": f"""
        SELECT {_BUCKET} AS ws, count(*), max(id) FROM clicks GROUP BY ws""",
}
SINKS = {  # sink: (its view, its file under the pipeline's folder)
    "items_out": ("items_by_grp", "out/items.jsonl"),
    "gen_out": ("gen_by_k", "out/gen.csv"),
    "windows_out": ("clicks_per_window", "out/windows"),
}


# --- the click file ------------------------------------------------------------------------------


@dataclass
class ClickLine:
    id: int
    user_id: int
    ts: dt.datetime
    late: bool
    end: int  # the file's size once this line is in it


class ClickWriter:
    """Appends click lines to a JSON lines file, a few at a time, and remembers every one.

    Lateness does not depend on how the engine splits the file into ticks: append ``i`` holds
    times in ``[i s, i s + 1 s)`` after ``EPOCH``, so a row is never behind the rows appended
    before it by more than the watermark's delay; a late row, added from append 100 on, is
    10,000 s behind, so it is late as soon as any earlier append was read in an earlier tick.
    """

    LATE_FROM = 100

    def __init__(self, path: pathlib.Path, seed: int) -> None:
        self.path = path
        self.lines: list[ClickLine] = []
        self._rng = random.Random(seed)
        self._appends = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        path.touch()

    def append(self) -> None:
        i, rng = self._appends, self._rng
        self._appends += 1
        rows = []
        for j in range(rng.randint(1, 3)):
            rows.append((EPOCH + dt.timedelta(seconds=i, milliseconds=300 * j), False))
        if i >= self.LATE_FROM and rng.random() < 0.1:
            rows.append((EPOCH + dt.timedelta(seconds=i - 10_000), True))
        data = b""
        size = self.path.stat().st_size
        for ts, late in rows:
            line = ClickLine(len(self.lines), rng.randint(0, 4), ts, late, 0)
            text = json.dumps(
                {"id": line.id, "user_id": line.user_id, "ts": f"{ts:%Y-%m-%d %H:%M:%S.%f}"}
            )
            data += text.encode() + b"\n"
            line.end = size + len(data)
            self.lines.append(line)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, data)  # one write: the reader sees whole appends (it reads whole lines)
        finally:
            os.close(fd)

    def start(self, every: float = 0.02) -> ClickWriter:
        def run() -> None:
            while not self._stop.wait(every):
                self.append()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def read_up_to(self, offset: int) -> list[ClickLine]:
        return [line for line in self.lines if line.end <= offset]


# --- the client's statements ---------------------------------------------------------------------


@dataclass
class Statement:
    """One DML statement the client sent, and what became of it."""

    number: int
    sql: str
    kind: str  # insert | update | delete
    rows: list[tuple] = field(default_factory=list)  # insert: (id, statement, grp, v)
    target: int | None = None  # update/delete: the id
    outcome: str = "sent"  # acked | failed (an error the server answered) | unknown (cut off)
    parts: list[str] = field(default_factory=list)  # a transaction's INSERTs, one row each


class Statements:
    """The client's statements in order, and what the table must hold after them."""

    def __init__(self, seed: int) -> None:
        self.sent: list[Statement] = []
        self._rng = random.Random(seed)
        self._next_id = 0

    def next(self) -> Statement:
        rng, number = self._rng, len(self.sent)
        alive = self._acked_ids()
        roll = rng.random()
        if alive and roll < 0.1:
            target = rng.choice(sorted(alive))
            statement = Statement(
                number, f"UPDATE items SET v = v + 1 WHERE id = {target}", "update", target=target
            )
        elif alive and roll < 0.15:
            target = rng.choice(sorted(alive))
            statement = Statement(
                number, f"DELETE FROM items WHERE id = {target}", "delete", target=target
            )
        else:
            rows = []
            for _ in range(rng.choice((1, 1, 1, 2, 3))):  # mostly one row; some all-or-nothing
                rows.append((self._next_id, number, rng.randint(0, 7), rng.randint(1, 1000)))
                self._next_id += 1
            values = ", ".join(str(row) for row in rows)
            statement = Statement(number, f"INSERT INTO items VALUES {values}", "insert", rows)
            if len(rows) > 1 and rng.random() < 0.5:  # the same rows in a transaction
                statement.parts = [f"INSERT INTO items VALUES {row}" for row in rows]
                statement.sql = "; ".join(["BEGIN", *statement.parts, "COMMIT"])
        self.sent.append(statement)
        return statement

    def _acked_ids(self) -> set[int]:
        """Ids that surely exist and are not being deleted (so that an UPDATE or DELETE of
        them has one possible meaning whatever happened to earlier unknown statements)."""
        alive: set[int] = set()
        for s in self.sent:
            if s.kind == "insert" and s.outcome == "acked":
                alive.update(row[0] for row in s.rows)
            elif s.kind == "delete" and s.outcome in ("acked", "unknown"):
                alive.discard(s.target)
        return alive

    def check(self, table: list[dict]) -> None:
        """The table's rows are what the statements allow: acknowledged ones applied once,
        failed ones not at all, each unknown one all or nothing."""
        counts = collections.Counter(row["id"] for row in table)
        twice = sorted(i for i, c in counts.items() if c > 1)
        assert not twice, f"ids present more than once: {twice[:10]}"
        held = {row["id"]: row for row in table}
        expected: dict[int, list] = {}  # id -> [row, updates acked, updates unknown]
        deleted = {s.target: s.outcome for s in self.sent if s.kind == "delete"}
        deleted = {key: outcome for key, outcome in deleted.items() if outcome != "failed"}
        for s in self.sent:
            if s.kind == "insert" and s.outcome != "failed":
                present = [row[0] in held or row[0] in deleted for row in s.rows]
                if s.outcome == "acked":
                    assert all(present), f"acknowledged statement {s.number} lost: {s.sql}"
                else:
                    assert len(set(present)) == 1, f"statement {s.number} half applied: {s.sql}"
                if all(present):
                    for row in s.rows:
                        expected[row[0]] = [row, 0, 0]
            elif s.kind == "update" and s.outcome != "failed":
                expected[s.target][1 if s.outcome == "acked" else 2] += 1
        for key, outcome in deleted.items():
            if outcome == "acked":
                assert key not in held, f"id {key} was deleted (acknowledged) but is there"
            if key not in held:
                expected.pop(key, None)
        assert set(held) == set(expected), (
            f"ids not accounted for: {sorted(set(held) ^ set(expected))[:10]}"
        )
        for key, (row, acked, unknown) in expected.items():
            found = held[key]
            assert (found["statement"], found["grp"]) == row[1:3], f"id {key}: {found}"
            assert row[3] + acked <= found["v"] <= row[3] + acked + unknown, (
                f"id {key}: v = {found['v']}, inserted as {row[3]} with {acked} acknowledged "
                f"and {unknown} unacknowledged updates"
            )


# --- the checks after recovery -------------------------------------------------------------------


def recovered(data_dir: pathlib.Path, folder: pathlib.Path) -> Database:
    """The data directory opened in this process (a recovery), relative paths as the server's.
    Reads do not poll the sources first (as under ``tidal serve``): what is checked is what
    recovery brought back, not rows read since."""
    db = Database(data_dir, base_dir=folder)
    db.reads.poll_first = False
    return db


def rows(db: Database, name: str) -> list[dict]:
    return db.execute(f"SELECT * FROM {name}").to_pylist()


def generated_rows(position: int) -> pa.Table:
    """Datagen's first ``position`` rows, from a fresh in-memory database with the same source."""
    db = Database()
    try:
        db.execute(next(s for s in DDL.split(";") if "SOURCE gen" in s))
        reader = db.relations.bases["gen"].reader
        return reader.generate(0, position)
    finally:
        db.close()


def check_recovered(
    db: Database, folder: pathlib.Path, statements: Statements, clicks: ClickWriter | None
) -> dict:
    """Every check of the module docstring over a recovered database; returns counts."""
    table = rows(db, "items")
    statements.check(table)
    inputs = {"items": pa.Table.from_pylist(table, schema=_schema(db, "items"))}
    views = ["items_by_grp"]
    summary = {"items": len(table), "statements": len(statements.sent)}
    if clicks is not None:
        stats = db.stats()
        position = stats["gen"].position["rows"]
        gen = generated_rows(position)
        assert _normalized(rows(db, "gen")) == _normalized(gen.to_pylist()), "source gen's rows"
        read = clicks.read_up_to(stats["clicks"].position["files"]["clicks.jsonl"]["offset"])
        on_time = [c for c in read if not c.late]
        late = [c for c in read if c.late]
        click_rows = [{"id": c.id, "user_id": c.user_id, "ts": c.ts} for c in on_time]
        assert _normalized(rows(db, "clicks")) == _normalized(click_rows), "source clicks' rows"
        late_rows = [{"id": c.id, "user_id": c.user_id, "ts": c.ts} for c in late]
        assert _normalized(rows(db, "late_clicks")) == _normalized(late_rows), "late clicks"
        inputs["gen"] = gen
        inputs["clicks"] = pa.Table.from_pylist(click_rows, schema=_schema(db, "clicks"))
        views += ["gen_by_k", "clicks_by_user", "clicks_per_window", "clicks_open_windows"]
        watermark = max(c.ts for c in on_time) - dt.timedelta(seconds=LATE_DELAY_S)
        summary.update(gen=position, clicks=len(on_time), late=len(late))
    else:
        watermark = None
    for view in views:
        expected = _duckdb(ORACLE[view], inputs, watermark)
        found = _normalized([tuple(r.values()) for r in rows(db, view)])
        assert found == expected, f"view {view} differs from DuckDB"
    if clicks is not None:
        for sink, (view, path) in SINKS.items():
            summary[sink] = check_sink(folder / path, rows(db, view))
    return summary


def check_sink(path: pathlib.Path, view_rows: list[dict]) -> int:
    """Fold a sink's changes; they must end as the view's rows with no row retracted that is
    not there. Returns the number of changes."""
    changes = _sink_changes(path)
    held: collections.Counter = collections.Counter()
    for op, row in changes:
        if op in ("+I", "+U"):
            held[row] += 1
        else:
            assert held[row] > 0, f"{path.name}: {op} of a row it does not hold: {row}"
            held[row] -= 1
    folded = sorted(r for r, n in held.items() for _ in range(n))
    assert folded == _normalized([tuple(r.values()) for r in view_rows]), (
        f"sink file {path.name} does not replay to its view"
    )
    return len(changes)


def _sink_changes(path: pathlib.Path) -> list[tuple[str, tuple]]:
    if path.is_dir():
        parts = sorted(path.glob("part-*.parquet"))
        table = pa.concat_tables([pq.read_table(p) for p in parts]) if parts else None
        records = table.to_pylist() if table is not None else []
    elif path.suffix == ".csv":
        records = list(csv.DictReader(io.StringIO(path.read_text())))
        records = [
            {k: int(v) for k, v in r.items() if k != "op"} | {"op": r["op"]} for r in records
        ]
    else:
        records = [json.loads(line) for line in path.read_text().splitlines()]
    return [(r.pop("op"), _value_tuple(tuple(r.values()))) for r in records]


def _schema(db: Database, name: str) -> pa.Schema:
    return db.execute(f"SELECT * FROM {name} LIMIT 0").schema


def _duckdb(sql: str, inputs: dict[str, pa.Table], watermark: dt.datetime | None) -> list[tuple]:
    con = duckdb.connect()
    try:
        for name, table in inputs.items():
            con.register(name, table)
        parameters = {"wm": watermark} if "$wm" in sql else None
        return _normalized(con.execute(sql, parameters).fetchall())
    finally:
        con.close()


def _value(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def _value_tuple(values: tuple) -> tuple:
    return tuple(_value(v) for v in values)


def _normalized(records: list) -> list[tuple]:
    """Rows (dicts or tuples) as sorted tuples of plain values (decimals as ints)."""
    as_tuples = [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in records]
    return sorted(_value_tuple(t) for t in as_tuples)


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
