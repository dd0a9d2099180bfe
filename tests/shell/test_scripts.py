"""The script runner (shell/scripts.py) tells the user's errors from tidal's own bugs."""

from __future__ import annotations

import io

from tidal.catalog.sqlstate import TidalError
from tidal.engine import Database
from tidal.engine.connectors.base import ConnectorError
from tidal.shell.scripts import ScriptRunner


class Failing:
    """A database whose every statement fails with ``error``."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def execute_statement(self, statement):
        raise self.error

    def take_source_errors(self) -> list[str]:
        return []


def run(error: Exception) -> str:
    err = io.StringIO()
    ok = ScriptRunner(Failing(error), out=io.StringIO(), err=err).run_script(
        "\nSELECT 1;", source="s.sql"
    )
    assert not ok
    return err.getvalue()


def test_every_tidal_error_is_the_users_to_fix_and_names_its_line():
    assert run(TidalError("no such thing")) == "ERROR: s.sql:2: no such thing\n"
    assert run(ConnectorError("cannot read x.csv")) == "ERROR: s.sql:2: cannot read x.csv\n"


def test_any_other_error_is_an_internal_error_to_report():
    said = run(KeyError("k"))
    assert said == "ERROR: s.sql:2: internal error (KeyError: 'k'); please report it\n"


def test_a_script_runs_transaction_blocks_and_says_their_warnings():
    out, err = io.StringIO(), io.StringIO()
    script = """
    CREATE TABLE t (k INTEGER);
    BEGIN;
    INSERT INTO t VALUES (1);
    ROLLBACK;
    BEGIN;
    INSERT INTO t VALUES (2);
    BEGIN;
    COMMIT;
    SELECT k FROM t;
    """
    assert ScriptRunner(Database(), out=out, err=err).run_script(script, "s.sql")
    assert out.getvalue().split("\n") == [
        *("CREATE TABLE", "BEGIN", "INSERT 0 1", "ROLLBACK"),
        *("BEGIN", "INSERT 0 1", "BEGIN", "COMMIT"),
        *(" k", "---", " 2", "(1 row)", ""),
    ]
    assert err.getvalue() == "WARNING: there is already a transaction in progress\n"
