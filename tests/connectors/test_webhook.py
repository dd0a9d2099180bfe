"""The webhook connector over real HTTP on 127.0.0.1: rows POSTed into a table reach its views;
the secret (bearer or HMAC) is checked; every refusal has its status and changes nothing;
concurrent and stalled clients; rows acknowledged survive a restart and a kill -9.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE, WRONG_OBJECT_TYPE, TidalError
from tidal.engine import Database
from tidal.engine.connectors.webhook import signature

SECRET = "s3cret"
BEARER = {"Authorization": f"Bearer {SECRET}"}
EVENTS = (
    "CREATE TABLE events (id BIGINT, kind VARCHAR, payload JSON, PRIMARY KEY (id)) "
    f"WITH (connector = 'webhook', secret = '{SECRET}')"
)
WAIT = 10.0  # seconds any single wait in these tests may take


def post(
    address: tuple[str, int],
    table: str,
    body: bytes | str | object,
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> tuple[int, dict]:
    """One request; its status and JSON answer."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    connection = http.client.HTTPConnection(*address, timeout=WAIT)
    try:
        connection.request(method, f"/webhook/{table}", body=body, headers=headers or {})
        response = connection.getresponse()
        text = response.read()
        return response.status, json.loads(text) if text else {}
    finally:
        connection.close()


def rows(db: Database, sql: str) -> list[dict]:
    return db.execute(sql).to_pylist()


@pytest.fixture
def db():
    database = Database()
    database.execute(EVENTS)
    database.execute(
        "CREATE MATERIALIZED VIEW kinds AS SELECT kind, count(*) AS n FROM events GROUP BY kind"
    )
    yield database
    database.close()


# --- rows in -----------------------------------------------------------------------------------


def test_posted_rows_reach_the_table_and_its_view(db):
    assert db.webhook_address[0] == "127.0.0.1" and db.webhook_address[1] > 0
    one = {"id": 1, "kind": "push", "payload": {"ref": "main", "commits": [1, 2]}}
    assert post(db.webhook_address, "events", one, BEARER) == (200, {"rows": 1})
    array = [{"id": 2, "kind": "push"}, {"id": 3, "kind": "issue", "payload": None}]
    assert post(db.webhook_address, "events", array, BEARER) == (200, {"rows": 2})
    lines = '{"id": 4, "kind": "issue"}\n\n{"ID": 5, "Kind": "push", "extra": [1]}\n'
    assert post(db.webhook_address, "events", lines, BEARER) == (200, {"rows": 2})
    assert rows(db, "SELECT * FROM kinds ORDER BY kind") == [
        {"kind": "issue", "n": 2},
        {"kind": "push", "n": 3},
    ]
    assert rows(db, "SELECT id, payload FROM events WHERE id IN (1, 3)") == [
        {"id": 1, "payload": '{"ref": "main", "commits": [1, 2]}'},
        {"id": 3, "payload": None},
    ]
    # the JSON column holds JSON: its fields can be read by SQL
    found = rows(db, "SELECT payload->>'ref' AS ref FROM events WHERE id = 1")
    assert found == [{"ref": "main"}]


def test_values_are_typed_as_their_columns():
    db = Database()
    db.execute(
        "CREATE TABLE typed (d DATE, ts TIMESTAMPTZ, price DECIMAL(10, 2), ok BOOLEAN, "
        "tags VARCHAR[], score REAL) WITH (connector = 'webhook', secret = 'k')"
    )
    row = {
        "d": "2026-12-08",
        "ts": "2026-12-08T10:00:00+02:00",
        "price": 1.5,
        "ok": True,
        "tags": ["a", "b"],
        "score": 2,
    }
    assert post(db.webhook_address, "typed", row, {"Authorization": "Bearer k"})[0] == 200
    got = rows(
        db,
        "SELECT CAST(d AS VARCHAR) AS d, CAST(ts AS VARCHAR) AS ts, CAST(price AS VARCHAR) AS p, "
        "ok, tags, score FROM typed",
    )
    assert got == [
        {
            "d": "2026-12-08",
            "ts": "2026-12-08 08:00:00+00",
            "p": "1.50",
            "ok": True,
            "tags": ["a", "b"],
            "score": 2.0,
        }
    ]
    db.close()


def test_sql_cannot_insert_into_a_webhook_table_but_http_can(db):
    with pytest.raises(TidalError) as error:
        db.execute("INSERT INTO events VALUES (9, 'sql', NULL)")
    assert error.value.sqlstate == WRONG_OBJECT_TYPE
    assert post(db.webhook_address, "events", {"id": 9, "kind": "http"}, BEARER)[0] == 200
    assert rows(db, "SELECT kind FROM events") == [{"kind": "http"}]


