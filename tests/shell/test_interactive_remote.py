"""The shell on a running `tidal serve` (tidal --connect): the same screen as embedded."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from shell_harness import Session, run_keys

from tidal.shell.interactive.remote import RemoteBackend

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def server():
    """``tidal serve`` on a free port; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tidal.shell.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"listening on ([\d.]+):(\d+)", line)
        assert match, line + process.stdout.read()
        yield f"postgres://{match.group(1)}:{match.group(2)}/tidal"
    finally:
        process.terminate()
        process.wait(20)


def test_statements_results_and_errors_look_as_they_do_embedded(server):
    screen = run_keys(
        "CREATE TABLE r_orders (id BIGINT, customer VARCHAR, amount DECIMAL(10,2));\r"
        "INSERT INTO r_orders VALUES (1, 'ann', 12.50), (2, NULL, 3);\r"
        "SELECT * FROM r_orders ORDER BY id;\r"
        "SELECT * FORM r_orders;\r"
        "SELECT '50%' AS pct;\r",
        backend=RemoteBackend(server),
    )
    assert f"tidal (connected to {server})" in screen
    assert "\nCREATE TABLE (" in screen and "\nINSERT 0 2 (" in screen
    table = screen[screen.index("ORDER BY id;\n") :].split("\n")[1:6]
    assert [c.strip() for c in table[0].split("|")] == ["id", "customer", "amount"]
    # the wire does not carry a numeric's precision: it is read from the values
    assert [c.strip() for c in table[1].split("|")][:2] == ["bigint", "varchar"]
    assert table[1].split("|")[2].strip().startswith("decimal(")
    assert [c.strip() for c in table[3].split("|")] == ["1", "ann", "12.50"]
    assert [c.strip() for c in table[4].split("|")] == ["2", "NULL", "3.00"]
    error = screen[screen.index("ERROR") :].split("\n")
    assert error[0].startswith("ERROR: line 1, column 15: syntax error at or near 'r_orders'")
    assert error[0].endswith("(SQLSTATE 42601)")
    assert error[2].index("^") == error[1].index("r_orders")
    assert "\n 50%\n" in screen


def test_backslash_d_and_completion_read_the_servers_catalog(server):
    backend = RemoteBackend(server)
    session = Session(backend).type(
        "CREATE TABLE r_events (kind VARCHAR, n INTEGER);\r"
        "CREATE MATERIALIZED VIEW r_per_kind AS SELECT kind, sum(n) AS total FROM r_events "
        "GROUP BY kind;\r\\d\r\\d r_per_kind\r"
    )
    screen = session.start().wait_for(lambda s: "definition:" in s)
    assert re.search(r"\n r_events +\| table +\| kind varchar, n integer", screen)
    assert re.search(r"\n r_per_kind +\| materialized view +\| kind varchar, total decimal", screen)
    assert "SELECT kind, SUM(n) AS total FROM r_events GROUP BY kind" in screen
    names = {r.name for r in backend.relations()}
    assert {"r_events", "r_per_kind"} <= names
    session.finish()


def test_a_view_is_watched_live_over_the_wire(server):
    with psycopg.connect(server, autocommit=True) as other:
        other.execute("CREATE TABLE r_clicks (k VARCHAR)")
        other.execute(
            "CREATE MATERIALIZED VIEW r_counts AS SELECT k, count(*) AS n FROM r_clicks GROUP BY k"
        )
        other.execute("INSERT INTO r_clicks VALUES ('a')")
        session = Session(RemoteBackend(server)).type("SUBSCRIBE r_counts;\r").start()
        session.wait_for(lambda s: "watching r_counts · 1 rows" in s)
        other.execute("INSERT INTO r_clicks VALUES ('a'), ('b')")
        screen = session.wait_for(lambda s: "watching r_counts · 2 rows" in s)
        assert re.search(r"\n a +\| +2\n b +\| +1\n", screen)
        session.type("\x03\\mode changelog\r\\watch r_counts\r")
        session.wait_for(lambda s: s.count("watching r_counts") == 2)
        other.execute("DELETE FROM r_clicks WHERE k = 'b'")
        screen = session.wait_for(lambda s: re.search(r"\n -D \| \d+ +\| b", s) is not None)
        session.type("q")
        session.wait_for(lambda s: s.count("stopped watching r_counts") == 2)
        session.finish()


def test_a_server_that_is_not_there_is_an_error_not_a_crash():
    screen = run_keys("SELECT 1;\r", backend=RemoteBackend("postgres://127.0.0.1:1/tidal"))
    assert "cannot connect to postgres://127.0.0.1:1/tidal" in screen
    assert "(SQLSTATE 08001)" in screen and "Traceback" not in screen


def test_ctrl_c_cancels_the_statement_on_the_server(server):
    session = (
        Session(RemoteBackend(server))
        .type(
            "CREATE SOURCE r_big (id BIGINT) WITH (connector = 'datagen', "
            "\"fields.id.kind\" = 'sequence', \"fields.id.start\" = '1', \"fields.id.end\" = '20000');\r"
            "SELECT count(*) AS loaded FROM r_big;\r"
        )
        .start()
    )
    session.wait_for(lambda s: "loaded" in s and "(1 row" in s)
    session.type("SELECT count(*) FROM r_big a, r_big b, r_big c WHERE a.id + b.id + c.id = 7;\r")
    session.wait_for(lambda s: "Ctrl-C to cancel" in s)
    session.type("\x03")
    screen = session.wait_for(lambda s: "canceling statement due to user request" in s)
    assert "(SQLSTATE 57014)" in screen and "in the background" not in screen
    session.type("SELECT 'still here' AS answer;\r")
    assert "still here" in session.finish()


def test_conninfo_copy_and_sizes_work_over_the_wire(server, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text("1,x\n2,y\n")
    out = tmp_path / "out.csv"
    screen = run_keys(
        "\\conninfo\r"
        "CREATE TABLE r_copied (id BIGINT, v VARCHAR);\r"
        f"\\copy r_copied FROM '{source}' WITH (FORMAT csv)\r"
        f"\\copy (SELECT v FROM r_copied ORDER BY id DESC) TO '{out}' WITH (FORMAT csv)\r"
        "\\dt+ r_copied\r\\df\r",
        backend=RemoteBackend(server),
    )
    port = server.split(":")[-1].split("/")[0]
    assert f'on host "127.0.0.1" at port "{port}"' in screen and 'database "tidal"' in screen
    assert re.findall(r"^COPY \d+", screen, re.MULTILINE) == ["COPY 2", "COPY 2"]
    assert out.read_text() == "y\nx\n"
    row = next(line for line in screen.split("\n") if line.startswith(" r_copied "))
    # rows are counted on the server; bytes are not told over the wire
    assert [c.strip() for c in row.split("|")] == ["r_copied", "table", "2", "NULL", "NULL"]
    assert "ERROR: \\df over --connect: the server does not list its functions" in screen
