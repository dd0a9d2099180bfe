"""PostgreSQL protocol v3 messages: bytes to messages and back, without any I/O.

Every function here is pure, so the decoder can be fuzzed: whatever bytes arrive, decoding
either returns messages or raises ``ProtocolError``.

    >>> framer = Framer(max_size=1 << 20)
    >>> framer.feed(b"Q\\x00\\x00\\x00\\x0dSELECT 1\\x00")
    >>> [parse_message(kind, body) for kind, body in framer]
    [Query(text='SELECT 1')]
    >>> command_complete("SELECT 1")
    b'C\\x00\\x00\\x00\\rSELECT 1\\x00'
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from tidal.catalog.sqlstate import (
    CHARACTER_NOT_IN_REPERTOIRE,
    FEATURE_NOT_SUPPORTED,
    INVALID_TEXT_REPRESENTATION,
    PROTOCOL_VIOLATION,
    TidalError,
)

PROTOCOL_3 = 3 << 16
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


class ProtocolError(TidalError):
    """Bytes that are not a valid message; the connection ends with FATAL ``sqlstate``."""

    sqlstate = PROTOCOL_VIOLATION


class BadEncoding(ProtocolError):
    """Text that is not UTF-8 in a message framed well: as in PostgreSQL, that message is
    refused with 22021 and the session goes on."""

    sqlstate = CHARACTER_NOT_IN_REPERTOIRE


# --- frontend messages -----------------------------------------------------------------------
# Plain slotted classes: one is made per message, and a frozen dataclass costs a setattr per field.


@dataclass(slots=True)
class SSLRequest:
    pass


@dataclass(slots=True)
class GSSENCRequest:
    pass


@dataclass(slots=True)
class CancelRequest:
    pid: int
    secret: int


@dataclass(slots=True)
class Startup:
    major: int
    minor: int
    params: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Query:
    text: str


@dataclass(slots=True)
class Parse:
    name: str
    text: str
    param_oids: tuple[int, ...]


@dataclass(slots=True)
class Bind:
    portal: str
    statement: str
    param_formats: tuple[int, ...]
    values: tuple[bytes | None, ...]
    result_formats: tuple[int, ...]


@dataclass(slots=True)
class Describe:
    kind: str  # "S" (statement) or "P" (portal)
    name: str


@dataclass(slots=True)
class Execute:
    portal: str
    max_rows: int  # 0: all


@dataclass(slots=True)
class Close:
    kind: str  # "S" or "P"
    name: str


@dataclass(slots=True)
class Sync:
    pass


@dataclass(slots=True)
class Flush:
    pass


@dataclass(slots=True)
class Terminate:
    pass


@dataclass(slots=True)
class Password:
    """A 'p' message: a password, SASLInitialResponse or SASLResponse (auth decides which)."""

    data: bytes


@dataclass(slots=True)
class CopyData:
    data: bytes


@dataclass(slots=True)
class CopyDone:
    pass


@dataclass(slots=True)
class CopyFail:
    message: str


@dataclass(slots=True)
class FunctionCall:
    pass


_INT16 = struct.Struct("!h")
_INT32 = struct.Struct("!i")


class _Reader:
    """Reads the fields of one message body; any shortfall or leftover is a ProtocolError."""

    def __init__(self, body: bytes, what: str) -> None:
        self.body = body
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.body):
            raise ProtocolError(f"invalid {self.what} message: it ends too early")
        chunk = self.body[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return self._number(_INT16)

    def int32(self) -> int:
        return self._number(_INT32)

    def int16s(self, count: int) -> tuple[int, ...]:
        try:
            values = struct.unpack_from(f"!{count}h", self.body, self.pos)
        except struct.error:
            raise ProtocolError(f"invalid {self.what} message: it ends too early") from None
        self.pos += 2 * count
        return values

    def _number(self, number: struct.Struct) -> int:
        try:
            (value,) = number.unpack_from(self.body, self.pos)
        except struct.error:
            raise ProtocolError(f"invalid {self.what} message: it ends too early") from None
        self.pos += number.size
        return value

    def cstring(self) -> str:
        end = self.body.find(b"\x00", self.pos)
        if end < 0:
            raise ProtocolError(f"invalid {self.what} message: a string is not terminated")
        raw = self.body[self.pos : end]
        self.pos = end + 1
        return decode_text(raw)

    def count(self) -> int:
        n = self.int16()
        if n < 0:
            raise ProtocolError(f"invalid {self.what} message: negative count {n}")
        return n

    def end(self) -> None:
        if self.pos != len(self.body):
            raise ProtocolError(f"invalid {self.what} message: unexpected bytes at its end")


def decode_text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadEncoding("invalid byte sequence for encoding UTF8") from None


def parse_startup(body: bytes) -> SSLRequest | GSSENCRequest | CancelRequest | Startup:
    """The first message of a connection (``body``: without its length word)."""
    reader = _Reader(body, "startup")
    code = reader.int32()
    if code == SSL_REQUEST:
        reader.end()
        return SSLRequest()
    if code == GSSENC_REQUEST:
        reader.end()
        return GSSENCRequest()
    if code == CANCEL_REQUEST:
        pid, secret = reader.int32(), reader.int32()
        reader.end()
        return CancelRequest(pid, secret)
    major, minor = code >> 16, code & 0xFFFF
    if major != 3:
        raise ProtocolError(
            f"unsupported frontend protocol {major}.{minor}: server supports 3.0",
            FEATURE_NOT_SUPPORTED,
        )
    params: dict[str, str] = {}
    while True:
        key = reader.cstring()
        if not key:
            break
        params[key] = reader.cstring()
    reader.end()
    return Startup(major, minor, params)


def _parse(reader: _Reader) -> Parse:
    name, text = reader.cstring(), reader.cstring()
    oids = tuple(reader.int32() & 0xFFFFFFFF for _ in range(reader.count()))
    return Parse(name, text, oids)


def _bind(reader: _Reader) -> Bind:
    portal, statement = reader.cstring(), reader.cstring()
    formats = reader.int16s(reader.count())
    values = []
    for _ in range(reader.count()):
        size = reader.int32()
        if size < -1:
            raise ProtocolError(f"invalid Bind message: parameter length {size}")
        values.append(None if size == -1 else reader.take(size))
    results = reader.int16s(reader.count())
    if not _FORMAT_CODES.issuperset(formats + results):
        raise ProtocolError(
            "invalid Bind message: a format code is neither 0 nor 1", INVALID_TEXT_REPRESENTATION
        )
    return Bind(portal, statement, formats, tuple(values), results)


_FORMAT_CODES = frozenset((0, 1))


def _kind_and_name(reader: _Reader, make):
    kind = reader.take(1)
    if kind not in (b"S", b"P"):
        raise ProtocolError(f"invalid {reader.what} message: kind {kind!r} is not 'S' or 'P'")
    return make(kind.decode(), reader.cstring())


_SYNC, _FLUSH = Sync(), Flush()  # no fields: one of each serves every message
_PARSERS = {
    b"Q": lambda r: Query(r.cstring()),
    b"P": _parse,
    b"B": _bind,
    b"D": lambda r: _kind_and_name(r, Describe),
    b"E": lambda r: Execute(r.cstring(), r.int32()),
    b"C": lambda r: _kind_and_name(r, Close),
    b"S": lambda r: _SYNC,
    b"H": lambda r: _FLUSH,
    b"X": lambda r: Terminate(),
    b"p": lambda r: Password(r.take(len(r.body))),
    b"d": lambda r: CopyData(r.take(len(r.body))),
    b"c": lambda r: CopyDone(),
    b"f": lambda r: CopyFail(r.cstring()),
    b"F": lambda r: _whole(r, FunctionCall),
}


def _whole(reader: _Reader, make):
    """A message whose body tidal does not read."""
    reader.take(len(reader.body))
    return make()


_NAMES = {
    b"Q": "Query",
    b"P": "Parse",
    b"B": "Bind",
    b"D": "Describe",
    b"E": "Execute",
    b"C": "Close",
    b"f": "CopyFail",
}


def parse_message(kind: bytes, body: bytes):
    """One frontend message after startup, from its type byte and body."""
    parser = _PARSERS.get(kind)
    if parser is None:
        raise ProtocolError(f"invalid frontend message type {kind[0] if kind else 0}")
    reader = _Reader(body, _NAMES.get(kind, "frontend"))
    message = parser(reader)
    reader.end()
    return message


class Framer:
    """Cuts a byte stream into (type, body) frames; refuses frames over ``max_size`` bytes as
    soon as their header arrives, so an oversized message is never buffered."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        """The complete frames fed so far; a bad header raises after the frames before it."""
        frames, error = self._cut()
        yield from frames
        if error is not None:
            raise error

    def _cut(self) -> tuple[list[tuple[bytes, bytes]], ProtocolError | None]:
        """Cut the complete frames off the buffer (its consumed bytes dropped once)."""
        buffer, at, frames, error = self._buffer, 0, [], None
        view = memoryview(buffer)
        while len(buffer) - at >= 5:
            (size,) = _INT32.unpack_from(buffer, at + 1)
            if size < 4:
                error = ProtocolError(f"invalid message length {size}")
                break
            if size - 4 > self.max_size:
                error = ProtocolError(
                    f"invalid message length: {size - 4} bytes is over the server's limit of "
                    f"{self.max_size} bytes"
                )
                break
            if len(buffer) - at < size + 1:
                break
            frames.append((bytes(view[at : at + 1]), bytes(view[at + 5 : at + size + 1])))
            at += size + 1
        view.release()
        del buffer[:at]
        return frames, error


def startup_length(header: bytes, max_size: int) -> int:
    """The body length of a startup packet from its 4-byte length word."""
    size = struct.unpack("!i", header)[0]
    if size < 8 or size - 4 > max_size:
        raise ProtocolError(f"invalid startup packet length {size}")
    return size - 4


# --- backend messages ------------------------------------------------------------------------


def message(kind: bytes, body: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def cstring(text: str) -> bytes:
    return text.encode("utf-8").replace(b"\x00", b"") + b"\x00"


def authentication_ok() -> bytes:
    return message(b"R", struct.pack("!i", 0))


def authentication_cleartext() -> bytes:
    return message(b"R", struct.pack("!i", 3))


def authentication_sasl(mechanisms: list[str]) -> bytes:
    return message(b"R", struct.pack("!i", 10) + b"".join(cstring(m) for m in mechanisms) + b"\0")


def authentication_sasl_continue(data: bytes) -> bytes:
    return message(b"R", struct.pack("!i", 11) + data)


def authentication_sasl_final(data: bytes) -> bytes:
    return message(b"R", struct.pack("!i", 12) + data)


def parse_sasl_initial(data: bytes) -> tuple[str, bytes]:
    """SASLInitialResponse: the mechanism and the client's first message."""
    reader = _Reader(data, "SASLInitialResponse")
    mechanism = reader.cstring()
    size = reader.int32()
    payload = b"" if size == -1 else reader.take(size)
    reader.end()
    return mechanism, payload


