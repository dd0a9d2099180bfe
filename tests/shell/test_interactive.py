"""The interactive shell driven through its keyboard: results, errors, history, commands.

Each test types keys into a shell on a pipe and reads the screen a terminal would show (see
shell_harness.py)."""

from __future__ import annotations

import re

from prompt_toolkit.history import FileHistory
from shell_harness import Session, run_keys


def test_a_query_shows_an_aligned_table_with_types_null_row_count_and_time():
    session = Session().type("SELECT 7 AS n, NULL::VARCHAR AS missing, 'NULL' AS word;\r")
    screen = session.start().finish()
    lines = screen.split("\n")
    header = next(i for i, line in enumerate(lines) if "missing" in line and "|" in line)
    assert [c.strip() for c in lines[header].split("|")] == ["n", "missing", "word"]
    assert [c.strip() for c in lines[header + 1].split("|")] == ["integer", "varchar", "varchar"]
    assert set(lines[header + 2]) == {"-", "+"}
    assert [c.strip() for c in lines[header + 3].split("|")] == ["7", "NULL", "NULL"]
    assert re.fullmatch(r"\(1 row; [\d.]+ m?s\)", lines[header + 4])
    # the NULL value and the string 'NULL' read alike but are drawn differently
    styles = re.findall(r"\x1b\[([0-9;]*)m *NULL", session.raw.getvalue().split("integer")[1])
    assert len(styles) == 2 and styles[0] != styles[1]


def test_a_syntax_error_shows_the_statement_with_a_caret_and_the_shell_goes_on():
    screen = run_keys("SELECT a FROM t WHERE (;\rSELECT 2 AS still_here;\r")
    error = screen[screen.index("ERROR") :].split("\n")
    assert error[0].startswith("ERROR: line 1, column 23: syntax error at end of input")
    assert error[0].endswith("(SQLSTATE 42601)")
    assert error[1] == "  SELECT a FROM t WHERE ("
    assert error[2].index("^") == error[1].index("(")
    assert "still_here" in screen and "(1 row" in screen


def test_an_error_on_a_later_line_of_the_input_points_there():
    screen = run_keys("SELECT 1 AS a,\r  2 AS b FORM x;\r")
    error = screen[screen.index("ERROR") :].split("\n")
    assert error[0].startswith("ERROR: line 2, column 10: syntax error at or near 'FORM'")
    assert error[1] == "    2 AS b FORM x"
    assert error[2].index("^") == error[1].index("FORM")


def test_other_errors_say_what_to_fix_with_their_sqlstate():
    screen = run_keys("CREATE TABLE orders (id INTEGER);\rSELECT * FROM order;\r")
    assert "ERROR: unknown relation 'order'; did you mean 'orders'?" in screen
    screen = run_keys("SELECT 1 / 0 AS x;\r")
    assert "division by zero" in screen.lower() and "(SQLSTATE 22012)" in screen


class Broken:
    """A backend that fails in a way tidal does not expect."""

    description = "broken"

    def load(self):
        pass

    def ready(self):
        return True

    def execute(self, text):
        raise RuntimeError("the engine fell over")

    def cancel(self):
        pass

    def relations(self):
        return []

    def warnings(self):
        return []

    def ticks(self):
        return None

    def close(self):
        pass


def test_an_unexpected_failure_becomes_a_message_not_a_crash():
    screen = run_keys("SELECT 1;\r\\d\rSELECT 2;\r", backend=Broken())
    assert screen.count("internal error (RuntimeError: the engine fell over); please report") == 2
    assert "no relations" in screen


def test_a_statement_spans_lines_until_a_semicolon_outside_strings():
    screen = run_keys("SELECT 'a;b'\r  AS x\r;\r")
    assert "tidal> SELECT 'a;b'\n  ...>   AS x\n  ...> ;\n" in screen
    lines = screen.split("\n")
    x = next(i for i, line in enumerate(lines) if line.strip() == "x")
    assert lines[x + 3].strip() == "a;b"


