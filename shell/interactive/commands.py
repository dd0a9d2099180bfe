"""Backslash commands: one small function each, in the ``COMMANDS`` table.

A command gets the shell (what ``shell_protocol.Shell`` lists of it) and the text after its
name. To add one, write the function and a ``Command`` line in the table; ``\\?`` lists them
in table order.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tidal.shell.interactive import sql_help, terminal, variables
from tidal.shell.interactive.display import MODES

if TYPE_CHECKING:
    from tidal.shell.interactive.backend import RelationInfo
    from tidal.shell.interactive.shell_protocol import Shell


@dataclass(frozen=True)
class Command:
    name: str
    arguments: str
    help: str
    run: Callable[[Shell, str], None]


def show_help(shell: Shell, _: str) -> None:
    width = max(len(f"{c.name} {c.arguments}") for c in COMMANDS.values())
    lines = [f"  {f'{c.name} {c.arguments}'.ljust(width)}  {c.help}" for c in COMMANDS.values()]
    lines += [
        "",
        "  SQL statements end with ';' (Enter inside a statement starts a new line;",
        "  Alt-Enter runs what is typed). Tab completes, Ctrl-R searches history,",
        "  Ctrl-C cancels the running statement or clears the input, Ctrl-D quits.",
    ]
    shell.display.text("\n".join(lines), terminal=True)


def quit_shell(shell: Shell, _: str) -> None:
    shell.running = False


def describe(shell: Shell, argument: str) -> None:
    """``\\d``: every relation; ``\\d name``: one, with its columns and definition."""
    if argument:
        return describe_one(shell, argument)
    list_relations(shell, None)


def list_relations(shell: Shell, kinds: tuple[str, ...] | None) -> None:
    import pyarrow as pa

    shell.wait(shell.backend.load, "starting tidal")
    found = sorted(
        (r for r in shell.backend.relations() if kinds is None or r.kind in kinds),
        key=lambda r: (r.kind, r.name.lower()),
    )
    if not found:
        what = "relations" if kinds is None else " or ".join(f"{k}s" for k in kinds)
        shell.display.notice(f"no {what}")
        return
    columns = [", ".join(f"{c.name} {c.type.lower()}" for c in r.columns) for r in found]
    table = pa.table(
        {
            "name": [r.name for r in found],
            "kind": [r.kind for r in found],
            "columns": columns,
        }
    )
    shell.display.result(table, None, types=False)


def describe_one(shell: Shell, name: str) -> None:
    import pyarrow as pa

    shell.wait(shell.backend.load, "starting tidal")
    relation = _find(shell, name)
    if relation is None:
        return
    shell.display.lines([[("class:header", f"{relation.kind} {relation.name}")]])
    table = pa.table(
        {
            "column": [c.name for c in relation.columns],
            "type": [c.type.lower() for c in relation.columns],
            "nullable": [c.nullable for c in relation.columns],
        }
    )
    if relation.columns:
        shell.display.result(table, None, types=False)
    for key, value in relation.details:
        shell.display.text(f"{key}: {value}")
    if relation.definition:
        shell.display.text("definition:\n  " + relation.definition.strip().replace("\n", "\n  "))


def _find(shell: Shell, name: str) -> RelationInfo | None:
    wanted = name.strip().strip('"').lower()
    relations = shell.backend.relations()
    for relation in relations:
        if relation.name.lower() == wanted:
            return relation
    import difflib

    close = difflib.get_close_matches(wanted, [r.name for r in relations], n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ": \\d lists every relation"
    shell.display.error(f"ERROR: no relation named {name.strip()!r}{hint}")
    return None


def system_relations(shell: Shell, argument: str) -> None:
    """``\\dS``: tidal's system relations (docs/operations.md); ``\\dS name``: one's columns.
    The same in every tidal, embedded or connected, so they are listed from their definitions."""
    import pyarrow as pa

    from tidal.engine.system_relations import RELATIONS

    wanted = argument.strip().strip('"').lower()
    chosen = [r for r in RELATIONS if r.name == wanted] if wanted else list(RELATIONS)
    if not chosen:
        names = ", ".join(r.name for r in RELATIONS)
        shell.display.error(f"ERROR: no system relation named {wanted!r}: they are {names}")
        return
    if wanted:
        columns = chosen[0].columns
        shell.display.lines([[("class:header", f"system relation {chosen[0].name}")]])
        table = pa.table(
            {"column": [c.name for c in columns], "type": [c.type.lower() for c in columns]}
        )
    else:
        listed = [", ".join(f"{c.name} {c.type.lower()}" for c in r.columns) for r in chosen]
        table = pa.table({"name": [r.name for r in chosen], "columns": listed})
    shell.display.result(table, None, types=False)


def include(shell: Shell, argument: str) -> None:
    """``\\i file``: the statements of a file, through tidal run's script runner."""
    if not argument:
        shell.display.error("ERROR: \\i needs a file: \\i path/to/script.sql")
        return
    shell.run_file(pathlib.Path(argument).expanduser())


