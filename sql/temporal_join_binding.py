"""Binding ``JOIN t FOR SYSTEM_TIME AS OF PROCTIME() ON ...`` into a TemporalJoin
(tidal.sql.temporal_joins says what it means), and refusing every other time travel by name."""

from __future__ import annotations

import dataclasses

from sqlglot import exp

from tidal.sql.changes import insert_only
from tidal.sql.errors import unsupported
from tidal.sql.joins import make_join
from tidal.sql.plan import Join, Plan
from tidal.sql.temporal_joins import TemporalJoin
from tidal.sql.typeinfer import TypeInference


def lookup_table(table: exp.Expression) -> exp.Table | None:
    """For a join's right side with ``FOR SYSTEM_TIME AS OF PROCTIME()``: the table without
    that clause. None if it has none; an error for any other time travel."""
    version = table.args.get("version") if isinstance(table, exp.Table) else None
    if version is None:
        return None
    at = version.args.get("expression")
    if (
        str(version.this).upper() != "TIMESTAMP"
        or str(version.args.get("kind", "")).upper() != "AS OF"
        or not (isinstance(at, exp.Anonymous) and at.name.lower() == "proctime")
        or at.expressions
    ):
        raise unsupported(
            f"{_clause(version)}: a temporal join looks its table up as of "
            "each row's arrival, written FOR SYSTEM_TIME AS OF PROCTIME(); tidal has no "
            "versioned tables to read as of another time"
        )
    plain = table.copy()
    plain.set("version", None)
    return plain


def refuse_version(table: exp.Table) -> None:
    """``FOR SYSTEM_TIME AS OF`` anywhere but on the right side of a JOIN."""
    if table.args.get("version") is not None:
        raise unsupported(
            f"{_clause(table.args['version'])} on {table.name}: FOR SYSTEM_TIME "
            "AS OF PROCTIME() is a lookup join, written on the table to the right of a JOIN"
        )


def make_temporal_join(
    left: Plan, right: Plan, kind: str, condition: exp.Expression | None, infer: TypeInference
) -> Plan:
    """The lookup of ``right`` for each row of ``left``; ``condition`` as for make_join."""
    if kind not in ("inner", "left"):
        raise unsupported(
            f"{kind.upper()} JOIN ... FOR SYSTEM_TIME AS OF (a temporal join is an inner or a "
            "LEFT join of a stream with a table)"
        )
    plan = make_join(left, right, kind, condition, infer)
    join = plan if isinstance(plan, Join) else plan.children()[0]  # under helper columns
    if not join.left_keys:
        raise unsupported(
            "a temporal join (FOR SYSTEM_TIME AS OF) without an equality between the stream "
            "and the table in its ON condition, to look rows up by"
        )
    if not insert_only(join.left):
        raise unsupported(
            "a temporal join (FOR SYSTEM_TIME AS OF) of a stream that can retract rows: its "
            "left side must be insert-only (a source, an APPEND ONLY table or one with a "
            "watermark, through filters, projections and windows)"
        )
    fields = {f.name: getattr(join, f.name) for f in dataclasses.fields(join)}
    temporal = TemporalJoin(**fields)
    return temporal if plan is join else plan.with_children((temporal,))


def _clause(version: exp.Expression) -> str:
    """``FOR SYSTEM_TIME AS OF x`` as written (sqlglot calls SYSTEM_TIME TIMESTAMP)."""
    at = version.args.get("expression")
    kind = str(version.args.get("kind") or "").upper()
    what = "SYSTEM_TIME" if str(version.this).upper() == "TIMESTAMP" else str(version.this)
    return f"FOR {what} {kind} {at.sql(dialect='postgres') if at is not None else ''}".strip()
