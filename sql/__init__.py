"""The compiler: dialect, binder (AST + catalog -> typed plan), rewrite rules, DuckDB lowering."""

from tidal.sql.errors import SqlError
from tidal.sql.parser import Statement, parse_statement, split_statements

__all__ = ["SqlError", "Statement", "parse_statement", "split_statements"]