def output_to(shell: Shell, argument: str) -> None:
    """``\\o file``: results go to the file (appended); ``\\o``: back to the terminal."""
    display = shell.display
    if display.file is not None:
        display.file.close()
        display.notice(f"results went to {display.file_name}")
        display.file, display.file_name = None, ""
    if not argument:
        return
    path = pathlib.Path(argument).expanduser()
    try:
        display.file = path.open("a", encoding="utf-8")
    except OSError as error:
        display.error(f"ERROR: cannot write to {path}: {error.strerror}")
        return
    display.file_name = str(path)
    display.notice(f"results go to {path} (\\o alone sends them back to the terminal)")


def timing(shell: Shell, argument: str) -> None:
    choice = argument.strip().lower()
    if choice not in ("", "on", "off"):
        shell.display.error("ERROR: \\timing takes on or off (or nothing, to switch)")
        return
    shell.display.timing = (not shell.display.timing) if not choice else choice == "on"
    shell.display.notice(f"timing is {'on' if shell.display.timing else 'off'}")


def mode(shell: Shell, argument: str) -> None:
    choice = argument.strip().lower()
    if choice and choice not in MODES:
        shell.display.error(f"ERROR: unknown mode {choice!r}: the modes are {', '.join(MODES)}")
        return
    if choice:
        shell.display.mode = choice
    shell.display.notice(f"mode {shell.display.mode} (modes: {', '.join(MODES)})")


def explain(shell: Shell, argument: str) -> None:
    if not argument:
        shell.display.error("ERROR: \\explain needs a view: \\explain name")
        return
    shell.run_sql(f"EXPLAIN {argument.strip().rstrip(';')}")


def watch(shell: Shell, argument: str) -> None:
    """``\\watch name``: a relation live (a subscription); ``\\watch [seconds] query`` (or a
    name with seconds: a plain view too): run again every few seconds, as psql's ``\\watch``;
    ``\\watch [seconds]`` alone: the last query typed."""
    text = argument.strip().rstrip(";").strip()
    first, _, rest = text.partition(" ")
    interval = _seconds(first)
    if interval is not None:
        text = rest.strip()
    elif first and first[0].isdigit():
        shell.display.error(f"ERROR: \\watch: {first!r} is not a number of seconds (0 < n)")
        return
    if not text:
        text = shell.last_sql.strip().rstrip(";").strip()
        if not text:
            shell.display.error(
                "ERROR: \\watch needs a relation or a query: \\watch [seconds] SELECT ..."
            )
            return
    if _NAME.fullmatch(text):
        if interval is None:
            return shell.watch(text)
        text = f"SELECT * FROM {text}"
    if not _QUERY.match(text):  # refused before it runs: an INSERT must not run every 2 s
        shell.display.error(f"ERROR: \\watch runs a query (SELECT, VALUES, ...), not {text[:40]!r}")
        return
    shell.watch_query(text, interval if interval is not None else float(shell.watch_interval))


_QUERY = re.compile(r"\s*(\(|(select|with|values|table|show|explain|describe)\b)", re.IGNORECASE)
_NAME = re.compile(r'[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?|"[^"]+"')


def _seconds(text: str) -> float | None:
    try:
        seconds = float(text)
    except ValueError:
        return None
    return seconds if 0 < seconds <= 86400 else None


def conninfo(shell: Shell, _: str) -> None:
    """``\\conninfo``: what the shell is connected to."""
    shell.display.text(shell.backend.conninfo(), terminal=True)


def shell_command(shell: Shell, argument: str) -> None:
    """``\\! command``: run it with the user's shell; ``\\!`` alone: an interactive shell.
    It runs on this machine, as the user who started tidal, also with ``--connect`` (as in
    psql): nothing typed here reaches a server's machine."""
    if not argument:
        if terminal.terminal_fd(shell.display.output) is None:
            shell.display.error("ERROR: \\! alone opens a shell, which needs a terminal")
            return
        terminal.interactive_shell()
        return
    status, captured = terminal.run_command(argument, shell.display.output)
    if captured:
        shell.display.text(captured.rstrip("\n"), terminal=True)
    if status:
        shell.display.notice(f"the command exited with status {status}")