def parse_password(data: bytes) -> str:
    reader = _Reader(data, "PasswordMessage")
    password = reader.cstring()
    reader.end()
    return password


def parameter_status(name: str, value: str) -> bytes:
    return message(b"S", cstring(name) + cstring(value))


def backend_key_data(pid: int, secret: int) -> bytes:
    return message(b"K", struct.pack("!ii", pid, secret))


def negotiate_protocol_version(minor: int, unsupported: list[str]) -> bytes:
    body = struct.pack("!ii", minor, len(unsupported)) + b"".join(cstring(o) for o in unsupported)
    return message(b"v", body)


def ready_for_query(status: bytes) -> bytes:
    return message(b"Z", status)


@dataclass(frozen=True)
class FieldDescription:
    name: str
    type_oid: int
    type_size: int
    format: int = 0
    type_modifier: int = -1


def row_description(fields: list[FieldDescription]) -> bytes:
    parts = [struct.pack("!h", len(fields))]
    for f in fields:
        parts.append(cstring(f.name))
        parts.append(
            struct.pack("!ihihih", 0, 0, f.type_oid, f.type_size, f.type_modifier, f.format)
        )
    return message(b"T", b"".join(parts))


def data_row(values: Sequence[bytes | None]) -> bytes:
    body = bytearray(_INT16.pack(len(values)))
    for value in values:
        if value is None:
            body += b"\xff\xff\xff\xff"
        else:
            body += _INT32.pack(len(value))
            body += value
    return b"D" + _INT32.pack(len(body) + 4) + body


