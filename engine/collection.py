"""The contents of a relation (table, source, materialized view) as a Z-set, for reading.

Changes are appended as they come; reading consolidates them once and keeps the result until
the next change, so a stream nobody reads costs no consolidation. When the appended changes
carry many retractions and outgrow the consolidated part, they are consolidated at once, so
memory stays within a small factor of the contents' size.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from tidal.engine.zset import WEIGHT, consolidate


class Collection:
    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._parts: list[pa.Table] = []
        self._consolidated = True
        self._settled_rows = 0  # rows in the last consolidated part
        self._pending_rows = 0  # rows appended since
        self._pending_retractions = 0
        self._held = 0  # the parts' bytes, kept as they change: measured after every tick

    def apply(self, delta: pa.Table) -> None:
        if not delta.num_rows:
            return
        part = pa.Table.from_arrays(delta.columns, schema=self.schema)
        self._parts.append(part)
        self._held += part.nbytes
        self._consolidated = False
        self._pending_rows += delta.num_rows
        self._pending_retractions += pc.sum(pc.less(delta.column(WEIGHT), 0)).as_py() or 0
        if (
            self._pending_rows > max(self._settled_rows, 65_536)
            and self._pending_retractions * 8 >= self._pending_rows
        ):
            self.rows()

    def rows(self) -> pa.Table:
        """The consolidated contents (every weight positive)."""
        if not self._consolidated:
            merged = consolidate(pa.concat_tables(self._parts))
            self._parts = [merged] if merged.num_rows else []
            self._held = merged.nbytes if merged.num_rows else 0
            self._consolidated = True
            self._settled_rows = merged.num_rows
            self._pending_rows = self._pending_retractions = 0
        return self._parts[0] if self._parts else self.schema.empty_table()

    def changes(self) -> pa.Table:
        """The changes applied so far, as appended (not consolidated): their sum is the
        contents. For a pass over every row that should not pay for consolidating them."""
        return pa.concat_tables(self._parts) if self._parts else self.schema.empty_table()

    def __len__(self) -> int:
        return self.rows().num_rows

    def held_bytes(self) -> int:
        """The Arrow bytes held as they are: the consolidated part and the changes appended
        since, not consolidated (``rows()`` would)."""
        return self._held
