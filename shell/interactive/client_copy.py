"""``\\copy``: COPY with the file on the shell's side, as psql's.

The shell reads or writes the file itself (a relative path is relative to the working directory
of the shell, not to the server or the data directory) and the engine sees
``COPY ... FROM STDIN`` or ``COPY ... TO STDOUT``: embedded through ``Database.copy_rows`` and
a query, remote through the PostgreSQL COPY protocol (psycopg's ``cursor.copy``).

>>> copy = parse("orders (id, note) FROM 'in put.csv' WITH (FORMAT csv, HEADER)")
>>> copy.sql, copy.path
('COPY orders (id, note) FROM STDIN WITH (FORMAT csv, HEADER)', 'in put.csv')
>>> parse("(SELECT 'a to b' AS x) TO out.txt").sql
"COPY (SELECT 'a to b' AS x) TO STDOUT"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tidal.engine import Database

USAGE = "\\copy table [(columns)] FROM 'file' [WITH (...)] | \\copy {table | (query)} TO 'file'"


@dataclass(frozen=True)
class ClientCopy:
    inbound: bool  # FROM a file into a table; else TO a file
    relation: str  # as typed: "t", "t (a, b)" or "(query)"
    path: str
    options: str  # as typed: "WITH (FORMAT csv)" or ""

    @property
    def sql(self) -> str:
        """The COPY the engine runs, with the client's side of it: STDIN or STDOUT."""
        side = "FROM STDIN" if self.inbound else "TO STDOUT"
        return " ".join(part for part in (f"COPY {self.relation}", side, self.options) if part)


def parse(argument: str) -> ClientCopy:
    """The parts of ``\\copy``'s argument; ValueError saying what is wrong."""
    split = _direction(argument)
    if split is None:
        raise ValueError(f"\\copy needs FROM or TO: {USAGE}")
    start, end, word = split
    relation, rest = argument[:start].strip(), argument[end:].strip()
    if not relation:
        raise ValueError(f"\\copy needs a table or a (query): {USAGE}")
    quoted = re.match(r"'((?:[^']|'')*)'", rest)
    if quoted:
        path, options = quoted.group(1).replace("''", "'"), rest[quoted.end() :]
    else:
        path, _, options = rest.partition(" ")
    if not path or path.lower() in ("stdin", "stdout", "pstdin", "pstdout"):
        raise ValueError(f"\\copy needs a file (the shell's input is its prompt): {USAGE}")
    return ClientCopy(word == "FROM", relation, path, options.strip())


def _direction(text: str) -> tuple[int, int, str] | None:
    """Where the first FROM or TO outside parentheses and quotes is: (start, end, word)."""
    depth, quote = 0, ""
    for match in re.finditer(r"""'|"|\(|\)|\b(?:from|to)\b""", text, re.IGNORECASE):
        token = match.group(0)
        if quote:
            quote = "" if token == quote else quote
        elif token in ("'", '"'):
            quote = token
        elif token in "()":
            depth += 1 if token == "(" else -1
        elif depth == 0:
            return match.start(), match.end(), token.upper()
    return None


def copy_out(db: Database, sql: str, write: Callable[[bytes], None]) -> int:
    """``COPY ... TO STDOUT`` run in this process: the query's rows in the format its options
    name (text or csv, as the pgwire server writes them), handed to ``write``; the row count."""
    import pyarrow as pa

    from tidal.shell.pgwire.copy import CopyFormat
    from tidal.shell.pgwire.pg_types import Context
    from tidal.sql import parse_statement

    node = parse_statement(sql)
    fmt = CopyFormat.of(node)
    if fmt.binary:
        raise ValueError("\\copy ... TO in binary format: use FORMAT text or csv")
    table = db.execute_statement(node.query)
    context = Context()
    if fmt.kind == "csv" and fmt.header:  # the names, quoted as values are
        names = pa.table({f"c{i}": [n] for i, n in enumerate(table.column_names)})
        write(b"".join(fmt.rows(names, context)))
    rows = fmt.rows(table, context)
    write(b"".join(rows))
    return len(rows)
