"""Messages pipelined in one write are answered in order, whether each is answered at once (a
SHOW, a Bind, a Sync) or waits for the engine's thread; a client that stops reading is held
back without losing anything; what a client sent just before closing still runs."""

from __future__ import annotations

import socket
import struct
import threading
import time

import psycopg
from wire_client import SYNC, Raw, bind, execute, parse, query


def kinds(messages) -> str:
    return "".join(k.decode() for k, _ in messages)


def first_value(messages) -> str:
    body = next(body for kind, body in messages if kind == b"D")
    (size,) = struct.unpack_from("!i", body, 2)
    return body[6 : 6 + size].decode()


def extended(sql: str) -> bytes:
    return parse("", sql) + bind("", "") + execute("") + SYNC


def test_pipelined_messages_are_answered_in_order(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(
        query("CREATE TABLE pipe (x INTEGER)")  # runs on the engine's thread
        + extended("SHOW TimeZone")  # answered at once
        + query("INSERT INTO pipe VALUES (1), (2)")
        + extended("SELECT count(*) AS n FROM pipe")
        + extended("SHOW application_name")
    )
    replies = [raw.until_ready() for _ in range(5)]
    assert [kinds(r) for r in replies] == ["CZ", "12DCZ", "CZ", "12DCZ", "12DCZ"]
    assert first_value(replies[1]) == "UTC"
    assert first_value(replies[3]) == "2"  # the INSERT ran before the count, as sent
    raw.close()


def _replies(data: bytes) -> list[str]:
    """The message kinds of each reply (up to ReadyForQuery) in a stream of messages."""
    replies, current, at = [], [], 0
    while at < len(data):
        kind = data[at : at + 1].decode()
        (size,) = struct.unpack_from("!i", data, at + 1)
        current.append(kind)
        at += 1 + size
        if kind == "Z":
            replies.append("".join(current))
            current = []
    assert at == len(data) and not current  # no message cut short
    return replies


def test_a_client_that_stops_reading_is_held_back_and_loses_nothing(server):
    """Megabytes of replies fill the socket buffers: the server stops answering, then stops
    reading, until the client reads again; then every reply arrives, whole and in order."""
    raw = Raw(server.host, server.port, timeout=60)
    raw.login()
    count = 2000
    sender = threading.Thread(target=raw.send, args=(extended("SHOW ALL") * count,))
    sender.start()
    time.sleep(1.0)  # read nothing meanwhile
    data = bytearray(raw.buffer)
    deadline = time.monotonic() + 60
    while data.count(b"Z\x00\x00\x00\x05I") < count and time.monotonic() < deadline:
        data += raw.sock.recv(1 << 20)
    sender.join(10)
    replies = _replies(bytes(data))
    assert len(replies) == count
    assert len(data) > 2_000_000  # more than the socket buffers hold
    assert len(set(replies)) == 1 and replies[0].startswith("12D") and replies[0].endswith("CZ")
    raw.send(extended("SHOW TimeZone"))
    raw.buffer = b""
    assert kinds(raw.until_ready()) == "12DCZ"
    raw.close()


def test_a_statement_sent_just_before_closing_still_runs(server):
    raw = Raw(server.host, server.port)
    raw.login()
    raw.send(query("CREATE TABLE parting (x INTEGER)"))
    raw.until_ready()
    raw.send(query("INSERT INTO parting VALUES (7)"))
    raw.sock.shutdown(socket.SHUT_WR)  # the server reads the end of the stream right after
    assert kinds(raw.until_ready()) == "CZ"  # the answer still comes
    assert raw.read() is None  # then the server closes
    raw.close()
    with psycopg.connect(server.dsn) as connection:
        assert connection.execute("SELECT x FROM parting").fetchall() == [(7,)]
