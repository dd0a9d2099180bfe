"""The shell's psql conveniences in a real terminal (tmux): the pager, \\e with $EDITOR,
\\watch of a query."""

from __future__ import annotations

import re
import shutil
import sys

import pytest
from test_tmux import Terminal

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

LONG = "SELECT n FROM generate_series(1, 200) AS g(n) ORDER BY n;"


def shell(tmp_path, *options: str, env: str = "") -> Terminal:
    command = [sys.executable, "-m", "tidal.shell.cli", "--data-dir", str(tmp_path), *options]
    terminal = Terminal([f"env {env}" if env else "", *command], cwd=tmp_path, height=30)
    terminal.wait_for(lambda s: "tidal>" in s)
    return terminal


def last_line(screen: str) -> str:
    return screen.rstrip().split("\n")[-1]


@pytest.mark.skipif(shutil.which("less") is None, reason="less is not installed")
def test_a_result_taller_than_the_terminal_goes_to_the_pager_until_q(tmp_path):
    terminal = shell(tmp_path, env="PAGER=less")
    try:
        terminal.type("SELECT 1 AS short;")
        terminal.wait_for(lambda s: "(1 row" in s)  # fits: printed, no pager
        terminal.type(LONG)
        screen = terminal.wait_for(lambda s: last_line(s).startswith(":"))
        assert "200" not in screen and "(200 rows" not in screen  # the pager's first page
        terminal.key("q")
        screen = terminal.wait_for(lambda s: "(200 rows" in s and last_line(s) == "tidal>")
        terminal.type("\\pset pager off")
        terminal.type(LONG)
        terminal.wait_for(lambda s: s.count("(200 rows") == 2 and last_line(s) == "tidal>")
    finally:
        terminal.close()


def test_no_pager_prints_long_results_on_the_terminal(tmp_path):
    terminal = shell(tmp_path, "--no-pager", env="PAGER=less")
    try:
        terminal.type(LONG)
        screen = terminal.wait_for(lambda s: "(200 rows" in s and last_line(s) == "tidal>")
        assert " 199\n" in screen
    finally:
        terminal.close()


def test_e_runs_what_the_editor_wrote(tmp_path):
    editor = tmp_path / "editor.sh"
    editor.write_text(
        "#!/bin/sh\n"
        'if [ -s "$1" ]; then sed -i \'s/ AS n;$/ * 10 AS n;/\' "$1"\n'
        'else echo "SELECT \'written by the editor\' AS said;" > "$1"; fi\n'
    )
    editor.chmod(0o755)
    terminal = shell(tmp_path, env=f"EDITOR={editor}")
    try:
        terminal.type("\\e")
        terminal.wait_for(lambda s: "written by the editor" in s and "(1 row" in s)
        terminal.type("SELECT 4 AS n;")
        terminal.wait_for(
            lambda s: "SELECT 4 AS n;" in s and "(1 row" in s.split("SELECT 4 AS n;")[-1]
        )
        terminal.type("\\e")  # the last statement, edited
        edited = "SELECT 4 * 10 AS n;"
        screen = terminal.wait_for(lambda s: edited in s and "(1 row" in s.split(edited)[-1])
        assert screen.split(edited)[-1].split("\n")[4].strip() == "40"
        terminal.type("\\q")
        terminal.wait_for(lambda s: not terminal.alive(), timeout=15)
        assert "SELECT 4 * 10 AS n;" in (tmp_path / "history").read_text()
    finally:
        terminal.close()


def test_watch_of_a_query_reruns_it_in_a_terminal_until_ctrl_c(tmp_path):
    terminal = shell(tmp_path)
    try:
        terminal.type(
            "CREATE SOURCE clicks (k BIGINT) WITH (connector = 'datagen', "
            "'rows-per-second' = '50', 'fields.k.min' = '1', 'fields.k.max' = '3');"
        )
        terminal.wait_for(lambda s: "CREATE SOURCE (" in s)
        terminal.type("\\watch 0.5 SELECT count(*) AS n FROM clicks;")
        first = terminal.wait_for(lambda s: "· 1 rows · run 2" in s)
        later = terminal.wait_for(lambda s: "· 1 rows · run 4" in s)

        def count(screen: str) -> int:
            return int(screen.split("--------\n")[-1].split("\n")[0])

        assert count(later) > count(first)  # the source flowed between runs
        assert later.count(" bigint") == 1  # redrawn in place
        terminal.key("C-c")
        screen = terminal.wait_for(lambda s: "stopped watching" in s and last_line(s) == "tidal>")
        assert re.search(
            r"stopped watching SELECT count\(\*\) AS n FROM clicks after \d+ runs", screen
        )
    finally:
        terminal.close()
