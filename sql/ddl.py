"""DDL statements to catalog objects: CREATE TABLE / SOURCE / SINK column and option lists.

A table may declare a primary key, as a column constraint or a table constraint
(``PRIMARY KEY (a, b)``, optionally ``CONSTRAINT name`` and Flink's ``NOT ENFORCED``); its
columns become NOT NULL. After the columns, RisingWave's ``APPEND ONLY`` and ``ON CONFLICT
<rule>`` say how the table changes.

    >>> from tidal.sql.parser import parse_statement
    >>> t = table(parse_statement("CREATE TABLE t (a INT, b INT, v INT, PRIMARY KEY (a, b))"))
    >>> t.primary_key, [c.nullable for c in t.columns]
    (('a', 'b'), [False, False, True])
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlglot import exp

from tidal.catalog import types
from tidal.catalog.objects import (
    CONFLICT_ERROR,
    CONFLICT_IGNORE,
    CONFLICT_OVERWRITE,
    CONFLICT_UPDATE_IF_NOT_NULL,
    Column,
    Sink,
    Source,
    Table,
    Watermark,
)
from tidal.catalog.sqlstate import (
    DATATYPE_MISMATCH,
    DUPLICATE_COLUMN,
    INVALID_TABLE_DEFINITION,
    SYNTAX_ERROR,
    UNDEFINED_COLUMN,
)
from tidal.sql.dialect import AppendOnlyProperty, ConflictProperty, Tidal
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.eventtime import TIME_TYPES
from tidal.sql.intervals import duration_us


@dataclass(frozen=True)
class Declared:
    """What a CREATE TABLE or SOURCE's parentheses declare: columns, watermark, primary key."""

    columns: tuple[Column, ...]
    watermark: Watermark | None
    primary_key: tuple[str, ...] = ()
    constraint: str = ""  # the key's name, if declared (CONSTRAINT name PRIMARY KEY ...)


def declared(create: exp.Create) -> Declared:
    schema = create.this
    if not isinstance(schema, exp.Schema):
        raise SqlError(f"CREATE {create.args.get('kind')} needs a column list: (name type, ...)")
    columns: list[Column] = []
    watermark = None
    keys: list[tuple[tuple[str, ...], str]] = []  # every PRIMARY KEY clause, and its name
    for item in schema.expressions:
        if isinstance(item, exp.WatermarkColumnConstraint):
            if watermark is not None:
                raise SqlError("a table or source has at most one WATERMARK FOR clause")
            watermark = _watermark(item)
            continue
        if isinstance(item, (exp.PrimaryKey, exp.Constraint, exp.UniqueColumnConstraint)):
            keys.append(_table_constraint(item))
            continue
        if isinstance(item, (exp.Identifier, exp.Column)) or (
            isinstance(item, exp.ColumnDef) and item.args.get("kind") is None
        ):
            raise SqlError(f"column {item.name!r} needs a type, e.g. {item.name} VARCHAR")
        if not isinstance(item, exp.ColumnDef):
            raise unsupported(f"table constraint {item.sql()}")
        column, key = _column(item)
        if any(c.name.lower() == column.name.lower() for c in columns):
            raise SqlError(
                f"column {item.name!r} specified more than once", sqlstate=DUPLICATE_COLUMN
            )
        columns.append(column)
        if key is not None:
            keys.append(((column.name,), key))
    _check_watermark(watermark, columns)
    if len(keys) > 1:
        raise SqlError(
            f"multiple primary keys for table {create.this.this.name!r} are not allowed",
            sqlstate=INVALID_TABLE_DEFINITION,
        )
    if not keys:
        return Declared(tuple(columns), watermark)
    key, name = keys[0]
    return Declared(_key_columns(columns, key), watermark, key, name)


def _column(item: exp.ColumnDef) -> tuple[Column, str | None]:
    """A column definition, and the name of its PRIMARY KEY constraint ("" unnamed) if it has
    one (None if not)."""
    nullable, key = True, None
    for constraint in item.args.get("constraints") or []:
        if isinstance(constraint.kind, exp.NotNullColumnConstraint):
            nullable = bool(constraint.kind.args.get("allow_null"))
            continue
        if isinstance(constraint.kind, exp.PrimaryKeyColumnConstraint):
            _check_key_options(constraint.kind, f"{item.name} ... PRIMARY KEY")
            name = constraint.args.get("this")
            key = name.name if name is not None else ""
            continue
        if isinstance(constraint.kind, exp.UniqueColumnConstraint):
            raise unsupported(_UNIQUE)
        raise unsupported(
            f"column constraint {constraint.sql()} (tidal enforces NOT NULL and PRIMARY KEY; "
            "defaults, checks and references are not)"
        )
    if item.args.get("kind") is None:
        raise SqlError(f"column {item.name!r} needs a type, e.g. {item.name} VARCHAR")
    try:
        type_name = types.normalize(item.args["kind"].sql(dialect="duckdb"))
    except types.TypeError_ as error:
        raise SqlError(str(error), sqlstate=error.sqlstate) from None
    return Column(item.name, type_name, nullable), key


