"""PostgreSQL's JSONB spellings: lowered to DuckDB's JSON where the meaning is the same,
refused by name where DuckDB would answer differently."""

from __future__ import annotations

import pytest

from tidal.catalog.sqlstate import TidalError
from tidal.engine import Database

DOC = '{"a": {"b": [1, 2]}, "k": "v", "t": true}'


@pytest.fixture
def db():
    database = Database()
    database.execute("CREATE TABLE j (id INTEGER, doc JSONB)")
    database.execute(f"INSERT INTO j VALUES (1, '{DOC}'), (2, '[1, \"x\"]'), (3, NULL)")
    yield database
    database.close()


def _column(db, expression: str) -> list:
    return db.execute(f"SELECT {expression} AS x FROM j ORDER BY id").column("x").to_pylist()


def test_paths_read_keys_and_array_positions(db):
    assert _column(db, "doc #> '{a,b}'") == ["[1,2]", None, None]
    assert _column(db, "doc #>> '{a,b,1}'") == ["2", None, None]
    assert _column(db, "doc #>> '{1}'") == [None, "x", None]
    assert _column(db, "jsonb_extract_path_text(doc, 'a', 'b', '0')") == ["1", None, None]


def test_typeof_names_types_as_postgresql(db):
    assert _column(db, "jsonb_typeof(doc)") == ["object", "array", None]
    assert _column(db, "jsonb_typeof(doc -> 't')") == ["boolean", None, None]
    assert _column(db, "jsonb_typeof(doc #> '{a,b,0}')") == ["number", None, None]


def test_array_elements_are_rows(db):
    rows = db.execute(
        "SELECT id, jsonb_array_elements(doc) AS e FROM j WHERE jsonb_typeof(doc) = 'array'"
    )
    assert sorted(rows.column("e").to_pylist()) == ['"x"', "1"]


@pytest.mark.parametrize(
    "expression",
    ["doc || '{\"z\": 1}'::jsonb", 'doc @> \'{"k": "v"}\'::jsonb'],
)
def test_operators_duckdb_reads_otherwise_are_refused(db, expression):
    with pytest.raises(TidalError) as error:
        db.execute(f"CREATE VIEW v AS SELECT {expression} AS x FROM j")
    assert error.value.sqlstate == "0A000"


def test_text_concatenation_of_an_aggregate_and_a_key_is_not_mistaken_for_json():
    """The JSON check typed both operands of || as one select list, where the key beside an
    aggregate read as ungrouped (DuckDB's 42601, found by the generator's long run)."""
    database = Database()
    database.execute("CREATE TABLE t (k INTEGER, v INTEGER)")
    database.execute("INSERT INTO t VALUES (1, 2), (1, 3)")
    query = "SELECT k, min(CAST(v AS VARCHAR)) || trim(CAST(k AS VARCHAR)) AS x FROM t GROUP BY k"
    assert database.execute(query).to_pylist() == [{"k": 1, "x": "21"}]
