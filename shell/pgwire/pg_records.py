"""STRUCT and MAP values as PostgreSQL sends them: a STRUCT is an anonymous record (``(1,a)``,
type ``record``), a MAP, which PostgreSQL lacks, a JSON object (``{"k": 1}``, type ``json``).

Record text is PostgreSQL's ``record_out``: fields between parentheses, separated by commas,
NULL as nothing, a field quoted when it is empty or holds a quote, backslash, parenthesis,
comma or white space (quotes and backslashes doubled inside). Record binary is
``record_send``: the field count, then each field's type OID, length (-1 for NULL) and bytes.

    >>> record_text([b"1", b"a b", None, b""])
    b'(1,"a b",,"")'
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

import pyarrow as pa

RECORD, RECORD_ARRAY = 2249, 2287

_QUOTED = set(b'"\\(),') | set(b" \t\n\r\v\f")


def record_text(fields: list[bytes | None]) -> bytes:
    """A record's text from its fields' texts (None for NULL)."""
    parts = []
    for text in fields:
        if text is None:
            parts.append(b"")
        elif not text or any(c in _QUOTED for c in text):
            parts.append(b'"' + text.replace(b'"', b'""').replace(b"\\", b"\\\\") + b'"')
        else:
            parts.append(text)
    return b"(" + b",".join(parts) + b")"


def record_codecs(arrow_type: pa.StructType, field_types: list) -> tuple[Callable, ...]:
    """(text, binary, prepare) for a STRUCT type, given the ``PgType`` of each field; a value
    is the tuple of its fields as their ``PgType`` prepares them."""

    def prepare(array: pa.Array) -> list:
        columns = [kind.prepare(array.field(i)) for i, kind in enumerate(field_types)]
        valid = array.is_valid().to_pylist()
        return [tuple(c[i] for c in columns) if valid[i] else None for i in range(len(array))]

    def text(value: tuple, ctx: Any) -> bytes:
        return record_text(
            [None if v is None else kind.text(v, ctx) for kind, v in zip(field_types, value)]
        )

    def binary(value: tuple, ctx: Any) -> bytes:
        parts = [struct.pack("!i", len(value))]
        for kind, v in zip(field_types, value):
            if v is None:
                parts.append(struct.pack("!Ii", kind.oid, -1))
            else:
                encoded = kind.binary(v, ctx)
                parts.append(struct.pack("!Ii", kind.oid, len(encoded)) + encoded)
        return b"".join(parts)

    return text, binary, prepare


def map_json(value: list, _: Any) -> bytes:
    """A MAP's entries as a JSON object (keys as text)."""
    return json.dumps(
        {str(k): v for k, v in value}, default=str, ensure_ascii=False, separators=(", ", ": ")
    ).encode()
