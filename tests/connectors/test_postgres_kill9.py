"""The acceptance test of the PostgreSQL connectors: CDC in, a grouped view, a sink out, kill -9.

A real PostgreSQL holds ``accounts``; ``tidal serve --data-dir`` follows it (postgres-cdc),
keeps ``by_owner`` (a GROUP BY) and writes it to ``by_owner_out`` in the same PostgreSQL
(postgres sink, upsert), and writes a numbered datagen stream to ``numbers_out`` (append-only).
A writer changes ``accounts`` all the time, in transactions; the server is SIGKILLed at random
moments and the writer goes on while it is down. After the restarts, the view (read over
pgwire) and the sink's table must both equal PostgreSQL's own GROUP BY, and ``numbers_out``
must hold 1..n once each: no change lost, none applied twice, upstream or downstream.
"""

from __future__ import annotations

import random
import threading
import time

import psycopg

from tests.durability.processes import Server

from .test_postgres_cdc import cdc_options

VIEW = "SELECT owner, count(*) AS n, sum(amount) AS total FROM accounts GROUP BY owner"
CYCLES = 4
SETTLE_SECONDS = 60


class Writer(threading.Thread):
    """Random transactions of inserts, updates (some of the key) and deletes, until stopped."""

    def __init__(self, pg, seed: int) -> None:
        super().__init__(daemon=True)
        self.pg, self.rng = pg, random.Random(seed)
        self.stopped = threading.Event()
        self.transactions = 0

    def run(self) -> None:
        connection = self.pg.connect()
        try:
            while not self.stopped.is_set():
                with connection.cursor() as cursor:
                    for _ in range(self.rng.randint(1, 5)):
                        self._statement(cursor)
                connection.commit()
                self.transactions += 1
                time.sleep(self.rng.uniform(0, 0.02))
        finally:
            connection.close()

    def _statement(self, cursor) -> None:
        key = self.rng.randint(1, 300)
        owner = self.rng.choice(["ann", "bob", "cy", "dee"])
        roll = self.rng.random()
        if roll < 0.45:
            cursor.execute(
                "INSERT INTO accounts VALUES (%s, %s, %s) ON CONFLICT (id) DO UPDATE "
                "SET owner = EXCLUDED.owner, amount = accounts.amount + EXCLUDED.amount",
                (key, owner, self.rng.randint(1, 100)),
            )
        elif roll < 0.75:
            cursor.execute("UPDATE accounts SET owner = %s WHERE id = %s", (owner, key))
        elif roll < 0.85:
            cursor.execute(
                "UPDATE accounts SET id = id + 1000 WHERE id = %s AND NOT EXISTS "
                "(SELECT 1 FROM accounts WHERE id = %s)",
                (key, key + 1000),
            )
        else:
            cursor.execute("DELETE FROM accounts WHERE id IN (%s, %s)", (key, key + 1000))


def test_kill9_with_cdc_in_and_a_sink_out(postgres, tmp_path):
    postgres.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text, amount bigint)")
    postgres.execute("INSERT INTO accounts SELECT i, 'ann', i FROM generate_series(1, 100) i")
    postgres.execute("CREATE TABLE by_owner_out (owner text PRIMARY KEY, n bigint, total numeric)")
    init = tmp_path / "init.sql"
    init.write_text(
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner VARCHAR, amount BIGINT) "
        f"WITH ({cdc_options(postgres)});\n"
        f"CREATE MATERIALIZED VIEW by_owner AS {VIEW};\n"
        f"CREATE SINK out FROM by_owner WITH (connector = 'postgres', url = '{postgres.url}', "
        "table = 'by_owner_out', type = 'upsert');\n"
        # Numbered rows into an append-only sink: a tick written twice, or lost, shows.
        "CREATE SOURCE numbers (n BIGINT) WITH (connector = 'datagen', 'rows-per-second' = "
        "'3000', 'fields.n.kind' = 'sequence', 'fields.n.start' = '1', "
        "'fields.n.end' = '1000000000');\n"
        f"CREATE SINK numbered FROM numbers WITH (connector = 'postgres', url = "
        f"'{postgres.url}', table = 'numbers_out', type = 'append-only');\n"
    )
    postgres.execute("CREATE TABLE numbers_out (n bigint)")
    server = Server(tmp_path, tmp_path / "data", init)
    writer = Writer(postgres, seed=17)
    rng = random.Random(17)
    writer.start()
    try:
        for _ in range(CYCLES):
            server.start()
            server.wait_listening()
            time.sleep(rng.uniform(0.3, 2.5))
            server.kill()
            time.sleep(rng.uniform(0.1, 1.0))  # the writer goes on while tidal is down
        writer.stopped.set()
        writer.join(30)
        assert writer.transactions > 20
        server.start()
        port = server.wait_listening()
        expected = sorted(postgres.execute(VIEW))
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            view = _view(port)
            sink = sorted(postgres.execute("SELECT owner, n, total FROM by_owner_out"))
            if view == expected and sink == expected:
                break
            assert time.monotonic() < deadline, (expected, view, sink, server.said[-20:])
            time.sleep(0.2)
        count, distinct, first, last = postgres.execute(
            "SELECT count(*), count(DISTINCT n), min(n), max(n) FROM numbers_out"
        )[0]
        assert count > 1000
        assert (count, first, last) == (distinct, 1, count), "a row written twice, or lost"
    finally:
        writer.stopped.set()
        server.kill()


def _view(port: int) -> list[tuple]:
    with psycopg.connect(
        host="127.0.0.1", port=port, user="tester", dbname="tidal", connect_timeout=10
    ) as connection:
        return sorted(connection.execute("SELECT owner, n, total FROM by_owner").fetchall())
