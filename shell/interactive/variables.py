"""The shell's variables: ``\\set``, ``\\unset``, ``\\pset`` and ``\\x``, as psql has them.

A few names are settings the shell acts on (``SETTINGS``: ``ON_ERROR_STOP``, ``EXPANDED``,
``PAGER``, ``TIMING``, ``WATCH_INTERVAL``, ``WATCH_ORDER``); any other name is kept and listed
(there is no ``:name`` interpolation in statements yet). A setting's value is read from what it
sets, so ``\\timing`` and ``\\set TIMING`` cannot disagree.

>>> boolean("TRUE"), boolean("0"), boolean(""), boolean("maybe")
('on', 'off', 'on', None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tidal.shell.interactive.display import EXPANDED, MODES

if TYPE_CHECKING:
    from tidal.shell.interactive.shell_protocol import Shell

BOOLEAN = ("on", "off")
WATCH_ORDERS = ("key", "newest")  # \watch: rows sorted by their columns, or newest first


def boolean(value: str) -> str | None:
    """``on`` / ``off`` for psql's spellings of a boolean (empty is on, as ``\\set NAME``)."""
    lowered = value.strip().lower()
    if lowered in ("", "on", "true", "yes", "1", "t", "y"):
        return "on"
    if lowered in ("off", "false", "no", "0", "f", "n"):
        return "off"
    return None


@dataclass(frozen=True)
class Setting:
    """A variable the shell acts on: ``get`` reads it, ``put`` sets a checked value."""

    name: str
    default: str
    choices: tuple[str, ...]  # empty: a number of seconds
    help: str
    get: Callable[[Shell], str]
    put: Callable[[Shell, str], None]

    def check(self, value: str) -> str | None:
        """The value as stored, or None if it is not one this setting takes."""
        if self.choices == BOOLEAN:
            return boolean(value)
        if self.choices:
            return value.lower() if value.lower() in self.choices else None
        try:
            seconds = float(value)
        except ValueError:
            return None
        return value if 0 < seconds <= 86400 else None


def _on(flag: bool) -> str:
    return "on" if flag else "off"


def _put(attribute: str, convert: Callable[[str], object] = str):
    def put(shell: Shell, value: str) -> None:
        setattr(shell.display, attribute, convert(value))

    return put


SETTINGS = {
    s.name: s
    for s in [
        Setting(
            "ON_ERROR_STOP",
            "on",
            BOOLEAN,
            "stop an input of several statements, or \\i, at the first error",
            lambda shell: _on(shell.on_error_stop),
            lambda shell, value: setattr(shell, "on_error_stop", value == "on"),
        ),
        Setting(
            "EXPANDED",
            "off",
            EXPANDED,
            "one block per row (\\x); auto: when a table is wider than the terminal",
            lambda shell: shell.display.expanded,
            _put("expanded"),
        ),
        Setting(
            "PAGER",
            "on",
            BOOLEAN,
            "send results taller or wider than the terminal to $PAGER (else less -FRX)",
            lambda shell: _on(shell.display.pager),
            _put("pager", lambda value: value == "on"),
        ),
        Setting(
            "TIMING",
            "on",
            BOOLEAN,
            "show how long each statement took (\\timing)",
            lambda shell: _on(shell.display.timing),
            _put("timing", lambda value: value == "on"),
        ),
        Setting(
            "WATCH_INTERVAL",
            "2",
            (),
            "seconds between runs of a query \\watch runs again (not a subscription)",
            lambda shell: shell.watch_interval,
            lambda shell, value: setattr(shell, "watch_interval", value),
        ),
        Setting(
            "WATCH_ORDER",
            "key",
            WATCH_ORDERS,
            "how \\watch sorts rows: by their columns (key) or newest first",
            lambda shell: shell.watch_order,
            lambda shell, value: setattr(shell, "watch_order", value),
        ),
    ]
}

# \pset's option names, as psql's, and the variable each is
PSET = {"pager": "PAGER", "expanded": "EXPANDED", "timing": "TIMING"}


def set_variable(shell: Shell, argument: str) -> None:
    """``\\set``: list every variable; ``\\set NAME [value]``: set one (empty if no value)."""
    if not argument:
        return _list(shell)
    name, _, value = argument.partition(" ")
    value = _unquoted(value.strip())
    setting = SETTINGS.get(name.upper())
    if setting is None:
        if not name.replace("_", "").isalnum():
            shell.display.error(f"ERROR: invalid variable name {name!r}: letters, digits and _")
            return
        shell.variables[name] = value
        return
    _assign(shell, setting, value)


def _assign(shell: Shell, setting: Setting, value: str) -> bool:
    checked = setting.check(value)
    if checked is None:
        takes = " | ".join(setting.choices) if setting.choices else "a number of seconds"
        shell.display.error(f"ERROR: {setting.name} takes {takes}, not {value!r}")
        return False
    setting.put(shell, checked)
    return True


def unset_variable(shell: Shell, argument: str) -> None:
    """``\\unset NAME``: forget a variable; a setting goes back to its default."""
    if not argument:
        shell.display.error("ERROR: \\unset needs a variable name: \\unset NAME")
        return
    setting = SETTINGS.get(argument.upper())
    if setting is not None:
        setting.put(shell, setting.default)
    else:
        shell.variables.pop(argument, None)


def pset(shell: Shell, argument: str) -> None:
    """``\\pset pager off``, ``\\pset expanded auto``, ``\\pset format csv``: psql's spellings
    of the display's settings; ``\\pset`` alone shows them."""
    option, _, value = argument.partition(" ")
    option, value = option.lower(), value.strip()
    if not option:
        for name, variable in PSET.items():
            shell.display.text(f"{name:<9} {SETTINGS[variable].get(shell)}", terminal=True)
        shell.display.text(f"{'format':<9} {shell.display.mode}", terminal=True)
        return
    if option == "format":
        if value.lower() not in MODES:
            shell.display.error(f"ERROR: \\pset format takes one of {', '.join(MODES)}")
            return
        shell.display.mode = value.lower()
    elif option in PSET:
        setting = SETTINGS[PSET[option]]
        if not value and setting.choices == BOOLEAN:  # psql: \pset pager alone switches it
            value = "off" if setting.get(shell) == "on" else "on"
        if not _assign(shell, setting, value):
            return
    else:
        known = ", ".join([*PSET, "format"])
        shell.display.error(f"ERROR: \\pset: unknown option {option!r}; tidal has {known}")
        return
    shown = shell.display.mode if option == "format" else SETTINGS[PSET[option]].get(shell)
    shell.display.notice(f"{option} is {shown}")


def expanded(shell: Shell, argument: str) -> None:
    """``\\x``: switch expanded display on and off; ``\\x on|off|auto`` sets it."""
    value = argument.strip().lower()
    if not value:
        value = "off" if shell.display.expanded != "off" else "on"
    if _assign(shell, SETTINGS["EXPANDED"], value):
        shell.display.notice(f"expanded display is {shell.display.expanded}")


def _list(shell: Shell) -> None:
    lines = [f"{s.name} = '{s.get(shell)}'" for s in SETTINGS.values()]
    lines += [f"{name} = '{value}'" for name, value in sorted(shell.variables.items())]
    shell.display.text("\n".join(lines), terminal=True)


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value