def command_complete(tag: str) -> bytes:
    return message(b"C", cstring(tag))


def empty_query_response() -> bytes:
    return message(b"I")


def parse_complete() -> bytes:
    return message(b"1")


def bind_complete() -> bytes:
    return message(b"2")


def close_complete() -> bytes:
    return message(b"3")


def no_data() -> bytes:
    return message(b"n")


def portal_suspended() -> bytes:
    return message(b"s")


def parameter_description(oids: list[int]) -> bytes:
    return message(b"t", struct.pack(f"!h{len(oids)}I", len(oids), *oids))


def copy_out_response(columns: int, binary: bool = False) -> bytes:
    fmt = 1 if binary else 0
    return message(b"H", struct.pack(f"!bh{columns}h", fmt, columns, *([fmt] * columns)))


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def copy_done() -> bytes:
    return message(b"c")


def _notice_fields(fields: dict[str, str]) -> bytes:
    return b"".join(key.encode() + cstring(value) for key, value in fields.items()) + b"\0"


def error_response(
    severity: str, code: str, text: str, position: int | None = None, detail: str | None = None
) -> bytes:
    """ErrorResponse: S and V (severity), C (SQLSTATE), M (message), optional P and D."""
    fields = {"S": severity, "V": severity, "C": code, "M": text}
    if detail:
        fields["D"] = detail
    if position is not None:
        fields["P"] = str(position)
    return message(b"E", _notice_fields(fields))


def notice_response(code: str, text: str, severity: str = "WARNING") -> bytes:
    return message(b"N", _notice_fields({"S": severity, "V": severity, "C": code, "M": text}))
