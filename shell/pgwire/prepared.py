"""One statement, read once: where it goes (housekeeping, cursors, COPY, catalog, engine), its
parsed form and its parameter types. Simple queries and Parse both go through ``prepare``.

    >>> from tidal.catalog import Catalog
    >>> prepare("FETCH 10 c WITH (timeout = '1s')", Catalog(), None).fetch
    Fetch(cursor='c', count=10, timeout=1.0, move=False)
    >>> prepare("SELECT $1 + 1", Catalog(), None).param_oids
    [20]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlglot import exp

from tidal.catalog import Catalog
from tidal.catalog.sqlstate import FEATURE_NOT_SUPPORTED, SYNTAX_ERROR
from tidal.shell.pgwire import housekeeping, params
from tidal.shell.pgwire import pg_types as pg
from tidal.shell.pgwire.copy import CopyFormat
from tidal.shell.pgwire.error_responses import ServerError
from tidal.sql.dialect import EmitOnWindowClose, Explain
from tidal.sql.parser import parse_statement
from tidal.sql.subscribe import Subscribe

EMPTY, HOUSEKEEPING, DECLARE, FETCH, COPY, SUBSCRIBE, CATALOG, ENGINE, QUOTE = (
    "empty", "housekeeping", "declare", "fetch", "copy", "subscribe", "catalog", "engine", "quote"
)  # fmt: skip

_NAME = r'"(?:[^"]|"")+"|[A-Za-z_][\w$]*'
_DECLARE = re.compile(
    rf"DECLARE\s+(?P<name>{_NAME})\s+(?P<binary>BINARY\s+)?(?:(?:ASENSITIVE|INSENSITIVE)\s+)?"
    rf"(?:(?:NO\s+)?SCROLL\s+)?CURSOR\s+(?:(?P<hold>WITH|WITHOUT)\s+HOLD\s+)?FOR\s+(?P<query>.+)",
    re.IGNORECASE | re.DOTALL,
)
_FETCH = re.compile(
    rf"(?P<verb>FETCH|MOVE)(?:\s+(?P<how>NEXT|FORWARD\s+ALL|FORWARD\s+\d+|FORWARD|ALL|\d+))?"
    rf"(?:\s+(?:FROM|IN))?\s+(?P<name>{_NAME})(?:\s+WITH\s*\((?P<options>.*)\))?",
    re.IGNORECASE | re.DOTALL,
)
_COPY = re.compile(
    r"COPY\s*(?:\((?P<query>.+)\)|(?P<table>[\w.\"]+))\s*TO\s+STDOUT(?P<options>.*)",
    re.IGNORECASE | re.DOTALL,
)
_COPY_FROM = re.compile(r"COPY\s.*\sFROM\s+STDIN", re.IGNORECASE | re.DOTALL)
_TIMEOUT = re.compile(
    r"'?\s*(\d+(?:\.\d*)?)\s*(ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hours?)?\s*'?",
    re.IGNORECASE,
)
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class Declare:
    cursor: str
    binary: bool
    hold: bool


@dataclass(frozen=True)
class Fetch:
    cursor: str
    count: int | None  # None: ALL
    timeout: float | None  # seconds; None: wait for at least one row
    move: bool = False


@dataclass
class Prepared:
    """A statement ready to run: ``kind`` says which part of the server runs it;
    ``statement`` is the parsed query (for DECLARE and COPY, the inner one)."""

    text: str
    kind: str
    statement: exp.Expression | None = None
    param_oids: list[int] = field(default_factory=list)
    handler: object = None  # housekeeping: (handler, match)
    declare: Declare | None = None
    fetch: Fetch | None = None
    copy: CopyFormat | None = None

    @property
    def returns_rows(self) -> bool:
        if self.kind == HOUSEKEEPING:
            return self.handler[0].returns_rows
        if self.kind in (FETCH, CATALOG, QUOTE):
            return not (self.fetch and self.fetch.move)
        return self.kind == ENGINE and is_query(self.statement)

    @property
    def describable(self) -> bool:
        """A query the binder can describe without running it."""
        return self.kind == ENGINE and isinstance(
            self.statement, (exp.Query, exp.Values, EmitOnWindowClose)
        )


def is_query(statement: exp.Expression | None) -> bool:
    return isinstance(
        statement, (exp.Query, exp.Values, EmitOnWindowClose, exp.Show, exp.Describe, Explain)
    )


def identifier(name: str) -> str:
    """A cursor name as PostgreSQL folds it: quoted as is, unquoted lower-cased."""
    if name.startswith('"'):
        return name[1:-1].replace('""', '"')
    return name.lower()


def prepare(text: str, catalog: Catalog, catalog_queries, declared: tuple[int, ...] = ()):
    """Classify one statement (no trailing semicolon) and infer its parameter types."""
    text = text.strip().rstrip(";").strip()
    if not text:
        return Prepared(text, EMPTY)
    found = housekeeping.find(text)
    if found is not None:
        return Prepared(text, HOUSEKEEPING, handler=found)
    for make in (_declare, _fetch, _copy):
        prepared = make(text, catalog, declared)
        if prepared is not None:
            return prepared
    if catalog_queries is not None and catalog_queries.handles(text):
        return Prepared(text, CATALOG, param_oids=_catalog_oids(text, declared))
    statement = parse_statement(text)
    kind = SUBSCRIBE if isinstance(statement, Subscribe) else ENGINE
    if params.quoted_parameters(statement) is not None:
        kind = QUOTE
    return Prepared(
        text,
        kind,
        statement,
        params.infer_types(statement, catalog, declared),
        copy=CopyFormat() if kind == SUBSCRIBE else None,
    )


def _declare(text: str, catalog: Catalog, declared: tuple[int, ...]) -> Prepared | None:
    match = _DECLARE.fullmatch(text)
    if match is None:
        return None
    inner = parse_statement(match.group("query"))
    if not isinstance(inner, Subscribe) and not is_query(inner):
        raise ServerError("DECLARE ... CURSOR FOR takes a query or SUBSCRIBE", SYNTAX_ERROR)
    declare = Declare(
        identifier(match.group("name")),
        bool(match.group("binary")),
        (match.group("hold") or "").upper() == "WITH",
    )
    oids = params.infer_types(inner, catalog, declared)
    return Prepared(text, DECLARE, inner, oids, declare=declare)


def _fetch(text: str, catalog: Catalog, declared: tuple[int, ...]) -> Prepared | None:
    match = _FETCH.fullmatch(text)
    if match is None:
        return None
    how = " ".join((match.group("how") or "NEXT").upper().split())
    count: int | None
    if how in ("NEXT", "FORWARD"):
        count = 1
    elif how.endswith("ALL"):
        count = None
    else:
        count = int(how.split()[-1])
    timeout = _timeout(match.group("options")) if match.group("options") else None
    move = match.group("verb").upper() == "MOVE"
    fetch = Fetch(identifier(match.group("name")), count, timeout, move)
    return Prepared(text, FETCH, fetch=fetch)


def _timeout(options: str) -> float:
    key, _, value = options.partition("=")
    if key.strip().lower() != "timeout" or not value.strip():
        raise ServerError(
            f"FETCH option {options.strip()!r}: the only option is timeout = '<interval>'",
            SYNTAX_ERROR,
        )
    match = _TIMEOUT.fullmatch(value.strip())
    if match is None:
        raise ServerError(f"invalid timeout {value.strip()!r}: e.g. '1s' or '500ms'", "22023")
    unit = (match.group(2) or "s").lower()
    scale = 0.001 if unit.startswith(("ms", "milli")) else _UNIT_SECONDS[unit[0]]
    return float(match.group(1)) * scale


def _copy(text: str, catalog: Catalog, declared: tuple[int, ...]) -> Prepared | None:
    match = _COPY.fullmatch(text)
    if match is None:
        if _COPY_FROM.match(text):
            raise ServerError(
                "COPY ... FROM STDIN is not supported: use INSERT (or a file source)",
                FEATURE_NOT_SUPPORTED,
            )
        return None
    if match.group("query") is not None:
        inner = parse_statement(match.group("query"))
    else:
        inner = exp.select("*").from_(exp.to_table(match.group("table")))
    if not isinstance(inner, Subscribe) and not is_query(inner):
        raise ServerError("COPY (...) TO STDOUT takes a query or SUBSCRIBE", SYNTAX_ERROR)
    fmt = CopyFormat.parse(match.group("options") or "")
    oids = params.infer_types(inner, catalog, declared)
    return Prepared(text, COPY, inner, oids, copy=fmt)


def _catalog_oids(text: str, declared: tuple[int, ...]) -> list[int]:
    numbers = [int(n) for n in re.findall(r"\$(\d+)", text)]
    n = max([len(declared), *numbers])
    oids = [declared[i] if i < len(declared) else 0 for i in range(n)]
    return [pg.TEXT if oid in (0, pg.UNKNOWN) else oid for oid in oids]
