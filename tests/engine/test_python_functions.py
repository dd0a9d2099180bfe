"""CREATE FUNCTION ... LANGUAGE python: what the differential tests do not cover.

Option and body errors with their SQLSTATEs, DROP FUNCTION down to DuckDB, two databases with
a function of the same name, wrong return values, VOLATILE, the pandas style, NULL handling,
the message of a failing row, and dead letters' ticks.
"""

from __future__ import annotations

import textwrap

import duckdb
import pytest

from tidal.catalog.sqlstate import (
    DATA_EXCEPTION,
    INVALID_FUNCTION_DEFINITION,
    INVALID_PARAMETER_VALUE,
    TidalError,
)
from tidal.engine import Database
from tidal.engine.udf import registry
from tidal.engine.udf.registry import FunctionFailed
from tidal.sql.typeinfer import connect_locked


def create(db: Database, signature: str, body: str, options: str = "") -> None:
    """``CREATE FUNCTION <signature> LANGUAGE python [WITH (options)] AS $$ body $$``."""
    with_options = f" WITH ({options})" if options else ""
    db.execute(
        f"CREATE FUNCTION {signature} LANGUAGE python{with_options} AS $$\n"
        f"{textwrap.dedent(body).strip()}\n$$"
    )


@pytest.fixture
def db():
    db = Database()
    db.execute("CREATE TABLE t (x BIGINT, s VARCHAR)")
    yield db
    db.close()


def _sqlstate_of(db: Database, sql: str) -> tuple[str, str]:
    with pytest.raises(TidalError) as caught:
        db.execute(sql)
    return caught.value.sqlstate, caught.value.message


IDENTITY = "AS $$def f(x): return x$$"


@pytest.mark.parametrize(
    ("options", "sqlstate", "says"),
    [
        ("colour = 'red'", INVALID_PARAMETER_VALUE, "unknown option 'colour'"),
        ("on_error = 'ignore'", INVALID_PARAMETER_VALUE, "on_error = 'ignore'"),
        ("on_error = 'dead_letter'", INVALID_PARAMETER_VALUE, "dead_letter_table"),
        ("dead_letter_table = 'bad'", INVALID_PARAMETER_VALUE, "on_error = 'dead_letter'"),
        ("vectorized = 'numpy'", INVALID_PARAMETER_VALUE, "'arrow', 'pandas'"),
        ("batch_size = 0", INVALID_PARAMETER_VALUE, "batch_size = '0'"),
        ("batch_size = -1", INVALID_PARAMETER_VALUE, "at least 1"),
        ("batch_size = 'many'", INVALID_PARAMETER_VALUE, "a whole number"),
    ],
)
def test_option_errors(db, options, sqlstate, says):
    sql = f"CREATE FUNCTION f(x BIGINT) RETURNS BIGINT LANGUAGE python WITH ({options}) {IDENTITY}"
    code, message = _sqlstate_of(db, sql)
    assert (code, says in message) == (sqlstate, True), message
    assert "f" not in db.catalog
    create(db, "f(x BIGINT) RETURNS BIGINT", "def f(x): return x")  # the name is still free


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("def f(x) return x", "does not parse"),
        ("def g(x):\n    return x", "defines no function f"),
        ("f = 3", "defines no function f"),
        ("raise RuntimeError('no model here')", "RuntimeError: no model here"),
        ("import no_such_module_anywhere", "ModuleNotFoundError"),
        (" ", "write AS $$"),
    ],
)
def test_body_errors(db, body, says):
    sql = f"CREATE FUNCTION f(x BIGINT) RETURNS BIGINT LANGUAGE python AS $${body}$$"
    code, message = _sqlstate_of(db, sql)
    assert code == INVALID_FUNCTION_DEFINITION and says in message, message
    assert "f" not in db.catalog


def test_drop_function_removes_it_from_duckdb(db):
    create(db, "f(x BIGINT) RETURNS BIGINT", "def f(x): return x + 1")
    runtime_name = db.catalog.get("f").runtime_name
    assert db.execute("SELECT f(41) AS y").to_pylist() == [{"y": 42}]
    engine = connect_locked()
    assert engine.sql(f"SELECT {runtime_name}(1)").fetchall() == [(2,)]
    db.execute("DROP FUNCTION f")
    assert registry.lookup(runtime_name) is None
    with pytest.raises(TidalError, match="does not exist"):
        db.execute("SELECT f(41)")
    with pytest.raises(duckdb.CatalogException, match="does not exist"):
        engine.sql(f"SELECT {runtime_name}(1)").fetchall()
    create(db, "f(x BIGINT) RETURNS BIGINT", "def f(x): return x - 1")  # a new f, its own code
    assert db.execute("SELECT f(41) AS y").to_pylist() == [{"y": 40}]


