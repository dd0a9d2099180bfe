"""Binding window table functions in FROM (TUMBLE, HOP, CUMULATE, SESSION) to WindowTVF nodes.

Arguments after the relation and its time column, by kind (durations are constant INTERVALs
of days or smaller units; an optional last ``offset`` shifts the windows from the epoch):

    TUMBLE(t, ts, size [, offset])      HOP(t, ts, slide, size [, offset])
    CUMULATE(t, ts, step, size [, offset])      SESSION(t [PARTITION BY k], ts, gap)
"""

from __future__ import annotations

from tidal.catalog.sqlstate import DATATYPE_MISMATCH, INVALID_PARAMETER_VALUE
from tidal.sql.dialect import WindowFunction
from tidal.sql.errors import SqlError
from tidal.sql.eventtime import TIME_TYPES
from tidal.sql.intervals import duration_us
from tidal.sql.plan import Field, Plan, WindowTVF
from tidal.sql.scope import Scope, ScopeColumn

# Microseconds per unit of the coarser timestamp types: window bounds must be representable.
_UNITS = {"TIMESTAMP_MS": 1_000, "TIMESTAMP_S": 1_000_000}

_ARGUMENTS = {
    "tumble": ("size",),
    "hop": ("slide", "size"),
    "cumulate": ("step", "size"),
    "session": ("gap",),
}


def bind_window_function(
    binder, node: WindowFunction, alias: str | None, ctes: dict, outer: Scope | None
) -> tuple[Plan, Scope]:
    kind = node.args["kind"].name.lower()
    title = kind.upper()
    plan, scope = binder.relation(node.this, ctes, outer)
    time = _column(scope, node.args["time"])
    time_type = plan.schema[time].type
    if time_type not in TIME_TYPES:
        raise SqlError(
            f"{title} needs a TIMESTAMP column for its time argument; "
            f"{node.args['time'].name!r} is {time_type}",
            sqlstate=DATATYPE_MISMATCH,
        )
    names = _ARGUMENTS[kind]
    arguments = node.expressions
    optional_offset = kind != "session"
    if not len(names) <= len(arguments) <= len(names) + optional_offset:
        usage = ", ".join(("t", "ts", *names)) + (" [, offset]" if optional_offset else "")
        raise SqlError(f"{title} takes ({usage}); got {len(arguments) + 2} arguments")
    durations = {
        name: duration_us(argument, f"the {name} of {title}")
        for name, argument in zip((*names, "offset"), arguments)
    }
    for name in names:
        if durations[name] <= 0:
            raise SqlError(
                f"the {name} of {title} must be positive", sqlstate=INVALID_PARAMETER_VALUE
            )
    size = durations.get("size", durations.get("gap"))
    slide = durations.get("slide", durations.get("step", size))
    if kind == "cumulate" and size % slide:
        raise SqlError(
            f"the size of CUMULATE must be a whole number of steps ({size} us is not a "
            f"multiple of {slide} us)",
            sqlstate=INVALID_PARAMETER_VALUE,
        )
    partition = tuple(_column(scope, c) for c in node.args.get("partition") or [])
    if partition and kind != "session":
        raise SqlError(f"PARTITION BY belongs to SESSION windows, not {title}")
    unit = _UNITS.get(time_type, 1)
    for name, micros in durations.items():
        if micros % unit:
            raise SqlError(
                f"the {name} of {title} is finer than the {time_type} column {node.args['time'].name!r} "
                f"can hold: make it a multiple of {unit} us",
                sqlstate=INVALID_PARAMETER_VALUE,
            )
    fields = plan.schema + (Field("window_start", time_type), Field("window_end", time_type))
    period = size if kind == "cumulate" else slide  # what the windows' starts are aligned to
    window = WindowTVF(
        plan, kind, time, size, slide, durations.get("offset", 0) % period, partition, fields
    )
    qualifier = (alias or node.this.name).lower()
    columns = [ScopeColumn(c.name, c.type, (qualifier,), c.hidden) for c in scope.columns]
    columns += [ScopeColumn(f.name, f.type, (qualifier,)) for f in fields[-2:]]
    return window, Scope(columns, outer)


def _column(scope: Scope, column) -> int:
    index = scope.resolve(column)
    if index is None:
        raise scope.missing(column)
    return index