def sql_syntax(shell: Shell, argument: str) -> None:
    """``\\h``: every statement's syntax; ``\\h CREATE SINK``: one (or those it starts)."""
    found = sql_help.topics(argument)
    if not found:
        names = ", ".join(sql_help.STATEMENTS)
        shell.display.error(f"ERROR: no help for {argument!r}; \\h knows {names}")
        return
    width = max(len(name) for name, _ in found)
    lines = [[("class:header", name.ljust(width)), ("", f"  {syntax}")] for name, syntax in found]
    shell.display.lines(lines, terminal=True)
    if len(found) > 1:
        shell.display.notice("docs/sql.md describes each; \\h NAME shows one")


def list_functions(shell: Shell, argument: str) -> None:
    """``\\df``: the user's functions (SQL and Python) with their arguments and results."""
    import pyarrow as pa

    shell.wait(shell.backend.load, "starting tidal")
    if not shell.backend.lists_functions:
        shell.display.error("ERROR: \\df over --connect: the server does not list its functions")
        return
    found = sorted(
        (r for r in shell.backend.relations() if r.kind == "function"),
        key=lambda r: r.name.lower(),
    )
    if argument:
        found = [r for r in found if r.name.lower() == argument.strip().lower()]
    if not found:
        shell.display.notice(f"no function named {argument!r}" if argument else "no functions")
        return
    details = [dict(r.details) for r in found]
    table = pa.table(
        {
            "name": [r.name for r in found],
            "arguments": [
                ", ".join(f"{c.name} {c.type.lower()}" for c in r.columns) for r in found
            ],
            "returns": [d.get("returns", "").lower() for d in details],
            "language": [d.get("language", "") for d in details],
            "kind": [d.get("role", "") for d in details],
        }
    )
    shell.display.result(table, None, types=False)


def list_sizes(*kinds: str) -> Callable[[Shell, str], None]:
    """``\\dt+``, ``\\dm+``: the relations with their rows and the bytes they hold."""

    def run(shell: Shell, argument: str) -> None:
        import pyarrow as pa

        shell.wait(shell.backend.load, "starting tidal")
        found = sorted(
            (r for r in shell.backend.relations() if r.kind in kinds),
            key=lambda r: r.name.lower(),
        )
        if argument:
            found = [r for r in found if r.name.lower() == argument.strip().strip('"').lower()]
        if not found:
            shell.display.notice(f"no {' or '.join(f'{k}s' for k in kinds)}")
            return
        sizes = shell.wait(lambda: shell.backend.sizes([r.name for r in found]), "measuring")
        table = pa.table(
            {
                "name": [r.name for r in found],
                "kind": [r.kind for r in found],
                "rows": pa.array([sizes[r.name][0] for r in found], pa.int64()),
                "bytes": pa.array([sizes[r.name][1] for r in found], pa.int64()),
                "size": [_size(sizes[r.name][1]) for r in found],
            }
        )
        shell.display.result(table, None, types=False)

    return run


def _size(count: int | None) -> str | None:
    """``512 bytes``, ``12 kB``, ``3.4 MB``: psql's units (powers of 1024)."""
    if count is None:
        return None
    for unit in ("bytes", "kB", "MB", "GB"):
        if count < 10 * 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.0f} {unit}"
        count /= 1024
    return None


def edit(shell: Shell, argument: str) -> None:
    """``\\e``: the last statement typed (or nothing) in $EDITOR, run when the editor exits;
    ``\\e file``: that file, edited in place, then run."""
    import tempfile

    if argument:
        path = pathlib.Path(argument).expanduser()
        if not path.exists():
            path.touch()
        temporary = None
    else:
        handle, name = tempfile.mkstemp(prefix="tidal-", suffix=".sql")
        with open(handle, "w", encoding="utf-8") as file:
            file.write(shell.last_sql.strip() + "\n" if shell.last_sql.strip() else "")
        path = temporary = pathlib.Path(name)
    try:
        status = terminal.edit(str(path))
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        shell.display.error(f"ERROR: {error}")
        return
    finally:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
    if status:
        shell.display.error(f"ERROR: the editor exited with status {status}: nothing was run")
    elif not text.strip():
        shell.display.notice("the editor left nothing to run")
    else:
        shell.display.text(text.strip(), terminal=True)  # what runs, as if typed
        shell.remember(text.strip())
        shell.run_sql(text)


