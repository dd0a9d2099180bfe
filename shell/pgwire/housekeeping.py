"""Answers to what clients send around their queries, before anything reaches the engine.

Drivers and tools set and read session settings, open and close transactions, reset pooled
connections (``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) and ask
``SELECT version()``. Each such statement has a small handler here; ``find`` walks the chain and
returns the first handler whose pattern matches, or None for statements the engine runs.

    >>> handler, match = find("SET extra_float_digits = 3")
    >>> type(handler).__name__
    'SetVariable'
    >>> find("SELECT * FROM t") is None
    True
"""

from __future__ import annotations

import re
from typing import ClassVar, Protocol

import pyarrow as pa
from sqlglot import exp

from tidal.catalog.sqlstate import FEATURE_NOT_SUPPORTED, UNDEFINED_OBJECT
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.results import Rows, single_column
from tidal.shell.pgwire.settings import (
    DEFAULTS,
    VERSION,
    Settings,
    canonical,
)


class Session(Protocol):
    """What the handlers need of a session."""

    settings: Settings
    user: str
    pid: int
    status: bytes  # b"I", b"T" or b"E"

    def close_cursor(self, name: str | None) -> None: ...
    def deallocate(self, name: str | None) -> None: ...
    def end_transaction(self) -> None: ...


class Handler:
    """One kind of housekeeping statement: ``pattern`` (matched against the whole statement,
    case-insensitively) and ``run``. ``returns_rows``: whether it answers with rows."""

    pattern: re.Pattern = re.compile(r"(?!)")
    returns_rows = False

    def match(self, text: str) -> re.Match | None:
        return self.pattern.fullmatch(text)

    def run(self, session: Session, match: re.Match) -> Rows | str:
        raise NotImplementedError


def _pattern(regex: str) -> re.Pattern:
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


_NAME = r'(?:"[^"]+"|[A-Za-z_][\w$.]*)'
_VALUE_ITEM = re.compile(r"\s*('(?:[^']|'')*'|\"[^\"]+\"|[^,\s]+)\s*(?:,|$)")


def parse_value(text: str) -> str | None:
    """A SET value as PostgreSQL keeps it: list items joined by ', ', quotes removed; None
    for DEFAULT."""
    text = text.strip()
    if text.upper() == "DEFAULT":
        return None
    items, position = [], 0
    while position < len(text):
        item = _VALUE_ITEM.match(text, position)
        if item is None or item.end() == position:
            raise ServerError(f"syntax error in SET value {text!r}", "42601")
        raw = item.group(1)
        if raw.startswith("'"):
            raw = raw[1:-1].replace("''", "'")
        items.append(raw)
        position = item.end()
    return ", ".join(items)


class SetVariable(Handler):
    pattern = _pattern(rf"SET\s+(?:SESSION\s+|LOCAL\s+)?({_NAME})\s*(?:=|\s+TO\s+)(.*)")

    def run(self, session: Session, match: re.Match) -> str:
        session.settings.set(match.group(1), parse_value(match.group(2)))
        return "SET"


class SetTimeZone(Handler):
    pattern = _pattern(r"SET\s+(?:SESSION\s+|LOCAL\s+)?TIME\s+ZONE\s+(.+)")

    def run(self, session: Session, match: re.Match) -> str:
        value = parse_value(match.group(1))
        session.settings.set("TimeZone", None if value and value.upper() == "LOCAL" else value)
        return "SET"


class SetNames(Handler):
    pattern = _pattern(r"SET\s+NAMES\s+(.+)")

    def run(self, session: Session, match: re.Match) -> str:
        session.settings.set("client_encoding", parse_value(match.group(1)))
        return "SET"


class SetTransaction(Handler):
    """Isolation levels and read-only modes are accepted and kept for SHOW: every statement
    reads one consistent tick whatever is asked (see docs/pgwire.md)."""

    pattern = _pattern(r"SET\s+(?:SESSION\s+CHARACTERISTICS\s+AS\s+)?TRANSACTION\s+(.+)")

    def run(self, session: Session, match: re.Match) -> str:
        modes = " ".join(match.group(1).lower().split())
        level = re.search(
            r"isolation\s+level\s+(read\s+committed|read\s+uncommitted|"
            r"repeatable\s+read|serializable)",
            modes,
        )
        if level:
            session.settings.values["transaction_isolation"] = level.group(1)
        if "read only" in modes or "read write" in modes:
            read_only = "on" if "read only" in modes else "off"
            session.settings.values["transaction_read_only"] = read_only
        return "SET"


