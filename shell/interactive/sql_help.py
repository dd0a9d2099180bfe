"""``\\h``: the SQL statements tidal runs, with their syntax (docs/sql.md has the detail).

>>> [name for name, _ in topics("create s")]
['CREATE SINK', 'CREATE SOURCE']
>>> topics("SUBSCRIBE")[0][1]
'SUBSCRIBE [TO] relation [WITH (SNAPSHOT [= true | false], PROGRESS [= true | false])] [AS OF tick]'
"""

from __future__ import annotations

# One entry per statement: its name and a one-line syntax ([] optional, | alternatives).
STATEMENTS = {
    "ALTER": "ALTER {TABLE | VIEW | MATERIALIZED VIEW | SOURCE | SINK} [IF EXISTS] name "
    "RENAME TO new_name; ALTER TABLE name {ADD | DROP | RENAME} [COLUMN] ...",
    "BEGIN": "BEGIN | START TRANSACTION  (then DML, then COMMIT or ROLLBACK)",
    "CLOSE": "CLOSE {cursor | ALL}",
    "COMMIT": "COMMIT  (applies the block's changes in one tick)",
    "COPY": "COPY table [(column, ...)] FROM {'file' | STDIN} [WITH (FORMAT {text | csv}, "
    "HEADER, ...)]; COPY {(query) | table} TO STDOUT [WITH (...)]",
    "CREATE AGGREGATE": "CREATE AGGREGATE name(arg type, ...) RETURNS type "
    "LANGUAGE python AS $$...$$",
    "CREATE FUNCTION": "CREATE FUNCTION name(arg type, ...) RETURNS type "
    "{LANGUAGE SQL RETURN expression | LANGUAGE python AS $$...$$ [WITH (...)]}",
    "CREATE MATERIALIZED VIEW": "CREATE MATERIALIZED VIEW [IF NOT EXISTS] name AS query "
    "[EMIT ON WINDOW CLOSE]",
    "CREATE SINK": "CREATE SINK [IF NOT EXISTS] name {FROM relation | AS query} "
    "WITH (connector = '...', ...)",
    "CREATE SOURCE": "CREATE SOURCE [IF NOT EXISTS] name (column type, ... [, WATERMARK FOR "
    "column AS expression]) WITH (connector = '...', ...)",
    "CREATE TABLE": "CREATE TABLE [IF NOT EXISTS] name (column type [NOT NULL] [PRIMARY KEY] "
    "[DEFAULT constant], ...) [APPEND ONLY] [ON CONFLICT ...] [WITH (connector = '...', ...)]",
    "CREATE VIEW": "CREATE VIEW [IF NOT EXISTS] name AS query",
    "DECLARE": "DECLARE cursor CURSOR FOR {query | SUBSCRIBE relation}",
    "DELETE": "DELETE FROM table [WHERE condition]",
    "DESCRIBE": "DESCRIBE {relation | query}",
    "DROP": "DROP {TABLE | SOURCE | VIEW | MATERIALIZED VIEW | SINK | FUNCTION} [IF EXISTS] "
    "name [, ...] [CASCADE]",
    "EXPLAIN": "EXPLAIN {query | view | CREATE MATERIALIZED VIEW name AS query}",
    "FETCH": "FETCH [count] [FROM] cursor [WITH (timeout = '1s')]",
    "INSERT": "INSERT INTO table [(column, ...)] {VALUES (...), ... | query} "
    "[ON CONFLICT [(key, ...)] DO {NOTHING | UPDATE SET column = expression, ...}]",
    "RESET": "RESET {name | ALL}",
    "ROLLBACK": "ROLLBACK  (drops the block's changes)",
    "SELECT": "[WITH ...] SELECT ... FROM {relation | TUMBLE(relation, ts, size) | "
    "HOP(...) | SESSION(...)} [WHERE ...] [GROUP BY ...] [HAVING ...] [ORDER BY ...] [LIMIT n]",
    "SET": "SET [SESSION | LOCAL] name {= | TO} {value | DEFAULT}",
    "SHOW": "SHOW {TABLES | SOURCES | VIEWS | MATERIALIZED VIEWS | SINKS | WATERMARKS | name}",
    "SUBSCRIBE": "SUBSCRIBE [TO] relation [WITH (SNAPSHOT [= true | false], "
    "PROGRESS [= true | false])] [AS OF tick]",
    "UPDATE": "UPDATE table SET column = expression, ... [WHERE condition]",
    "VALUES": "VALUES (expression, ...), ...",
}


def topics(asked: str) -> list[tuple[str, str]]:
    """The statements whose name starts with ``asked`` (any case, spaces squeezed): all of
    them for an empty ``asked``."""
    wanted = " ".join(asked.upper().rstrip(";").split())
    exact = STATEMENTS.get(wanted)
    if exact is not None:
        return [(wanted, exact)]
    return [(name, syntax) for name, syntax in STATEMENTS.items() if name.startswith(wanted)]
