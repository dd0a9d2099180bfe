"""``tidal run`` shows a progress line while it reads big inputs, on a terminal only."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

ROWS = 3_000_000
SCRIPT = """
CREATE SOURCE numbers (n BIGINT) WITH (connector = 'file', path = 'numbers.csv', format = 'csv');
CREATE MATERIALIZED VIEW total AS SELECT count(*) AS c FROM numbers;
SELECT c FROM total;
"""


def run(tmp_path, stderr) -> subprocess.CompletedProcess:
    (tmp_path / "numbers.csv").write_text("n\n" + "\n".join(map(str, range(ROWS))) + "\n")
    script = tmp_path / "big.sql"
    script.write_text(SCRIPT)
    return subprocess.run(
        [sys.executable, "-m", "tidal.shell.cli", "run", str(script)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        timeout=300,
        check=True,
        cwd=tmp_path,
    )


def test_a_terminal_sees_rows_rate_and_percentage_then_a_clean_line(tmp_path):
    controller, terminal = pty.openpty()
    try:
        result = run(tmp_path, terminal)
        os.close(terminal)
        shown = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(controller)
    assert str(ROWS).encode() in result.stdout
    text = shown.decode()
    assert "reading inputs: " in text and " rows/s, " in text, text
    percentages = [
        int(part.split("%")[0].rsplit(" ", 1)[-1]) for part in text.split("\r") if "%" in part
    ]
    assert percentages and percentages == sorted(percentages) and percentages[-1] <= 100
    assert text.endswith("\r"), "the line is cleared at the end"


def test_not_on_a_pipe(tmp_path):
    result = run(tmp_path, subprocess.PIPE)
    assert result.stderr == b""
