"""Statement parameters (``$1``, ``$2``, ...): their types, and their values read from text.

A parameter's type is the one the client declared, else inferred from where it stands (compared
with a column, cast, in LIMIT, an INSERT's target column), else unknown: a front door then takes
it as text, as PostgreSQL takes an ``unknown``.

A value arrives as text (or bytes, for BLOB) and is read as PostgreSQL's input functions read
it: ``read_value`` gives the Python value a run takes as its argument (tidal.engine.arguments),
and the type it runs as, which for a NUMERIC is the value's own DECIMAL(width, scale), as a
literal of it would have.

    >>> from tidal.catalog import Catalog
    >>> from tidal.sql.parser import parse_statement
    >>> statement = parse_statement("SELECT $1::int + 1, $2 LIMIT $3")
    >>> infer_types(statement, Catalog(), [])
    ['INTEGER', None, 'BIGINT']
    >>> read_value("INTEGER", " 41 "), read_value("DECIMAL", "2.50"), read_value("DATE", "2026-01-01")
    (('INTEGER', 41), ('DECIMAL(3,2)', Decimal('2.50')), ('DATE', '2026-01-01'))
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from sqlglot import exp

from tidal.catalog import Catalog, types
from tidal.catalog.sqlstate import (
    INVALID_TEXT_REPRESENTATION,
    NUMERIC_VALUE_OUT_OF_RANGE,
    PROGRAM_LIMIT_EXCEEDED,
)
from tidal.sql.errors import SqlError
from tidal.sql.plan import cast, parameter

INTEGER_RANGES = {
    "TINYINT": (-(2**7), 2**7),
    "SMALLINT": (-(2**15), 2**15),
    "INTEGER": (-(2**31), 2**31),
    "BIGINT": (-(2**63), 2**63),
}
# Types whose values a run takes as Python values; any other is read from its text by a cast
# in the plan, so that DuckDB's reading of dates, times, intervals, UUIDs ... applies.
PYTHON_VALUED = {*INTEGER_RANGES, "FLOAT", "DOUBLE", "BOOLEAN", "VARCHAR", "BLOB"}
_BOOLEANS = {"t": True, "true": True, "y": True, "yes": True, "on": True, "1": True}
_BOOLEANS |= {"f": False, "false": False, "n": False, "no": False, "off": False, "0": False}
# PostgreSQL's own type names, as drivers write them in casts (``$1::pg_catalog.int4``), where
# tidal's type names differ.
_POSTGRES_TYPES = {"name": "VARCHAR", "jsonb": "JSON", "oid": "BIGINT", "char": "VARCHAR"}


# The wire protocol counts parameters in 16 bits (Bind, ParameterDescription), as PostgreSQL does.
MAX_PARAMETERS = 65_535


def numbers(statement: exp.Expression) -> list[int]:
    """The number n of each ``$n`` in a statement, in the order they stand."""
    return [n for n in map(number, statement.find_all(exp.Parameter)) if n is not None]


def number(node: exp.Expression) -> int | None:
    """n for a ``$n`` node; None for any other node. An n past ``MAX_PARAMETERS`` is refused
    here, before anything sized by it (a list of n parameter types) is made."""
    inner = node.this if isinstance(node, exp.Parameter) else None
    if isinstance(inner, exp.Literal) and not inner.is_string and inner.this.isdigit():
        n = int(inner.this[:12])  # more digits than that are past the limit anyway
        if n > MAX_PARAMETERS or len(inner.this) > 12:
            raise SqlError(
                f"${inner.this[:20]}: a statement takes at most {MAX_PARAMETERS:,} parameters "
                f"($1 to ${MAX_PARAMETERS})",
                sqlstate=PROGRAM_LIMIT_EXCEEDED,
            )
        return n
    return None


# --- types -------------------------------------------------------------------------------------


def infer_types(
    statement: exp.Expression, catalog: Catalog, declared: Sequence[str | None]
) -> list[str | None]:
    """The SQL type of every parameter ``$1..$n``: as declared, else inferred from where it
    stands, else None (unknown)."""
    count = max([len(declared), *numbers(statement)])
    found = [declared[i] if i < len(declared) else None for i in range(count)]
    relations = _relations(statement, catalog)
    for node in statement.find_all(exp.Parameter):
        index = (number(node) or 0) - 1
        if 0 <= index < count and found[index] is None:
            found[index] = _context_type(node, relations)
    return found


def type_name(to: exp.DataType) -> str | None:
    """A cast's target type in tidal's spelling (PostgreSQL's names too); None if unknown."""
    kind = to.args.get("kind")
    if to.this == exp.DataType.Type.USERDEFINED and kind is not None:
        name = (kind.name if isinstance(kind, exp.Dot) else kind.sql()).strip('"').lower()
        return _POSTGRES_TYPES.get(name) or _normalized(name)
    return _normalized(to.sql(dialect="duckdb"))


def _normalized(name: str) -> str | None:
    try:
        return types.normalize(name)
    except types.TypeError_:
        return _POSTGRES_TYPES.get(name.lower())


def _relations(statement: exp.Expression, catalog: Catalog) -> dict[str, object]:
    """Relations the statement names, by alias and by name."""
    found: dict[str, object] = {}
    for table in statement.find_all(exp.Table):
        relation = catalog.find(table.name) if table.name else None
        if relation is not None and hasattr(relation, "columns"):
            found[table.name.lower()] = relation
            if table.alias:
                found[table.alias.lower()] = relation
    return found


def _context_type(node: exp.Expression, relations: dict[str, object]) -> str | None:
    parent = node.parent
    while isinstance(parent, exp.Paren):
        node, parent = parent, parent.parent
    if isinstance(parent, exp.Cast) and parent.this is node:
        return type_name(parent.to) or "VARCHAR"
    if isinstance(parent, (exp.Limit, exp.Offset, exp.Fetch)):
        return "BIGINT"
    if isinstance(parent, (exp.Like, exp.ILike, exp.DPipe)):
        return "VARCHAR"
    if isinstance(parent, exp.Binary):
        other = parent.expression if parent.this is node else parent.this
        return _type_of(other, relations)
    if isinstance(parent, exp.In):
        return _type_of(parent.this, relations) if parent.this is not node else None
    if isinstance(parent, exp.Between):
        other = parent.args.get("low") if parent.this is node else parent.this
        return _type_of(other, relations)
    if isinstance(parent, (exp.Tuple, exp.Values)):
        return _insert_column_type(node, parent, relations)
    return None


def _insert_column_type(
    node: exp.Expression, row: exp.Expression, relations: dict[str, object]
) -> str | None:
    values = row if isinstance(row, exp.Values) else row.parent
    insert = values.parent if isinstance(values, exp.Values) else None
    if not isinstance(insert, exp.Insert):
        return None
    target = insert.this
    table = target.this if isinstance(target, exp.Schema) else target
    relation = relations.get(table.name.lower())
    if relation is None:
        return None
    if isinstance(target, exp.Schema):
        names = [i.name.lower() for i in target.expressions]
    else:
        names = [c.name.lower() for c in relation.columns]
    position = next((i for i, item in enumerate(row.expressions) if item is node), None)
    if position is None or position >= len(names):
        return None
    return _column_type(relation, names[position])


def _type_of(node: exp.Expression | None, relations: dict[str, object]) -> str | None:
    if isinstance(node, exp.Paren):
        return _type_of(node.this, relations)
    if isinstance(node, exp.Column):
        candidates = [relations.get(node.table.lower())] if node.table else list(relations.values())
        for relation in candidates:
            found = _column_type(relation, node.name.lower()) if relation is not None else None
            if found is not None:
                return found
        return None
    if isinstance(node, exp.Cast):
        return type_name(node.to) or "VARCHAR"
    if isinstance(node, exp.Boolean):
        return "BOOLEAN"
    if isinstance(node, exp.Literal):
        if node.is_string:
            return "VARCHAR"
        return "BIGINT" if node.this.lstrip("-").isdigit() else "DECIMAL"
    return None


def _column_type(relation: object, name: str) -> str | None:
    return next((c.type for c in relation.columns if c.name.lower() == name), None)


# --- values ------------------------------------------------------------------------------------


def read_value(sql_type: str | None, value: str | bytes | None) -> tuple[str | None, object]:
    """The type a parameter of type ``sql_type`` runs as with ``value`` (its text; bytes for a
    BLOB), and its Python value: an int, float, bool, str, bytes or Decimal, or for other types
    the text itself, which the plan casts (see ``PYTHON_VALUED``)."""
    if sql_type is None:  # unknown: its text, a literal of the plan (``constant_numbers``)
        return None, value.decode("utf-8") if isinstance(value, bytes) else value
    decimal = sql_type.startswith("DECIMAL")
    if value is None:
        return ("DECIMAL(38,10)" if decimal else sql_type), None
    if sql_type == "BLOB":
        return sql_type, value if isinstance(value, bytes) else value.encode("utf-8")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if sql_type == "BOOLEAN":
        read = _BOOLEANS.get(value.strip().lower())
        if read is None:
            raise _invalid("boolean", value)
        return sql_type, read
    if sql_type in INTEGER_RANGES:
        return sql_type, _integer(sql_type, value)
    if sql_type in ("FLOAT", "DOUBLE"):
        return sql_type, _float(value)
    if decimal:
        return _decimal(value)
    return sql_type, value


def _invalid(kind: str, value: str) -> SqlError:
    return SqlError(
        f"invalid input syntax for type {kind}: {value!r}", sqlstate=INVALID_TEXT_REPRESENTATION
    )


def _integer(sql_type: str, value: str) -> int:
    try:
        read = int(value.strip())
    except ValueError:
        raise _invalid("integer", value) from None
    low, high = INTEGER_RANGES[sql_type]
    if not low <= read < high:
        raise SqlError(
            f"value {value!r} is out of range for type {sql_type}",
            sqlstate=NUMERIC_VALUE_OUT_OF_RANGE,
        )
    return read


def _float(value: str) -> float:
    try:
        return float(value.strip())
    except ValueError:
        raise _invalid("double precision", value) from None


def _decimal(value: str) -> tuple[str, object]:
    """A NUMERIC's value, typed as a literal of it is: DECIMAL(width, scale), or DOUBLE where
    no DECIMAL holds it (NaN, infinities, more than 38 digits)."""
    try:
        read = Decimal(value.strip())
    except InvalidOperation:
        raise _invalid("numeric", value) from None
    if not read.is_finite():
        return "DOUBLE", float(read)
    _, digits, exponent = read.as_tuple()
    scale = max(0, -exponent)
    width = max(len(digits) + max(exponent, 0), scale + 1)
    if width > 38:
        return "DOUBLE", float(read)
    return f"DECIMAL({width},{scale})", read


# --- parameters in a plan ----------------------------------------------------------------------


def constant_numbers(statement: exp.Expression, types: Sequence[str | None]) -> frozenset[int]:
    """The parameters whose values are constants of the plan rather than arguments of a run:
    those that shape it (``shape_numbers``) and those of unknown type, which are text literals
    there, as PostgreSQL's ``unknown`` literals are (DuckDB then reads them as whatever type they
    meet)."""
    unknown = {n for n in numbers(statement) if n > len(types) or types[n - 1] is None}
    return shape_numbers(statement) | unknown


def shape_numbers(statement: exp.Expression) -> frozenset[int]:
    """The parameters that shape a plan: a LIMIT's or an OFFSET's row count, and anything in
    a window function's call (``lag(x, $1)``: the binder reads its offset as a constant)."""
    return frozenset(
        n
        for node in statement.find_all(exp.Parameter)
        if (n := number(node)) is not None
        and (_in_row_count(node) or node.find_ancestor(exp.Window))
    )


def stand_ins(
    statement: exp.Expression, types: Sequence[str | None], constants: dict[int, object]
) -> exp.Expression:
    """A copy of ``statement`` ready to compile: each ``$n`` of ``constants`` is its value as a
    literal (a LIMIT's number, an unknown's text), every other a typed stand-in whose value each
    run takes as its argument (see ``PYTHON_VALUED``; others are cast from their text)."""
    copy = statement.copy()
    for node in list(copy.find_all(exp.Parameter)):
        n = number(node)
        if n is None:
            raise SqlError(f"parameter {node.sql()} is not numbered: write $1, $2, ...")
        sql_type = types[n - 1] if n <= len(types) else None
        if n in constants:
            node.replace(_literal(constants[n], sql_type, _in_row_count(node)))
            continue
        if sql_type in PYTHON_VALUED or sql_type.startswith("DECIMAL"):
            node.replace(parameter(n, sql_type))
        else:
            node.replace(cast(parameter(n, "VARCHAR"), sql_type))
    return copy


def _in_row_count(node: exp.Expression) -> bool:
    parent = node.parent
    while isinstance(parent, (exp.Paren, exp.Cast)):
        parent = parent.parent
    return isinstance(parent, (exp.Limit, exp.Offset, exp.Fetch))


def _literal(value: object, sql_type: str | None, row_count: bool) -> exp.Expression:
    if value is None:
        return exp.Null() if sql_type is None or row_count else cast(exp.Null(), sql_type)
    if row_count:  # LIMIT and OFFSET take a plain number (the binder wants a constant)
        return exp.Literal.number(_integer("BIGINT", str(value)))
    if isinstance(value, bytes):
        value = "".join(f"\\x{b:02X}" for b in value)
    text = exp.Literal.string(str(value))
    return text if sql_type is None else cast(text, sql_type)
