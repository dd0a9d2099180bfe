"""Answers to what clients send around their queries, before anything reaches the engine.

Drivers and tools set and read session settings, open and close transactions, reset pooled
connections (``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``) and ask
``SELECT version()``. The dialect parses each such statement (tidal.sql.session_statements);
here a chain of small handlers, keyed on the parsed node, answers them from the session's state
(session_state.py). A COMMIT with changes to apply is the router's first (router.py). ``find`` returns the first handler that takes a statement, or None for
statements the engine runs.

    >>> from tidal.sql.parser import parse_statement
    >>> find(parse_statement("SET extra_float_digits = 3")).run.__name__
    '_set'
    >>> find(parse_statement("SELECT * FROM t")) is None
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
from sqlglot import exp

from tidal.catalog.sqlstate import (
    ACTIVE_SQL_TRANSACTION,
    FEATURE_NOT_SUPPORTED,
    NO_ACTIVE_SQL_TRANSACTION,
    UNDEFINED_FUNCTION,
    UNDEFINED_OBJECT,
)
from tidal.engine.transactions import ALREADY_OPEN, NONE_OPEN
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.results import Rows, single_column
from tidal.shell.pgwire.session_state import SessionState, TransactionStatus
from tidal.shell.pgwire.settings import DEFAULTS, VERSION, canonical
from tidal.sql import known_settings
from tidal.sql.cursor_statements import CloseCursor
from tidal.sql.session_statements import (
    Deallocate,
    Discard,
    Notification,
    ResetSetting,
    Savepoint,
    SetRole,
    SetSetting,
    SetTransaction,
    StartTransaction,
)

Answer = Rows | str


@dataclass(frozen=True)
class Handler:
    """One kind of housekeeping statement: ``run(session, node)`` answers it with rows or a
    command tag; ``returns_rows`` says which before it runs (for Describe)."""

    run: Callable[[SessionState, exp.Expression], Answer]
    returns_rows: bool = False


# --- settings ----------------------------------------------------------------------------------


def _set(session: SessionState, node: SetSetting) -> str:
    session.settings.set(node.name, node.value)
    return "SET"


_MODE_SETTINGS = {
    "READ ONLY": ("transaction_read_only", "on"),
    "READ WRITE": ("transaction_read_only", "off"),
    "DEFERRABLE": ("transaction_deferrable", "on"),
    "NOT DEFERRABLE": ("transaction_deferrable", "off"),
}


def _apply_modes(session: SessionState, modes: list[str]) -> None:
    """Isolation levels and access modes are kept for SHOW: every statement reads one
    consistent tick whatever is asked (see docs/pgwire.md)."""
    for mode in modes:
        if mode.startswith("ISOLATION LEVEL "):
            level = mode.removeprefix("ISOLATION LEVEL ").lower()
            session.settings.values["transaction_isolation"] = level
        else:
            name, value = _MODE_SETTINGS[mode]
            session.settings.values[name] = value


def _set_transaction(session: SessionState, node: SetTransaction) -> str:
    _apply_modes(session, node.modes)
    return "SET"


def _set_role(session: SessionState, node: SetRole) -> str:
    name = node.name
    if name.upper() not in ("DEFAULT", "NONE") and name != session.user:
        raise ServerError(
            "SET ROLE and SET SESSION AUTHORIZATION: tidal has no roles", FEATURE_NOT_SUPPORTED
        )
    return "SET"


def _reset(session: SessionState, node: ResetSetting) -> str:
    if node.this is None:
        session.settings.reset_all()
    elif node.name.lower() not in ("session authorization", "role"):  # tidal has no roles
        session.settings.set(node.name, None)
    return "RESET"


_SHOWN = {  # SHOW's multi-word names, as the dialect joins the words (upper case)
    "TIME ZONE": "TimeZone",
    "TRANSACTION ISOLATION LEVEL": "transaction_isolation",
    "SESSION AUTHORIZATION": "session_authorization",
}


def _shown_setting(node: exp.Show) -> str | None:
    """The setting ``SHOW`` names (``ALL`` for all), None for what the engine shows (TABLES)."""
    words = node.name
    if words in _SHOWN or words == "ALL":
        return _SHOWN.get(words, words)
    key = canonical(words)
    return key if key in DEFAULTS or known_settings.spelled(words) else None


def _show(session: SessionState, node: exp.Show) -> Rows:
    name = _shown_setting(node)
    if name == "ALL":
        rows = session.settings.all()
        names = pa.array([n for n, _ in rows], pa.string())
        settings = pa.array([v for _, v in rows], pa.string())
        descriptions = pa.array([""] * len(rows), pa.string())
        table = pa.table({"name": names, "setting": settings, "description": descriptions})
        return Rows(table, "SHOW")
    key = canonical(name)
    return single_column(key, [session.settings.get(key)], tag="SHOW")


# --- transactions ------------------------------------------------------------------------------


def _begin(session: SessionState, node: exp.Transaction) -> str:
    if session.transaction is TransactionStatus.IDLE:
        session.transaction = TransactionStatus.IN_BLOCK
    else:
        session.warnings.append((ACTIVE_SQL_TRANSACTION, ALREADY_OPEN))
    _apply_modes(session, node.args.get("modes") or [])
    return "START TRANSACTION" if isinstance(node, StartTransaction) else "BEGIN"


def _commit(session: SessionState, node: exp.Commit) -> str:
    """The block's changes were applied already (router.py); a failed block rolls back."""
    failed = session.transaction is TransactionStatus.FAILED
    if session.transaction is TransactionStatus.IDLE:
        session.warnings.append((NO_ACTIVE_SQL_TRANSACTION, NONE_OPEN))
    session.end_transaction()
    if node.args.get("chain"):  # AND CHAIN: a new block begins at once
        session.transaction = TransactionStatus.IN_BLOCK
    return "ROLLBACK" if failed else "COMMIT"


