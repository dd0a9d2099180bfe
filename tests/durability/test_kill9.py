"""kill -9 at random moments: a served pipeline restarted on its data directory loses nothing.

Each cycle starts ``tidal serve --data-dir DIR --init FILE`` (the same command every time), lets a
client write numbered rows (some in BEGIN ... COMMIT blocks; and updates, deletes, CHECKPOINTs) while a datagen ticks and the
test appends to a watermarked file source, then SIGKILLs the server after a random delay (seeded;
some kills land during startup and recovery, before the server listens). After each restart the
client first checks that every row it saw acknowledged is there, once. After the last cycle the
directory is recovered in this process and checked whole (tests.durability.pipeline): the table
against the acknowledgements, every view against DuckDB over the final inputs, every sink file
against its view.

``TIDAL_KILL9_CYCLES`` sets the number of cycles (20 by default; the long run in
benchmarks/RESULTS.md used 200) and ``TIDAL_KILL9_SEED`` the seed.
"""

from __future__ import annotations

import os
import random
import threading
import time

import psycopg
import pytest

from .pipeline import DDL, ClickWriter, Statements, check_recovered, recovered
from .processes import Client, Server

CYCLES = int(os.environ.get("TIDAL_KILL9_CYCLES", "20"))
SEED = int(os.environ.get("TIDAL_KILL9_SEED", "14"))


def acknowledged_present(port: int, statements: Statements) -> None:
    """After a restart: every acknowledged insert is there exactly once (deleted ones aside)."""
    with psycopg.connect(
        host="127.0.0.1", port=port, user="tester", dbname="tidal", connect_timeout=10
    ) as connection:
        ids = [row[0] for row in connection.execute("SELECT id FROM items").fetchall()]
    assert len(ids) == len(set(ids)), "an id is in the table twice"
    present = set(ids)
    deleted = {s.target for s in statements.sent if s.kind == "delete" and s.outcome != "failed"}
    for s in statements.sent:
        if s.kind == "insert" and s.outcome == "acked":
            lost = [row[0] for row in s.rows if row[0] not in present | deleted]
            assert not lost, f"acknowledged statement {s.number} lost after a restart: {s.sql}"


def run_cycles(tmp_path, ddl: str, cycles: int, seed: int, with_sources: bool) -> dict:
    rng = random.Random(seed)
    folder, data_dir = tmp_path, tmp_path / "data"
    init = folder / "init.sql"
    init.write_text(ddl)
    clicks = ClickWriter(folder / "clicks.jsonl", seed) if with_sources else None
    statements = Statements(seed)
    server = Server(folder, data_dir, init)
    started = time.monotonic()
    try:
        if clicks is not None:
            clicks.start()
        for cycle in range(cycles):
            server.start()
            if cycle > 0 and rng.random() < 0.2:  # kill during startup or recovery
                time.sleep(rng.uniform(0.05, 1.5))
                server.kill()
                continue
            port = server.wait_listening()
            if cycle > 0:
                acknowledged_present(port, statements)
            client = Client(statements, rng.randrange(1 << 30))
            thread = threading.Thread(target=client.run, args=(port,), daemon=True)
            thread.start()
            time.sleep(rng.uniform(0.3, 2.0))
            server.kill()
            thread.join(15)
            assert not thread.is_alive(), "the client hung on a killed server"
            assert not client.errors, f"the server refused statements: {client.errors[:5]}"
    except BaseException:
        print("\n".join(server.said[-60:]))
        raise
    finally:
        if clicks is not None:
            clicks.stop()
        server.kill()
    db = recovered(data_dir, folder)
    try:
        summary = check_recovered(db, folder, statements, clicks)
    finally:
        db.close()
    summary.update(cycles=cycles, seconds=round(time.monotonic() - started, 1))
    acked = sum(s.outcome == "acked" for s in statements.sent)
    summary.update(acked=acked, unknown=sum(s.outcome == "unknown" for s in statements.sent))
    summary.update(transactions=sum(bool(s.parts) for s in statements.sent))
    print(summary)
    return summary


@pytest.mark.slow
def test_kill9_pipeline(tmp_path):
    summary = run_cycles(tmp_path, DDL, CYCLES, SEED, with_sources=True)
    assert summary["acked"] > CYCLES  # the client got statements through in most cycles
    assert summary["transactions"] > 0
