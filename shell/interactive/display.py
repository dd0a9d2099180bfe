"""Where results go and how they look: the terminal (coloured) or, after ``\\o file``, a file
(plain text). Formatting itself is shared with ``tidal run`` (tidal.shell.format)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from prompt_toolkit import print_formatted_text
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.styles import Style

from tidal.shell.format import (
    FORMATS,
    Fragments,
    expanded_lines,
    line_fragments,
    plain,
    table_lines,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from prompt_toolkit.output import Output

STYLE = Style.from_dict(
    {
        "sql.keyword": "ansiblue bold",
        "sql.function": "ansicyan",
        "sql.type": "ansimagenta",
        "sql.string": "ansigreen",
        "sql.number": "ansiyellow",
        "sql.comment": "ansibrightblack italic",
        "header": "bold",
        "type": "ansibrightblack",
        "rule": "ansibrightblack",
        "null": "ansibrightblack italic",
        "footer": "ansibrightblack",
        "notice": "ansibrightblack",
        "warning": "ansiyellow",
        "error": "ansired",
        "op.insert": "ansigreen",
        "op.delete": "ansired",
        "op.before": "ansiyellow",
        "op.after": "ansiyellow",
        "prompt": "bold",
        "continuation": "ansibrightblack",
        "progress": "ansicyan",
    }
)

MODES = ("table", "csv", "json", "line", "changelog")
EXPANDED = ("off", "on", "auto")  # \x: auto expands a table too wide for the terminal


class Display:
    def __init__(self, output: Output) -> None:
        self.output = output
        self.file: TextIO | None = None  # \o file
        self.file_name = ""
        self.mode = "table"
        self.timing = True
        self.max_rows = 1000
        self.pager = True  # --no-pager, \pset pager off
        self.expanded = "off"  # \x: one of EXPANDED

    # --- writing --------------------------------------------------------------------------------

    def lines(self, lines: list[Fragments], terminal: bool = False) -> None:
        """Print ``lines``: to the file of ``\\o`` unless ``terminal``, else styled."""
        if self.file is not None and not terminal:
            self.file.write("".join(plain(line) + "\n" for line in lines))
            self.file.flush()
            return
        joined: Fragments = []
        for line in lines:
            joined += [*line, ("", "\n")]
        print_formatted_text(
            FormattedText(joined),
            end="",
            output=self.output,
            style=STYLE,
            include_default_pygments_style=False,
        )

    def text(self, text: str, style: str = "", terminal: bool = False) -> None:
        self.lines([[(style, line)] for line in text.split("\n")], terminal)

    def error(self, text: str) -> None:
        self.text(text, "class:error", terminal=True)

    def notice(self, text: str) -> None:
        self.text(text, "class:notice", terminal=True)

    def width(self) -> int | None:
        return None if self.file is not None else self.output.get_size().columns

    def height(self) -> int:
        return self.output.get_size().rows

    # --- results --------------------------------------------------------------------------------

    def result(self, table: pa.Table, elapsed: float | None, types: bool = True) -> None:
        """A query's rows in the current mode, with the row count and time (and in table mode
        a line of column types under the names, if ``types``)."""
        mode = "table" if self.mode == "changelog" else self.mode
        if mode in ("csv", "json"):
            rendered = FORMATS[mode](table)
            if rendered:
                self.show([[("", line)] for line in rendered.rstrip("\n").split("\n")])
            self._footer(table.num_rows, elapsed, to_file=False)
            return
        shown = min(table.num_rows, self.max_rows)
        notes = []
        if mode == "line":
            lines = line_fragments(table, max_rows=self.max_rows)
        elif self._expand(table, types):
            lines = expanded_lines(table, max_rows=self.max_rows)
        else:
            rendered = table_lines(table, max_rows=self.max_rows, width=self.width(), types=types)
            lines = rendered.lines
            if rendered.hidden_columns:
                notes.append(
                    f"{table.num_columns - rendered.hidden_columns} of {table.num_columns} "
                    "columns shown: \\mode line shows every column"
                )
        if shown < table.num_rows:
            lines.append([("class:footer", f"… {table.num_rows - shown} more rows")])
        self.show(lines)
        self._footer(table.num_rows, elapsed, notes=notes)

    def show(self, lines: list[Fragments]) -> None:
        """Result lines: through the pager if they are taller or wider than the terminal
        (psql's rule; never into a file, or when the output is not a terminal), else printed."""
        if not (self.pager and self.file is None and self._overflows(lines)):
            return self.lines(lines)
        from tidal.shell.interactive import terminal

        command = terminal.pager_command()
        if command is None or terminal.terminal_fd(self.output) is None:
            return self.lines(lines)
        self.output.flush()
        if not terminal.page("".join(plain(line) + "\n" for line in lines), command):
            self.error(f"ERROR: cannot start the pager {' '.join(command)!r}: check $PAGER")
            self.lines(lines)

    def _overflows(self, lines: list[Fragments]) -> bool:
        size = self.output.get_size()
        # the footer and the next prompt need two more lines
        return len(lines) + 2 > size.rows or any(len(plain(line)) > size.columns for line in lines)

    def _expand(self, table: pa.Table, types: bool) -> bool:
        """Whether ``\\x`` shows ``table`` expanded: on, or auto and wider than the terminal
        (psql's rule)."""
        if self.expanded != "auto":
            return self.expanded == "on"
        width = self.width()
        if width is None or table.num_rows == 0:
            return False
        natural = table_lines(table, max_rows=self.max_rows, types=types).lines
        return max((len(plain(line)) for line in natural), default=0) > width

    def _footer(
        self, rows: int, elapsed: float | None, notes: list[str] = (), to_file: bool = True
    ) -> None:
        parts = [f"{rows} row{'' if rows == 1 else 's'}", *notes]
        if self.file is not None and to_file:
            self.text(f"({'; '.join(parts)})")
        if self.timing and elapsed is not None:
            parts.append(duration(elapsed))
        self.text(f"({'; '.join(parts)})", "class:footer", terminal=True)

    def status(self, status: object, elapsed: float | None) -> None:
        """A statement's command tag (``CREATE TABLE``, ``INSERT 0 3``)."""
        timing = f" ({duration(elapsed)})" if self.timing and elapsed is not None else ""
        self.lines([[("", str(status)), ("class:footer", timing)]], terminal=True)


def duration(seconds: float) -> str:
    """``0.4 ms``, ``12.3 ms``, ``2.51 s``, ``3 min 5 s``."""
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"