def added_column(item: exp.ColumnDef) -> tuple[Column, exp.Expression | None]:
    """``ALTER TABLE ... ADD COLUMN``'s column, with its ``DEFAULT`` (a constant), if any."""
    item = item.copy()
    constraints = item.args.get("constraints") or []
    defaults = [c.kind.this for c in constraints if isinstance(c.kind, exp.DefaultColumnConstraint)]
    item.set(
        "constraints",
        [c for c in constraints if not isinstance(c.kind, exp.DefaultColumnConstraint)],
    )
    column, key = _column(item)
    if key is not None:
        raise unsupported("ADD COLUMN ... PRIMARY KEY: a table's key is declared with the table")
    default = defaults[0] if defaults else None
    if default is not None and not all(isinstance(n, _CONSTANT) for n in default.walk()):
        raise unsupported(f"DEFAULT {default.sql(dialect='tidal')}: a default is a constant here")
    if default is None or isinstance(default, exp.Null):
        return column, None
    return dataclasses.replace(column, default=default.sql(dialect="tidal")), default


# What a constant DEFAULT may be made of: literals, signs, casts and typed literals.
_CONSTANT = (
    exp.Literal,
    exp.Neg,
    exp.Cast,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.DataType,
    exp.DataTypeParam,
    exp.Interval,
    exp.Var,
)


_UNIQUE = (
    "UNIQUE constraints: declare the table's one key as PRIMARY KEY (tidal enforces a "
    "primary key only)"
)


def _table_constraint(item: exp.Expression) -> tuple[tuple[str, ...], str]:
    """``[CONSTRAINT name] PRIMARY KEY (a, b)``: the key's columns and its name."""
    name = ""
    if isinstance(item, exp.Constraint):
        name = item.name
        if len(item.expressions) != 1:
            raise unsupported(f"constraint {item.sql()}: declare one PRIMARY KEY (...)")
        item = item.expressions[0]
    if isinstance(item, exp.UniqueColumnConstraint):
        raise unsupported(_UNIQUE)
    if not isinstance(item, exp.PrimaryKey):
        raise unsupported(f"table constraint {item.sql()}")
    _check_key_options(item, "PRIMARY KEY (...)")
    columns = []
    for column in item.expressions:
        if not isinstance(column, (exp.Identifier, exp.Column)):
            raise unsupported(f"{column.sql()} in PRIMARY KEY (...): name columns only")
        columns.append(column.name)
    return tuple(columns), name


def _check_key_options(node: exp.Expression, where: str) -> None:
    """``NOT ENFORCED`` (Flink's and RisingWave's spelling) is accepted: tidal enforces every
    key, so it changes nothing. Index options (INCLUDE, WITH, USING INDEX TABLESPACE, DESC)
    are refused."""
    for option in node.args.get("options") or []:
        text = option.sql() if isinstance(option, exp.Expression) else str(option)
        if text.upper() != "NOT ENFORCED":
            raise unsupported(f"{where} {text}")
    include = node.args.get("include")
    index_options = {k: v for k, v in (include.args if include else {}).items() if v}
    if node.args.get("desc") or index_options:
        raise unsupported(f"index options of {where}: {node.sql()}")


def _key_columns(columns: list[Column], key: tuple[str, ...]) -> tuple[Column, ...]:
    """The columns with the key's made NOT NULL, after checking the key names each once."""
    names = [c.name.lower() for c in columns]
    for i, name in enumerate(key):
        if name.lower() not in names:
            raise SqlError(
                f"column {name!r} named in key does not exist", sqlstate=UNDEFINED_COLUMN
            )
        if name.lower() in [k.lower() for k in key[:i]]:
            raise SqlError(
                f"column {name!r} appears twice in primary key constraint",
                sqlstate=DUPLICATE_COLUMN,
            )
    lowered = {k.lower() for k in key}
    for column in columns:
        if column.name.lower() in lowered and column.type in _UNKEYABLE:
            raise unsupported(
                f"a primary key column of type {column.type} ({column.name}): "
                f"{_UNKEYABLE[column.type]}"
            )
        nested = column.type.endswith("[]") or column.type.startswith(("STRUCT(", "MAP("))
        if column.name.lower() in lowered and nested:
            raise unsupported(
                f"a primary key column of type {column.type} ({column.name}): lists, STRUCTs "
                "and MAPs cannot be keys yet; key the table by a scalar column"
            )
    return tuple(
        dataclasses.replace(c, nullable=False) if c.name.lower() in lowered else c for c in columns
    )


