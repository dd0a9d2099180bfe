"""PostgreSQL's JSONB operators and functions, lowered to DuckDB's JSON ones.

``JSONB`` is DuckDB's ``JSON`` (JSON text). ``->`` and ``->>`` mean the same in both. The rest:

- ``doc #> '{a,b,0}'`` and ``jsonb_extract_path(doc, 'a', 'b', '0')`` are
  ``json_extract(doc, '/a/b/0')``: a JSON Pointer, whose steps are object keys or array
  positions as the value met decides, as PostgreSQL's path steps are; ``#>>`` and
  ``jsonb_extract_path_text`` are ``json_extract_string``.
- ``jsonb_typeof`` gives PostgreSQL's names (``object``, ``array``, ``string``, ``number``,
  ``boolean``, ``null``), not DuckDB's ``json_type`` ones (``VARCHAR``, ``UBIGINT``, ...).
- ``jsonb_build_object`` is ``json_object``, ``to_jsonb`` is ``to_json``.

``doc || other`` with a JSON operand is refused (``check_operators``): PostgreSQL merges the
two documents, DuckDB would join their texts into one that is not JSON. So are ``@>`` and
``<@`` (containment).

>>> from tidal.sql.parser import parse_statement
>>> rewrite(parse_statement("SELECT doc #>> '{a,0}', jsonb_extract_path(doc, k)")).sql("duckdb")
"SELECT JSON_EXTRACT_STRING(doc, '/a/0'), JSON_EXTRACT(doc, ('/' || REPLACE((REPLACE(k, '~', '~0')), '/', '~1')))"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from tidal.sql.errors import unsupported

if TYPE_CHECKING:
    from tidal.sql.plan import Field
    from tidal.sql.typeinfer import TypeInference

_RENAMED = {"jsonb_build_object": "json_object", "to_jsonb": "to_json"}
_PATH_FUNCTIONS = {
    "jsonb_extract_path": "json_extract",
    "jsonb_extract_path_text": "json_extract_string",
    "json_extract_path_text": "json_extract_string",
}
_TYPEOF = {
    "OBJECT": "object",
    "ARRAY": "array",
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "NULL": "null",
    "BIGINT": "number",
    "UBIGINT": "number",
    "HUGEINT": "number",
    "DOUBLE": "number",
}


def rewrite(node: exp.Expression) -> exp.Expression:
    """``node`` with PostgreSQL's JSONB spellings replaced by DuckDB's JSON ones."""
    if not node.find(exp.JSONBExtract, exp.JSONBExtractScalar, exp.Anonymous):
        return node
    node = node.copy()
    for found in reversed(list(node.dfs())):  # arguments before the calls that take them
        lowered = _lowered(found)
        if lowered is not found:
            if found is node:
                return lowered
            found.replace(lowered)
    return node


def _lowered(node: exp.Expression) -> exp.Expression:
    if isinstance(node, (exp.JSONBExtract, exp.JSONBExtractScalar)):
        function = "json_extract" if isinstance(node, exp.JSONBExtract) else "json_extract_string"
        return _call(function, node.this, _pointer_of_text_array(node.expression))
    if not isinstance(node, exp.Anonymous):
        return node
    name = node.name.lower()
    if name in _RENAMED or name in _PATH_FUNCTIONS or name.startswith("jsonb_"):
        node.set("expressions", [_arrow(a) for a in node.expressions])
    if name in _RENAMED:
        return _call(_RENAMED[name], *node.expressions)
    if name in _PATH_FUNCTIONS:
        if len(node.expressions) < 2:
            raise unsupported(f"{name} without a path: give at least one key")
        document, *steps = node.expressions
        return _call(_PATH_FUNCTIONS[name], document, _pointer(steps))
    if name in ("jsonb_array_elements", "jsonb_array_elements_text") and node.expressions:
        element = "JSON" if name == "jsonb_array_elements" else "VARCHAR"
        array = exp.cast(exp.Paren(this=node.expressions[0]), f"{element}[]", dialect="duckdb")
        return exp.Explode(this=array)
    if name == "jsonb_typeof":
        if len(node.expressions) != 1:
            raise unsupported(f"{name} takes one argument")
        kind = _call("json_type", node.expressions[0])
        case = exp.Case(this=kind)  # SQL NULL (no value at the path) stays NULL
        for duckdb_name, postgres_name in _TYPEOF.items():
            case = case.when(exp.Literal.string(duckdb_name), exp.Literal.string(postgres_name))
        return case
    return node


def _arrow(argument: exp.Expression) -> exp.Expression:
    """sqlglot parses ``f(doc -> 'k')`` as a lambda with parameter ``doc``: read it back as
    ``->``, ``json_extract(doc, 'k')``."""
    if not isinstance(argument, exp.Lambda) or len(argument.expressions) != 1:
        return argument
    if not isinstance(argument.this, exp.Literal):
        raise unsupported(f"{argument.sql()} as an argument here: write (doc -> 'key')")
    return _call("json_extract", exp.column(argument.expressions[0].name), argument.this)


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    """A call of DuckDB's ``name``; an operator argument is parenthesized (DuckDB reads a bare
    ``x -> 'k'`` argument as a lambda)."""
    wrapped = [a if isinstance(a, (exp.Column, exp.Literal)) else exp.Paren(this=a) for a in args]
    return exp.Anonymous(this=name, expressions=wrapped)


def _pointer_of_text_array(path: exp.Expression) -> exp.Expression:
    """A constant PostgreSQL text array path (``'{a,b,0}'``) as a JSON Pointer constant."""
    if not (isinstance(path, exp.Literal) and path.is_string):
        raise unsupported(
            f"#> / #>> with the path {path.sql()}: write the path as a constant such as "
            "'{a,b}', or use jsonb_extract_path(doc, step, ...)"
        )
    text = path.this.strip()
    if not (text.startswith("{") and text.endswith("}")) or '"' in text or "\\" in text:
        raise unsupported(f"#> / #>> path {path.sql()}: write it as '{{key,key,...}}'")
    steps = [s.strip() for s in text[1:-1].split(",")] if text[1:-1].strip() else []
    return exp.Literal.string("".join("/" + _escaped(s) for s in steps))


def _escaped(step: str) -> str:
    return step.replace("~", "~0").replace("/", "~1")


def _pointer(steps: list[exp.Expression]) -> exp.Expression:
    """Path steps (text expressions) as a JSON Pointer expression, a constant where they are."""
    if all(isinstance(s, exp.Literal) and s.is_string for s in steps):
        return exp.Literal.string("".join("/" + _escaped(s.this) for s in steps))
    pointer: exp.Expression | None = None
    for step in steps:
        escaped = _call(
            "replace",
            _call("replace", step, exp.Literal.string("~"), exp.Literal.string("~0")),
            exp.Literal.string("/"),
            exp.Literal.string("~1"),
        )
        part = exp.DPipe(this=exp.Literal.string("/"), expression=escaped)
        pointer = part if pointer is None else exp.DPipe(this=pointer, expression=part)
    assert pointer is not None
    return pointer


def check_operators(node: exp.Expression, infer: TypeInference, fields: tuple[Field, ...]) -> None:
    """Refuse ``||``, ``@>`` and ``<@`` on a JSON operand, whose meanings DuckDB and PostgreSQL
    do not share."""
    for contains in node.find_all(exp.ArrayContainsAll, exp.ArrayContainedBy):
        if _any_json([contains.this, contains.expression], infer, fields):
            raise unsupported(
                "JSON containment (@>, <@): DuckDB's json_contains answers differently from "
                "PostgreSQL's; compare the values at paths instead (doc ->> 'k' = 'v')"
            )
    for concat in node.find_all(exp.DPipe):
        if _any_json([concat.this, concat.expression], infer, fields):
            raise unsupported(
                "|| with a JSON operand: PostgreSQL merges "
                "documents, DuckDB concatenates their text; use json_merge_patch(a, b) to merge "
                "objects, or cast to VARCHAR to join text"
            )


def _any_json(operands: list[exp.Expression], infer: TypeInference, fields) -> bool:
    """Whether an operand is JSON, each typed alone: in a grouped query ``min(x) || trim(k)``
    typed as one select list would read the key ``k`` as an ungrouped column."""
    return any("JSON" in infer.infer([operand], fields) for operand in operands)
