"""The protocol at the byte level: startup variants, the extended protocol's edges, limits,
and bad input, which must end only the connection that sent it."""

from __future__ import annotations

import signal
import struct
import time

import psycopg
import pytest
from wire_client import (
    FLUSH,
    SYNC,
    TERMINATE,
    Raw,
    bind,
    describe,
    error_fields,
    execute,
    message,
    parse,
    query,
    startup_packet,
)


def kinds(messages) -> str:
    return "".join(k.decode() for k, _ in messages)


def fatal_code(messages) -> str | None:
    for kind, body in messages:
        if kind == b"E":
            fields = error_fields(body)
            assert fields["S"] == "FATAL" and fields["V"] == "FATAL"
            return fields["C"]
    return None


def test_startup_reports_parameters_and_key(server):
    raw = Raw(server.host, server.port)
    messages = raw.login(application_name="raw-test")
    assert kinds(messages)[0] == "R" and kinds(messages)[-2:] == "KZ"
    status = dict(
        tuple(v.decode() for v in body.split(b"\0")[:2]) for k, body in messages if k == b"S"
    )
    assert status["client_encoding"] == "UTF8"
    assert status["DateStyle"].startswith("ISO")
    assert status["standard_conforming_strings"] == "on"
    assert status["integer_datetimes"] == "on"
    assert status["server_version"] == "15.0"
    assert status["TimeZone"] == "UTC"
    assert status["application_name"] == "raw-test"
    assert status["session_authorization"] == "tester"
    raw.send(TERMINATE)
    assert raw.read() is None  # the server closes after Terminate
    raw.close()


def test_ssl_and_gssenc_requests_get_n_without_tls(server):
    raw = Raw(server.host, server.port)
    raw.send(struct.pack("!ii", 8, 80877104))  # GSSENCRequest
    assert raw.read_byte() == b"N"
    raw.send(struct.pack("!ii", 8, 80877103))  # SSLRequest
    assert raw.read_byte() == b"N"
    assert kinds(raw.login())[-1] == "Z"
    raw.close()


def test_newer_protocol_minor_is_negotiated_down(server):
    raw = Raw(server.host, server.port)
    raw.send(startup_packet((3 << 16) | 9999, **{"_pq_.test_option": "x"}))
    messages = raw.until_ready()
    assert kinds(messages)[0] == "v"
    minor, count = struct.unpack("!ii", messages[0][1][:8])
    assert (minor, count) == (0, 1)
    assert messages[0][1][8:] == b"_pq_.test_option\0"
    assert kinds(messages)[-1] == "Z"
    raw.close()


def test_protocol_2_is_refused(server):
    raw = Raw(server.host, server.port)
    raw.send(startup_packet(2 << 16))
    assert fatal_code(raw.until_ready()) == "0A000"
    raw.close()


def test_garbage_gets_08P01_and_others_carry_on(server):
    with psycopg.connect(server.dsn, autocommit=True, connect_timeout=5) as bystander:
        raw = Raw(server.host, server.port)
        raw.login()
        raw.send(b"\x01\x02garbage that is no message at all")
        assert fatal_code(raw.until_ready()) == "08P01"
        assert raw.read() is None
        raw.close()
        http = Raw(server.host, server.port)
        http.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert fatal_code(http.until_ready()) == "08P01"
        http.close()
        assert bystander.execute("SELECT count(*) FROM t").fetchone() == (3,)


def test_malformed_bodies_are_protocol_errors(server):
    bad = [
        message(b"Q", b"no terminator"),
        message(b"B", b"\0\0\xff\xff"),  # negative count
        message(b"P", b"s\0SELECT 1\0\0\x05"),  # 5 OIDs announced, none sent
        message(b"D", b"Zname\0"),  # Describe kind neither S nor P
        b"Q\x00\x00\x00\x02",  # length under 4
    ]
    for data in bad:
        raw = Raw(server.host, server.port)
        raw.login()
        raw.send(data)
        assert fatal_code(raw.until_ready()) == "08P01", data
        raw.close()


def test_text_that_is_not_utf8_is_refused_and_the_session_goes_on(server):
    """As in PostgreSQL: the message framed well, only its text bad, is an ERROR (22021)."""
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(message(b"Q", b"SELECT '\xff\xfe'\0"))
    answer = raw.until_ready()
    assert kinds(answer) == "EZ"
    fields = error_fields(answer[0][1])
    assert (fields["S"], fields["C"]) == ("ERROR", "22021")
    lone_surrogate = "SELECT '\udc80'".encode("utf-8", "surrogatepass")
    raw.send(message(b"P", b"\0" + lone_surrogate + b"\0" + struct.pack("!h", 0)) + SYNC)
    answer = raw.until_ready()
    assert kinds(answer) == "EZ" and error_fields(answer[0][1])["C"] == "22021"
    raw.send(query("SELECT 1 AS one"))
    assert kinds(raw.until_ready()) == "TDCZ"
    raw.close()


