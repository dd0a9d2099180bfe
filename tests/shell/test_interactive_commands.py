"""The psql-style backslash commands (\\x, \\set, \\pset, \\conninfo, \\!, \\h, \\df, \\dt+)
typed into a shell on a pipe (shell_harness.py): what the screen shows."""

from __future__ import annotations

import re

from shell_harness import Session, run_keys

from tidal.shell.interactive.backend import EmbeddedBackend

TABLE = "CREATE TABLE t (a INTEGER, name VARCHAR);\rINSERT INTO t VALUES (1, NULL), (2, 'bob');\r"


def after(screen: str, typed: str) -> str:
    """What the screen shows after the last prompt line that is ``typed``."""
    line = f"tidal> {typed}\n"
    return screen[screen.rindex(line) + len(line) :]


def test_x_shows_one_record_block_per_row_and_switches_back():
    screen = run_keys(TABLE + "\\x\rSELECT * FROM t ORDER BY a;\r\\x\rSELECT a FROM t LIMIT 1;\r")
    expanded = after(screen, "SELECT * FROM t ORDER BY a;").split("\n")
    assert expanded[:6] == [
        "-[ RECORD 1 ]-",
        "a    | 1",
        "name | NULL",
        "-[ RECORD 2 ]-",
        "a    | 2",
        "name | bob",
    ]
    assert "expanded display is on" in screen and "expanded display is off" in screen
    assert "RECORD" not in after(screen, "SELECT a FROM t LIMIT 1;")


def test_x_auto_expands_only_a_table_wider_than_the_terminal():
    wide = "SELECT " + ", ".join(f"'{'v' * 12}' AS column_{i}" for i in range(8)) + ";\r"
    screen = run_keys("\\x auto\rSELECT 1 AS narrow;\r" + wide, size=(40, 60))
    assert "RECORD" not in after(screen, "SELECT 1 AS narrow;").split("tidal>")[0]
    shown = screen[screen.index("AS column_7;") :]
    assert "\n-[ RECORD 1 ]----------\ncolumn_0 | vvvvvvvvvvvv\n" in shown
    assert "column_7 | vvvvvvvvvvvv\n(1 row" in shown


def test_set_lists_the_settings_and_variables_and_refuses_bad_values():
    screen = run_keys("\\set FOO 'bar baz'\r\\set ON_ERROR_STOP maybe\r\\set TIMING off\r\\set\r")
    assert "ERROR: ON_ERROR_STOP takes on | off, not 'maybe'" in screen
    listed = after(screen, "\\set").split("tidal>")[0]
    assert "ON_ERROR_STOP = 'on'" in listed and "TIMING = 'off'" in listed
    assert "FOO = 'bar baz'" in listed
    # TIMING off is \timing off: statuses show no time
    timed = run_keys("\\set TIMING off\rCREATE TABLE x (a INTEGER);\r")
    assert re.search(r"^CREATE TABLE$", timed, re.MULTILINE)


def test_on_error_stop_off_runs_the_rest_of_an_input_after_a_failure(tmp_path):
    keys = "SELECT 1 AS one; SELECT * FROM missing; SELECT 3 AS three;\r"
    stopped = run_keys(keys)
    assert "missing" in stopped and "three" not in after(stopped, keys[:-1])
    going_on = run_keys("\\set ON_ERROR_STOP off\r" + keys)
    assert "(SQLSTATE 42P01)" in going_on and "three" in after(going_on, keys[:-1])
    script = tmp_path / "s.sql"
    script.write_text("SELECT * FROM missing;\nSELECT 42 AS after_error;\n")
    assert "after_error" not in run_keys(f"\\i {script}\r").split("\\i")[-1]
    assert "after_error" in run_keys(f"\\set ON_ERROR_STOP 0\r\\i {script}\r").split("\\i")[-1]


def test_unset_puts_a_setting_back_to_its_default_and_pset_speaks_psql():
    screen = run_keys(
        "\\pset pager off\r\\pset expanded auto\r\\pset format csv\r\\pset\r"
        "\\unset EXPANDED\r\\set\r\\pset colour on\r"
    )
    listed = after(screen, "\\pset").split("tidal>")[0]
    assert "pager     off" in listed and "expanded  auto" in listed and "format    csv" in listed
    assert "EXPANDED = 'off'" in after(screen, "\\set")
    assert "ERROR: \\pset: unknown option 'colour'" in screen


def test_conninfo_says_in_memory_or_the_data_directory(tmp_path):
    assert "embedded tidal in memory" in run_keys("\\conninfo\r")
    backend = EmbeddedBackend(data_dir=tmp_path / "d")
    screen = run_keys("\\conninfo\r", backend=backend)
    assert f"on the data directory {tmp_path / 'd'}" in screen


def test_bang_runs_a_shell_command_and_reports_a_failure(tmp_path):
    target = tmp_path / "made"
    screen = run_keys(f"\\! echo made > {target}; echo said\r\\! exit 3\r")
    assert target.read_text() == "made\n"
    assert after(screen, "\\! echo made > " + str(target) + "; echo said").startswith("said\n")
    assert "the command exited with status 3" in screen
    # alone it would open a shell: this output is not a terminal
    assert "needs a terminal" in run_keys("\\!\r")