# --- the secret --------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["X-Tidal-Signature", "X-Hub-Signature-256"])
def test_an_hmac_signature_of_the_body_is_accepted(db, header):
    body = json.dumps({"id": 1, "kind": "signed"}).encode()
    assert post(db.webhook_address, "events", body, {header: signature(body, SECRET)}) == (
        200,
        {"rows": 1},
    )
    assert rows(db, "SELECT kind FROM events") == [{"kind": "signed"}]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {SECRET}"},
        {"X-Tidal-Signature": signature(b'{"id": 1}', "wrong")},
        {"X-Tidal-Signature": signature(b'{"id": 2}', SECRET)},  # of another body
        {"X-Tidal-Signature": "sha256=" + "0" * 64},
    ],
    ids=["none", "wrong-bearer", "basic", "wrong-key", "other-body", "zeros"],
)
def test_a_wrong_or_missing_secret_is_401_and_applies_nothing(db, headers):
    status, answer = post(db.webhook_address, "events", b'{"id": 1}', headers)
    assert status == 401 and answer["error"]
    assert rows(db, "SELECT count(*) AS n FROM events") == [{"n": 0}]


# --- refusals ----------------------------------------------------------------------------------


def test_refused_requests_have_their_status_and_leave_the_table_unchanged(db):
    address = db.webhook_address
    db.execute("CREATE TABLE plain (id BIGINT)")
    post(address, "events", {"id": 1, "kind": "first"}, BEARER)
    cases = [
        ("events", b'{"id": 2,', 400, "not valid JSON"),
        ("events", b'{"id": 2}\n{"id": ', 400, "line 2"),
        ("events", b"[1, 2]", 400, "row 1 is a JSON number"),
        ("events", b'"text"', 400, "JSON string"),
        ("events", b"\xff\xfe", 400, "not UTF-8"),
        ("events", b"", 400, "empty"),
        ("events", b'[{"id": 2}, {"id": "three"}]', 400, "row 2, column 'id'"),
        ("events", b'[{"id": 2}, {"kind": "no key"}]', 400, "row 2, column 'id'"),
        ("events", b'[{"id": 2}, {"id": 1}]', 409, "Key (id)=(1) already exists"),
        ("events", b'[{"id": 2}, {"id": 2}]', 409, "duplicate key"),
        ("nothing", b'{"id": 2}', 404, "no webhook table 'nothing'"),
        ("plain", b'{"id": 2}', 404, "no webhook table 'plain'"),
    ]
    for table, body, status, message in cases:
        got, answer = post(address, table, body, BEARER)
        assert (got, message in answer["error"]) == (status, True), (body, answer)
    assert post(address, "events", b"", BEARER, method="GET")[0] == 405
    assert post(address, "events", b"", BEARER, method="PUT")[0] == 405
    assert rows(db, "SELECT id, kind FROM events") == [{"id": 1, "kind": "first"}]
    assert rows(db, "SELECT * FROM kinds") == [{"kind": "first", "n": 1}]


def test_a_body_over_the_limit_is_413_before_it_is_read():
    db = Database()
    db.execute(
        "CREATE TABLE small (v VARCHAR) WITH (connector = 'webhook', secret = 'k', "
        "max_body_size = '1kB')"
    )
    headers = {"Authorization": "Bearer k"}
    assert post(db.webhook_address, "small", {"v": "x" * 900}, headers)[0] == 200
    status, answer = post(db.webhook_address, "small", {"v": "x" * 2000}, headers)
    assert status == 413 and "max_body_size (1024 bytes)" in answer["error"]
    # the limit is checked from Content-Length alone: a client announcing a huge body is
    # answered at once, without it being sent
    connection = socket.create_connection(db.webhook_address, timeout=WAIT)
    connection.sendall(
        b"POST /webhook/small HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        b"Content-Length: 1000000000\r\n\r\n"
    )
    assert connection.recv(100).startswith(b"HTTP/1.1 413")
    connection.close()
    assert rows(db, "SELECT count(*) AS n FROM small") == [{"n": 1}]
    db.close()


def test_a_body_without_content_length_is_411(db):
    connection = socket.create_connection(db.webhook_address, timeout=WAIT)
    connection.sendall(
        b"POST /webhook/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"id"\r\n0\r\n\r\n'
    )
    assert connection.recv(100).startswith(b"HTTP/1.1 411")
    connection.close()


def test_rows_past_the_memory_budget_are_503_and_change_nothing():
    db = Database(memory_limit="4MB")
    db.execute("CREATE TABLE big (k BIGINT) WITH (connector = 'webhook', secret = 'k')")
    headers = {"Authorization": "Bearer k"}
    assert post(db.webhook_address, "big", [{"k": i} for i in range(100_000)], headers)[0] == 200
    status, answer = post(db.webhook_address, "big", [{"k": i} for i in range(200_000)], headers)
    assert status == 503 and "memory budget" in answer["error"]
    assert rows(db, "SELECT count(*) AS n FROM big") == [{"n": 100_000}]
    db.close()


