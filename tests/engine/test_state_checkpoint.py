"""Every operator's state survives a checkpoint exactly: recovered, a view goes on as if nothing
happened.

Each test runs changes tick by tick (inserts, updates, deletes, late rows, the clock moving) over
views of every operator kind, and at a drawn tick takes a checkpoint as the durability layer
does (checkpoint_helpers.py): every state snapshotted, pickled with Arrow as IPC, a new database
built from the DDL over empty relations and the states restored into it. After every later tick
the recovered database's changes and rows equal the uninterrupted run's, its views equal
DuckDB's answer (the differential suites' references), and the snapshot taken at the crash is
unchanged by the ticks after it.
"""

from __future__ import annotations

import pytest
from checkpoint_helpers import Journaled, Twin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import queries
from tests.differential.queries import Query
from tests.differential.queries_from import FROM_FUNCTIONS, LATERAL_SUBQUERIES
from tests.differential.reference import Reference, assert_same_rows
from tests.differential.schema import TABLES, scenarios

EXAMPLES = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# The differential corpus, a database per list: every view of a list lives through one crash.
CORPUS = {
    "scalars": queries.SCALARS,
    "aggregates": queries.AGGREGATES,
    "joins": queries.JOINS,
    "set_operations": queries.SET_OPERATIONS,
    "subqueries": queries.SUBQUERIES,
    "ordered": queries.ORDERED,
    "views_on_views": queries.VIEWS_ON_VIEWS,
    "special_floats": queries.SPECIAL_FLOATS,
    "statistical": queries.STATISTICAL,
    "from_functions": FROM_FUNCTIONS,
    "lateral": LATERAL_SUBQUERIES,
}


def test_the_corpus_lists_every_query():
    listed = {q.name for group in CORPUS.values() for q in group}
    assert listed == {q.name for q in queries.QUERIES + FROM_FUNCTIONS + LATERAL_SUBQUERIES}


class _Corpus:
    """The views of one list over t1, t2, t3, in tidal (``twin``) and in DuckDB."""

    def __init__(self, group: list[Query]) -> None:
        self.group = group
        self.tables = sorted({t for q in group for t in q.tables})
        self.special = any(q.special_floats for q in group)
        self.twin = Twin(Journaled())
        self.reference = Reference()
        for table in self.tables:
            self.both(TABLES[table])

    def both(self, sql: str) -> None:
        self.twin.execute(sql)
        self.reference.execute(sql)

    def create_views(self) -> None:
        for query in self.group:
            for helper in query.helpers:
                kind = "MATERIALIZED VIEW" if helper.materialized else "VIEW"
                self.twin.execute(f"CREATE {kind} {helper.name} AS {helper.sql}")
                self.reference.create_view(helper.name, helper.sql)
            kind = "MATERIALIZED VIEW" if query.materialized else "VIEW"
            self.twin.execute(f"CREATE {kind} v_{query.name} AS {query.sql}")
            self.reference.create_view(f"v_{query.name}", query.duckdb or query.sql)

    def check(self, when: str) -> None:
        self.twin.compare(when)
        db = self.twin.recovered
        if db is None:
            return
        for query in self.group:
            name = f"v_{query.name}"
            expected, _ = self.reference.query(f"SELECT * FROM {name}")
            actual = db.read(name) if query.materialized else db.execute(f"SELECT * FROM {name}")
            assert_same_rows(actual, expected, query.approx, f"{name} {when}")

    def close(self) -> None:
        self.twin.close()
        self.reference.close()


@pytest.mark.parametrize("group", sorted(CORPUS))
@EXAMPLES
@given(data=st.data())
def test_corpus_views_go_on_after_recovery(group, data):
    corpus = _Corpus(CORPUS[group])
    scenario = data.draw(scenarios(tuple(corpus.tables), corpus.special), label="scenario")
    statements = scenario.statements
    crash = data.draw(st.integers(scenario.view_at, len(statements)), label="crash before")
    try:
        for position in range(len(statements) + 1):
            if position == scenario.view_at:
                corpus.create_views()
            if position == crash:
                corpus.twin.crash()
                corpus.check("right after recovery")
            if position < len(statements):
                corpus.both(statements[position])
                corpus.check(f"after {statements[position]}")
        corpus.twin.finish()
    finally:
        corpus.close()
