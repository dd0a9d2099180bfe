"""Every error a client sees, as a PostgreSQL ErrorResponse with its SQLSTATE: the server's one
error boundary.

tidal's errors derive from ``TidalError`` and carry their code (``tidal.catalog.sqlstate``);
they are sent with it as it is. The few exceptions from elsewhere that a statement may meet
(Python's and Arrow's memory, recursion and timeout errors) get a code and a message of tidal's
own in ``FOREIGN_ERRORS``. Anything else is a bug: the client gets XX000 with a short text and
an incident number, never a Python exception's name or message, and the server logs the
traceback under the same number (``incident``).

    >>> from tidal.sql.errors import SqlError
    >>> describe(SqlError("not supported: x", sqlstate=sqlstate.FEATURE_NOT_SUPPORTED))
    ('0A000', 'not supported: x')
    >>> describe(MemoryError())
    ('53200', 'out of memory: the statement needed more memory than the server could give it')
    >>> error = KeyError("k")
    >>> describe(error) == ("XX000", f"internal error (incident {incident(error)}); please report it")
    True
"""

from __future__ import annotations

import zlib

from tidal.catalog import sqlstate
from tidal.catalog.sqlstate import TidalError
from tidal.shell.pgwire import codec
from tidal.sql.errors import SqlError

# Exception type -> (SQLSTATE, message), for exceptions that are no TidalError; the first
# matching entry wins, so subclasses come before their bases (pyarrow's ArrowMemoryError is a
# MemoryError). A message of None keeps the exception's own text (it is tidal's).
FOREIGN_ERRORS: tuple[tuple[type[BaseException], str, str | None], ...] = (
    (NotImplementedError, sqlstate.FEATURE_NOT_SUPPORTED, None),
    (
        MemoryError,
        sqlstate.OUT_OF_MEMORY,
        "out of memory: the statement needed more memory than the server could give it",
    ),
    (
        RecursionError,
        sqlstate.STATEMENT_TOO_COMPLEX,
        "statement too complex: it nests too deeply for the server to process",
    ),
    (TimeoutError, sqlstate.QUERY_CANCELED, None),
)


class ServerError(TidalError):
    """An error the server raises itself (a protocol rule, a cursor or statement name)."""


def describe(error: BaseException) -> tuple[str, str]:
    """(SQLSTATE, message) for any exception."""
    message = getattr(error, "message", None) or str(error)
    if isinstance(error, TidalError):
        return error.sqlstate, message
    for kind, code, text in FOREIGN_ERRORS:
        if isinstance(error, kind):
            return code, text or message or code
    return sqlstate.INTERNAL_ERROR, f"internal error (incident {incident(error)}); please report it"


def incident(error: BaseException) -> str:
    """A short number naming one internal error in the client's message and the server's log."""
    return f"{zlib.crc32(repr((id(error), type(error))).encode()):08x}"


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
