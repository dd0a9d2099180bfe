"""COPY t FROM 'file' in the embedded engine (the shell, ``tidal run``): PostgreSQL's text and
CSV formats, the file source's rule for bad lines, and errors that change nothing."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile

import pytest

from tidal.catalog.sqlstate import TidalError
from tidal.engine import Database


@pytest.fixture(params=[False, True], ids=["incremental", "batch"])
def db(request, tmp_path):
    db = Database(base_dir=tmp_path, batch_mode=request.param)
    db.execute("CREATE TABLE t (k INTEGER, name VARCHAR, ok BOOLEAN)")
    db.execute("CREATE MATERIALIZED VIEW m AS SELECT count(*) AS n, count(name) AS named FROM t")
    return db


def write(db: Database, name: str, text: str) -> str:
    (db.relations.base_dir / name).write_text(text)
    return name


def rows(db: Database) -> list[tuple]:
    return sorted((tuple(r.values()) for r in db.execute("SELECT * FROM t").to_pylist()), key=str)


def error_of(db: Database, sql: str) -> TidalError:
    with pytest.raises(TidalError) as error:
        db.execute(sql)
    return error.value


def test_text_format_escapes_and_nulls(db):
    write(db, "t.txt", "1\ta\\tb\tt\n2\t\\N\tf\n3\tback\\\\slash\\x41\\101\t\\N\n\\.\nignored\n")
    status = db.execute("COPY t FROM 't.txt'")
    assert str(status) == "COPY 3" and status.notices == ()
    assert rows(db) == [(1, "a\tb", True), (2, None, False), (3, "back\\slashAA", None)]
    assert db.execute("SELECT * FROM m").to_pylist() == [{"n": 3, "named": 2}]


def test_csv_with_header_delimiter_null_and_a_column_list(db):
    write(db, "t.csv", 'name;k\n"x;y";1\nNA;2\n"";3\n')
    db.execute("COPY t (name, k) FROM 't.csv' WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'NA')")
    assert rows(db) == [(1, "x;y", None), (2, None, None), (3, "", None)]


def test_columns_left_out_get_their_default(db):
    db.execute("ALTER TABLE t ADD COLUMN score INTEGER DEFAULT 5")
    write(db, "k.txt", "1\n2\n")
    db.execute("COPY t (k) FROM 'k.txt'")
    assert db.execute("SELECT k, score FROM t ORDER BY k").to_pylist() == [
        {"k": 1, "score": 5},
        {"k": 2, "score": 5},
    ]


def test_bad_lines_are_left_out_and_reported_as_the_file_source_does(db):
    write(db, "t.csv", "1,a,true\nx,b,true\n3,c\n4,d,maybe\n5,e,false\n")
    status = db.execute("COPY t FROM 't.csv' (FORMAT csv)")
    assert str(status) == "COPY 2"
    assert [n.split(": ")[1] for n in status.notices] == ["t.csv:2", "t.csv:3", "t.csv:4"]
    assert rows(db) == [(1, "a", True), (5, "e", False)]


def test_a_key_violation_loads_nothing():
    db = Database()
    db.execute("CREATE TABLE keyed (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
    db.execute("INSERT INTO keyed VALUES (1, 1)")
    with tempfile.TemporaryDirectory() as folder:
        duplicate = pathlib.Path(folder, "dup.txt")
        duplicate.write_text("2\t2\n1\t3\n")
        assert error_of(db, f"COPY keyed FROM '{duplicate}'").sqlstate == "23505"
        missing = pathlib.Path(folder, "null.txt")
        missing.write_text("4\t\\N\n")
        assert error_of(db, f"COPY keyed FROM '{missing}'").sqlstate == "23502"
    assert db.execute("SELECT * FROM keyed").to_pylist() == [{"k": 1, "v": 1}]


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("COPY t FROM 'nothing.csv'", "58030"),
        ("COPY t FROM STDIN", "0A000"),
        ("COPY m FROM 'x'", "42809"),
        ("COPY nope FROM 'x'", "42P01"),
        ("COPY t (nope) FROM 'x'", "42703"),
        ("COPY t (k, k) FROM 'x'", "42701"),
        ("COPY t FROM 'x' (FORMAT binary)", "0A000"),
        ("COPY t FROM 'x' (FORMAT xml)", "22023"),
        ("COPY t FROM 'x' (ENCODING 'latin1')", "0A000"),
    ],
)
def test_errors_change_nothing(db, sql, sqlstate):
    write(db, "x", "1\ta\tt\n")
    assert error_of(db, sql).sqlstate == sqlstate
    assert rows(db) == []


def test_tidal_run_prints_the_lines_left_out(tmp_path):
    (tmp_path / "rows.csv").write_text("1\nbad\n")
    script = tmp_path / "load.sql"
    script.write_text(
        "CREATE TABLE t (k INTEGER);\nCOPY t FROM 'rows.csv' (FORMAT csv);\nSELECT k FROM t;\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "tidal.shell.cli", "run", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "COPY 1" in done.stdout + done.stderr
    assert "WARNING: line left out: rows.csv:2:" in done.stderr