class SetRole(Handler):
    pattern = _pattern(
        rf"SET\s+(?:SESSION\s+|LOCAL\s+)?(SESSION\s+AUTHORIZATION|ROLE)\s+({_NAME}|'[^']*')"
    )

    def run(self, session: Session, match: re.Match) -> str:
        name = match.group(2).strip("'\"")
        if name.upper() not in ("DEFAULT", "NONE") and name != session.user:
            raise ServerError("SET ROLE and SET SESSION AUTHORIZATION: tidal has no roles", "0A000")
        return "SET"


class Show(Handler):
    pattern = _pattern(
        rf"SHOW\s+({_NAME}|TIME\s+ZONE|TRANSACTION\s+ISOLATION\s+LEVEL|"
        r"SESSION\s+AUTHORIZATION)"
    )
    returns_rows = True
    _ALIASES: ClassVar[dict[str, str]] = {
        "time zone": "TimeZone",
        "transaction isolation level": "transaction_isolation",
        "session authorization": "session_authorization",
    }

    def match(self, text: str) -> re.Match | None:
        found = self.pattern.fullmatch(text)
        if found is None:
            return None
        name = " ".join(found.group(1).lower().split())
        if name == "all" or name in self._ALIASES or canonical(name) in DEFAULTS:
            return found
        return None  # SHOW TABLES and the like are the engine's

    def run(self, session: Session, match: re.Match) -> Rows:
        name = " ".join(match.group(1).lower().split())
        if name == "all":
            rows = session.settings.all()
            return Rows(
                pa.table(
                    {
                        "name": pa.array([n for n, _ in rows], pa.string()),
                        "setting": pa.array([v for _, v in rows], pa.string()),
                        "description": pa.array([""] * len(rows), pa.string()),
                    }
                ),
                "SHOW",
            )
        key = canonical(self._ALIASES.get(name, name))
        return single_column(key, [session.settings.get(key)], tag="SHOW")


class Reset(Handler):
    pattern = _pattern(rf"RESET\s+(ALL|TIME\s+ZONE|SESSION\s+AUTHORIZATION|ROLE|{_NAME})")

    def run(self, session: Session, match: re.Match) -> str:
        name = " ".join(match.group(1).lower().split())
        if name == "all":
            session.settings.reset_all()
        elif name == "time zone":
            session.settings.set("TimeZone", None)
        elif name not in ("session authorization", "role"):
            session.settings.set(name, None)
        return "RESET"


class Discard(Handler):
    pattern = _pattern(r"DISCARD\s+(ALL|PLANS|SEQUENCES|TEMP|TEMPORARY)")

    def run(self, session: Session, match: re.Match) -> str:
        what = match.group(1).upper()
        if what == "ALL":
            if session.status != b"I":
                raise ServerError("DISCARD ALL cannot run inside a transaction block", "25001")
            session.close_cursor(None)
            session.deallocate(None)
            session.settings.reset_all()
        return f"DISCARD {'TEMP' if what == 'TEMPORARY' else what}"


class Begin(Handler):
    pattern = _pattern(r"(BEGIN|START\s+TRANSACTION)(?:\s+(?:WORK|TRANSACTION))?(\s+.*)?")

    def run(self, session: Session, match: re.Match) -> str:
        if session.status == b"I":
            session.status = b"T"
        modes = match.group(2) or ""
        if modes.strip():
            SetTransaction().run(
                session, SetTransaction.pattern.fullmatch(f"SET TRANSACTION {modes}")
            )
        return "BEGIN" if match.group(1).upper() == "BEGIN" else "START TRANSACTION"


