"""Every error a client sees, as a PostgreSQL ErrorResponse: one table of SQLSTATE codes.

An exception that carries ``sqlstate`` (tidal's SqlError, DataError, ProtocolError, ...) is
sent with that code; others are looked up in ``SQLSTATES`` by type, and anything unexpected is
an internal error (XX000) whose message asks for a report.

    >>> from tidal.sql.errors import SqlError
    >>> describe(SqlError("not supported: x", sqlstate="0A000"))
    ('0A000', 'not supported: x')
    >>> describe(KeyError("k"))[0]
    'XX000'
"""

from __future__ import annotations

from tidal.catalog import CatalogError
from tidal.catalog.types import TypeError_
from tidal.engine.batch import BatchError
from tidal.engine.connectors import ConnectorError
from tidal.engine.expressions import EvaluationError
from tidal.shell.pgwire import codec
from tidal.sql.errors import SqlError

# PostgreSQL codes used by the server itself.
QUERY_CANCELED = "57014"
ADMIN_SHUTDOWN = "57P01"
TOO_MANY_CONNECTIONS = "53300"
INVALID_PASSWORD = "28P01"
INVALID_AUTHORIZATION = "28000"
PROTOCOL_VIOLATION = "08P01"
IN_FAILED_TRANSACTION = "25P02"
IDLE_SESSION_TIMEOUT = "57P05"
FEATURE_NOT_SUPPORTED = "0A000"
UNDEFINED_CURSOR = "34000"
UNDEFINED_STATEMENT = "26000"
DUPLICATE_STATEMENT = "42P05"
DUPLICATE_CURSOR = "42P03"
INVALID_PARAMETER_VALUE = "22023"
UNDEFINED_OBJECT = "42704"
SYNTAX_ERROR = "42601"

# Exception type -> SQLSTATE, for exceptions that carry no ``sqlstate`` of their own; the first
# matching entry wins, so subclasses come before their bases.
SQLSTATES: tuple[tuple[type[BaseException], str], ...] = (
    (TypeError_, UNDEFINED_OBJECT),  # an unknown type name
    (EvaluationError, "22000"),  # data_exception
    (BatchError, "22000"),
    (ConnectorError, "58030"),  # io_error
    (NotImplementedError, FEATURE_NOT_SUPPORTED),
    (MemoryError, "53200"),  # out_of_memory
    (RecursionError, "54001"),  # statement_too_complex
    (TimeoutError, QUERY_CANCELED),
)

# A CatalogError says what went wrong in words; these pick its code.
_CATALOG_SQLSTATES = (
    ("already exists", "42P07"),  # duplicate_table
    ("cannot drop", "2BP01"),  # dependent_objects_still_exist
    ("cannot be read from", "42809"),  # wrong_object_type
    ("holds no rows", "42809"),
)


class ServerError(Exception):
    """An error the server raises itself, with its SQLSTATE."""

    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate


def describe(error: BaseException) -> tuple[str, str]:
    """(SQLSTATE, message) for any exception."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    code = getattr(error, "sqlstate", None)
    if isinstance(code, str) and len(code) == 5:
        return code, message
    if isinstance(error, CatalogError):
        lowered = message.lower()
        return next((c for text, c in _CATALOG_SQLSTATES if text in lowered), "42P01"), message
    for kind, code in SQLSTATES:
        if isinstance(error, kind):
            return code, message
    return "XX000", f"internal error ({type(error).__name__}: {message}); please report it"


def position_of(error: BaseException, text: str, offset: int = 0) -> int | None:
    """The 1-based character position of a syntax error in the query string, if known
    (``offset``: where the statement starts in it)."""
    if not isinstance(error, SqlError) or error.line is None:
        return None
    lines = text[offset:].split("\n")
    line = min(max(error.line, 1), len(lines))
    before = sum(len(l) + 1 for l in lines[: line - 1])
    return offset + before + max(error.column or 1, 1)


def error_message(error: BaseException, text: str = "", offset: int = 0) -> bytes:
    """An ErrorResponse (severity ERROR) for ``error``."""
    code, message = describe(error)
    return codec.error_response("ERROR", code, message, position_of(error, text, offset))


def fatal_message(code: str, message: str) -> bytes:
    return codec.error_response("FATAL", code, message)
