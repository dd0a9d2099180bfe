"""The webhook connector: rows POSTed as JSON over HTTP into a table, as RisingWave's and
Materialize's webhook sources take them.

    CREATE TABLE events (id BIGINT, kind VARCHAR, payload JSON)
        WITH (connector = 'webhook', secret = 's3cret');

    curl -H 'Authorization: Bearer s3cret' -d '{"id": 1, "kind": "push", "payload": {}}' \\
        http://127.0.0.1:PORT/webhook/events

One ``WebhookListener`` per Database (a ``ThreadingHTTPServer``, a thread per connection)
serves ``POST /webhook/<table>``. A request is authenticated by the table's shared secret,
either ``Authorization: Bearer <secret>`` or GitHub's ``X-Hub-Signature-256`` /
``X-Tidal-Signature: sha256=<hex HMAC-SHA256 of the body>``; its body is one JSON object
(a row), a JSON array of objects, or JSON lines. Fields are matched to columns by name (case
does not matter, as for unquoted SQL names); a missing field is NULL; fields that name no
column are ignored, as the file source's JSON lines do. A JSON column takes the field's JSON
value as text. The rows are typed as the file source types JSON lines (file_formats), then
handed to ``apply`` (the Database's DML path, which enforces keys, the memory budget and
durability) as one change, all or nothing.

The listener knows no table: it asks ``find`` for the table a path names, at each request,
so DROP, ALTER and recovery need no bookkeeping here. The engine's lock is taken by ``apply``
alone: a client slow to send its body holds up its own thread, never a tick.

    >>> from tidal.catalog.objects import Column, Table
    >>> t = Table("t", (Column("id", "BIGINT"), Column("doc", "JSON")))
    >>> rows_from_body(b'{"ID": 1, "doc": {"a": [1]}}\\n{"id": 2, "other": 0}', t).to_pylist()
    [{'id': 1, 'doc': '{"a": [1]}'}, {'id': 2, 'doc': None}]
    >>> signature(b"body", "key")[:15]
    'sha256=515aae13'
"""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import socket
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog.objects import Table
from tidal.catalog.sqlstate import (
    ADMIN_SHUTDOWN,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    OUT_OF_MEMORY,
    UNDEFINED_TABLE,
    UNIQUE_VIOLATION,
    TidalError,
)
from tidal.engine.connectors.base import ConnectorError, canonical_options, check_known, required
from tidal.engine.connectors.file_formats import BAD_DATA, parse_jsonl, problem, read_type
from tidal.engine.memory import parse_size
from tidal.sql.ddl import EVENT_TIME_OPTIONS

CONNECTOR = "webhook"
PATH_PREFIX = "/webhook/"
DEFAULT_MAX_BODY = "16MiB"
REQUEST_TIMEOUT = 10.0  # seconds a client may take to send its request: a stalled one is cut
MAX_CONNECTIONS = 64  # open at once; more are answered 503 (each holds a thread)
# Bodies parsed at once: parsed JSON takes several times its bytes, and parsing holds the GIL
# anyway, so more at once would only take more memory.
PARSING_AT_ONCE = 2
SIGNATURE_HEADERS = ("X-Tidal-Signature", "X-Hub-Signature-256")  # ours and GitHub's
_OPTIONS = ("connector", "secret", "format", "max_body_size", *EVENT_TIME_OPTIONS)


@dataclass(frozen=True)
class WebhookOptions:
    """A webhook table's options: its shared secret and the largest body it takes."""

    secret: str
    max_body_bytes: int


def webhook_options(table: Table) -> WebhookOptions:
    """The options of a webhook table, checked (ConnectorError says what to write), and its
    columns checked to be readable from JSON.

    >>> from tidal.catalog.objects import Column
    >>> t = Table("t", (Column("a", "INTEGER"),), options=(("connector", "webhook"),))
    >>> webhook_options(t)
    Traceback (most recent call last):
    tidal.engine.connectors.base.ConnectorError: table t (connector 'webhook'): option 'secret' is required (the shared secret senders present, as a bearer token or as the key of an HMAC-SHA256 signature)
    """
    what = f"table {table.name} (connector '{CONNECTOR}')"
    options = canonical_options(what, table.options)
    check_known(what, options, _OPTIONS)
    secret = required(
        what,
        options,
        "secret",
        "the shared secret senders present, as a bearer token or as the key of an "
        "HMAC-SHA256 signature",
    )
    if options.get("format", "json").lower() != "json":
        raise ConnectorError(f"{what}: format = '{options['format']}' is not supported; use 'json'")
    size = options.get("max_body_size", DEFAULT_MAX_BODY)
    try:
        max_body = parse_size(size)
    except TidalError:
        raise ConnectorError(
            f"{what}: max_body_size = '{size}' is not a size; write e.g. '16MiB' or '1000000'"
        ) from None
    for field in table.arrow_schema():
        read_type(field, "jsonl", table.name)  # raises for types JSON cannot carry
    return WebhookOptions(secret, max_body)


