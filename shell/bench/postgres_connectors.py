"""``tidal bench postgres``: how fast changes go through the PostgreSQL connectors.

Against a running PostgreSQL (``--url``, a superuser or a user with REPLICATION, on a server
with ``wal_level = logical``); the tables it makes are named ``tidal_bench_*`` and dropped
after. Two measurements, each checked against PostgreSQL itself:

- ``sink``: a ``Database`` with a keyed table, a materialized view of it and a ``postgres``
  upsert sink of the view; ``--rows`` rows are inserted, then all updated, then all deleted,
  ``--batch-rows`` a tick (the updates and deletes as SQL statements), and each phase is
  timed until its ticks are committed in PostgreSQL (the engine's own work included). The issue's target is 100k changed rows a second into a local PostgreSQL.
- ``cdc``: a ``postgres-cdc`` table over a PostgreSQL table of ``--rows`` rows: the snapshot is
  timed until tidal holds every row, then an UPDATE of every row (in transactions of
  ``--batch-rows``) until tidal has seen them all.

    tidal bench postgres --url postgresql://tidal:secret@127.0.0.1:5432/tidal --rows 200000
"""

from __future__ import annotations

import argparse
import time
import urllib.parse

import numpy as np
import pyarrow as pa

from tidal.shell.bench.harness import environment, finish, load_average, markdown_table

WAIT_SECONDS = 600


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tidal bench postgres", description=__doc__)
    parser.add_argument("--url", required=True, help="postgresql://user:password@host:port/db")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--json", help="write the results here")
    options = parser.parse_args(argv)
    import psycopg2

    env = environment()
    results = []
    for name, measure in (("sink", _sink), ("cdc", _cdc)):
        print(f"{name}: {options.rows:,} rows ...", flush=True)
        connection = psycopg2.connect(options.url)
        connection.autocommit = True
        try:
            for phase, rows, seconds in measure(connection, options):
                results.append(
                    {
                        "measurement": name,
                        "phase": phase,
                        "rows": rows,
                        "seconds": round(seconds, 3),
                        "rows_per_second": round(rows / seconds),
                        "load_average": load_average(),
                        **env,
                    }
                )
                print(f"  {phase}: {rows / seconds:,.0f} rows/s", flush=True)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("DROP TABLE IF EXISTS tidal_bench_in, tidal_bench_out")
            connection.close()
    summary = markdown_table(
        [("measurement", "<"), ("phase", "<"), ("rows", ">"), ("seconds", ">"), ("rows/s", ">")],
        results,
        "measurement",
        lambda r: [
            r["measurement"],
            r["phase"],
            f"{r['rows']:,}",
            f"{r['seconds']:.2f}",
            f"{r['rows_per_second']:,}",
        ],
    )
    return finish(results, summary, options.json)


def _sink(connection, options) -> list[tuple[str, int, float]]:
    from tidal.engine import Database

    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS tidal_bench_out; CREATE TABLE tidal_bench_out (k bigint "
            "PRIMARY KEY, name text, amount numeric(12,2), at timestamptz)"
        )
    db = Database()
    db.execute(
        "CREATE TABLE t (k BIGINT PRIMARY KEY, name VARCHAR, amount DECIMAL(12,2), "
        "at TIMESTAMP WITH TIME ZONE)"
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT * FROM t")
    db.execute(
        f"CREATE SINK bench FROM v WITH (connector = 'postgres', url = '{options.url}', "
        "table = 'tidal_bench_out', type = 'upsert')"
    )
    timings = []
    for phase in ("insert", "update", "delete"):
        started = time.perf_counter()
        for start in range(0, options.rows, options.batch_rows):
            end = min(start + options.batch_rows, options.rows) - 1
            if phase == "insert":
                db.apply_changes("t", _rows(np.arange(start, end + 1)))
            elif phase == "update":
                db.execute(f"UPDATE t SET name = 'u' || k WHERE k BETWEEN {start} AND {end}")
            else:
                db.execute(f"DELETE FROM t WHERE k BETWEEN {start} AND {end}")
        timings.append((phase, options.rows, time.perf_counter() - started))
        errors = db.take_source_errors()
        if errors:
            raise RuntimeError(f"the sink failed: {errors[:3]}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tidal_bench_out")
        if cursor.fetchone()[0] != 0:
            raise RuntimeError("the sink's table is not empty after the deletes")
    db.close()
    return timings


def _rows(keys: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "k": keys,
            "name": pa.array([f"n{k}" for k in keys]),
            "amount": pa.array(keys * 7 % 100_000)
            .cast(pa.decimal128(21, 2))
            .cast(pa.decimal128(12, 2)),
            "at": pa.array(keys * 1_000_000, pa.timestamp("us", "UTC")),
            "__weight": np.ones(len(keys), np.int64),
        }
    )


def _cdc(connection, options) -> list[tuple[str, int, float]]:
    from tidal.engine import Database

    url = urllib.parse.urlsplit(options.url)
    with connection.cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS tidal_bench_in; CREATE TABLE tidal_bench_in (k bigint PRIMARY "
            "KEY, name text, amount numeric(12,2)); INSERT INTO tidal_bench_in SELECT i, 'n' || i, "
            f"i % 1000 FROM generate_series(1, {options.rows}) i"
        )
    db = Database()
    started = time.perf_counter()
    db.execute(
        "CREATE TABLE t (k BIGINT PRIMARY KEY, name VARCHAR, amount DECIMAL(12,2)) WITH ("
        f"connector = 'postgres-cdc', hostname = '{url.hostname}', port = '{url.port or 5432}', "
        f"username = '{urllib.parse.unquote(url.username or '')}', "
        f"password = '{urllib.parse.unquote(url.password or '')}', "
        f"\"database.name\" = '{url.path.lstrip('/')}', \"table.name\" = 'tidal_bench_in', "
        "\"slot.name\" = 'tidal_bench_slot')"
    )
    db.execute(
        "CREATE MATERIALIZED VIEW changed AS SELECT count(*) AS n FROM t WHERE name LIKE 'u%'"
    )
    _until(db, "SELECT count(*) AS n FROM t", options.rows)
    timings = [("snapshot", options.rows, time.perf_counter() - started)]
    started = time.perf_counter()
    with connection.cursor() as cursor:
        for start in range(1, options.rows + 1, options.batch_rows):
            cursor.execute(
                "UPDATE tidal_bench_in SET name = 'u' || k WHERE k BETWEEN %s AND %s",
                (start, start + options.batch_rows - 1),
            )
    _until(db, "SELECT n FROM changed", options.rows)
    timings.append(("stream (updates)", options.rows, time.perf_counter() - started))
    db.execute("DROP TABLE t CASCADE")  # drops the slot
    db.close()
    return timings


def _until(db, query: str, count: int) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while db.execute(query).column(0)[0].as_py() != count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"tidal did not catch up: {db.take_source_errors()[:3]}")
        db.tick()
