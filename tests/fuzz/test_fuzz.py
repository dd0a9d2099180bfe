"""A bounded, seeded fuzz run (tests/fuzz/fuzzing.py): mutated SQL through the API and over
psycopg, malformed messages over a raw socket; no crash, no hang, no internal error leaks."""

from __future__ import annotations

import pytest

from tests.fuzz.fuzzing import Findings, fuzz_database, fuzz_pgwire, fuzz_wire, leak, mutate
from tests.pgwire.conftest import start_server

SEED = 15


def test_mutated_sql_through_the_api_leaks_nothing():
    findings = fuzz_database(SEED, 600, Findings())
    assert findings.problems == []
    assert findings.errors > 100  # the mutations did reach the error paths


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("fuzz"), init=None)
    yield running
    assert running.stop() == 0  # it did not crash meanwhile


def test_mutated_sql_over_pgwire_leaks_nothing(server):
    findings = fuzz_pgwire(server.dsn, SEED + 1, 200, Findings())
    assert findings.problems == []
    assert findings.errors > 20


def test_malformed_messages_leave_the_server_answering(server):
    findings = fuzz_wire(server.host, server.port, SEED + 2, 400, Findings())
    assert findings.problems == []
    assert findings.messages == 400


def test_the_oracle_catches_what_it_is_for():
    import random

    assert leak("XX000", "internal error; please report it")
    assert leak("42601", "'NoneType' object has no attribute 'args'")
    assert not leak("42601", "syntax error at or near ','")
    mutated = {mutate("SELECT a + 1 FROM t WHERE b = 'x'", random.Random(n)) for n in range(30)}
    assert len(mutated) > 15


OVER_THE_WIRE = {
    "SELECT " + "(" * 500 + "1" + ")" * 500: "54001",
    "SELECT " + "abs(" * 200 + "1" + ")" * 200: "54001",
    "DELETE dept WHERE id = 1": "42601",
    "CREATE VIEW recent": "42601",
    "EXPLAIN": "42601",
    "SELECT * FROM HOP(dept, , INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)": "42601",
    "CREATE TABLE d (a DECIMAL(0,0))": "22023",
    "SELECT " + "9" * 200_000: "54000",
    "SELECT repeat('x', 1000000000)": "54000",
    "SELECT * FROM dept ORDER BY 1e400": "42601",
}


def test_findings_over_psycopg_get_their_sqlstates(server):
    import psycopg

    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS dept (id INT, name VARCHAR)")
        for sql, code in OVER_THE_WIRE.items():
            with pytest.raises(psycopg.errors.Error) as caught:
                connection.execute(sql.encode())
            assert caught.value.sqlstate == code, (sql[:60], caught.value)
            assert connection.execute("SELECT 1").fetchone() == (1,)
        # a lone surrogate is no UTF-8: its bytes are refused (22021, the session goes on),
        # and no table is made that would break SHOW TABLES
        with pytest.raises(psycopg.errors.CharacterNotInRepertoire):
            connection.execute('CREATE TABLE "a\udc80b" (x INT)'.encode("utf-8", "surrogatepass"))
        assert connection.execute("SELECT 1").fetchone() == (1,)
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=10) as connection:
        names = [row[0] for row in connection.execute(b"SHOW TABLES").fetchall()]
        assert "dept" in names