@pytest.mark.parametrize(
    "options, message",
    [
        ("", "option 'secret' is required"),
        (", secret = 'k', format = 'csv'", "format = 'csv' is not supported"),
        (", secret = 'k', topic = 'x'", "option 'topic' does not apply here"),
        (", secret = 'k', max_body_size = 'big'", "max_body_size = 'big' is not a size"),
    ],
)
def test_bad_options_refuse_the_table(options, message):
    db = Database()
    with pytest.raises(TidalError) as error:
        db.execute(f"CREATE TABLE t (a INT) WITH (connector = 'webhook'{options})")
    assert error.value.sqlstate == INVALID_PARAMETER_VALUE and message in str(error.value)
    assert "t" not in db.catalog and db.webhook_address is None
    db.close()


def test_a_dropped_table_is_404_and_close_stops_the_listener(db):
    address = db.webhook_address
    db.execute("DROP MATERIALIZED VIEW kinds")
    db.execute("DROP TABLE events")
    assert post(address, "events", {"id": 1}, BEARER)[0] == 404
    db.close()
    with pytest.raises(OSError):
        post(address, "events", {"id": 1}, BEARER)


# --- many clients, slow clients ----------------------------------------------------------------


def test_concurrent_posts_all_land(db):
    def send(worker: int) -> None:
        for n in range(10):
            row = {"id": worker * 100 + n, "kind": f"w{worker % 2}"}
            results.append(post(db.webhook_address, "events", row, BEARER)[0])

    results: list[int] = []
    threads = [threading.Thread(target=send, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert results == [200] * 80
    assert rows(db, "SELECT * FROM kinds ORDER BY kind") == [
        {"kind": "w0", "n": 40},
        {"kind": "w1", "n": 40},
    ]


def test_a_stalled_client_holds_up_neither_requests_nor_ticks():
    db = Database()
    db.webhooks.timeout = 2.0  # seconds a client has to send its request
    db.execute(EVENTS)
    db.execute("CREATE TABLE other (v INT)")
    stalled = socket.create_connection(db.webhook_address, timeout=WAIT)
    stalled.sendall(
        b"POST /webhook/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n"
        b'Content-Length: 1000\r\n\r\n{"id": 1'
    )
    started = time.monotonic()
    assert post(db.webhook_address, "events", {"id": 2}, BEARER)[0] == 200
    db.execute("INSERT INTO other VALUES (1)")  # a tick of DML
    assert time.monotonic() - started < 1.8  # none of it waited for the stalled client
    assert stalled.recv(100) == b""  # cut off after the timeout, answered nothing
    assert time.monotonic() - started < WAIT
    stalled.close()
    assert rows(db, "SELECT id FROM events") == [{"id": 2}]
    db.close()


def test_connections_past_the_limit_are_answered_503():
    db = Database()
    db.webhooks.max_connections = 2
    db.execute(EVENTS)
    idle = [socket.create_connection(db.webhook_address, timeout=WAIT) for _ in range(2)]
    time.sleep(0.2)  # both taken by the server
    third = socket.create_connection(db.webhook_address, timeout=WAIT)
    answer = third.recv(1000)  # at once, before the client says anything
    assert answer.startswith(b"HTTP/1.1 503") and b"too many connections" in answer
    third.close()
    for connection in idle:
        connection.close()
    deadline = time.monotonic() + WAIT
    while _posting(db.webhook_address, {"id": 1}) != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    db.close()


# --- durability --------------------------------------------------------------------------------


def test_acknowledged_rows_survive_a_restart_and_the_listener_comes_back(tmp_path):
    db = Database(tmp_path / "data")
    db.execute(EVENTS)
    assert post(db.webhook_address, "events", [{"id": 1}, {"id": 2}], BEARER)[0] == 200
    db.close()
    again = Database(tmp_path / "data")
    assert again.webhook_address is not None  # the table's DDL re-ran at recovery
    assert post(again.webhook_address, "events", {"id": 3}, BEARER)[0] == 200
    assert post(again.webhook_address, "events", {"id": 1}, BEARER)[0] == 409
    assert rows(again, "SELECT id FROM events ORDER BY id") == [{"id": 1}, {"id": 2}, {"id": 3}]
    again.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT * 3
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _posting(address: tuple[str, int], row: dict) -> int | None:
    try:
        return post(address, "events", row, BEARER)[0]
    except OSError:
        return None


def _serve(data_dir, webhook_port: int, init=None) -> subprocess.Popen:
    command = [sys.executable, "-m", "tidal.shell.cli", "serve", "--port", "0"]
    command += ["--data-dir", str(data_dir), "--webhook-port", str(webhook_port)]
    if init is not None:
        command += ["--init", str(init)]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@pytest.mark.slow
def test_rows_acknowledged_before_a_kill_9_of_tidal_serve_are_kept(tmp_path):
    init = tmp_path / "init.sql"
    init.write_text(EVENTS + ";\n")
    port = _free_port()
    address = ("127.0.0.1", port)
    acknowledged: list[int] = []
    sent: list[int] = []

    def keep_posting() -> None:
        for n in range(1, 100_000):
            sent.append(n)
            if _posting(address, {"id": n, "kind": "before"}) != 200:
                return
            acknowledged.append(n)

    server = _serve(tmp_path / "data", port, init)
    try:
        _wait_for(lambda: _posting(address, {"id": 0}) == 200, "tidal serve took no webhook")
        poster = threading.Thread(target=keep_posting)
        poster.start()
        _wait_for(lambda: len(acknowledged) >= 50, "no rows acknowledged")
        os.kill(server.pid, signal.SIGKILL)  # while a request is on its way
        server.wait(WAIT)
        poster.join(WAIT)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(WAIT)
    server = _serve(tmp_path / "data", port)
    try:
        _wait_for(lambda: _posting(address, {"id": -1}) == 200, "no webhook after restart")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(WAIT)
    db = Database(tmp_path / "data")
    found = [r["id"] for r in rows(db, "SELECT id FROM events ORDER BY id")]
    db.close()
    # every acknowledged row is kept; the one in flight at the kill may be or not
    kept = [-1, 0, *acknowledged]
    assert found in (kept, sorted([*kept, sent[-1]]))


def test_expect_100_continue_is_answered_only_when_the_body_is_wanted(db):
    def ask(secret: str) -> bytes:
        connection = socket.create_connection(db.webhook_address, timeout=WAIT)
        connection.sendall(
            b"POST /webhook/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
            + secret.encode()
            + b"\r\nExpect: 100-continue\r\nContent-Length: 9\r\n\r\n"
        )
        first = connection.recv(100)
        if first.startswith(b"HTTP/1.1 100"):
            connection.sendall(b'{"id": 7}')
            first += connection.recv(1000)
        connection.close()
        return first

    assert ask("wrong").startswith(b"HTTP/1.1 401")
    answer = ask(SECRET)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n") and b"200 OK" in answer
    assert rows(db, "SELECT id FROM events") == [{"id": 7}]


def test_a_redelivered_request_is_harmless_with_on_conflict(db):
    db.execute(
        "CREATE TABLE latest (id BIGINT PRIMARY KEY, v INT) ON CONFLICT OVERWRITE "
        "WITH (connector = 'webhook', secret = 'k')"
    )
    headers = {"Authorization": "Bearer k"}
    body = [{"id": 1, "v": 1}, {"id": 2, "v": 2}]
    assert post(db.webhook_address, "latest", body, headers) == (200, {"rows": 2})
    assert post(db.webhook_address, "latest", body, headers) == (200, {"rows": 2})
    assert post(db.webhook_address, "latest", {"id": 1, "v": 10}, headers)[0] == 200
    assert rows(db, "SELECT * FROM latest ORDER BY id") == [
        {"id": 1, "v": 10},
        {"id": 2, "v": 2},
    ]


def test_the_secret_is_not_shown(db):
    shown = [db.execute("SHOW TABLES"), db.execute("DESCRIBE events"), db.stats()]
    assert SECRET not in repr(shown)


def test_a_port_in_use_refuses_the_table_and_then_the_data_directory(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        db = Database(webhook_port=port)
        with pytest.raises(TidalError) as error:
            db.execute(EVENTS)
        assert f"cannot listen for webhooks on 127.0.0.1:{port}" in str(error.value)
        assert "events" not in db.catalog
        db.close()
        db = Database(tmp_path / "data")
        db.execute(EVENTS)
        db.close()
        with pytest.raises(TidalError) as error:
            Database(tmp_path / "data", webhook_port=port)
        assert "choose another webhook port" in str(error.value)
    again = Database(tmp_path / "data", webhook_port=port)  # released: it opens once free
    assert again.webhook_address == ("127.0.0.1", port)
    again.close()


def test_rows_a_view_cannot_process_are_400_and_undone(db):
    db.execute("CREATE MATERIALIZED VIEW ratios AS SELECT 100 / id AS r FROM events")
    assert post(db.webhook_address, "events", {"id": 5}, BEARER)[0] == 200
    status, answer = post(db.webhook_address, "events", [{"id": 4}, {"id": 0}], BEARER)
    assert status == 400 and "division by zero" in answer["error"]
    assert rows(db, "SELECT id FROM events") == [{"id": 5}]
    assert rows(db, "SELECT r FROM ratios") == [{"r": 20}]
