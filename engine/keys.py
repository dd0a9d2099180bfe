"""Key values as SQL compares them, before Arrow hashes or groups them.

Arrow tells -0.0 from 0.0 when it hashes; SQL (and DuckDB) does not.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def canonical(column):
    """A key column as Arrow should hash it: a float column with -0.0 made 0.0 (-0.0 + 0.0 is
    0.0), so that both land in one group and match as join keys, as in DuckDB."""
    if pa.types.is_floating(column.type):
        return pc.add(column, pa.scalar(0.0, column.type))
    return column