class Commit(Handler):
    pattern = _pattern(r"(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+(?:NO\s+)?CHAIN)?")

    def run(self, session: Session, match: re.Match) -> str:
        failed = session.status == b"E"
        session.end_transaction()
        return "ROLLBACK" if failed else "COMMIT"


class Rollback(Handler):
    pattern = _pattern(
        r"(?:ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?(?:\s+AND\s+(?:NO\s+)?CHAIN)?"
    )

    def run(self, session: Session, match: re.Match) -> str:
        session.end_transaction()
        return "ROLLBACK"


class Savepoint(Handler):
    """Savepoints are accepted so that drivers' nested transactions work; like ROLLBACK,
    ROLLBACK TO undoes nothing (statements apply when they run)."""

    pattern = _pattern(
        rf"(SAVEPOINT|RELEASE(?:\s+SAVEPOINT)?|ROLLBACK(?:\s+(?:WORK|TRANSACTION))?\s+TO"
        rf"(?:\s+SAVEPOINT)?)\s+{_NAME}"
    )

    def run(self, session: Session, match: re.Match) -> str:
        word = match.group(1).split()[0].upper()
        if session.status == b"I":
            raise ServerError(f"{word} can only be used in transaction blocks", "25P01")
        if word == "ROLLBACK":
            session.status = b"T"
        return word


class CloseCursor(Handler):
    pattern = _pattern(rf"CLOSE\s+(ALL|{_NAME})")

    def run(self, session: Session, match: re.Match) -> str:
        name = match.group(1)
        session.close_cursor(None if name.upper() == "ALL" else _identifier(name))
        return "CLOSE CURSOR" if name.upper() != "ALL" else "CLOSE CURSOR ALL"


class Deallocate(Handler):
    pattern = _pattern(rf"DEALLOCATE\s+(?:PREPARE\s+)?(ALL|{_NAME})")

    def run(self, session: Session, match: re.Match) -> str:
        name = match.group(1)
        everything = name.upper() == "ALL"
        session.deallocate(None if everything else _identifier(name))
        return "DEALLOCATE ALL" if everything else "DEALLOCATE"


class Unlisten(Handler):
    pattern = _pattern(rf"UNLISTEN\s+(\*|{_NAME})")

    def run(self, session: Session, match: re.Match) -> str:
        return "UNLISTEN"


class Listen(Handler):
    pattern = _pattern(rf"(LISTEN|NOTIFY)\s+{_NAME}.*")

    def run(self, session: Session, match: re.Match) -> str:
        raise ServerError(
            f"{match.group(1).upper()}: tidal has no notification channels; to follow a "
            "view's changes, use SUBSCRIBE (see docs/pgwire.md)",
            FEATURE_NOT_SUPPORTED,
        )


def _identifier(name: str) -> str:
    return name[1:-1] if name.startswith('"') else name.lower()


# --- SELECT of session functions --------------------------------------------------------------

_FUNCTION_NAMES = re.compile(
    r"\b(version|current_setting|set_config|pg_advisory_unlock_all|pg_backend_pid|"
    r"current_database|current_user|session_user|current_role|current_schema|user|"
    r"pg_is_in_recovery|current_catalog)\b",
    re.IGNORECASE,
)


class SessionFunctions(Handler):
    """``SELECT version()``, ``current_setting('x')``, ``set_config(...)``, ``current_user``,
    ``pg_advisory_unlock_all()``...: a SELECT without FROM whose every item is one of these."""

    returns_rows = True
    _START = re.compile(r"SELECT\s", re.IGNORECASE)

    def match(self, text: str):
        if not self._START.match(text) or not _FUNCTION_NAMES.search(text):
            return None
        from tidal.sql.errors import SqlError
        from tidal.sql.parser import parse_statement

        try:
            select = parse_statement(text)
        except SqlError:
            return None
        clauses = [k for k, v in select.args.items() if v and k != "expressions"]
        if not isinstance(select, exp.Select) or clauses:
            return None  # FROM, WHERE, ...: not a plain call
        items = [_call(e) for e in select.expressions]
        return items if all(i is not None for i in items) else None

    def run(self, session: Session, items) -> Rows:
        columns = {}
        for index, (name, alias, args) in enumerate(items):
            value, kind = _evaluate(session, name, args)
            column = alias or name
            while column in columns:
                column = f"{alias or name}_{index}"
            columns[column] = pa.array([value], kind)
        return Rows(pa.table(columns))


