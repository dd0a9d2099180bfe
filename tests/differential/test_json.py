"""Views using PostgreSQL's JSONB spellings equal DuckDB's answer to the same view in DuckDB's
JSON spelling (tidal.sql.json_functions) after every insert, update and delete."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .harness import Session
from .profiles import PROFILE

TABLE = "CREATE TABLE docs (id INTEGER, doc JSON)"
_DOCS = [
    """'{"a": {"b": [1, 2]}, "k": "v", "n": 3}'""",
    """'{"a": null, "k": "w"}'""",
    """'[1, "x", {"q": 2}]'""",
    """'{"k": "v", "n": 2.5, "t": true}'""",
    "'\"text\"'",
    "NULL",
]
_IDS = ["1", "2", "3", "NULL"]

# (tidal's view in PostgreSQL's spelling, the same in DuckDB's)
JSON_VIEWS = {
    "arrows": (
        "SELECT id, doc -> 'a' AS a, doc ->> 'k' AS k, doc -> 1 AS second FROM docs",
        "SELECT id, doc -> 'a' AS a, doc ->> 'k' AS k, doc -> 1 AS second FROM docs",
    ),
    "paths": (
        (
            "SELECT id, doc #> '{a,b}' AS ab, doc #>> '{a,b,1}' AS ab1, "
            "jsonb_extract_path_text(doc, 'k') AS k FROM docs"
        ),
        (
            "SELECT id, json_extract(doc, '/a/b') AS ab, json_extract_string(doc, '/a/b/1') AS ab1, "
            "json_extract_string(doc, '/k') AS k FROM docs"
        ),
    ),
    "typed": (
        "SELECT jsonb_typeof(doc) AS kind, count(*) AS n FROM docs GROUP BY jsonb_typeof(doc)",
        (
            "SELECT CASE json_type(doc) WHEN 'OBJECT' THEN 'object' WHEN 'ARRAY' THEN 'array' "
            "WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'NULL' THEN 'null' "
            "WHEN 'BIGINT' THEN 'number' WHEN 'UBIGINT' THEN 'number' WHEN 'HUGEINT' THEN 'number' "
            "WHEN 'DOUBLE' THEN 'number' END AS kind, count(*) AS n FROM docs GROUP BY 1"
        ),
    ),
    "built": (
        (
            "SELECT id, jsonb_build_object('id', id, 'k', doc ->> 'k') AS o, to_jsonb(id) AS j "
            "FROM docs WHERE doc ->> 'k' = 'v'"
        ),
        (
            "SELECT id, json_object('id', id, 'k', doc ->> 'k') AS o, to_json(id) AS j "
            "FROM docs WHERE doc ->> 'k' = 'v'"
        ),
    ),
    "elements": (
        "SELECT id, jsonb_array_elements_text(doc #> '{a,b}') AS e FROM docs",
        "SELECT id, unnest(CAST(json_extract(doc, '/a/b') AS VARCHAR[])) AS e FROM docs",
    ),
}


@st.composite
def _changes(draw) -> str:
    kind = draw(st.sampled_from(["insert", "insert", "update", "delete"]))
    if kind == "insert":
        rows = [
            f"({draw(st.sampled_from(_IDS))}, {draw(st.sampled_from(_DOCS))})"
            for _ in range(draw(st.integers(1, 3)))
        ]
        return "INSERT INTO docs VALUES " + ", ".join(rows)
    where = draw(st.sampled_from(["id = 1", "id = 2", "doc ->> 'k' = 'v'", "true"]))
    if kind == "update":
        return f"UPDATE docs SET doc = {draw(st.sampled_from(_DOCS))} WHERE {where}"
    return f"DELETE FROM docs WHERE {where}"


@pytest.mark.parametrize("view", list(JSON_VIEWS))
@PROFILE
@given(data=st.data())
def test_jsonb_view_equals_duckdb(view, data):
    statements = data.draw(st.lists(_changes(), min_size=1, max_size=8), label="statements")
    view_at = data.draw(st.integers(0, len(statements)), label="view_at")
    ours, reference = JSON_VIEWS[view]
    session = Session(())
    try:
        session.both(TABLE)
        session.tables = ("docs",)
        session.play(
            statements,
            view_at,
            lambda: session.create_view(view, ours, True, approx=False, reference=reference),
        )
    finally:
        session.close()
