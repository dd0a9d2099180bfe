"""Upserts and deletes by key (tidal.engine.upserts) against a dict that applies them one by one."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.engine.collection import Collection
from tidal.engine.connectors.base import DELETE_ROW, TRUNCATE, UPSERT_ROW
from tidal.engine.upserts import upsert_changes
from tidal.engine.zset import WEIGHT, consolidate

_op = st.one_of(
    st.tuples(st.just(UPSERT_ROW), st.integers(0, 6), st.integers(0, 3) | st.none()),
    st.tuples(st.just(DELETE_ROW), st.integers(0, 6), st.none()),
    st.tuples(st.just(TRUNCATE), st.just(0), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(polls=st.lists(st.lists(_op, min_size=1, max_size=12), max_size=6))
def test_the_table_holds_what_the_ops_applied_in_order_leave(polls):
    schema = pa.schema([("c0", pa.int64()), ("c1", pa.int64()), (WEIGHT, pa.int64())])
    contents = Collection(schema)
    model: dict[int, int | None] = {}
    for ops in polls:
        polled = pa.table(
            {
                "k": pa.array([k for _, k, _ in ops], pa.int64()),
                "v": pa.array([v for _, _, v in ops], pa.int64()),
                "__op": pa.array([op for op, _, _ in ops], pa.int8()),
            }
        )
        change = upsert_changes(polled, [0], contents)
        assert change.num_rows == consolidate(change).num_rows  # already consolidated
        contents.apply(change)
        for op, key, value in ops:
            if op == UPSERT_ROW:
                model[key] = value
            elif op == DELETE_ROW:
                model.pop(key, None)
            else:
                model.clear()
        held = consolidate(contents.changes()).to_pylist()
        assert all(row[WEIGHT] == 1 for row in held)
        assert sorted((r["c0"], r["c1"]) for r in held) == sorted(model.items())  # keys unique


def test_an_upsert_of_the_same_row_changes_nothing():
    schema = pa.schema([("c0", pa.int64()), ("c1", pa.string()), (WEIGHT, pa.int64())])
    contents = Collection(schema)
    contents.apply(pa.table({"c0": [1], "c1": ["a"], WEIGHT: [1]}, schema=schema))
    polled = pa.table({"k": [1], "v": ["a"], "__op": pa.array([UPSERT_ROW], pa.int8())})
    assert upsert_changes(polled, [0], contents).num_rows == 0


def test_rows_without_a_key_are_left_out_and_said():
    schema = pa.schema([("c0", pa.int64()), ("c1", pa.string()), (WEIGHT, pa.int64())])
    contents = Collection(schema)
    polled = pa.table(
        {
            "k": pa.array([1, None], pa.int64()),
            "v": ["a", "b"],
            "__op": pa.array([UPSERT_ROW, UPSERT_ROW], pa.int8()),
        }
    )
    errors: list[str] = []
    change = upsert_changes(polled, [0], contents, errors)
    assert change.to_pydict() == {"c0": [1], "c1": ["a"], WEIGHT: [1]}
    assert errors == ["1 row(s) without a value in the primary key left out"]