# Key column types whose equality is not their values' (so a key could repeat unseen).
_UNKEYABLE = {
    "INTERVAL": "equal intervals may be spelled differently ('1 day', '24 hours')",
    "JSON": "equal documents may be spelled differently",
}


def _check_watermark(watermark: Watermark | None, columns: list[Column]) -> None:
    if watermark is None:
        return
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
        if isinstance(prop, (AppendOnlyProperty, ConflictProperty)):
            if (create.args.get("kind") or "").upper() != "TABLE":
                raise SqlError(
                    f"{prop.sql(dialect=Tidal)} is a clause of CREATE TABLE, not of CREATE "
                    f"{create.args.get('kind')}",
                    sqlstate=SYNTAX_ERROR,
                )
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
    """A table fed by INSERT, or with ``WITH (connector = ...)`` by a connector (RisingWave's
    tables with connectors: PostgreSQL CDC, Kafka upserts, webhooks), which the connector
    checks the other options of."""
    schema = declared(create)
    opts = options(create)
    fed_by_connector = any(k == "connector" for k, _ in opts)
    other = [k for k, _ in opts if k not in EVENT_TIME_OPTIONS]
    if other and not fed_by_connector:
        raise unsupported(
            f"WITH ({other[0]} = ...) on a table: a table is fed by INSERT and takes only "
            f"{', '.join(EVENT_TIME_OPTIONS)}, or a connector (WITH (connector = ...))"
        )
    timing = [k for k, _ in opts if k in EVENT_TIME_OPTIONS]
    if timing and schema.watermark is None:
        raise SqlError(f"WITH ({timing[0]} = ...) needs a WATERMARK FOR clause")
    name = create.this.this.name
    append_only, on_conflict = _table_clauses(create, name, schema)
    return Table(
        name,
        schema.columns,
        schema.watermark,
        opts,
        primary_key=schema.primary_key,
        key_constraint=schema.constraint,
        on_conflict=on_conflict,
        append_only=append_only,
    )


# RisingWave's names of a table's conflict rules, and their older spellings.
_CONFLICT_RULES = {
    "OVERWRITE": CONFLICT_OVERWRITE,
    "DO UPDATE FULL": CONFLICT_OVERWRITE,
    "IGNORE": CONFLICT_IGNORE,
    "DO NOTHING": CONFLICT_IGNORE,
    "DO UPDATE IF NOT NULL": CONFLICT_UPDATE_IF_NOT_NULL,
}


def _table_clauses(create: exp.Create, name: str, schema: Declared) -> tuple[bool, str]:
    """``APPEND ONLY`` and ``ON CONFLICT <rule>`` after a table's columns: whether the table
    is append-only, and its conflict rule. As in RisingWave, an append-only table (and a table
    with a watermark, which is one) has no key, and a conflict rule needs a key."""
    properties = create.args.get("properties")
    found = properties.expressions if properties else []
    append_only = any(isinstance(p, AppendOnlyProperty) for p in found)
    conflict = next((p for p in found if isinstance(p, ConflictProperty)), None)
    if schema.primary_key and (append_only or schema.watermark is not None):
        what = "an append-only table" if append_only else "a table with a watermark"
        raise SqlError(
            f"table {name!r}: {what} accepts INSERT only and has no primary key",
            sqlstate=INVALID_TABLE_DEFINITION,
        )
    if conflict is None:
        return append_only, CONFLICT_ERROR
    if not schema.primary_key:
        raise SqlError(
            f"table {name!r}: ON CONFLICT {conflict.name} needs a PRIMARY KEY, the key that "
            "conflicts",
            sqlstate=INVALID_TABLE_DEFINITION,
        )
    if conflict.args.get("version") is not None:
        raise unsupported(f"{conflict.sql(dialect=Tidal)}: WITH VERSION COLUMN")
    return append_only, _CONFLICT_RULES[conflict.name.upper()]


def source(create: exp.Create) -> Source:
    schema = declared(create)
    if schema.primary_key:
        raise unsupported(
            "PRIMARY KEY on a source: a source is an append-only stream; declare a table with "
            "a primary key and INSERT into it"
        )
    opts = options(create)
    if "connector" not in dict(opts):
        raise SqlError("CREATE SOURCE needs WITH (connector = '...'): one of 'file', 'datagen'")
    return Source(create.this.this.name, schema.columns, opts, schema.watermark)


def sink(create: exp.Create) -> Sink:
    """``CREATE SINK s FROM relation`` (a ``SELECT *`` of one named relation), or a sink of any
    query (``CREATE SINK s AS SELECT ...``, with ``query`` set and no ``source``)."""
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
