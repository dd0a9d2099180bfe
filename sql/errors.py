"""Errors the compiler raises: each says what is wrong and what to do about it."""

from __future__ import annotations


class SqlError(Exception):
    """A statement tidal cannot run. ``sqlstate`` is the PostgreSQL error code a client sees.

    ``line`` and ``column`` (1-based) locate a parse error in the text that was given.
    """

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str = "42601",
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.line = line
        self.column = column

    def __str__(self) -> str:
        if self.line is not None:
            return f"{self.message} (line {self.line}, column {self.column})"
        return self.message


def unsupported(what: str) -> SqlError:
    """An error for SQL that tidal understands but does not (yet) maintain incrementally."""
    return SqlError(f"not supported: {what}", sqlstate="0A000")


def undefined_column(message: str) -> SqlError:
    return SqlError(message, sqlstate="42703")


def undefined_table(message: str) -> SqlError:
    return SqlError(message, sqlstate="42P01")


def grouping_error(message: str) -> SqlError:
    return SqlError(message, sqlstate="42803")