def test_h_lists_statements_shows_one_and_suggests_for_unknown_names():
    screen = run_keys("\\h\r\\h create sink\r\\h CREATE S\r\\h FLY\r")
    assert re.search(r"^SUBSCRIBE +SUBSCRIBE \[TO\] relation", screen, re.MULTILINE)
    one = after(screen, "\\h create sink").split("tidal>")[0].strip().split("\n")
    assert len(one) == 1 and one[0].startswith("CREATE SINK  CREATE SINK [IF NOT EXISTS] name")
    prefix = after(screen, "\\h CREATE S").split("tidal>")[0]
    assert "CREATE SINK" in prefix and "CREATE SOURCE" in prefix and "CREATE TABLE" not in prefix
    assert "ERROR: no help for 'FLY'" in screen


def test_df_lists_sql_and_python_functions_with_their_arguments():
    backend = EmbeddedBackend()
    backend.load()
    backend.db.create_function("shout", lambda s: s.upper(), ["VARCHAR"], "VARCHAR")
    screen = run_keys(
        "CREATE FUNCTION twice(x BIGINT) RETURNS BIGINT LANGUAGE SQL RETURN x * 2;\r\\df\r",
        backend=backend,
    )
    rows = [
        [cell.strip() for cell in line.split("|")]
        for line in after(screen, "\\df").split("\n")
        if "|" in line
    ]
    assert rows[0] == ["name", "arguments", "returns", "language", "kind"]
    assert rows[1][0] == "shout" and rows[1][2:] == ["varchar", "python", "scalar"]
    assert rows[2] == ["twice", "x bigint", "bigint", "sql", "scalar"]


def test_dt_plus_shows_rows_and_bytes_from_the_engine():
    backend = EmbeddedBackend()
    screen = run_keys(TABLE + "CREATE TABLE empty (a BIGINT);\r\\dt+\r", backend=backend)
    rows = {
        cells[0]: cells
        for line in after(screen, "\\dt+").split("\n")
        if "|" in line
        for cells in [[c.strip() for c in line.split("|")]]
    }
    assert rows["name"] == ["name", "kind", "rows", "bytes", "size"]
    assert rows["t"][2] == "2" and rows["empty"][2] == "0"
    stats = backend.db.stats(state_bytes=True) if backend.ready() else None
    assert int(rows["t"][3]) > 0 and rows["t"][4] == f"{rows['t'][3]} bytes"
    assert stats is not None and int(rows["t"][3]) == stats["t"].state_bytes


def test_help_lists_the_new_commands():
    screen = Session().type("\\?\r").start().finish()
    for name in ("\\x", "\\set", "\\pset", "\\conninfo", "\\!", "\\h", "\\df", "\\dt+"):
        assert re.search(rf"^  {re.escape(name)} ", screen, re.MULTILINE), name


def test_copy_reads_and_writes_files_on_the_shells_side(tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('id,note\n1,hello\n2,"a, b"\n3,\n')
    out_csv, out_text = tmp_path / "out.csv", tmp_path / "out.txt"
    screen = run_keys(
        "CREATE TABLE n (id INTEGER, note VARCHAR);\r"
        f"\\copy n FROM '{source}' WITH (FORMAT csv, HEADER)\r"
        f"\\copy (SELECT * FROM n WHERE id > 1 ORDER BY id) TO '{out_csv}' "
        "WITH (FORMAT csv, HEADER)\r"
        f"\\copy n TO {out_text}\r"
    )
    assert re.findall(r"^COPY \d+", screen, re.MULTILINE) == ["COPY 3", "COPY 2", "COPY 3"]
    assert out_csv.read_text() == 'id,note\n2,"a, b"\n3,\n'
    assert sorted(out_text.read_text().split("\n")) == ["", "1\thello", "2\ta, b", "3\t\\N"]


def test_copy_errors_say_what_to_fix(tmp_path):
    screen = run_keys(
        "CREATE TABLE n (id INTEGER);\r"
        f"\\copy n FROM '{tmp_path / 'missing.csv'}'\r"
        "\\copy n\r"
        "\\copy n FROM STDIN\r"
        f"\\copy nope FROM '{tmp_path}/x'\r"
    )
    assert f"ERROR: cannot read {tmp_path / 'missing.csv'}: No such file" in screen
    assert "ERROR: \\copy needs FROM or TO" in screen
    assert "ERROR: \\copy needs a file" in screen
    assert "cannot read" in screen  # the file is read before the table is looked for


def test_e_runs_what_the_editor_left_and_puts_it_in_history(tmp_path, monkeypatch):
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/1/2/' \"$1\"\n")
    editor.chmod(0o755)
    monkeypatch.setenv("EDITOR", str(editor))
    session = Session().type("SELECT 1 AS n;\r\\e\r")
    screen = session.start().finish()
    edited = after(screen, "\\e").split("\n")
    assert edited[0] == "SELECT 2 AS n;" and edited[4].strip() == "2"
    assert session.shell.session.history.get_strings()[-2:] == ["SELECT 2 AS n;", "\\q"]
    monkeypatch.setenv("EDITOR", "false")
    assert "the editor exited with status 1: nothing was run" in run_keys("\\e\r")


def test_long_results_never_go_to_a_pager_when_the_output_is_no_terminal(tmp_path, monkeypatch):
    marker = tmp_path / "paged"
    monkeypatch.setenv("PAGER", f"touch {marker}")
    screen = run_keys("SELECT n FROM generate_series(1, 100) AS g(n);\r", size=(20, 80))
    assert "(100 rows" in screen and not marker.exists()
