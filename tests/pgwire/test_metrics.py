"""``/metrics`` of a running ``tidal serve`` scraped with prometheus_client's parser while a
datagen pipeline flows, and the tidal_* system relations over pgwire (psycopg and psql)."""

from __future__ import annotations

import datetime
import re
import socket
import subprocess
import sys
import time
import urllib.request

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

# clicks' event times lie 60 to 30 seconds before the server starts: its lag is about 31 s
# and grows with the wall clock; most rows come behind the 1 second watermark (late rows).
PIPELINE = """
CREATE SOURCE clicks (id BIGINT, ts TIMESTAMP, WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH (connector = 'datagen', 'rows-per-second' = '2000',
      'fields.ts.min' = '{start}', 'fields.ts.max' = '{end}');
CREATE SOURCE plain (id BIGINT) WITH (connector = 'datagen', 'rows-per-second' = '500');
CREATE SOURCE pay (id INTEGER, amount INTEGER)
WITH (connector = 'file', path = 'pay.csv', format = 'csv');
CREATE MATERIALIZED VIEW plain_count AS SELECT count(*) AS n FROM plain;
CREATE MATERIALIZED VIEW per_bucket AS SELECT id % 10 AS b, count(*) AS c FROM clicks GROUP BY 1;
CREATE SINK nowhere FROM per_bucket WITH (connector = 'blackhole');
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    from tests.pgwire.conftest import start_server

    folder = tmp_path_factory.mktemp("metrics")
    (folder / "pay.csv").write_text("id,amount\n1,10\n2,oops\n3,30\n")
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None, microsecond=0)
    start, end = now - datetime.timedelta(seconds=60), now - datetime.timedelta(seconds=30)
    port = free_port()
    running = start_server(
        folder,
        "--metrics-port",
        str(port),
        init=PIPELINE.format(start=start, end=end),
    )
    yield running, port
    running.stop()


def test_metrics_move_while_the_pipeline_runs(pipeline):
    _, port = pipeline
    first = scrape(port)
    time.sleep(1.5)
    second = scrape(port)
    assert second["tidal_ticks_total", ()] > first["tidal_ticks_total", ()] > 0
    assert second["tidal_tick_duration_seconds_count", ()] == second["tidal_ticks_total", ()]
    assert (
        second["tidal_tick_duration_seconds_bucket", (("le", "+Inf"),)]
        == (second["tidal_ticks_total", ()])
    )
    clicks = (("source", "clicks"),)
    assert second["tidal_source_rows_total", clicks] > first["tidal_source_rows_total", clicks]
    assert (
        second["tidal_source_bytes_total", clicks] >= 8 * second["tidal_source_rows_total", clicks]
    )
    assert 29 < second["tidal_source_lag_seconds", clicks] < 300
    watermark = second["tidal_source_watermark_seconds", clicks]
    assert abs(time.time() - watermark - second["tidal_source_lag_seconds", clicks]) < 5
    assert second["tidal_late_rows_total", (("relation", "clicks"),)] > 0
    assert second["tidal_source_bad_records_total", (("source", "pay"),)] == 1
    assert second["tidal_source_rows_total", (("source", "pay"),)] == 2
    assert second["tidal_operator_state_rows", (("view", "per_bucket"),)] >= 10
    assert second["tidal_operator_state_bytes", (("view", "per_bucket"),)] > 0
    sink = (("sink", "nowhere"),)
    assert second["tidal_sink_rows_total", sink] > 0
    assert second["tidal_sink_commit_lag_seconds", sink] == 0  # a blackhole does not stage


def test_pgwire_connections_queries_and_errors_are_counted(pipeline):
    server, port = pipeline
    before = scrape(port)
    missing = (("sqlstate", "42P01"),)
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        during = scrape(port)
        connection.execute("SELECT 1").fetchall()
        with pytest.raises(psycopg.errors.UndefinedTable):
            connection.execute("SELECT * FROM no_such_table")
    time.sleep(0.2)  # the server sees the client leave
    after = scrape(port)
    assert during["tidal_pgwire_connections", ()] == before["tidal_pgwire_connections", ()] + 1
    assert after["tidal_pgwire_connections", ()] == before["tidal_pgwire_connections", ()]
    assert after["tidal_pgwire_queries_total", ()] >= before["tidal_pgwire_queries_total", ()] + 2
    assert (
        after["tidal_pgwire_errors_total", missing]
        == before.get(("tidal_pgwire_errors_total", missing), 0) + 1
    )


def test_system_relations_over_psycopg_join_user_views(pipeline):
    server, _ = pipeline
    with psycopg.connect(server.dsn, autocommit=True) as connection:
        rows, counted = connection.execute(
            "SELECT s.rows, c.n FROM tidal_sources s, plain_count c WHERE s.name = 'plain'"
        ).fetchone()
        assert rows == counted > 0  # read at one tick: the rows read are the rows counted
        sources = dict(connection.execute("SELECT name, errors FROM tidal_sources").fetchall())
        assert sources == {"clicks": 0, "plain": 0, "pay": 1}
        location, problem = connection.execute(
            "SELECT location, problem FROM tidal_source_errors WHERE source = 'pay'"
        ).fetchone()
        assert location == "pay.csv:3" and "oops" in problem
        # one statement reads every relation it names at one tick
        tick, kept, last_tick = connection.execute(
            "SELECT max(t.tick), count(*), max(s.last_tick) FROM tidal_ticks t, tidal_sinks s "
            "WHERE s.name = 'nowhere'"
        ).fetchone()
        assert tick >= kept > 0
        assert 0 < last_tick <= tick
        with pytest.raises(psycopg.errors.WrongObjectType):
            connection.execute("DELETE FROM tidal_ticks")
        # as pg_catalog lists them: the engine answers, not the catalog's tables
        (named,) = connection.execute(
            "SELECT count(*) FROM pg_catalog.tidal_views WHERE name = 'plain_count'"
        ).fetchone()
        assert named == 1


def test_system_relations_over_psql(pipeline):
    server, _ = pipeline
    done = server.psql("-A", "-t", "-c", "SELECT name, materialized FROM tidal_views ORDER BY name")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["per_bucket|t", "plain_count|t"]
    refused = server.psql("-c", "CREATE TABLE tidal_sinks (a INTEGER)")
    assert refused.returncode != 0
    assert "system relation" in refused.stderr


def test_a_metrics_port_in_use_is_said_and_the_run_stops(tmp_path):
    script = tmp_path / "p.sql"
    script.write_text("SELECT 1 AS one;\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tidal.shell.cli",
                "run",
                "--metrics-port",
                str(port),
                str(script),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot serve metrics on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "choose another --metrics-port" in done.stderr
    assert "one" not in done.stdout  # the script did not run


def test_psql_describes_them_from_pg_catalog(pipeline):
    server, _ = pipeline
    described = server.psql("-c", "\\d tidal_sources")
    assert described.returncode == 0, described.stderr
    assert 'Table "pg_catalog.tidal_sources"' in described.stdout
    assert re.search(r"\n lag_seconds +\| double precision +\|", described.stdout)
    listed = server.psql("-c", "\\dtS tidal_*")
    assert listed.returncode == 0, listed.stderr
    for name in ("tidal_sources", "tidal_source_errors", "tidal_views", "tidal_ticks"):
        assert re.search(rf"\n pg_catalog \| {name} +\| table", listed.stdout), listed.stdout
    plain = server.psql("-c", "\\d")  # user relations only, as psql shows them
    assert "tidal_sources" not in plain.stdout and "plain_count" in plain.stdout
