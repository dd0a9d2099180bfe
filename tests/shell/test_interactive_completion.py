"""What Tab offers where, and how typed SQL is coloured."""

from __future__ import annotations

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from shell_harness import Session

from tidal.shell.interactive import lexer
from tidal.shell.interactive.backend import ColumnInfo, RelationInfo
from tidal.shell.interactive.completion import SqlCompleter
from tidal.shell.interactive.repl import Shell

CATALOG = [
    RelationInfo("orders", "table", (ColumnInfo("id", "BIGINT"), ColumnInfo("amount", "DOUBLE"))),
    RelationInfo(
        "customers", "source", (ColumnInfo("id", "BIGINT"), ColumnInfo("name", "VARCHAR"))
    ),
    RelationInfo("spend", "materialized view", (ColumnInfo("total", "DOUBLE"),)),
]


def offered(text: str, cursor: int | None = None) -> list[str]:
    completer = SqlCompleter(lambda: CATALOG, lambda: Shell._command_help(None))
    document = Document(text, len(text) if cursor is None else cursor)
    return [c.text for c in completer.get_completions(document, CompleteEvent())]


def test_after_from_and_join_only_relations_are_offered():
    assert sorted(offered("SELECT * FROM ")) == ["customers", "orders", "spend"]
    assert offered("SELECT * FROM o") == ["orders"]
    assert offered("SELECT * FROM orders o JOIN c") == ["customers"]
    assert sorted(offered("SELECT * FROM orders, ")) == ["customers", "orders", "spend"]
    assert offered("SUBSCRIBE sp") == ["spend"]
    assert offered("SELECT * FROM TUMBLE(or") == ["orders"]


def test_after_an_alias_and_a_dot_its_relations_columns_are_offered():
    assert offered("SELECT o. FROM orders o", cursor=9) == ["id", "amount"]
    text = "SELECT c.n FROM orders AS o JOIN customers AS c ON o.id = c.id"
    assert offered(text, cursor=10) == ["name"]
    assert offered("SELECT customers.") == ["id", "name"]
    assert offered("SELECT w. FROM TUMBLE(orders, ts, INTERVAL '1' MINUTE) w", 9) == [
        "id",
        "amount",
    ]
    assert offered("SELECT x. FROM orders o", cursor=9) == []


def test_elsewhere_columns_of_the_relations_read_then_functions_and_keywords():
    offers = offered("SELECT a FROM orders", cursor=8)
    assert offers[0] == "amount" and "avg" in offers and "id" not in offers
    assert offered("SELECT * FROM orders WHERE am") == ["amount"]
    assert "count" in offered("SELECT cou")
    assert offered("sel") == ["select"]  # keywords in the case typed
    assert offered("SEL") == ["SELECT"]
    offers = offered("SELECT 1; SELECT * FROM orders WHERE i")
    assert offers[0] == "id" and {"in", "is", "ilike", "initcap"} <= set(offers)
    assert "name" in offered("SELECT n") and "total" in offered("SELECT t")  # no FROM yet: all


def test_backslash_commands_and_their_arguments():
    assert offered("\\d") == ["\\dt", "\\dv", "\\dm", "\\ds", "\\dS", "\\dt+", "\\dm+", "\\df"]
    assert offered("\\wa") == ["\\watch"]
    assert offered("\\d sp") == ["spend"]
    assert offered("\\mode c") == ["csv", "changelog"]
    assert offered("\\set WATCH") == ["WATCH_INTERVAL", "WATCH_ORDER"]
    assert offered("\\dt+ sp") == ["spend"] and offered("\\copy sp") == ["spend"]


def test_tab_completes_in_the_running_shell():
    session = Session().type("CREATE TABLE orders_2026 (quantity BIGINT);\r").start()
    session.type("INSERT INTO orders_2026 VALUES (7);\rSELECT quan\t")
    session.wait_for(lambda s: s.endswith("SELECT quantity"))  # completions arrive async
    session.type(" FROM orders_2\t")
    session.wait_for(lambda s: s.endswith("FROM orders_2026"))
    session.type(";\r")
    screen = session.finish()
    assert "tidal> SELECT quantity FROM orders_2026;\n quantity\n" in screen
    assert "\n        7\n(1 row" in screen


def test_keywords_strings_numbers_comments_and_names_have_their_own_styles():
    lexer.load()
    fragments = lexer.highlight("SELECT upper(name), 'x;y', 4.5 -- why\nFROM t::BIGINT")
    styles = {text: style for style, text in fragments if text.strip()}
    assert styles["SELECT"] == styles["FROM"] == "class:sql.keyword"
    assert styles["upper"] == "class:sql.function"
    assert styles["name"] == styles["t"] == "class:sql.name"
    assert styles["'x;y'"] == "class:sql.string"
    assert styles["4.5"] == "class:sql.number"
    assert styles[" -- why\n"] == "class:sql.comment"
    assert styles["BIGINT"] == "class:sql.type"
    # an unclosed string colours to the end, as the parser will read it
    assert lexer.highlight("SELECT 'abc\nd")[-1] == ("class:sql.string", "'abc\nd")


def test_the_lexer_gives_prompt_toolkit_one_line_at_a_time():
    lexer.load()
    get_line = lexer.SqlLexer().lex_document(Document("SELECT 'a\nb' AS x\nFROM t"))
    assert get_line(0) == [("class:sql.keyword", "SELECT"), ("", " "), ("class:sql.string", "'a")]
    assert get_line(1)[0] == ("class:sql.string", "b'")
    assert get_line(2) == [("class:sql.keyword", "FROM"), ("", " "), ("class:sql.name", "t")]


def test_enter_runs_the_input_only_at_a_semicolon_outside_strings_and_comments():
    complete = lexer.statement_complete
    assert complete("SELECT 1;") and complete("SELECT 1; -- done") and complete("\\d")
    assert complete("") and complete("-- just a comment")
    assert not complete("SELECT ';'") and not complete("SELECT 1 -- ;")
    assert not complete("SELECT 1 /* ; */") and not complete("SELECT 'a;")
    assert not complete("SELECT 1; SELECT 2")


def test_keywords_are_coloured_on_the_screen():
    session = Session().type("SELECT 'lit' AS x;\r")
    session.start().finish()
    raw = session.raw.getvalue()
    assert "\x1b[0;34;1mSELECT" in raw  # bold blue keyword
    assert "\x1b[0;32m'lit'" in raw  # green string
