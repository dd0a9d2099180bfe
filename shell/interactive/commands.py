"""Backslash commands: one small function each, in the ``COMMANDS`` table.

A command gets the shell (what ``Shell`` below lists of it) and the text after its name. To add
one, write the function and a ``Command`` line in the table; ``\\?`` lists them in table order.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from tidal.shell.interactive.display import MODES

if TYPE_CHECKING:
    from tidal.shell.interactive.backend import Backend, RelationInfo
    from tidal.shell.interactive.display import Display


class Shell(Protocol):
    """What a command may use of the shell that runs it (``repl.Shell`` is the one; the
    commands know only this, so the loop imports them and not the other way round)."""

    backend: Backend
    display: Display
    running: bool  # False ends the loop

    def wait(self, work: Callable[[], Any], what: str) -> Any:
        """``work()`` with the spinner up and Ctrl-C ready to cancel it."""

    def run_sql(self, text: str) -> bool: ...

    def run_file(self, path: pathlib.Path) -> bool: ...

    def watch(self, name: str) -> None: ...


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
    if not argument:
        shell.display.error("ERROR: \\watch needs a relation: \\watch name")
        return
    shell.watch(argument.strip().rstrip(";"))


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
        Command("\\watch", "name", "show a relation live as it changes (Ctrl-C stops)", watch),
        Command("\\explain", "name", "the plan of a view", explain),
        Command("\\i", "file", "run the statements of a file", include),
        Command("\\o", "[file]", "send results to a file; alone: back to the terminal", output_to),
        Command("\\mode", "[mode]", f"how results show: {', '.join(MODES)}", mode),
        Command("\\timing", "[on|off]", "show how long each statement took", timing),
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
