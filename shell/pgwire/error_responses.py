"""Every error a client sees, as a PostgreSQL ErrorResponse with its SQLSTATE.

tidal's errors derive from ``TidalError`` and carry their code (``tidal.catalog.sqlstate``);
they are sent with it as it is. The few exceptions from elsewhere (Python's own) are looked up
in ``FOREIGN_SQLSTATES`` by type; anything else is an internal error (XX000) whose message asks
for a report.

    >>> from tidal.sql.errors import SqlError
    >>> describe(SqlError("not supported: x", sqlstate=sqlstate.FEATURE_NOT_SUPPORTED))
    ('0A000', 'not supported: x')
    >>> describe(KeyError("k"))[0]
    'XX000'
"""

from __future__ import annotations

from tidal.catalog import sqlstate
from tidal.catalog.sqlstate import TidalError
from tidal.shell.pgwire import codec
from tidal.sql.errors import SqlError

# Exception type -> SQLSTATE, for exceptions that are no TidalError; the first matching entry
# wins, so subclasses come before their bases.
FOREIGN_SQLSTATES: tuple[tuple[type[BaseException], str], ...] = (
    (NotImplementedError, sqlstate.FEATURE_NOT_SUPPORTED),
    (MemoryError, sqlstate.OUT_OF_MEMORY),
    (RecursionError, sqlstate.STATEMENT_TOO_COMPLEX),
    (TimeoutError, sqlstate.QUERY_CANCELED),
)


class ServerError(TidalError):
    """An error the server raises itself (a protocol rule, a cursor or statement name)."""


def describe(error: BaseException) -> tuple[str, str]:
    """(SQLSTATE, message) for any exception."""
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    if isinstance(error, TidalError):
        return error.sqlstate, message
    for kind, code in FOREIGN_SQLSTATES:
        if isinstance(error, kind):
            return code, message
    return (
        sqlstate.INTERNAL_ERROR,
        f"internal error ({type(error).__name__}: {message}); please report it",
    )


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