def test_drop_function_used_by_a_view_is_refused(db):
    create(db, "f(x BIGINT) RETURNS BIGINT", "def f(x): return x + 1")
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT f(x) AS y FROM t")
    code, message = _sqlstate_of(db, "DROP FUNCTION f")
    assert code == "2BP01" and "v" in message, message
    db.execute("INSERT INTO t VALUES (1, 'a')")
    assert db.read("v").to_pylist() == [{"y": 2}]


def test_two_databases_each_with_their_own_f():
    first, second = Database(), Database()
    try:
        for db, body in ((first, "x + 1"), (second, "x * 10")):
            db.execute("CREATE TABLE t (x BIGINT)")
            create(db, "f(x BIGINT) RETURNS BIGINT", f"def f(x): return {body}")
            db.execute("CREATE MATERIALIZED VIEW v AS SELECT f(x) AS y FROM t")
            db.execute("CREATE VIEW w AS SELECT f(x) AS y FROM t")  # read through DuckDB
            db.execute("INSERT INTO t VALUES (2), (3)")
        for db, expected, of_five in ((first, [3, 4], 6), (second, [20, 30], 50)):
            assert sorted(r["y"] for r in db.read("v").to_pylist()) == expected
            assert sorted(r["y"] for r in db.execute("SELECT * FROM w").to_pylist()) == expected
            assert db.execute("SELECT f(5) AS y").to_pylist() == [{"y": of_five}]
    finally:
        first.close()
        second.close()


# --- calls ---------------------------------------------------------------------------------------


def test_a_failing_row_names_the_function_and_row_and_undoes_the_tick(db):
    create(db, "f(x BIGINT) RETURNS BIGINT", "def f(x): return 10 // x")
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT x, f(x) AS y FROM t")
    db.execute("INSERT INTO t VALUES (5, 'a')")
    with pytest.raises(FunctionFailed) as caught:
        db.execute("INSERT INTO t VALUES (2, 'b'), (0, 'c'), (1, 'd')")
    assert caught.value.sqlstate == DATA_EXCEPTION
    assert caught.value.message.startswith("function f failed on (0): ZeroDivisionError"), (
        caught.value.message
    )
    assert db.read("t").to_pylist() == [{"x": 5, "s": "a"}]
    assert db.read("v").to_pylist() == [{"x": 5, "y": 2}]


def test_null_arguments_reach_vectorized_functions_only(db):
    create(db, "r(x BIGINT) RETURNS VARCHAR", "def r(x): return 'called with ' + repr(x)")
    create(
        db,
        "a(x BIGINT) RETURNS VARCHAR",
        """
        import pyarrow.compute as pc
        def a(x):
            return pc.if_else(pc.is_null(x), 'null', 'value')
        """,
        "vectorized = 'arrow'",
    )
    db.execute("INSERT INTO t VALUES (1, 'a'), (NULL, 'b')")
    for read in (lambda sql: db.execute(sql), lambda sql: _through_a_view(db, sql)):
        rows = read("SELECT s, r(x) AS r, a(x) AS a FROM t ORDER BY s").to_pylist()
        assert rows == [
            {"s": "a", "r": "called with 1", "a": "value"},
            {"s": "b", "r": None, "a": "null"},
        ]


def _through_a_view(db: Database, sql: str):
    db.execute(f"CREATE MATERIALIZED VIEW through AS {sql}")
    rows = db.execute("SELECT * FROM through ORDER BY s")
    db.execute("DROP MATERIALIZED VIEW through")
    return rows


@pytest.mark.parametrize("style", ["row", "arrow"])
def test_a_value_of_the_wrong_type_fails_its_row(db, style):
    if style == "row":
        body, options = "def f(x): return 'abc' if x == 2 else x", ""
    else:
        body = """
        import pyarrow as pa
        def f(x):
            return pa.array(['abc' if v == 2 else str(v) for v in x.to_pylist()])
        """
        options = "vectorized = 'arrow'"
    create(db, "f(x BIGINT) RETURNS BIGINT", body, options)
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT x, f(x) AS y FROM t")
    with pytest.raises(FunctionFailed, match=r"function f failed on \(2\): ") as caught:
        db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    if style == "row":
        assert "returned 'abc', which is not of type int64" in caught.value.message
    assert db.read("v").num_rows == 0


