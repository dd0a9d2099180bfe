"""\\watch of a query (run again every few seconds, as psql's) and newest-first ordering,
typed into a shell on a pipe (shell_harness.py)."""

from __future__ import annotations

import re

from shell_harness import Session, run_keys
from test_interactive_live import SETUP


def frame(screen: str) -> list[list[str]]:
    """The rows of the last table drawn (lines under its rule that start with a blank)."""
    lines = screen.split("\n")
    rule = max(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = []
    for line in lines[rule + 1 :]:
        if not line.startswith(" "):
            break
        rows.append([cell.strip() for cell in line.split("|")])
    return rows


def test_watch_reruns_a_query_every_interval_and_redraws_it_in_place():
    session = Session(size=(30, 100)).type(
        "CREATE TABLE t (k INTEGER);\r\\watch 0.1 SELECT k, k * 10 AS ten FROM t ORDER BY k DESC;\r"
    )
    session.start().wait_for(lambda s: "· 0 rows · run 2" in s)
    session.backend.db.execute("INSERT INTO t VALUES (1), (2)")
    screen = session.wait_for(lambda s: "· 2 rows" in s)
    assert frame(screen) == [["2", "20"], ["1", "10"]]  # the query's own order
    session.backend.db.execute("INSERT INTO t VALUES (3)")
    screen = session.wait_for(lambda s: "· 3 rows" in s)
    assert frame(screen) == [["3", "30"], ["2", "20"], ["1", "10"]]
    assert screen.count("integer | integer") == 1  # one table, redrawn
    session.type("q")
    screen = session.wait_for(lambda s: "stopped watching" in s)
    assert re.search(r"stopped watching SELECT k, k \* 10 .* after \d+ runs \(3 rows\)", screen)
    session.type("SELECT 1 AS back;\r")
    assert "back" in session.finish()


def test_newest_first_puts_the_rows_of_the_latest_run_on_top():
    session = Session(size=(30, 100)).type(
        "CREATE TABLE t (k INTEGER);\rINSERT INTO t VALUES (1), (2);\r"
        "\\set WATCH_ORDER newest\r\\watch 0.1 SELECT k FROM t ORDER BY k;\r"
    )
    session.start().wait_for(lambda s: "· 2 rows" in s)
    session.backend.db.execute("INSERT INTO t VALUES (3), (0)")
    screen = session.wait_for(lambda s: "· 4 rows" in s)
    assert frame(screen) == [["0"], ["3"], ["1"], ["2"]]  # new ones first, each in query order
    session.type("\x03")
    session.wait_for(lambda s: "stopped watching" in s)
    session.finish()


def test_newest_first_for_a_live_view_puts_the_row_changed_last_on_top():
    session = Session(size=(30, 100)).type(
        SETUP + "INSERT INTO t VALUES ('b', 1), ('c', 1);\r\\set WATCH_ORDER newest\r\\watch s\r"
    )
    session.start().wait_for(lambda s: "watching s · 3 rows" in s)
    session.backend.db.execute("INSERT INTO t VALUES ('b', 5)")
    screen = session.wait_for(lambda s: "---" in s and frame(s)[:1] == [["b", "6"]])
    assert sorted(row[0] for row in frame(screen)[1:]) == ["a", "c"]
    session.type("q")
    session.wait_for(lambda s: "stopped watching s" in s)
    session.finish()


def test_watch_a_name_with_seconds_reruns_it_so_a_plain_view_can_be_watched():
    session = Session().type(
        "CREATE TABLE t (k INTEGER);\rINSERT INTO t VALUES (7);\r"
        "CREATE VIEW p AS SELECT k + 1 AS k1 FROM t;\r\\watch 0.1 p\r"
    )
    screen = session.start().wait_for(lambda s: "watching SELECT * FROM p · 1 rows" in s)
    assert frame(screen) == [["8"]]
    session.type("q")
    session.wait_for(lambda s: "stopped watching" in s)
    session.finish()


def test_watch_alone_reruns_the_last_query_and_refuses_what_is_not_one():
    session = Session().type("SELECT 41 + 1 AS answer;\r\\watch 0.1\r")
    screen = session.start().wait_for(lambda s: "watching SELECT 41 + 1 AS answer · 1 rows" in s)
    assert frame(screen) == [["42"]]
    session.type("q")
    session.wait_for(lambda s: "stopped watching" in s)
    session.finish()
    screen = run_keys(
        "CREATE TABLE t (k INTEGER);\r\\watch 1 INSERT INTO t VALUES (9);\r"
        "\\watch 0 t\r\\watch\rSELECT count(*) AS n FROM t;\r"
    )
    assert (
        "ERROR: \\watch runs a query (SELECT, VALUES, ...), not 'INSERT INTO t VALUES (9)'"
        in screen
    )
    assert "ERROR: \\watch: '0' is not a number of seconds" in screen
    assert "not 'CREATE TABLE t (k INTEGER)'" in screen  # \watch alone: the last SQL typed
    assert "ERROR: \\watch needs a relation or a query" in run_keys("\\watch\r")
    assert frame(screen) == [["0"]]  # the INSERT never ran
