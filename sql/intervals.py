"""Constant durations (window sizes, watermark delays, timeouts) as numbers: the one parser.

Event time is kept as microseconds since the epoch, so every duration tidal computes with must
be fixed: an interval with months or years is refused (a month has no fixed length). An
INTERVAL node gives ``duration_us``; a duration written as text in an option (FETCH's
``timeout``, a source's ``idle_timeout``) gives ``duration_seconds``. Both read it as DuckDB
reads an INTERVAL, so ``'500ms'``, ``'1.5s'``, ``'2 minutes'``, ``'01:30:00'`` and a bare number
of seconds all work.

    >>> duration_seconds("500ms", "timeout"), duration_seconds("2 minutes", "timeout")
    (0.5, 120.0)
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from tidal.catalog.sqlstate import (
    DATATYPE_MISMATCH,
    INVALID_DATETIME_FORMAT,
    INVALID_PARAMETER_VALUE,
)
from tidal.sql.errors import SqlError
from tidal.sql.typeinfer import connect_locked, duckdb_sql

_cache: dict[str, int] = {}
_CACHE_SIZE = 1024  # durations kept; clients write timeouts, so the cache is bounded


def duration_us(node: exp.Expression, what: str) -> int:
    """The microseconds of a constant INTERVAL ``node``; ``what`` names it in errors."""
    if node.find(exp.Column):
        raise SqlError(
            f"{what} must be a constant INTERVAL, not {node.sql()}", sqlstate=DATATYPE_MISMATCH
        )
    text = duckdb_sql(node)
    if text not in _cache:
        connection = connect_locked()
        try:
            kind = str(connection.execute(f"SELECT typeof({text})").fetchall()[0][0])
            if kind != "INTERVAL":
                raise SqlError(
                    f"{what} must be an INTERVAL (e.g. INTERVAL '10' SECOND), not {kind}",
                    sqlstate=DATATYPE_MISMATCH,
                )
            ((micros, months),) = connection.execute(
                f"SELECT epoch_us({text}), datepart('year', {text}) * 12 + "
                f"datepart('month', {text})"
            ).fetchall()
        except duckdb.Error as error:
            raise SqlError(
                f"{what}: {str(error).splitlines()[0]}", sqlstate=INVALID_DATETIME_FORMAT
            ) from None
        if months:
            raise SqlError(
                f"{what} {node.sql()} has months or years, whose length varies: "
                "write it in days or smaller units",
                sqlstate=INVALID_PARAMETER_VALUE,
            )
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[text] = int(micros)
    return _cache[text]


def duration_seconds(text: str, what: str) -> float:
    """The seconds of a duration written as text (``'1s'``, ``'500 ms'``, ``'2 minutes'``,
    ``'1.5'``); ``what`` names it in errors. Negative durations are refused."""
    try:
        micros = duration_us(exp.cast(exp.Literal.string(text.strip()), "INTERVAL"), what)
    except SqlError:
        raise SqlError(
            f"{what} {text!r} is not a duration: write it as e.g. '30 seconds', '500ms' or "
            "'1.5' (seconds); months and years have no fixed length",
            sqlstate=INVALID_PARAMETER_VALUE,
        ) from None
    if micros < 0:
        raise SqlError(f"{what} {text!r} cannot be negative", sqlstate=INVALID_PARAMETER_VALUE)
    return micros / 1e6