def is_webhook_table(table: object) -> bool:
    """Whether ``table`` (a catalog object, or None) is a table fed by webhooks."""
    return isinstance(table, Table) and (table.connector or "").lower() == CONNECTOR


# --- authentication ---------------------------------------------------------------------------


def signature(body: bytes, secret: str) -> str:
    """The value of a signature header for ``body`` (``sha256=`` and the hex HMAC-SHA256)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def bearer_matches(authorization: str, secret: str) -> bool:
    """Whether an ``Authorization`` header carries ``secret`` as a bearer token (compared in
    constant time).

    >>> bearer_matches("Bearer k", "k"), bearer_matches("bearer k", "k"), bearer_matches("k", "k")
    (True, True, False)
    """
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), secret.encode())


def signature_matches(header: str, body: bytes, secret: str) -> bool:
    """Whether a signature header is the body's HMAC-SHA256 under ``secret``."""
    return hmac.compare_digest(header.strip().lower().encode(), signature(body, secret).encode())


# --- rows -------------------------------------------------------------------------------------


class RequestError(Exception):
    """A request that is refused, with its HTTP status and what to fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def rows_from_body(body: bytes, table: Table) -> pa.Table:
    """The rows of a request's body as the table's columns (RequestError 400 naming the row and
    the column of a value that does not fit)."""
    records = _records(body)
    names = {c.name.lower(): c.name for c in table.columns}
    json_columns = {c.name for c in table.columns if c.type == "JSON"}
    lines = [_line(n, record, names, json_columns) for n, record in enumerate(records, 1)]
    schema = table.arrow_schema()
    read_types = {f.name: read_type(f, "jsonl", table.name) for f in schema}
    if not lines:
        return schema.empty_table()
    try:
        rows = parse_jsonl(b"\n".join(lines) + b"\n", read_types, schema)
    except BAD_DATA:
        raise _bad_value(lines, read_types, table) from None
    _check_not_null(table, rows)
    return rows


def _records(body: bytes) -> list[dict]:
    """The JSON objects of a body: one object, an array of them, or one per line."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise RequestError(400, f"the body is not UTF-8: {error}") from None
    if not text.strip():
        raise RequestError(400, "the body is empty: send a JSON object, an array, or JSON lines")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg != "Extra data":
            raise _bad_json(error, "") from None
        value = _json_lines(text)
    except RecursionError:
        raise RequestError(400, "the body is nested too deeply") from None
    records = [value] if isinstance(value, dict) else value
    if not isinstance(records, list):
        raise RequestError(
            400,
            f"the body is a JSON {_kind(value)}: send an object (one row), an array of "
            "objects, or JSON lines",
        )
    for n, record in enumerate(records, 1):
        if not isinstance(record, dict):
            raise RequestError(400, f"row {n} is a JSON {_kind(record)}, not an object")
    return records


def _json_lines(text: str) -> list:
    values = []
    for n, line in enumerate(text.split("\n"), 1):
        if line.strip():
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise _bad_json(error, f"line {n}: ") from None
            except RecursionError:
                raise RequestError(400, f"line {n} is nested too deeply") from None
    return values


def _bad_json(error: json.JSONDecodeError, where: str) -> RequestError:
    return RequestError(
        400,
        f"the body is not valid JSON: {where}{error.msg} (line {error.lineno}, column "
        f"{error.colno})",
    )


def _kind(value: object) -> str:
    return {list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number"
    )


def _line(n: int, record: dict, names: dict[str, str], json_columns: set[str]) -> bytes:
    """One record as a JSON line of the table's columns (a JSON column's value as text)."""
    row: dict[str, object] = {}
    for key, value in record.items():
        name = names.get(key.lower())
        if name is None:
            continue  # a field that names no column is ignored, as in the file source
        if name in row:
            raise RequestError(400, f"row {n}: two fields name column {name!r}")
        if name in json_columns and value is not None:
            value = json.dumps(value)
        row[name] = value
    try:
        return json.dumps(row, allow_nan=False).encode()
    except ValueError:
        raise RequestError(400, f"row {n}: NaN and Infinity are not JSON numbers") from None