def _rollback(session: SessionState, node: exp.Rollback) -> str:
    """ROLLBACK drops the block's changes; ROLLBACK TO those since the savepoint (and ends a
    failure)."""
    savepoint = node.args.get("savepoint")
    if savepoint is None:
        if session.transaction is TransactionStatus.IDLE:
            session.warnings.append((NO_ACTIVE_SQL_TRANSACTION, NONE_OPEN))
        session.end_transaction()
    else:
        _in_block(session, "ROLLBACK")
        if session.block is not None:
            session.block.rollback_to(savepoint.name)
        session.transaction = TransactionStatus.IN_BLOCK
    return "ROLLBACK"


def _savepoint(session: SessionState, node: Savepoint) -> str:
    """A mark in the block's changes that ROLLBACK TO goes back to (drivers' nested
    transactions)."""
    word = "RELEASE" if node.args.get("release") else "SAVEPOINT"
    _in_block(session, word)
    if session.block is None:
        return word
    if node.args.get("release"):
        session.block.release(node.name)
    else:
        session.block.savepoint(node.name)
    return word


def _in_block(session: SessionState, word: str) -> None:
    if session.transaction is TransactionStatus.IDLE:
        raise ServerError(
            f"{word} can only be used in transaction blocks", NO_ACTIVE_SQL_TRANSACTION
        )


def ends_failed_transaction(node: exp.Expression | None) -> bool:
    """COMMIT, ROLLBACK or ROLLBACK TO: what a failed transaction block still accepts."""
    return isinstance(node, (exp.Commit, exp.Rollback))


# --- the rest ----------------------------------------------------------------------------------


def _discard(session: SessionState, node: Discard) -> str:
    if node.name == "ALL":
        if session.transaction is not TransactionStatus.IDLE:
            raise ServerError(
                "DISCARD ALL cannot run inside a transaction block", ACTIVE_SQL_TRANSACTION
            )
        session.cursors.close(None)
        session.deallocate(None)
        session.settings.reset_all()
    return f"DISCARD {node.name}"


