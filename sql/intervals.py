"""Constant durations (window sizes, watermark delays) as whole microseconds.

Event time is kept as microseconds since the epoch, so every duration tidal computes with must
be fixed: an interval with months or years is refused (a month has no fixed length).
"""

from __future__ import annotations

import duckdb
from sqlglot import exp

from tidal.sql.errors import SqlError
from tidal.sql.typeinfer import connect_locked, duckdb_sql

_cache: dict[str, int] = {}


def duration_us(node: exp.Expression, what: str) -> int:
    """The microseconds of a constant INTERVAL ``node``; ``what`` names it in errors."""
    if node.find(exp.Column):
        raise SqlError(f"{what} must be a constant INTERVAL, not {node.sql()}", sqlstate="42804")
    text = duckdb_sql(node)
    if text not in _cache:
        connection = connect_locked()
        try:
            kind = str(connection.execute(f"SELECT typeof({text})").fetchall()[0][0])
            if kind != "INTERVAL":
                raise SqlError(
                    f"{what} must be an INTERVAL (e.g. INTERVAL '10' SECOND), not {kind}",
                    sqlstate="42804",
                )
            ((micros, months),) = connection.execute(
                f"SELECT epoch_us({text}), datepart('year', {text}) * 12 + "
                f"datepart('month', {text})"
            ).fetchall()
        except duckdb.Error as error:
            raise SqlError(f"{what}: {str(error).splitlines()[0]}", sqlstate="22007") from None
        if months:
            raise SqlError(
                f"{what} {node.sql()} has months or years, whose length varies: "
                "write it in days or smaller units",
                sqlstate="22023",
            )
        _cache[text] = int(micros)
    return _cache[text]
