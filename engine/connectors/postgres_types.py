"""PLACEHOLDER for the types helper's module (i17-types): on a merge conflict keep theirs."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tidal.catalog import types
from tidal.engine.connectors.base import ConnectorError


def check_columns(what, pg_columns, declared):
    names = {n for n, _ in pg_columns}
    for c in declared:
        if c.name not in names:
            raise ConnectorError(f"{what}: column {c.name} not in PostgreSQL")


def decode(values, sql_type):
    t = types.to_arrow(sql_type)
    arr = pa.array(values, pa.string())
    if pa.types.is_boolean(t):
        return pc.equal(arr, "t")
    if pa.types.is_timestamp(t) and t.tz:
        arr = pc.replace_substring_regex(arr, r"([+-]\d\d)$", r"\1:00")
    return arr.cast(t)


def encode_copy(table):
    import io

    from pyarrow import csv

    out = io.BytesIO()
    csv.write_csv(table, out, csv.WriteOptions(include_header=False, quoting_style="needed"))
    return out.getvalue()


COPY_OPTIONS = "FORMAT csv"
