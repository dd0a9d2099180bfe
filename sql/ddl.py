"""DDL statements to catalog objects: CREATE TABLE / SOURCE / SINK column and option lists."""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.objects import Column, Sink, Source, Table, Watermark
from tidal.catalog.sqlstate import (
    DATATYPE_MISMATCH,
    DUPLICATE_COLUMN,
    UNDEFINED_COLUMN,
    UNDEFINED_OBJECT,
)
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.eventtime import TIME_TYPES
from tidal.sql.intervals import duration_us


def columns_and_watermark(create: exp.Create) -> tuple[tuple[Column, ...], Watermark | None]:
    schema = create.this
    if not isinstance(schema, exp.Schema):
        raise SqlError(f"CREATE {create.args.get('kind')} needs a column list: (name type, ...)")
    columns: list[Column] = []
    watermark = None
    for item in schema.expressions:
        if isinstance(item, exp.WatermarkColumnConstraint):
            if watermark is not None:
                raise SqlError("a table or source has at most one WATERMARK FOR clause")
            watermark = _watermark(item)
            continue
        if isinstance(item, (exp.Identifier, exp.Column)) or (
            isinstance(item, exp.ColumnDef) and item.args.get("kind") is None
        ):
            raise SqlError(f"column {item.name!r} needs a type, e.g. {item.name} VARCHAR")
        if not isinstance(item, exp.ColumnDef):
            raise unsupported(f"table constraint {item.sql()}")
        nullable = True
        for constraint in item.args.get("constraints") or []:
            if isinstance(constraint.kind, exp.NotNullColumnConstraint):
                nullable = bool(constraint.kind.args.get("allow_null"))
                continue
            raise unsupported(
                f"column constraint {constraint.sql()} (tables are multisets; "
                "keys and defaults are not enforced)"
            )
        try:
            type_name = types.normalize(item.args["kind"].sql(dialect="duckdb"))
        except types.TypeError_ as error:
            raise SqlError(str(error), sqlstate=UNDEFINED_OBJECT) from None
        if type_name.endswith("[]") or type_name.startswith(("STRUCT", "MAP")):
            raise unsupported(
                f"column {item.name!r} of type {type_name}: nested types cannot be "
                "stored in tables or sources yet"
            )
        if any(c.name.lower() == item.name.lower() for c in columns):
            raise SqlError(
                f"column {item.name!r} specified more than once", sqlstate=DUPLICATE_COLUMN
            )
        columns.append(Column(item.name, type_name, nullable))
    if watermark is not None:
        column = next((c for c in columns if c.name.lower() == watermark.column.lower()), None)
        if column is None:
            raise SqlError(
                f"WATERMARK FOR {watermark.column}: no such column", sqlstate=UNDEFINED_COLUMN
            )
        if column.type not in TIME_TYPES:
            raise SqlError(
                f"WATERMARK FOR {column.name}: the column must be a TIMESTAMP, not {column.type}",
                sqlstate=DATATYPE_MISMATCH,
            )
    return tuple(columns), watermark


def _watermark(item: exp.WatermarkColumnConstraint) -> Watermark:
    """``WATERMARK FOR ts AS ts [- INTERVAL ...]``: the watermark trails the largest event time
    seen by a constant delay (the only form tidal accepts, so lateness is well defined)."""
    name, expression = item.this.name, item.expression
    delay = None
    if isinstance(expression, exp.Column) and expression.name.lower() == name.lower():
        delay = 0
    elif (
        isinstance(expression, exp.Sub)
        and isinstance(expression.this, exp.Column)
        and expression.this.name.lower() == name.lower()
    ):
        delay = duration_us(expression.expression, f"the delay of WATERMARK FOR {name}")
    if delay is None or delay < 0:
        raise unsupported(
            f"WATERMARK FOR {name} AS {expression.sql()}: write {name} - INTERVAL '...' "
            "(a fixed delay, zero or more)"
        )
    return Watermark(name, expression.sql(dialect="duckdb"), delay)