def test_ctrl_c_at_the_prompt_drops_the_input_and_ctrl_d_quits():
    session = Session().type("SELECT 'dropped' AS gone\x03SELECT 'kept' AS here;\r").start()
    session.wait_for(lambda s: "(1 row" in s)
    session.type("\x04")
    session._thread.join(20)
    assert session.status == 0 and not session._thread.is_alive()
    assert "kept" in session.screen() and "gone" not in session.screen().split("here")[1]


def recall(session: Session, keys: str, entries: int) -> None:
    """Type ``keys`` once the prompt has loaded ``entries`` history entries (it loads them in
    the background; a person is never that quick)."""
    buffer = session.shell.session.default_buffer
    session.wait_for(lambda s: buffer.working_index >= entries and s.endswith("tidal>"))
    session.type(keys)


def test_up_arrow_recalls_the_last_statement_and_history_lives_in_a_file(tmp_path):
    path = tmp_path / "history"
    session = Session(history=FileHistory(str(path))).type("SELECT 40 + 2 AS answer;\r").start()
    session.wait_for(lambda s: "(1 row" in s)
    recall(session, "\x1b[A\r", 1)
    screen = session.finish()
    assert screen.count("tidal> SELECT 40 + 2 AS answer;") == 2
    assert screen.count("(1 row") == 2
    assert "SELECT 40 + 2 AS answer;" in path.read_text()
    # a new session recalls it from the file (after the \\q that ended the first)
    session = Session(history=FileHistory(str(path))).start()
    recall(session, "\x1b[A\x1b[A\r", 2)
    screen = session.finish()
    assert screen.count("(1 row") == 1 and "\n      42\n" in screen


def test_ctrl_r_searches_history(tmp_path):
    history = FileHistory(str(tmp_path / "history"))
    for text in ("SELECT 'first' AS w;", "SELECT 'second' AS w;", "SELECT 3 AS x;"):
        history.append_string(text)
    session = Session(history=history).start()
    recall(session, "\x12first\r\r", 3)  # Ctrl-R, search, take the match, run it
    screen = session.finish()
    assert "tidal> SELECT 'first' AS w;" in screen
    assert re.search(r"\n first\n\(1 row", screen) and "second" not in screen


def test_backslash_d_lists_and_describes_relations():
    screen = run_keys(
        "CREATE TABLE orders (id BIGINT NOT NULL, customer VARCHAR, amount DECIMAL(10,2));\r"
        "CREATE MATERIALIZED VIEW spend AS SELECT customer, sum(amount) AS total "
        "FROM orders GROUP BY customer;\r"
        "\\d\r\\dt\r\\d spend\r\\d orders\r\\d nothing\r"
    )
    listing = screen[screen.index("tidal> \\d\n") : screen.index("tidal> \\dt")]
    assert re.search(r"\n spend +\| materialized view \| customer varchar, total decimal", listing)
    assert re.search(r"\n orders +\| table +\| id bigint, customer varchar", listing)
    tables = screen[screen.index("tidal> \\dt\n") : screen.index("tidal> \\d spend")]
    assert "orders" in tables and "spend" not in tables
    described = screen[screen.index("tidal> \\d spend") :]
    assert "\nmaterialized view spend\n" in described
    assert re.search(r"\n id +\| bigint +\| false\n", screen)
    assert re.search(r"\n customer +\| varchar +\| true\n", described)
    assert "SELECT customer, SUM(amount) AS total FROM orders GROUP BY customer" in described
    assert "ERROR: no relation named 'nothing'" in screen


def test_modes_line_csv_and_json():
    screen = run_keys(
        "\\mode line\rSELECT 1 AS id, 'ann' AS customer_name;\r"
        "\\mode csv\rSELECT 1 AS id, 'a,b' AS s;\r"
        "\\mode json\rSELECT 1 AS id;\r\\mode bogus\r"
    )
    assert "\n           id = 1\ncustomer_name = ann\n" in screen
    assert '\nid,s\n1,"a,b"\n' in screen
    assert '\n{"id": 1}\n' in screen
    assert "ERROR: unknown mode 'bogus'" in screen