_NODE_NAMES = {
    exp.CurrentVersion: "version",
    exp.CurrentDatabase: "current_database",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentSchema: "current_schema",
}


def _call(node: exp.Expression):
    """(function name, alias, literal arguments) of a select item, or None."""
    alias = node.alias if isinstance(node, exp.Alias) else None
    node = node.this if isinstance(node, exp.Alias) else node
    if isinstance(node, exp.Dot) and node.this.name.lower() == "pg_catalog":
        node = node.expression
    name = _NODE_NAMES.get(type(node))
    if name is None and isinstance(node, exp.Anonymous):
        name = node.name.lower()
    if name is None and isinstance(node, exp.Column) and not node.table:
        name = node.name.lower()
        if name not in ("user", "current_role", "current_catalog"):
            return None
    args = node.expressions if isinstance(node, exp.Anonymous) else []
    if not all(isinstance(a, (exp.Literal, exp.Boolean)) for a in args):
        return None
    values = [a.this for a in args]
    if name not in _FUNCTIONS:
        return None
    return name, alias, values


def _current_setting(session: Session, args) -> tuple[object, pa.DataType]:
    if not args:
        raise ServerError("current_setting(name) needs a setting name", "42883")
    value = session.settings.get(str(args[0]))
    if value is None and not (len(args) > 1 and args[1] is True):
        raise ServerError(f'unrecognized configuration parameter "{args[0]}"', UNDEFINED_OBJECT)
    return value, pa.string()


def _set_config(session: Session, args) -> tuple[object, pa.DataType]:
    if len(args) != 3:
        raise ServerError("set_config(name, value, is_local) takes three arguments", "42883")
    session.settings.set(str(args[0]), str(args[1]))
    return session.settings.get(str(args[0])), pa.string()


_FUNCTIONS = {
    "version": lambda s, a: (VERSION, pa.string()),
    "current_setting": _current_setting,
    "set_config": _set_config,
    "pg_advisory_unlock_all": lambda s, a: ("", pa.string()),
    "pg_backend_pid": lambda s, a: (s.pid, pa.int32()),
    "current_database": lambda s, a: ("tidal", pa.string()),
    "current_catalog": lambda s, a: ("tidal", pa.string()),
    "current_user": lambda s, a: (s.user, pa.string()),
    "session_user": lambda s, a: (s.user, pa.string()),
    "current_role": lambda s, a: (s.user, pa.string()),
    "user": lambda s, a: (s.user, pa.string()),
    "current_schema": lambda s, a: ("public", pa.string()),
    "pg_is_in_recovery": lambda s, a: (False, pa.bool_()),
}


def _evaluate(session: Session, name: str, args) -> tuple[object, pa.DataType]:
    return _FUNCTIONS[name](session, args)


HANDLERS: tuple[Handler, ...] = (
    SetTimeZone(),
    SetNames(),
    SetTransaction(),
    SetRole(),
    SetVariable(),
    Show(),
    Reset(),
    Discard(),
    Savepoint(),
    Begin(),
    Commit(),
    Rollback(),
    CloseCursor(),
    Deallocate(),
    Unlisten(),
    Listen(),
    SessionFunctions(),
)


def find(text: str) -> tuple[Handler, object] | None:
    """The handler for ``text`` (one statement, without its semicolon) and its match."""
    text = text.strip()
    for handler in HANDLERS:
        found = handler.match(text)
        if found is not None:
            return handler, found
    return None


def ends_failed_transaction(text: str) -> bool:
    """COMMIT, ROLLBACK or ROLLBACK TO: what a failed transaction block still accepts."""
    text = text.strip()
    if Commit.pattern.fullmatch(text) or Rollback.pattern.fullmatch(text):
        return True
    return bool(Savepoint.pattern.fullmatch(text)) and text[:8].upper() == "ROLLBACK"
