"""COPY t FROM 'file' keeps every view equal to DuckDB, which runs the same COPY: CSV files of
drawn rows (NULLs, repeated rows, a header or not) between inserts, updates and deletes, with
views created before and after the data."""

from __future__ import annotations

import itertools
import pathlib
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from .harness import Session
from .profiles import PROFILE
from .schema import changes, inserts, values

VIEWS = {
    "grouped": "SELECT name, sum(w) AS s, count(*) AS n FROM t2 GROUP BY name",
    "keys": "SELECT k, count(DISTINCT name) AS names FROM t2 WHERE w IS NOT NULL GROUP BY k",
}
_files = itertools.count()


@st.composite
def copies(draw, folder: pathlib.Path) -> str:
    """A COPY of a CSV file of 1-6 drawn t2 rows (a row may repeat)."""
    rows = draw(
        st.lists(
            st.tuples(values("t2", "k"), values("t2", "name"), values("t2", "w")),
            min_size=1,
            max_size=6,
        )
    )
    if draw(st.booleans()):
        rows.append(rows[0])
    header = draw(st.booleans())
    lines = ["k,name,w"] if header else []
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    path = folder / f"rows{next(_files)}.csv"
    path.write_text("\n".join(lines) + "\n")
    options = "FORMAT csv, HEADER" if header else "FORMAT csv"
    return f"COPY t2 FROM '{path}' ({options})"


@PROFILE
@given(data=st.data())
def test_copied_rows_keep_views_equal_to_duckdb(data):
    with tempfile.TemporaryDirectory() as folder:
        statements = [data.draw(inserts("t2"))] + data.draw(
            st.lists(
                st.one_of(changes("t2"), copies(pathlib.Path(folder))), min_size=2, max_size=7
            ),
            label="changes",
        )
        views_at = data.draw(st.integers(0, len(statements)), label="views_at")
        session = Session(("t2",))
        try:

            def create_views() -> None:
                for name, sql in VIEWS.items():
                    session.create_view(name, sql, True, approx=False)

            session.play(statements, views_at, create_views)
        finally:
            session.close()