def test_long_results_are_cut_with_a_note():
    screen = run_keys(
        "CREATE SOURCE s (i BIGINT) WITH (connector = 'datagen', 'fields.i.kind' = 'sequence',"
        " 'fields.i.start' = '1', 'fields.i.end' = '1500');\rSELECT i FROM s ORDER BY i;\r"
    )
    rows = [line.strip() for line in screen.split("\n")]
    last = rows.index("1000")
    assert rows[last - 999] == "1" and rows[last + 1] == "… 500 more rows"
    assert re.fullmatch(r"\(1500 rows; [\d.]+ m?s\)", rows[last + 2])


def test_wide_results_are_narrowed_to_the_terminal():
    wide = ", ".join(f"repeat('x', 30) AS column_{i}" for i in range(12))
    screen = run_keys(f"SELECT {wide};\r", size=(40, 100))
    table = [line for line in screen.split("\n") if line.startswith(" column_0")]
    assert table and all(len(line) <= 100 for line in table)
    assert "x…" in screen
    assert re.search(r"\(1 row; \d+ of 12 columns shown: \\mode line shows every column", screen)


def test_output_to_a_file_and_back(tmp_path):
    target = tmp_path / "out.txt"
    screen = run_keys(f"\\o {target}\rSELECT 5 AS five;\r\\o\rSELECT 6 AS six;\r")
    written = target.read_text()
    assert (
        written.split("\n")[0].strip() == "five" and "(1 row)" in written and "six" not in written
    )
    assert "six\n" in screen and "five\n" not in screen


def test_include_runs_a_script_through_the_runner(tmp_path):
    script = tmp_path / "setup.sql"
    script.write_text(
        "CREATE TABLE t (k VARCHAR);\nINSERT INTO t VALUES ('x'), ('y');\n"
        "SELECT count(*) AS n FROM t;\nSELECT nope FROM t;\nSELECT 'not reached' AS r;\n"
    )
    screen = run_keys(f"\\i {script}\r")
    assert "\nCREATE TABLE (" in screen and "\nINSERT 0 2 (" in screen
    assert re.search(r"\n +n\n +bigint\n-+\n +2\n", screen)
    assert f"ERROR: {script}:4:" in screen
    assert "not reached" not in screen


def test_timing_help_and_unknown_commands():
    screen = run_keys("\\timing off\rSELECT 1 AS a;\r\\?\r\\nope\r")
    assert "\n(1 row)\n" in screen
    assert "\\watch [seconds] name|query" in screen and "\\explain name" in screen
    assert "ERROR: unknown command \\nope" in screen


def test_explain_shows_a_views_plan():
    screen = run_keys(
        "CREATE TABLE t (k VARCHAR, v INTEGER);\r"
        "CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k;\r"
        "\\explain s\r"
    )
    assert "Aggregate" in screen and "Scan table t" in screen


def test_the_startup_benchmark_sees_the_prompt_then_an_answer():
    from tidal.shell.bench import shell_startup

    run = shell_startup.measure_once(timeout=60)
    assert 0 < run["prompt_seconds"] < run["first_result_seconds"]
    summary = shell_startup.summary([run, run])
    assert summary["prompt_seconds"]["median"] == run["prompt_seconds"]


def test_backslash_capital_s_lists_and_describes_system_relations():
    screen = run_keys(
        "CREATE TABLE t (k INTEGER);\rINSERT INTO t VALUES (1);\r"
        "\\dS\r\\dS tidal_ticks\r\\dS nothing\r"
        "SELECT tick, rows_in FROM tidal_ticks;\r"
    )
    listing = screen[screen.index("tidal> \\dS\n") : screen.index("tidal> \\dS tidal_ticks")]
    for name in ("tidal_sources", "tidal_source_errors", "tidal_views", "tidal_operators"):
        assert re.search(rf"\n {name} +\| ", listing), name
    described = screen[
        screen.index("tidal> \\dS tidal_ticks") : screen.index("tidal> \\dS nothing")
    ]
    assert "\nsystem relation tidal_ticks\n" in described
    assert re.search(r"\n started_at +\| timestamp\n", described)
    assert "ERROR: no system relation named 'nothing': they are tidal_sources," in screen
    assert re.search(r"\n +1 \| +1\n", screen[screen.index("FROM tidal_ticks;") :])