def _bad_value(
    lines: list[bytes], read_types: dict[str, pa.DataType], table: Table
) -> RequestError:
    """The error of the first row and column whose value does not fit (found one by one: only
    a request that is refused pays for it)."""
    for n, line in enumerate(lines, 1):
        record = json.loads(line)
        for column in table.columns:
            if column.name not in record:
                continue
            value = record[column.name]
            field = pa.field(column.name, column.arrow_type)
            try:
                parse_jsonl(
                    json.dumps({column.name: value}).encode() + b"\n",
                    {column.name: read_types[column.name]},
                    pa.schema([field]),
                )
            except BAD_DATA as error:
                return RequestError(
                    400,
                    f"row {n}, column {column.name!r}: {json.dumps(value)[:80]} does not fit "
                    f"{column.type} ({problem(error)})",
                )
    return RequestError(400, "a value does not fit its column")


def _check_not_null(table: Table, rows: pa.Table) -> None:
    for column in table.columns:
        values = rows.column(column.name)
        if not column.nullable and values.null_count:
            first = pc.index(pc.is_null(values), True).as_py() + 1
            raise RequestError(
                400,
                f"row {first}, column {column.name!r}: missing or null, but the column is NOT NULL",
            )


# --- the HTTP listener ------------------------------------------------------------------------

# How an error of the engine is answered: by its SQLSTATE's class, else 400 (the data).
_STATUS_BY_SQLSTATE = {
    UNIQUE_VIOLATION: 409,
    OUT_OF_MEMORY: 503,
    UNDEFINED_TABLE: 404,
    OBJECT_NOT_IN_PREREQUISITE_STATE: 503,
    ADMIN_SHUTDOWN: 503,
}
_SERVER_SQLSTATE_CLASSES = ("08", "53", "57", "58", "XX")  # the server's trouble, not the data's

Find = Callable[[str], object]  # a relation's catalog object by name, or None
Apply = Callable[[Table, pa.Table], int]  # insert rows into a table in one change; their count


class WebhookListener:
    """The HTTP server of a Database's webhook tables.

    ``find`` gives the catalog object a path names; ``apply`` inserts rows through the
    engine's DML path and returns how many it inserted (raising TidalError to refuse them).
    ``start`` binds ``host``:``port`` (0: a free port) and serves in a thread; ``address`` is
    where it listens (None before). ``close`` stops it.
    """

    def __init__(
        self,
        find: Find,
        apply: Apply,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = REQUEST_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.find = find
        self.apply = apply
        self.host = host
        self.port = port
        self.timeout = timeout
        self.max_connections = max_connections
        self.closed = False
        self._parsing = threading.BoundedSemaphore(PARSING_AT_ONCE)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int] | None:
        """The (host, port) it listens on, or None when it is not listening."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Listen and serve (once; raises OSError if the address cannot be bound)."""
        if self._server is not None or self.closed:
            return
        handler = type("Handler", (_Handler,), {"listener": self, "timeout": self.timeout})
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET  # ::1 is IPv6
        server = type("Server", (_Server,), {"address_family": family})(
            (self.host, self.port), handler
        )
        server.slots = threading.BoundedSemaphore(self.max_connections)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="tidal-webhook"
        )
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        """Stop listening. Requests still being read are cut off; one that reaches ``apply``
        afterwards is for its caller to refuse (``closed`` is True)."""
        self.closed = True
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            self._thread.join()

    def handle(
        self, path: str, headers: Mapping[str, str], read_body: Callable[[int], bytes]
    ) -> tuple[int, dict]:
        """Answer one POST: its status and JSON answer. ``read_body(n)`` reads the body's
        ``n`` bytes (only once the request is known to be worth reading)."""
        name = _table_name(path)
        table = self.find(name) if name else None
        if not is_webhook_table(table):
            raise RequestError(404, f"no webhook table {name!r}: POST to {PATH_PREFIX}<table>")
        options = webhook_options(table)
        length = _content_length(headers, options.max_body_bytes)
        authorization = headers.get("Authorization")
        signed = next((headers[h] for h in SIGNATURE_HEADERS if headers.get(h)), None)
        if authorization is not None:
            if not bearer_matches(authorization, options.secret):
                raise RequestError(401, "the bearer token is not this table's secret")
            body = read_body(length)
        elif signed is not None:
            body = read_body(length)
            if not signature_matches(signed, body, options.secret):
                raise RequestError(
                    401, "the signature is not the body's HMAC-SHA256 under the secret"
                )
        else:
            raise RequestError(
                401,
                "no credentials: send Authorization: Bearer <secret>, or X-Tidal-Signature: "
                "sha256=<hex HMAC-SHA256 of the body>",
            )
        with self._parsing:  # after the body is read: a slow sender holds up no one
            rows = rows_from_body(body, table)
        try:
            return 200, {"rows": self.apply(table, rows) if rows.num_rows else 0}
        except TidalError as error:
            raise RequestError(_status(error.sqlstate), error.message) from None


