"""tidal's streaming SQL dialect: RisingWave's (PostgreSQL-based) with tidal's statements added.

RisingWave's sqlglot dialect already parses ``CREATE SOURCE ... WITH (...)``, ``WATERMARK FOR``,
``CREATE MATERIALIZED VIEW`` and ``CREATE SINK``. tidal adds, through sqlglot's class-level
tables (never by patching):

- ``EXPLAIN [ANALYZE] <statement>`` and PostgreSQL's ``EXPLAIN (ANALYZE, FORMAT TEXT | TREE)
  <statement>`` as an ``Explain`` node (RisingWave's tokenizer swallows it as text);
- ``SHOW <what>`` as ``exp.Show`` with the words after SHOW;
- DuckDB's ``date_diff(part, start, end)`` argument order, and ``regexp_extract``'s group;
- ``to_char`` with all of PostgreSQL's template patterns (tidal.sql.to_char);
- window table functions in both spellings, as ``WindowFunction`` nodes: RisingWave's
  ``TUMBLE(t, ts, size)`` and Flink's ``TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), size))``, likewise
  HOP, CUMULATE and SESSION (``SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), gap)``);
- ``EMIT ON WINDOW CLOSE`` after a query, as an ``EmitOnWindowClose`` node around it (cut from
  the token stream by tidal.sql.parser before sqlglot sees it: its words would parse as an alias);
- RisingWave's table clauses ``APPEND ONLY`` and ``ON CONFLICT OVERWRITE | IGNORE | DO UPDATE
  IF NOT NULL`` after a CREATE TABLE's column list, as ``AppendOnlyProperty`` and
  ``ConflictProperty`` (sqlglot would fall back to a raw command);
- Materialize's ``SUBSCRIBE [TO] name [WITH (SNAPSHOT, PROGRESS)] [AS OF tick]`` as a
  ``Subscribe`` node (tidal.sql.subscribe);
- PostgreSQL's cursors (``DECLARE``, ``FETCH``, ``MOVE``, ``CLOSE``) and ``COPY ... TO STDOUT``
  (tidal.sql.cursor_statements), and its session statements: ``SET``, ``RESET``, transaction
  control, ``DISCARD``, ``DEALLOCATE``, ``LISTEN`` and friends (tidal.sql.session_statements).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.risingwave import RisingWave
from sqlglot.tokens import TokenType

from tidal.sql.cursor_statements import CURSOR_STATEMENTS
from tidal.sql.errors import unsupported
from tidal.sql.session_statements import SESSION_STATEMENTS
from tidal.sql.subscribe import SUBSCRIBE, Subscribe, parse_subscribe, subscribe_sql
from tidal.sql.to_char import to_char


class Explain(exp.Expression):
    """``EXPLAIN <statement>``: show the plan instead of running the statement; ``analyze``:
    with each operator's numbers; ``format``: TEXT (the default) or TREE.

    >>> from tidal.sql.parser import parse_statement
    >>> e = parse_statement("EXPLAIN (FORMAT TREE, ANALYZE on) v")
    >>> e.analyze, e.format, e.sql(dialect="tidal")
    (True, 'TREE', 'EXPLAIN (ANALYZE, FORMAT TREE) v')
    >>> parse_statement("explain analyse select 1").sql(dialect="tidal")
    'EXPLAIN ANALYZE SELECT 1'
    """

    arg_types = {"this": True, "analyze": False, "format": False}

    @property
    def analyze(self) -> bool:
        analyze = self.args.get("analyze")
        return analyze is not None and bool(analyze.this)

    @property
    def format(self) -> str:
        return self.text("format").upper() or "TEXT"


# PostgreSQL's EXPLAIN options (to tell them from a parenthesized query), and tidal's formats.
_EXPLAIN_OPTIONS = {"ANALYZE", "ANALYSE", "VERBOSE", "COSTS", "SETTINGS", "GENERIC_PLAN"}
_EXPLAIN_OPTIONS |= {"BUFFERS", "SERIALIZE", "WAL", "TIMING", "SUMMARY", "MEMORY", "FORMAT"}
EXPLAIN_FORMATS = ("TEXT", "TREE")


WINDOW_FUNCTIONS = ("TUMBLE", "HOP", "CUMULATE", "SESSION")


class WindowFunction(exp.Expression, exp.Func):
    """A window table function: ``kind`` over relation ``this`` with time column ``time``; the
    intervals in ``expressions``; ``partition`` for SESSION."""

    arg_types = {"this": True, "kind": True, "time": True, "expressions": True, "partition": False}


class AppendOnlyProperty(exp.Property):
    """``CREATE TABLE ... APPEND ONLY``: the table accepts INSERT only."""

    arg_types: dict = {}


class ConflictProperty(exp.Property):
    """``CREATE TABLE ... ON CONFLICT <action>``: what an inserted row whose key exists does;
    ``this`` is the action (OVERWRITE, IGNORE, DO UPDATE IF NOT NULL, ...), ``version`` the
    column of ``WITH VERSION COLUMN (c)``."""

    arg_types = {"this": True, "version": False}


# RisingWave's spellings of a table's conflict actions; DO NOTHING and DO UPDATE FULL are its
# older names of IGNORE and OVERWRITE.
CONFLICT_ACTIONS = (
    ("OVERWRITE",),
    ("IGNORE",),
    ("DO", "NOTHING"),
    ("DO", "UPDATE", "IF", "NOT", "NULL"),
    ("DO", "UPDATE", "FULL"),
)


def _parse_append_only(parser) -> exp.Expression | None:
    if not parser._match_text_seq("ONLY"):
        parser.raise_error("expected APPEND ONLY")
    return AppendOnlyProperty()


def _parse_on_property(parser) -> exp.Expression | None:
    if not parser._match_text_seq("CONFLICT"):
        return RisingWave.Parser.PROPERTY_PARSERS["ON"](parser)
    action = next((words for words in CONFLICT_ACTIONS if parser._match_text_seq(*words)), None)
    if action is None:
        parser.raise_error("expected OVERWRITE, IGNORE or DO UPDATE IF NOT NULL after ON CONFLICT")
    version = None
    if parser._match_text_seq("WITH", "VERSION", "COLUMN"):
        parser._match_l_paren()
        version = parser._parse_id_var()
        parser._match_r_paren()
    return ConflictProperty(this=exp.var(" ".join(action)), version=version)


def _conflict_sql(generator, node: ConflictProperty) -> str:
    version = node.args.get("version")
    suffix = f" WITH VERSION COLUMN({generator.sql(version)})" if version else ""
    return f"ON CONFLICT {node.name}{suffix}"


class EmitOnWindowClose(exp.Expression):
    """``<query> EMIT ON WINDOW CLOSE``: the view shows only final rows of closed windows."""

    arg_types = {"this": True}


def _parse_window_function(kind: str):
    def parse(parser) -> WindowFunction:
        partition = None
        parser._match(TokenType.TABLE)  # Flink's spelling; RisingWave's has no TABLE
        this = parser._parse_table_parts()
        if parser._match(TokenType.PARTITION_BY):  # one column, or several in parentheses
            if parser._match(TokenType.L_PAREN):
                partition = parser._parse_csv(parser._parse_column)
                parser._match_r_paren()
            else:
                partition = [parser._parse_column()]
        parser._match(TokenType.COMMA)
        if parser._match_text_seq("DESCRIPTOR"):
            parser._match_l_paren()
            time = parser._parse_column()
            parser._match_r_paren()
        else:
            time = parser._parse_column()
        arguments = []
        while parser._match(TokenType.COMMA):
            arguments.append(parser._parse_assignment())
        # The binder takes these parts for granted (a missing one was an AttributeError).
        if not isinstance(this, exp.Table) or not this.name:
            parser.raise_error(f"Expected a table as the first argument of {kind}")
        if not all(isinstance(c, exp.Column) for c in (time, *(partition or ()))):
            parser.raise_error(f"Expected a column name for the time and partition of {kind}")
        if None in arguments:
            parser.raise_error(f"Expected an interval argument of {kind}")
        return WindowFunction(
            this=this,
            kind=exp.var(kind),
            time=time,
            expressions=arguments,
            partition=partition,
        )

    return parse


def _window_function_sql(generator, node: WindowFunction) -> str:
    table = generator.sql(node, "this")
    partition = [generator.sql(p) for p in node.args.get("partition") or []]
    if partition:
        columns = partition[0] if len(partition) == 1 else f"({', '.join(partition)})"
        table += f" PARTITION BY {columns}"
    arguments = ", ".join(generator.sql(a) for a in node.expressions)
    time = generator.sql(node, "time")
    return f"TABLE({node.args['kind'].name}(TABLE {table}, DESCRIPTOR({time}), {arguments}))"


def _parse_describe_or_explain(parser) -> exp.Expression:
    if parser._prev.text.upper() != "EXPLAIN":
        return parser._parse_describe()
    node = Explain()
    if parser._curr and parser._curr.text.upper() in ("ANALYZE", "ANALYSE"):
        parser._advance()
        node.set("analyze", exp.true())
    elif (
        parser._match(TokenType.L_PAREN, advance=False)
        and parser._next
        and parser._next.text.upper() in _EXPLAIN_OPTIONS
    ):
        parser._advance()
        _parse_explain_options(parser, node)
    node.set("this", parser._parse_statement())
    return node


def _parse_explain_options(parser, node: Explain) -> None:
    """``(ANALYZE [true|false|on|off], FORMAT TEXT|TREE)``, after the opening parenthesis."""
    while True:
        option = parser._curr.text.upper() if parser._curr else ""
        parser._advance()
        value = parser._curr.text.upper() if parser._curr else ""
        if option in ("ANALYZE", "ANALYSE"):
            on = value not in ("FALSE", "OFF", "0")
            if value in ("TRUE", "ON", "1", "FALSE", "OFF", "0"):
                parser._advance()
            node.set("analyze", exp.Boolean(this=on))
        elif option == "FORMAT" and value in EXPLAIN_FORMATS:
            parser._advance()
            node.set("format", exp.var(value))
        else:
            shown = f"FORMAT {value}" if option == "FORMAT" else option
            raise unsupported(
                f"EXPLAIN option {shown}: tidal takes ANALYZE and FORMAT "
                + " | ".join(EXPLAIN_FORMATS)
            )
        if parser._match(TokenType.R_PAREN):
            return
        if not parser._match(TokenType.COMMA):
            parser.raise_error("expected ',' or ')' in the EXPLAIN options")


def _explain_sql(generator, node: Explain) -> str:
    options = ["ANALYZE"] if node.analyze else []
    options += [f"FORMAT {node.format}"] if node.args.get("format") else []
    written = f"({', '.join(options)}) " if len(options) > 1 or node.args.get("format") else ""
    written = written or ("ANALYZE " if node.analyze else "")
    return f"EXPLAIN {written}{generator.sql(node, 'this')}"


def _parse_show(parser) -> exp.Expression:
    words = []
    while parser._curr and parser._curr.token_type != TokenType.SEMICOLON:
        words.append(parser._curr.text)
        parser._advance()
    return exp.Show(this=" ".join(words).upper())


class ArrayConstructors:
    """A parser mixin: ``ARRAY[...]`` is read once, as the constructor it always is in
    PostgreSQL. sqlglot read it as a type first, elements included, then went back and read
    them again, so each nested level doubled the time (14 levels: 1.7 s, 22: minutes)."""

    def _parse_types(self, check_func=False, schema=False, allow_identifiers=True, **kwargs):
        if (
            not schema
            and self._curr
            and self._curr.token_type == TokenType.ARRAY
            and self._next
            and self._next.token_type == TokenType.L_BRACKET
        ):
            return None
        return super()._parse_types(check_func, schema, allow_identifiers, **kwargs)


class CatalogPostgres(Postgres):
    """PostgreSQL's dialect for clients' catalog queries, reading ``ARRAY[...]`` in linear time."""

    class Parser(ArrayConstructors, Postgres.Parser):
        pass


class Tidal(RisingWave):
    class Tokenizer(RisingWave.Tokenizer):
        KEYWORDS = {
            **RisingWave.Tokenizer.KEYWORDS,
            "EXPLAIN": TokenType.DESCRIBE,
            **CURSOR_STATEMENTS.keywords,
            **SESSION_STATEMENTS.keywords,
        }
        COMMANDS = RisingWave.Tokenizer.COMMANDS - {TokenType.SHOW, TokenType.FETCH}

    class Parser(ArrayConstructors, RisingWave.Parser):
        # DuckDB's functions whose argument order differs from PostgreSQL's reading of them.
        FUNCTIONS = {
            **RisingWave.Parser.FUNCTIONS,
            "DATE_DIFF": DuckDB.Parser.FUNCTIONS["DATE_DIFF"],
            "DATEDIFF": DuckDB.Parser.FUNCTIONS["DATEDIFF"],
            # regexp_extract(s, pattern, group): DuckDB's, not a position as elsewhere
            "REGEXP_EXTRACT": DuckDB.Parser.FUNCTIONS["REGEXP_EXTRACT"],
            # PostgreSQL's template patterns, each translated or refused (sqlglot's lack some)
            "TO_CHAR": to_char,
        }
        FUNC_TOKENS = RisingWave.Parser.FUNC_TOKENS | {TokenType.SESSION}
        PROPERTY_PARSERS = {
            **RisingWave.Parser.PROPERTY_PARSERS,
            "APPEND": _parse_append_only,
            "ON": _parse_on_property,
        }
        FUNCTION_PARSERS = {
            **RisingWave.Parser.FUNCTION_PARSERS,
            **{kind: _parse_window_function(kind) for kind in WINDOW_FUNCTIONS},
        }
        STATEMENT_PARSERS = {
            **RisingWave.Parser.STATEMENT_PARSERS,
            TokenType.DESCRIBE: _parse_describe_or_explain,
            TokenType.SHOW: _parse_show,
            **CURSOR_STATEMENTS.statement_parsers,
            **SESSION_STATEMENTS.statement_parsers,
        }
        # Statements whose first word is no keyword (a column may be called SUBSCRIBE or
        # CLOSE), so no STATEMENT_PARSERS entry: a statement starting with the word is one.
        WORD_STATEMENTS = {
            SUBSCRIBE: parse_subscribe,
            **CURSOR_STATEMENTS.word_statements,
            **SESSION_STATEMENTS.word_statements,
        }

        def _parse_statement(self):
            curr = self._curr
            if curr and curr.token_type == TokenType.VAR:
                parse = self.WORD_STATEMENTS.get(curr.text.upper())
                if parse is not None:
                    self._advance()
                    return parse(self)
            return super()._parse_statement()

        def _parse_type(self, parse_interval=True, fallback_to_identifier=False):
            # ``TIMESTAMP '...'::DATE`` casts the typed value, as in PostgreSQL and DuckDB;
            # sqlglot applies the ``::`` to the string first (a TIMESTAMP came out).
            if not (
                not fallback_to_identifier
                and self._curr
                and self._curr.token_type in self.TYPE_TOKENS
                and self._next
                and self._next.token_type == TokenType.STRING
            ):
                return super()._parse_type(parse_interval, fallback_to_identifier)
            self._typed_literal_pending = True
            try:
                typed = super()._parse_type(parse_interval, fallback_to_identifier)
            finally:
                self._typed_literal_pending = False
            return self._parse_column_ops(typed)

        def _parse_column_ops(self, this):
            if getattr(self, "_typed_literal_pending", False) and isinstance(this, exp.Literal):
                self._typed_literal_pending = False
                return this
            return super()._parse_column_ops(this)

        def _parse_table(self, *args, **kwargs):
            # Flink's ``FROM TABLE(f(...))``: the table function itself is the relation.
            if (
                self._curr
                and self._curr.token_type == TokenType.TABLE
                and self._next
                and self._next.token_type == TokenType.L_PAREN
            ):
                self._advance(2)
                function = self._parse_function()
                self._match_r_paren()
                table = exp.Table(this=function)
                alias = self._parse_table_alias()
                if alias:
                    table.set("alias", alias)
                return table
            return super()._parse_table(*args, **kwargs)

    class Generator(RisingWave.Generator):
        PROPERTIES_LOCATION = {
            **RisingWave.Generator.PROPERTIES_LOCATION,
            AppendOnlyProperty: exp.Properties.Location.POST_SCHEMA,
            ConflictProperty: exp.Properties.Location.POST_SCHEMA,
        }
        TRANSFORMS = {
            **RisingWave.Generator.TRANSFORMS,
            Explain: _explain_sql,
            exp.Show: lambda self, e: f"SHOW {e.name}",
            WindowFunction: _window_function_sql,
            EmitOnWindowClose: lambda self, e: f"{self.sql(e, 'this')} EMIT ON WINDOW CLOSE",
            Subscribe: subscribe_sql,
            AppendOnlyProperty: lambda self, e: "APPEND ONLY",
            ConflictProperty: _conflict_sql,
            **CURSOR_STATEMENTS.transforms,
            **SESSION_STATEMENTS.transforms,
        }
