"""The contents of a relation (table, source, materialized view) as a Z-set, for reading.

Changes are appended as they come; reading consolidates them once and keeps the result until
the next change, so a stream nobody reads costs no consolidation.
"""
from __future__ import annotations

import pyarrow as pa

from tidal.engine.zset import consolidate


class Collection:
    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._parts: list[pa.Table] = []
        self._consolidated = True

    def apply(self, delta: pa.Table) -> None:
        if delta.num_rows:
            self._parts.append(pa.Table.from_arrays(delta.columns, schema=self.schema))
            self._consolidated = False

    def rows(self) -> pa.Table:
        """The consolidated contents (every weight positive)."""
        if not self._consolidated:
            merged = consolidate(pa.concat_tables(self._parts))
            self._parts = [merged] if merged.num_rows else []
            self._consolidated = True
        return self._parts[0] if self._parts else self.schema.empty_table()

    def __len__(self) -> int:
        return self.rows().num_rows