def _close_cursor(session: SessionState, node: CloseCursor) -> str:
    session.cursors.close(node.cursor)
    return "CLOSE CURSOR" if node.cursor is not None else "CLOSE CURSOR ALL"


def _deallocate(session: SessionState, node: Deallocate) -> str:
    session.deallocate(node.statement)
    return "DEALLOCATE" if node.statement is not None else "DEALLOCATE ALL"


def _notification(session: SessionState, node: Notification) -> str:
    kind = node.text("kind")
    if kind == "UNLISTEN":
        return kind
    raise ServerError(
        f"{kind}: tidal has no notification channels; to follow a view's changes, use "
        "SUBSCRIBE (see docs/pgwire.md)",
        FEATURE_NOT_SUPPORTED,
    )


# --- SELECT of session functions ---------------------------------------------------------------


def _session_functions(session: SessionState, select: exp.Select) -> Rows:
    """``SELECT version()``, ``current_setting('x')``, ``current_user``, ...: one row."""
    columns = {}
    for index, (name, alias, args) in enumerate(_calls(select)):
        value, kind = _FUNCTIONS[name](session, args)
        column = alias or name
        while column in columns:
            column = f"{alias or name}_{index}"
        columns[column] = pa.array([value], kind)
    return Rows(pa.table(columns))


def _calls(select: exp.Expression) -> list[tuple[str, str | None, list]] | None:
    """Each select item as (function, alias, literal arguments), if the statement is a
    SELECT without FROM whose every item is a session function; else None."""
    if not isinstance(select, exp.Select) or not select.expressions:
        return None
    if any(v for k, v in select.args.items() if k != "expressions"):
        return None  # FROM, WHERE, ...: not a plain call
    items = [_call(e) for e in select.expressions]
    return items if all(i is not None for i in items) else None


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
    if name not in _FUNCTIONS or not all(isinstance(a, (exp.Literal, exp.Boolean)) for a in args):
        return None
    return name, alias, [a.this for a in args]


def _current_setting(session: SessionState, args) -> tuple[object, pa.DataType]:
    if not args:
        raise ServerError("current_setting(name) needs a setting name", UNDEFINED_FUNCTION)
    value = session.settings.get(str(args[0]))
    if value is None and not (len(args) > 1 and args[1] is True):
        raise ServerError(f'unrecognized configuration parameter "{args[0]}"', UNDEFINED_OBJECT)
    return value, pa.string()


def _set_config(session: SessionState, args) -> tuple[object, pa.DataType]:
    if len(args) != 3:
        raise ServerError(
            "set_config(name, value, is_local) takes three arguments", UNDEFINED_FUNCTION
        )
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


# --- the chain ---------------------------------------------------------------------------------

_BY_NODE: dict[type, Handler] = {
    SetSetting: Handler(_set),
    SetTransaction: Handler(_set_transaction),
    SetRole: Handler(_set_role),
    ResetSetting: Handler(_reset),
    exp.Transaction: Handler(_begin),
    StartTransaction: Handler(_begin),
    exp.Commit: Handler(_commit),
    exp.Rollback: Handler(_rollback),
    Savepoint: Handler(_savepoint),
    Discard: Handler(_discard),
    CloseCursor: Handler(_close_cursor),
    Deallocate: Handler(_deallocate),
    Notification: Handler(_notification),
}
_SHOW = Handler(_show, returns_rows=True)
_SESSION_FUNCTIONS = Handler(_session_functions, returns_rows=True)


def find(node: exp.Expression) -> Handler | None:
    """The handler for statement ``node``, or None if it is not housekeeping."""
    handler = _BY_NODE.get(type(node))
    if handler is not None:
        return handler
    if isinstance(node, exp.Show) and _shown_setting(node) is not None:
        return _SHOW  # SHOW TABLES and the like are the engine's
    if _calls(node) is not None:
        return _SESSION_FUNCTIONS
    return None