def test_oversized_message_is_refused_before_it_is_read(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(b"Q" + struct.pack("!i", 50 * 1024 * 1024) + b"SELECT ")
    messages = raw.until_ready()
    assert fatal_code(messages) == "08P01"
    assert "over the server's limit" in error_fields(messages[0][1])["M"]
    raw.close()


def test_oversized_startup_packet(server):
    raw = Raw(server.host, server.port)
    raw.send(struct.pack("!ii", 100_000, 3 << 16))
    assert fatal_code(raw.until_ready()) == "08P01"
    raw.close()


def test_extended_protocol_error_skips_to_sync(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(parse("", "SELECT * FROM nowhere") + bind("", "") + execute("") + SYNC)
    messages = raw.until_ready()
    assert kinds(messages) == "12EZ"  # a query is bound when it first runs
    assert error_fields(messages[2][1])["C"] == "42P01"
    raw.send(parse("", "SELEC 1") + bind("", "") + execute("") + SYNC)
    messages = raw.until_ready()
    assert kinds(messages) == "EZ"  # a syntax error is found at Parse: Bind is skipped
    assert error_fields(messages[0][1])["P"] == "7"  # at the "1" the parser stumbled on
    raw.send(parse("", "SELECT 1") + bind("", "") + execute("") + SYNC)
    assert kinds(raw.until_ready()) == "12DCZ"
    raw.close()


def test_portal_row_limit_suspends(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(
        parse("s1", "SELECT v FROM t ORDER BY v")
        + bind("p1", "s1")
        + execute("p1", 2)
        + execute("p1", 2)
        + SYNC
    )
    messages = raw.until_ready()
    assert kinds(messages) == "12DDsDCZ"
    assert messages[-2][1] == b"SELECT 1\0"
    raw.close()


def test_describe_statement_and_flush_without_sync(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(parse("q", "SELECT k, v FROM t WHERE v > $1") + describe("S", "q") + FLUSH)
    one, params, rows = raw.read(), raw.read(), raw.read()
    assert one[0] == b"1" and params[0] == b"t" and rows[0] == b"T"
    assert struct.unpack("!hI", params[1]) == (1, 23)  # $1 is an int4, like v
    raw.send(bind("", "q", (b"1",)) + execute("") + SYNC)
    messages = raw.until_ready()
    assert kinds(messages) == "2DDCZ"
    raw.close()


def test_multiple_commands_cannot_be_prepared(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(parse("", "SELECT 1; SELECT 2") + SYNC)
    messages = raw.until_ready()
    assert kinds(messages) == "EZ" and error_fields(messages[0][1])["C"] == "42601"
    raw.close()


def test_empty_query_and_transaction_status(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(query(""))
    assert kinds(raw.until_ready()) == "IZ"
    raw.send(query("BEGIN"))
    assert raw.until_ready()[-1] == (b"Z", b"T")
    raw.send(query("SELECT * FROM nowhere"))
    assert raw.until_ready()[-1] == (b"Z", b"E")
    raw.send(query("SELECT 1"))
    messages = raw.until_ready()
    assert error_fields(messages[0][1])["C"] == "25P02" and messages[-1] == (b"Z", b"E")
    raw.send(query("ROLLBACK"))
    assert raw.until_ready()[-1] == (b"Z", b"I")
    raw.close()


def test_max_connections(make_server):
    server = make_server("--max-connections", "2", init=None)
    first = psycopg.connect(server.dsn, connect_timeout=5)
    second = psycopg.connect(server.dsn, connect_timeout=5)
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(server.dsn, connect_timeout=5)
    assert "too many clients" in str(caught.value)
    first.close()
    time.sleep(0.2)
    with psycopg.connect(server.dsn, connect_timeout=5) as third:
        assert third.execute("SELECT 1").fetchone() == (1,)
    second.close()


def test_startup_and_idle_timeouts(make_server):
    server = make_server("--startup-timeout", "0.5", "--idle-timeout", "0.8", init=None)
    silent = Raw(server.host, server.port)
    started = time.monotonic()
    assert fatal_code(silent.until_ready()) == "08P01"
    assert time.monotonic() - started < 5
    silent.close()
    idle = Raw(server.host, server.port)
    idle.login()
    assert fatal_code(idle.until_ready()) == "57P05"
    idle.close()


def test_sigterm_ends_sessions_with_admin_shutdown(make_server):
    server = make_server(init=None)
    raw = Raw(server.host, server.port)
    raw.login()
    server.process.send_signal(signal.SIGTERM)
    assert fatal_code(raw.until_ready()) == "57P01"
    assert server.process.wait(15) == 0
    raw.close()


def test_sigterm_ends_a_streaming_subscription_too(make_server):
    server = make_server(init=None)
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(query("CREATE TABLE ticks (n INTEGER)"))
    raw.until_ready()
    raw.send(query("COPY (SUBSCRIBE ticks) TO STDOUT"))
    assert raw.read()[0] == b"H"  # CopyOutResponse: the stream is open
    server.process.send_signal(signal.SIGTERM)
    messages = raw.until_ready()
    assert fatal_code(messages) == "57P01"
    assert server.process.wait(15) == 0
    raw.close()
