"""A bare-bytes PostgreSQL client for protocol tests: exact messages in, exact messages out."""

from __future__ import annotations

import socket
import struct

PROTOCOL_3 = 3 << 16


def message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstring(text: str) -> bytes:
    return text.encode() + b"\0"


def startup_packet(version: int = PROTOCOL_3, **params: str) -> bytes:
    params = {"user": "tester", "database": "tidal", **params}
    body = struct.pack("!i", version) + b"".join(cstring(k) + cstring(v) for k, v in params.items())
    return struct.pack("!i", len(body) + 5) + body + b"\0"


def parse(name: str, text: str, oids: tuple[int, ...] = ()) -> bytes:
    body = cstring(name) + cstring(text) + struct.pack(f"!h{len(oids)}i", len(oids), *oids)
    return message(b"P", body)


def bind(portal: str, statement: str, values: tuple[bytes | None, ...] = ()) -> bytes:
    body = cstring(portal) + cstring(statement) + struct.pack("!h", 0)
    body += struct.pack("!h", len(values))
    for value in values:
        body += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    return message(b"B", body + struct.pack("!h", 0))


def execute(portal: str, max_rows: int = 0) -> bytes:
    return message(b"E", cstring(portal) + struct.pack("!i", max_rows))


def describe(kind: str, name: str) -> bytes:
    return message(b"D", kind.encode() + cstring(name))


SYNC = message(b"S")
FLUSH = message(b"H")
TERMINATE = message(b"X")


def query(text: str) -> bytes:
    return message(b"Q", cstring(text))


class Raw:
    """A socket speaking the protocol, with a timeout on every read."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, n: int) -> bool:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buffer += chunk
        return True

    def read_byte(self) -> bytes:
        if not self._fill(1):
            return b""
        byte, self.buffer = self.buffer[:1], self.buffer[1:]
        return byte

    def read(self) -> tuple[bytes, bytes] | None:
        """The next message (type, body), or None when the server closed the connection."""
        if not self._fill(5):
            return None
        kind = self.buffer[:1]
        size = struct.unpack("!i", self.buffer[1:5])[0]
        if not self._fill(1 + size):
            return None
        body = self.buffer[5 : 1 + size]
        self.buffer = self.buffer[1 + size :]
        return kind, body

    def until_ready(self) -> list[tuple[bytes, bytes]]:
        """Messages up to and including ReadyForQuery (or the end of the connection)."""
        messages = []
        while True:
            got = self.read()
            if got is None:
                return messages
            messages.append(got)
            if got[0] == b"Z":
                return messages

    def login(self, **params: str) -> list[tuple[bytes, bytes]]:
        self.send(startup_packet(**params))
        return self.until_ready()

    def close(self) -> None:
        self.sock.close()


def error_fields(body: bytes) -> dict[str, str]:
    """The fields of an ErrorResponse or NoticeResponse body."""
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[part[:1].decode()] = part[1:].decode()
    return fields