def _status(sqlstate: str) -> int:
    if sqlstate in _STATUS_BY_SQLSTATE:
        return _STATUS_BY_SQLSTATE[sqlstate]
    return 500 if sqlstate.startswith(_SERVER_SQLSTATE_CLASSES) else 400


def _table_name(path: str) -> str:
    path = urllib.parse.urlsplit(path).path
    if not path.startswith(PATH_PREFIX):
        return ""
    return urllib.parse.unquote(path[len(PATH_PREFIX) :].strip("/"))


def _content_length(headers: Mapping[str, str], limit: int) -> int:
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        raise RequestError(411, "chunked bodies are not taken: send Content-Length")
    value = headers.get("Content-Length")
    if value is None:
        raise RequestError(411, "Content-Length is required")
    if not value.strip().isdigit():
        raise RequestError(400, f"Content-Length {value!r} is not a number of bytes")
    length = int(value)
    if length > limit:
        raise RequestError(
            413, f"the body ({length} bytes) is over this table's max_body_size ({limit} bytes)"
        )
    return length


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() must not wait for a client that stalls
    slots: threading.BoundedSemaphore

    def process_request(self, request, client_address) -> None:
        # Each connection holds a thread: past the limit, answer at once and close.
        if not self.slots.acquire(blocking=False):
            try:
                request.sendall(_BUSY)
                # Read what the client sent already: closing with unread bytes would reset
                # the connection, and the client might lose the answer.
                request.settimeout(0.01)
                request.recv(1 << 16)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


_BUSY_TEXT = b'{"error": "too many connections: try again"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_BUSY_TEXT)).encode() + b"\r\n\r\n"
) + _BUSY_TEXT


class _ClientGone(Exception):
    """The client stopped sending its body (it closed, or stalled past the timeout)."""


class _Handler(http.server.BaseHTTPRequestHandler):
    """One connection: POSTs answered by the listener, every other method 405."""

    listener: WebhookListener
    protocol_version = "HTTP/1.1"
    # The headers and the body of an answer are two writes: with Nagle's algorithm the body
    # would wait for the client's delayed ACK of the headers (40 ms per request).
    disable_nagle_algorithm = True
    server_version = "tidal-webhook"
    sys_version = ""

    _expects_continue = False

    def handle_expect_100(self) -> bool:
        # "Expect: 100-continue" is answered only once the body is wanted: a refusal (401,
        # 413) comes instead, and the client need not send the body at all.
        self._expects_continue = True
        return True

    def do_POST(self) -> None:
        self._body_read = False
        try:
            status, answer = self.listener.handle(self.path, self.headers, self._read_body)
        except RequestError as error:
            status, answer = error.status, {"error": error.message}
        except _ClientGone:
            self.close_connection = True
            return
        except Exception as error:  # noqa: BLE001 (a sender is told, the listener goes on)
            status, answer = 500, {"error": f"internal error: {type(error).__name__}: {error}"}
        if not self._body_read:
            self.close_connection = True  # its body is still on the wire
        self._answer(status, answer)

    def _read_body(self, length: int) -> bytes:
        try:
            if self._expects_continue:
                self._expects_continue = False
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            body = self.rfile.read(length)
        except OSError:  # the socket's timeout passed: the client stalled
            raise _ClientGone() from None
        if len(body) < length:
            raise _ClientGone()
        self._body_read = True
        return body

    def _refuse_method(self) -> None:
        self.close_connection = True
        self._answer(405, {"error": f"{self.command} is not taken: POST rows"}, {"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse_method

    def do_HEAD(self) -> None:
        self.close_connection = True
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _answer(self, status: int, answer: dict, headers: Mapping[str, str] | None = None) -> None:
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 503:
            self.send_header("Retry-After", "1")
        if self.close_connection:
            self.send_header("Connection", "close")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        """Quiet: a webhook sender's requests are not the server's log."""
