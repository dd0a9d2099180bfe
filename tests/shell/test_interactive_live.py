"""Live views (SUBSCRIBE, \\watch) and statements that take a while (spinner, Ctrl-C)."""

from __future__ import annotations

import re
import threading

import pyarrow as pa
from shell_harness import Session

from tidal.shell.interactive.live import Changelog, LiveTable

SETUP = (
    "CREATE TABLE t (k VARCHAR, v INTEGER);\r"
    "CREATE MATERIALIZED VIEW s AS SELECT k, sum(v) AS total FROM t GROUP BY k;\r"
    "INSERT INTO t VALUES ('a', 1);\r"
)


def frame(screen: str) -> list[list[str]]:
    """The rows of the last table drawn: cells of the lines under its rule."""
    lines = screen.split("\n")
    rule = max(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = []
    for line in lines[rule + 1 :]:
        if "|" not in line:
            break
        rows.append([cell.strip() for cell in line.split("|")])
    return rows


def test_subscribe_redraws_the_view_in_place_as_it_changes():
    session = Session(size=(30, 100)).type(SETUP + "SUBSCRIBE s;\r").start()
    db = session.backend.db
    session.wait_for(lambda s: "watching s · 1 rows" in s)
    assert frame(session.screen()) == [["a", "1"]]
    db.execute("INSERT INTO t VALUES ('b', 2), ('a', 5)")
    session.wait_for(lambda s: "watching s · 2 rows" in s)
    assert frame(session.screen()) == [["a", "6"], ["b", "2"]]
    db.execute("DELETE FROM t WHERE k = 'a'")
    screen = session.wait_for(lambda s: "watching s · 1 rows" in s)
    assert frame(screen) == [["b", "2"]]
    # redrawn over the old frame: the screen holds one table, not three
    assert screen.count(" k ") == 1 and "| 6" not in screen
    session.type("\x03")
    screen = session.wait_for(lambda s: "stopped watching s" in s)
    assert re.search(r"stopped watching s at tick \d+ \(1 rows\)", screen)
    session.type("SELECT count(*) AS after FROM s;\r")  # the shell is back at its prompt
    assert "after" in session.finish()


def test_changelog_mode_shows_each_change_as_it_happens():
    session = Session().type(SETUP + "\\mode changelog\r\\watch s\r").start()
    db = session.backend.db
    session.wait_for(lambda s: "watching s" in s)
    db.execute("INSERT INTO t VALUES ('a', 5), ('c', 2)")
    db.execute("DELETE FROM t WHERE k = 'c'")
    screen = session.wait_for(lambda s: "-D" in s)
    changes = [row for row in frame(screen) if row[0]]
    assert [[op, k, total] for op, _, k, total in changes] == [
        ["+I", "a", "1"],  # the snapshot
        ["-U", "a", "1"],
        ["+U", "a", "6"],
        ["+I", "c", "2"],
        ["-D", "c", "2"],
    ]
    ticks = [int(row[1]) for row in changes]
    assert ticks[0] < ticks[1] == ticks[2] == ticks[3] < ticks[4]  # two ticks: two statements
    session.type("q")
    session.wait_for(lambda s: f"stopped watching s at tick {ticks[4]} (1 rows)" in s)
    session.finish()


def test_changelog_of_a_keyed_table_shows_an_upsert_as_an_update():
    setup = (
        "CREATE TABLE p (id INTEGER PRIMARY KEY, price INTEGER);\rINSERT INTO p VALUES (1, 10);\r"
    )
    session = Session().type(setup + "\\mode changelog\r\\watch p\r").start()
    session.wait_for(lambda s: "watching p" in s)
    db = session.backend.db  # once the shell has loaded it (two threads importing race)
    db.execute(
        "INSERT INTO p VALUES (1, 12), (2, 5) ON CONFLICT (id) DO UPDATE SET price = excluded.price"
    )
    screen = session.wait_for(lambda s: "+U" in s and "+I" in s.split("+U")[-1])
    changes = [[row[0], *row[2:]] for row in frame(screen) if row[0]]
    assert changes == [["+I", "1", "10"], ["-U", "1", "10"], ["+U", "1", "12"], ["+I", "2", "5"]]
    session.type("q")
    session.wait_for(lambda s: "stopped watching p" in s)
    session.finish()


def test_watching_something_that_cannot_be_watched_is_an_error():
    session = Session().type("CREATE VIEW p AS SELECT 1 AS x;\r\\watch p\r\\watch nope\r")
    screen = session.start().finish()
    assert "SUBSCRIBE to the plain view 'p'" in screen and "(SQLSTATE 0A000)" in screen
    assert "(SQLSTATE 42P01)" in screen


def test_a_live_view_ends_when_its_relation_is_dropped():
    session = Session().type(SETUP + "SUBSCRIBE s;\r").start()
    session.wait_for(lambda s: "watching s" in s)
    session.backend.db.execute("DROP MATERIALIZED VIEW s")
    screen = session.wait_for(lambda s: "was dropped" in s)
    assert "tidal>" in screen.split("was dropped")[-1]
    session.finish()


def test_live_table_folds_changes_with_multiplicities():
    live = LiveTable(pa.schema([("k", pa.string()), ("n", pa.int64())]))
    live.apply(pa.table({"k": ["b", "a", "a", None], "n": [1, 2, 2, 3], "diff": [1, 1, 1, 1]}))
    live.apply(pa.table({"k": ["a", "b"], "n": [2, 1], "diff": [-1, -1]}))
    assert live.table().to_pylist() == [{"k": "a", "n": 2}, {"k": None, "n": 3}]
    assert len(live) == 2 and live.table(limit=1).num_rows == 1


def test_changelog_pairs_by_key_and_without_a_key_does_not():
    schema = pa.schema([("k", pa.string()), ("v", pa.int64())])
    rows = pa.table({"k": ["a", "a", "b"], "v": [1, 2, 3], "diff": [-1, 1, -1]})

    def ops(log: Changelog) -> list[str]:
        return [line[1][1].strip() for line in log.lines(7, rows)]

    assert ops(Changelog(schema, ["k"])) == ["-U", "+U", "-D"]
    assert ops(Changelog(schema, [])) == ["-D", "+I", "-D"]


class Slow:
    """A backend whose statements wait until the test lets them finish."""

    description = "slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()

    def load(self):
        pass

    def ready(self):
        return True

    def cancel(self):
        pass  # like a statement busy where no cancel reaches it

    def execute(self, text):
        if "slow" in text:
            self.release.wait(30)
            self.finished.set()
            return "SLOW DONE"
        return "QUICK DONE"

    def relations(self):
        return []

    def warnings(self):
        return []

    def ticks(self):
        return 0

    def close(self):
        pass


def test_a_slow_statement_shows_a_spinner_and_ctrl_c_cancels_it():
    backend = Slow()
    session = Session(backend).type("SELECT 'slow';\r").start()
    screen = session.wait_for(lambda s: "Ctrl-C to cancel" in s)
    assert "running" in screen and " s · " in screen
    session.type("\x03")
    screen = session.wait_for(lambda s: "cancelled" in s)
    assert "Ctrl-C to cancel" not in screen  # the spinner line is erased
    session.type("SELECT 'quick';\r")
    session.wait_for(lambda s: "QUICK DONE" in s)
    assert not backend.finished.is_set()  # still running in the background
    backend.release.set()
    backend.finished.wait(10)
    session.type("SELECT 'quick again';\r")
    screen = session.wait_for(lambda s: "the cancelled statement finished and applied" in s)
    assert "SLOW DONE" not in screen  # its result was dropped
    session.finish()


def test_keys_typed_while_a_statement_runs_are_kept_for_the_next_prompt():
    backend = Slow()
    session = Session(backend).type("SELECT 'slow';\r").start()
    session.wait_for(lambda s: "Ctrl-C to cancel" in s)
    session.type("SELECT 'quick';\r")
    backend.release.set()
    screen = session.wait_for(lambda s: "QUICK DONE" in s)
    assert screen.index("SLOW DONE") < screen.index("tidal> SELECT 'quick';")
    session.finish()


def test_ctrl_c_stops_a_running_query_of_the_embedded_engine():
    big = (
        "CREATE SOURCE big (id BIGINT) WITH (connector = 'datagen', "
        "\"fields.id.kind\" = 'sequence', \"fields.id.start\" = '1', \"fields.id.end\" = '20000');\r"
    )
    endless = "SELECT count(*) FROM big a, big b, big c WHERE a.id + b.id + c.id = 7;\r"
    session = Session().type(big + endless).start()
    session.wait_for(lambda s: "Ctrl-C to cancel" in s)
    session.type("\x03")
    screen = session.wait_for(lambda s: "canceling statement due to user request" in s)
    assert "(SQLSTATE 57014)" in screen and "in the background" not in screen
    session.type("SELECT count(*) AS n FROM big;\r")  # the engine carries on at once
    assert "20000" in session.finish()
