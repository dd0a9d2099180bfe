"""tidal's streaming SQL dialect: RisingWave's (PostgreSQL-based) with tidal's statements added.

RisingWave's sqlglot dialect already parses ``CREATE SOURCE ... WITH (...)``, ``WATERMARK FOR``,
``CREATE MATERIALIZED VIEW`` and ``CREATE SINK``. tidal adds, through sqlglot's class-level
tables (never by patching):

- ``EXPLAIN <statement>`` as an ``Explain`` node (RisingWave's tokenizer swallows it as text);
- ``SHOW <what>`` as ``exp.Show`` with the words after SHOW;
- DuckDB's ``date_diff(part, start, end)`` argument order.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.risingwave import RisingWave
from sqlglot.tokens import TokenType


class Explain(exp.Expression):
    """``EXPLAIN <statement>``: show the plan instead of running the statement."""

    arg_types = {"this": True}


def _parse_describe_or_explain(parser) -> exp.Expression:
    if parser._prev.text.upper() == "EXPLAIN":
        return Explain(this=parser._parse_statement())
    return parser._parse_describe()


def _parse_show(parser) -> exp.Expression:
    words = []
    while parser._curr and parser._curr.token_type != TokenType.SEMICOLON:
        words.append(parser._curr.text)
        parser._advance()
    return exp.Show(this=" ".join(words).upper())


class Tidal(RisingWave):
    class Tokenizer(RisingWave.Tokenizer):
        KEYWORDS = {**RisingWave.Tokenizer.KEYWORDS, "EXPLAIN": TokenType.DESCRIBE}
        COMMANDS = RisingWave.Tokenizer.COMMANDS - {TokenType.SHOW}

    class Parser(RisingWave.Parser):
        # DuckDB's functions whose argument order differs from PostgreSQL's reading of them.
        FUNCTIONS = {
            **RisingWave.Parser.FUNCTIONS,
            "DATE_DIFF": DuckDB.Parser.FUNCTIONS["DATE_DIFF"],
            "DATEDIFF": DuckDB.Parser.FUNCTIONS["DATEDIFF"],
        }
        STATEMENT_PARSERS = {
            **RisingWave.Parser.STATEMENT_PARSERS,
            TokenType.DESCRIBE: _parse_describe_or_explain,
            TokenType.SHOW: _parse_show,
        }

    class Generator(RisingWave.Generator):
        TRANSFORMS = {
            **RisingWave.Generator.TRANSFORMS,
            Explain: lambda self, e: f"EXPLAIN {self.sql(e, 'this')}",
            exp.Show: lambda self, e: f"SHOW {e.name}",
        }