def client_copy(shell: Shell, argument: str) -> None:
    """``\\copy``: COPY with the file read or written by the shell (client_copy)."""
    from tidal.shell.interactive import client_copy as copying

    try:
        copy = copying.parse(argument)
    except ValueError as error:
        shell.display.error(f"ERROR: {error}")
        return
    path = pathlib.Path(copy.path).expanduser()
    try:
        if copy.inbound:
            data = path.read_bytes()
            status = shell.wait(lambda: shell.backend.copy_in(copy.sql, data, str(path)), "copying")
            shell.display.status(status, None)
            for notice in getattr(status, "notices", ()):  # the lines COPY left out
                shell.display.notice(f"WARNING: {notice}")
            return
        with path.open("wb") as file:
            rows = shell.wait(lambda: shell.backend.copy_out(copy.sql, file.write), "copying")
        shell.display.status(f"COPY {rows}", None)
    except OSError as error:
        shell.display.error(
            f"ERROR: cannot {'read' if copy.inbound else 'write'} {path}: {error.strerror}"
        )
    except ValueError as error:
        shell.display.error(f"ERROR: {error}")


def _lister(*kinds: str) -> Callable[[Shell, str], None]:
    return lambda shell, argument: (
        describe_one(shell, argument) if argument else list_relations(shell, kinds)
    )


COMMANDS = {
    c.name: c
    for c in [
        Command("\\?", "", "this help", show_help),
        Command("\\d", "[name]", "list relations, or describe one", describe),
        Command("\\dt", "", "list tables", _lister("table")),
        Command("\\dv", "", "list views", _lister("view")),
        Command("\\dm", "", "list materialized views", _lister("materialized view")),
        Command("\\ds", "", "list sources", _lister("source")),
        Command(
            "\\dS", "[name]", "list tidal's system relations, or describe one", system_relations
        ),
        Command("\\dt+", "[name]", "list tables with their rows and bytes", list_sizes("table")),
        Command(
            "\\dm+",
            "[name]",
            "list materialized views with their rows and bytes",
            list_sizes("materialized view"),
        ),
        Command("\\df", "[name]", "list functions (SQL and Python)", list_functions),
        Command(
            "\\h",
            "[statement]",
            "SQL syntax: every statement, or one (\\h CREATE SINK)",
            sql_syntax,
        ),
        Command(
            "\\watch",
            "[seconds] name|query",
            "a relation live as it changes; a query run again every few seconds (Ctrl-C stops)",
            watch,
        ),
        Command("\\explain", "name", "the plan of a view", explain),
        Command("\\i", "file", "run the statements of a file", include),
        Command(
            "\\e", "[file]", "edit the last statement (or a file) in $EDITOR, then run it", edit
        ),
        Command(
            "\\copy",
            "... FROM|TO 'file'",
            "COPY with the file on this side: table FROM 'file', (query) TO 'file'",
            client_copy,
        ),
        Command("\\o", "[file]", "send results to a file; alone: back to the terminal", output_to),
        Command("\\mode", "[mode]", f"how results show: {', '.join(MODES)}", mode),
        Command("\\timing", "[on|off]", "show how long each statement took", timing),
        Command("\\x", "[on|off|auto]", "expanded display: one block per row", variables.expanded),
        Command("\\pset", "[option [value]]", "pager, expanded, format, timing", variables.pset),
        Command("\\set", "[name [value]]", "list variables, or set one", variables.set_variable),
        Command(
            "\\unset",
            "name",
            "unset a variable (a setting: back to its default)",
            variables.unset_variable,
        ),
        Command("\\conninfo", "", "what the shell is connected to", conninfo),
        Command("\\!", "[command]", "run a shell command (alone: a shell)", shell_command),
        Command("\\q", "", "quit", quit_shell),
    ]
}


def run(shell: Shell, text: str) -> None:
    """Run the backslash command in ``text`` (``\\d orders``)."""
    name, _, argument = text.strip().partition(" ")
    command = COMMANDS.get(name)
    if command is None:
        shell.display.error(f"ERROR: unknown command {name}: \\? lists the commands")
        return
    command.run(shell, argument.strip())