def test_a_vectorized_result_of_the_wrong_length_fails_its_rows(db):
    create(
        db,
        "f(x BIGINT) RETURNS BIGINT",
        "def f(x): return list(range(len(x) + 1))",
        "vectorized = 'arrow', on_error = 'null'",
    )
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    assert db.execute("SELECT f(x) AS y FROM t").to_pylist() == [{"y": None}, {"y": None}]
    create(
        db,
        "g(x BIGINT) RETURNS BIGINT",
        "def g(x): return list(range(len(x) + 1))",
        "vectorized = 'arrow'",
    )
    with pytest.raises(TidalError, match="returned 2 values for 1 rows"):
        db.execute("SELECT g(x) FROM t")


def test_pandas_style_gets_series(db):
    create(
        db,
        "kind(x BIGINT) RETURNS VARCHAR",
        """
        import pandas
        def kind(x):
            assert isinstance(x, pandas.Series), type(x)
            return x.map(lambda v: f'{type(x).__name__}:{v:.0f}')
        """,
        "vectorized = 'pandas', batch_size = 2",
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT kind(x) AS k FROM t")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    expected = ["Series:1", "Series:2", "Series:3"]
    assert sorted(r["k"] for r in db.read("v").to_pylist()) == expected
    assert sorted(r["k"] for r in db.execute("SELECT kind(x) AS k FROM t").to_pylist()) == expected


def test_dead_letter_function_outside_a_view_fails_the_statement(db):
    create(
        db,
        "f(x BIGINT) RETURNS BIGINT",
        "def f(x): return 10 // x",
        "on_error = 'dead_letter', dead_letter_table = 'bad'",
    )
    db.execute("INSERT INTO t VALUES (0, 'a')")
    with pytest.raises(TidalError, match="the statement fails") as caught:
        db.execute("SELECT f(x) FROM t")
    assert caught.value.sqlstate == DATA_EXCEPTION


# --- VOLATILE --------------------------------------------------------------------------------------

STAMP = """
import itertools
calls = itertools.count(1)
def stamp(x):
    return x * 1000 + next(calls)
"""


def test_volatile_is_accepted_and_kept(db):
    db.execute(
        f"CREATE FUNCTION stamp(x BIGINT) RETURNS BIGINT LANGUAGE python VOLATILE AS $${STAMP}$$"
    )
    assert db.catalog.get("stamp").volatile
    create(db, "same(x BIGINT) RETURNS BIGINT", "def same(x): return x")
    assert not db.catalog.get("same").volatile
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT x, stamp(x) AS s FROM t")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    assert sorted(r["s"] for r in db.read("v").to_pylist()) == [1001, 2002]


def test_volatile_retraction_removes_exactly_the_emitted_row(db):
    db.execute(
        f"CREATE FUNCTION stamp(x BIGINT) RETURNS BIGINT LANGUAGE python VOLATILE AS $${STAMP}$$"
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT x, stamp(x) AS s FROM t")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    db.execute("DELETE FROM t WHERE x = 1")
    assert db.read("v").to_pylist() == [{"x": 2, "s": 2002}]
    db.execute("UPDATE t SET s = 'c' WHERE x = 2")  # a new row: a new call
    assert db.read("v").to_pylist() == [{"x": 2, "s": 2003}]


FLIP = """
import itertools
calls = itertools.count(1)
def flip(x):
    return next(calls)
"""


@pytest.mark.parametrize(
    "select",
    [
        "SELECT x, flip(x) % 2 AS odd FROM t",
        "SELECT x, CASE WHEN flip(x) % 2 = 1 THEN 1 END AS odd FROM t",
        "SELECT x FROM t WHERE flip(x) % 2 = 1",
    ],
)
def test_volatile_rows_leave_with_their_input(db, select):
    db.execute(
        f"CREATE FUNCTION flip(x BIGINT) RETURNS BIGINT LANGUAGE python VOLATILE AS $${FLIP}$$"
    )
    db.execute(f"CREATE MATERIALIZED VIEW v AS {select}")
    db.execute("INSERT INTO t VALUES (5, 'a')")  # flip: 1, odd
    db.execute("DELETE FROM t")  # flip again would be 2, even
    assert db.read("v").num_rows == 0
    db.execute("INSERT INTO t VALUES (6, 'b'), (7, 'c')")
    db.execute("DELETE FROM t WHERE x = 6")
    assert [r["x"] for r in db.read("v").to_pylist()] in ([7], [])
    db.execute("DELETE FROM t")
    assert db.read("v").num_rows == 0


# --- dead letters --------------------------------------------------------------------------------


def _dead_letter_view(db: Database) -> None:
    create(
        db,
        "f(x BIGINT) RETURNS BIGINT",
        "def f(x): return 10 // x",
        "on_error = 'dead_letter', dead_letter_table = 'bad'",
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT s, f(x) AS y FROM t")


def _letters(db: Database) -> list[tuple]:
    return sorted(
        tuple(r.values()) for r in db.execute("SELECT arguments, tick FROM bad").to_pylist()
    )


def test_dead_letters_keep_the_tick_their_row_failed_in(db):
    db.execute("INSERT INTO t VALUES (0, 'a')")
    _dead_letter_view(db)  # a row there before the view fails as of the view's tick
    assert _letters(db) == [("[0]", 1)]
    db.execute("INSERT INTO t VALUES (5, 'b')")
    db.execute("INSERT INTO t VALUES (0, 'c')")
    db.execute("INSERT INTO t VALUES (7, 'd')")
    assert _letters(db) == [("[0]", 1), ("[0]", 3)]
    assert sorted(r["s"] for r in db.read("v").to_pylist()) == ["b", "d"]
    db.execute("DELETE FROM t WHERE x = 0")
    assert _letters(db) == []


def test_a_deleted_row_takes_its_own_dead_letter(db):
    _dead_letter_view(db)
    db.execute("INSERT INTO t VALUES (0, 'a')")
    db.execute("INSERT INTO t VALUES (0, 'b')")
    assert _letters(db) == [("[0]", 1), ("[0]", 2)]
    db.execute("DELETE FROM t WHERE s = 'b'")
    assert _letters(db) == [("[0]", 1)]


def test_a_dead_letter_table_in_use_cannot_be_dropped(db):
    _dead_letter_view(db)
    code, message = _sqlstate_of(db, "DROP TABLE bad")
    assert code == "2BP01", message


# --- functions of other than one argument ---------------------------------------------------------


def test_a_function_of_two_arguments(db):
    create(db, "add2(a BIGINT, b VARCHAR) RETURNS VARCHAR", "def add2(a, b): return b * a")
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT add2(x, s) AS r FROM t")
    db.execute("INSERT INTO t VALUES (2, 'ab'), (3, NULL), (NULL, 'c')")
    assert sorted(db.read("v").to_pylist(), key=str) == [{"r": "abab"}, {"r": None}, {"r": None}]
    assert db.execute("SELECT add2(3, 'x') AS r").to_pylist() == [{"r": "xxx"}]


def test_a_function_of_no_arguments_works_or_is_refused(db):
    try:
        create(db, "seven() RETURNS BIGINT", "def seven(): return 7")
    except TidalError as error:  # refused with a reason is fine too
        assert error.sqlstate in (INVALID_FUNCTION_DEFINITION, "0A000"), error.message
        return
    assert db.execute("SELECT seven() AS n").to_pylist() == [{"n": 7}]
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT x, seven() AS n FROM t")
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'b')")
    assert sorted(r["n"] for r in db.read("v").to_pylist()) == [7, 7]


def test_an_aggregate_of_a_python_function(db):
    create(db, "twice(x BIGINT) RETURNS BIGINT", "def twice(x): return 2 * x")
    db.execute(
        "CREATE AGGREGATE total(x BIGINT) RETURNS BIGINT LANGUAGE python AS $$\n"
        "def create_state(): return 0\n"
        "def accumulate(state, x): return state + x\n"
        "def finish(state): return state\n$$"
    )
    db.execute("INSERT INTO t VALUES (1, 'a'), (2, 'a'), (5, 'b')")
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT s, total(twice(x)) AS y FROM t GROUP BY s")
    assert sorted(db.read("v").to_pylist(), key=str) == [{"s": "a", "y": 6}, {"s": "b", "y": 10}]
    assert db.execute("SELECT total(twice(x)) AS y FROM t").to_pylist() == [{"y": 16}]


def test_a_failed_tick_keeps_no_dead_letters(db):
    _dead_letter_view(db)
    create(db, "g(x BIGINT) RETURNS BIGINT", "def g(x): return 10 // (x - 7)")  # fails on 7
    db.execute("CREATE MATERIALIZED VIEW w AS SELECT s, g(x) AS y FROM t")
    db.execute("INSERT INTO t VALUES (0, 'a')")
    with pytest.raises(FunctionFailed, match=r"function g failed on \(7\)"):
        db.execute("INSERT INTO t VALUES (0, 'b'), (7, 'c')")  # v's letter for 'b' goes too
    assert _letters(db) == [("[0]", 1)]
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (0, 'd')")
    db.execute("INSERT INTO t VALUES (7, 'e')")
    with pytest.raises(FunctionFailed):
        db.execute("COMMIT")
    assert _letters(db) == [("[0]", 1)]
    assert db.read("t").to_pylist() == [{"x": 0, "s": "a"}]


def test_dropping_a_view_drops_its_dead_letters(db):
    _dead_letter_view(db)
    db.execute("CREATE MATERIALIZED VIEW w AS SELECT f(x) + 1 AS y FROM t")
    db.execute("INSERT INTO t VALUES (0, 'a')")
    assert _letters(db) == [("[0]", 1), ("[0]", 1)]
    db.execute("DROP MATERIALIZED VIEW w")
    assert db.execute("SELECT view FROM bad").to_pylist() == [{"view": "v"}]


@pytest.mark.parametrize(
    "select",
    [
        "SELECT k, inv(v) + inv(k) AS q FROM t",
        "SELECT k, coalesce(inv(v), -1) AS q FROM t",
        "SELECT k FROM t WHERE k > 0 AND inv(v) > 1",
        "SELECT t.k FROM t JOIN u ON inv(t.v) = u.w",
        "SELECT k, sum(inv(v)) AS q FROM t GROUP BY k",
        "SELECT k, count(*) AS n FROM t GROUP BY k HAVING max(inv(v)) > 0",
        "SELECT k, v FROM t ORDER BY inv(v) LIMIT 2",
        pytest.param(
            "SELECT k, CASE WHEN k > 2 THEN inv(v) ELSE 0 END AS q FROM t",
            marks=pytest.mark.xfail(
                strict=True,
                reason="dead_letter inside a CASE branch: DuckDB computes the branch, so a "
                "failing row fails the tick (the message says letters are kept in a select "
                "list, which this is)",
            ),
        ),
        pytest.param(
            "SELECT k, sum(inv(v)) OVER (PARTITION BY k) AS q FROM t",
            marks=pytest.mark.xfail(
                strict=True,
                reason="dead_letter in a window function's argument: DuckDB computes it, so a "
                "failing row fails the tick",
            ),
        ),
    ],
)
def test_dead_letters_wherever_a_view_calls_the_function(select):
    db = Database()
    try:
        db.execute("CREATE TABLE t (k BIGINT, v BIGINT)")
        db.execute("CREATE TABLE u (w BIGINT)")
        db.execute("INSERT INTO u VALUES (42), (21)")
        create(
            db,
            "inv(x BIGINT) RETURNS BIGINT",
            "def inv(x): return 84 // x",
            "on_error = 'dead_letter', dead_letter_table = 'bad'",
        )
        db.execute(f"CREATE MATERIALIZED VIEW v AS {select}")
        db.execute("INSERT INTO t VALUES (1, 2), (3, 4)")
        before = sorted(db.read("v").to_pylist(), key=str)
        db.execute("INSERT INTO t VALUES (4, 0)")  # inv fails on it: the row leaves the view
        assert sorted(db.read("v").to_pylist(), key=str) == before
        assert db.execute("SELECT arguments FROM bad").to_pylist() == [{"arguments": "[0]"}]
    finally:
        db.close()


PARTS = """
def parts(s):
    if s == 'bad':
        raise ValueError('bad input')
    yield from s.split(',')
"""


@pytest.mark.parametrize("on_error", ["fail", "null", "dead_letter"])
def test_a_failing_table_function_row(db, on_error):
    options = f"on_error = '{on_error}'"
    options += ", dead_letter_table = 'bad'" if on_error == "dead_letter" else ""
    db.execute(
        f"CREATE FUNCTION parts(s VARCHAR) RETURNS TABLE (p VARCHAR) LANGUAGE python "
        f"WITH ({options}) AS $${PARTS}$$"
    )
    db.execute("CREATE MATERIALIZED VIEW v AS SELECT t.s, w.p FROM t, LATERAL parts(t.s) AS w")
    insert = "INSERT INTO t VALUES (1, 'a,b'), (2, 'bad'), (3, 'c')"
    if on_error == "fail":
        with pytest.raises(FunctionFailed, match=r"function parts failed on \('bad'\): Value"):
            db.execute(insert)
        assert db.read("v").num_rows == 0
        return
    db.execute(insert)  # the failing row yields no rows (null), or a dead letter
    expected = [("a,b", "a"), ("a,b", "b"), ("c", "c")]
    assert sorted(tuple(r.values()) for r in db.read("v").to_pylist()) == expected
    if on_error == "dead_letter":
        assert db.execute("SELECT arguments, error FROM bad").to_pylist() == [
            {"arguments": '["bad"]', "error": "ValueError: bad input"}
        ]
        db.execute("DELETE FROM t WHERE s = 'bad'")
        assert db.execute("SELECT * FROM bad").num_rows == 0


# --- durability -----------------------------------------------------------------------------------


def test_functions_and_dead_letters_survive_a_reopen(tmp_path):
    db = Database(tmp_path / "data")
    db.execute("CREATE TABLE t (x BIGINT, s VARCHAR)")
    _dead_letter_view(db)
    create(db, "twice(x BIGINT) RETURNS BIGINT", "def twice(x): return 2 * x", "batch_size = 7")
    db.execute("INSERT INTO t VALUES (5, 'a'), (0, 'b')")
    db.close()
    db = Database(tmp_path / "data")
    try:
        assert db.catalog.get("twice").options == (("batch_size", "7"),)
        assert db.execute("SELECT twice(21) AS y").to_pylist() == [{"y": 42}]
        assert _letters(db) == [("[0]", 1)]
        db.execute("INSERT INTO t VALUES (10, 'c'), (0, 'd')")  # the view goes on, letters too
        assert sorted(r["y"] for r in db.read("v").to_pylist()) == [1, 2]
        assert _letters(db) == [("[0]", 1), ("[0]", 2)]
        db.execute("DELETE FROM t WHERE x = 0")
        assert _letters(db) == []
    finally:
        db.close()


def test_a_materialized_view_over_dead_letters_is_refused(db):
    _dead_letter_view(db)
    code, message = _sqlstate_of(db, "CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM bad")
    assert code == "0A000" and "dead-letter table bad" in message, message
    db.execute("CREATE VIEW letters AS SELECT count(*) AS n FROM bad")  # read when asked: fine
    db.execute("INSERT INTO t VALUES (0, 'a')")
    assert db.execute("SELECT * FROM letters").to_pylist() == [{"n": 1}]


def test_a_durable_view_of_an_api_function_reopens_or_is_refused(tmp_path):
    db = Database(tmp_path / "data")
    db.execute("CREATE TABLE t (x BIGINT)")
    db.create_function("twice", lambda x: 2 * x, ["BIGINT"], "BIGINT")
    try:
        db.execute("CREATE MATERIALIZED VIEW v AS SELECT twice(x) AS y FROM t")
    except TidalError:  # refused, saying why: fine too
        return
    finally:
        db.close()
    Database(tmp_path / "data").close()


def test_a_dead_letter_keeps_its_input_row_and_clients_cannot_change_the_table(db):
    _dead_letter_view(db)
    db.execute("INSERT INTO t VALUES (0, 'a')")
    assert db.execute("SELECT input_row FROM bad").to_pylist() == [{"input_row": '[0, "a"]'}]
    for statement in ("INSERT INTO bad SELECT * FROM bad", "DELETE FROM bad"):
        code, message = _sqlstate_of(db, statement)
        assert code == "42809" and "dead letters of function f" in message, message
    assert len(_letters(db)) == 1


def test_a_failing_row_inserted_and_deleted_in_one_tick_leaves_no_letter(db):
    _dead_letter_view(db)
    for statement in ("BEGIN", "INSERT INTO t VALUES (0, 'a')", "DELETE FROM t", "COMMIT"):
        db.execute(statement)
    assert _letters(db) == []
    assert db.read("v").num_rows == 0


def test_explain_names_python_functions_as_created(db):
    create(db, "Twice(x BIGINT) RETURNS BIGINT", "def Twice(x): return 2 * x")
    plan = db.execute("EXPLAIN SELECT twice(x) FROM t WHERE twice(x) > 2").column(0).to_pylist()
    assert "Filter twice(CAST(x AS BIGINT)) > 2" in [line.strip() for line in plan], plan
    assert not any("tidal_python" in line.lower() for line in plan), plan