def options(create: exp.Create) -> tuple[tuple[str, str], ...]:
    """``WITH (key = 'value', ...)`` as lower-case keys and string values."""
    properties = create.args.get("properties")
    pairs = []
    for prop in properties.expressions if properties else []:
        if isinstance(prop, exp.MaterializedProperty):
            continue
        if isinstance(prop, exp.FileFormatProperty) and isinstance(prop.this, exp.Var):
            if prop.name.upper() != "PLAIN":
                raise unsupported(f"FORMAT {prop.name}: tidal reads plain rows (FORMAT PLAIN)")
            continue
        if isinstance(prop, exp.EncodeProperty):
            pairs.extend(_encode(prop))
            continue
        if type(prop) is exp.Property:
            key = prop.name if isinstance(prop.this, exp.Literal) else prop.this.sql()
            value = prop.args.get("value")
        elif type(prop) in _PROPERTY_NAMES and isinstance(prop.this, exp.Expression):
            # sqlglot parses some keys (FORMAT, LOCATION, ...) into dedicated nodes
            key, value = _PROPERTY_NAMES[type(prop)], prop.this
        else:
            raise unsupported(f"option {prop.sql()}: write WITH (key = 'value', ...)")
        text = (
            value.name if isinstance(value, (exp.Literal, exp.Identifier, exp.Var)) else value.sql()
        )
        pairs.append((key.lower(), text))
    return tuple(pairs)


def _encode(prop: exp.EncodeProperty) -> list[tuple[str, str]]:
    """RisingWave's ``FORMAT PLAIN ENCODE CSV (without_header = 'true', delimiter = ';')``."""
    encodings = {"CSV": "csv", "JSON": "jsonl", "PARQUET": "parquet"}
    encoding = prop.name.upper()
    if encoding not in encodings:
        raise unsupported(f"ENCODE {prop.name}: tidal reads ENCODE CSV, JSON or PARQUET")
    pairs = [("format", encodings[encoding])]
    nested = prop.args.get("properties")
    for item in nested.expressions if nested else []:
        key, value = item.name.lower(), item.args["value"].name
        if key == "without_header":
            pairs.append(("header", "false" if value.lower() == "true" else "true"))
        else:
            pairs.append((key, value))
    return pairs


_PROPERTY_NAMES = {cls: name.lower() for name, cls in exp.Properties.NAME_TO_PROPERTY.items()}


# Options about event time, which tables accept too (tidal.engine.watermarks).
EVENT_TIME_OPTIONS = ("late_table", "watermark_idle_timeout")


def table(create: exp.Create) -> Table:
    columns, watermark = columns_and_watermark(create)
    opts = options(create)
    other = [k for k, _ in opts if k not in EVENT_TIME_OPTIONS]
    if other:
        raise unsupported(
            f"WITH ({other[0]} = ...) on a table: a table is fed by INSERT and takes only "
            f"{', '.join(EVENT_TIME_OPTIONS)}; use CREATE SOURCE for a connector"
        )
    if opts and watermark is None:
        raise SqlError(f"WITH ({opts[0][0]} = ...) needs a WATERMARK FOR clause")
    return Table(create.this.this.name, columns, watermark, opts)


def source(create: exp.Create) -> Source:
    columns, watermark = columns_and_watermark(create)
    opts = options(create)
    if "connector" not in dict(opts):
        raise SqlError("CREATE SOURCE needs WITH (connector = '...'): one of 'file', 'datagen'")
    return Source(create.this.this.name, columns, opts, watermark)


def sink(create: exp.Create) -> Sink:
    """``CREATE SINK s FROM relation`` (a ``SELECT *`` of one named relation), or a sink of any
    query (``CREATE SINK s AS SELECT ...``, with ``query`` set and no ``source``)."""
    from tidal.sql.dialect import Tidal

    query = create.args.get("expression")
    first = query.args.get("from_") if isinstance(query, exp.Select) else None
    if (
        first is not None
        and isinstance(first.this, exp.Table)
        and isinstance(first.this.this, exp.Identifier)
        and not any(query.args.get(k) for k in ("where", "joins", "group", "distinct", "limit"))
        and len(query.expressions) == 1
        and isinstance(query.expressions[0], exp.Star)
    ):
        return Sink(create.this.name, first.this.name, options(create))
    if not isinstance(query, exp.Expression):
        raise SqlError("CREATE SINK needs FROM relation or AS SELECT ...")
    return Sink(create.this.name, "", options(create), query=query.sql(dialect=Tidal))
