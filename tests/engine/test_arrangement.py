"""Arrangements against the naive reference: every change kept in one list, filtered by key."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.engine.arrangement import Arrangement, key_hash

SCHEMA = pa.schema([("c0", pa.int64()), ("c1", pa.string()), ("__weight", pa.int64())])
row = st.tuples(
    st.one_of(st.none(), st.integers(0, 5)),
    st.sampled_from(["x", "y", None]),
    st.sampled_from([1, 1, 2, -1]),
)
batches = st.lists(st.lists(row, min_size=1, max_size=40), min_size=1, max_size=12)


def table(rows: list[tuple]) -> pa.Table:
    return pa.table(
        {"c0": [r[0] for r in rows], "c1": [r[1] for r in rows], "__weight": [r[2] for r in rows]},
        schema=SCHEMA,
    )


def as_counter(t: pa.Table) -> Counter:
    counts: Counter = Counter()
    for c0, c1, w in zip(*(t.column(n).to_pylist() for n in t.column_names)):
        counts[(c0, c1)] += w
    return Counter({k: v for k, v in counts.items() if v})


@settings(max_examples=150, deadline=None)
@given(batches, st.lists(st.one_of(st.none(), st.integers(0, 6)), min_size=1, max_size=4))
def test_lookup_and_rows_equal_the_naive_integral(changes, keys):
    arrangement = Arrangement(SCHEMA, (0,))
    everything: list[tuple] = []
    for batch in changes:
        arrangement.insert(table(batch))
        everything += batch
        probe = pa.table({"c0": pa.array(keys, pa.int64())})
        found = arrangement.lookup(key_hash(probe, (0,)))
        expected = as_counter(table([r for r in everything if r[0] in keys]))
        assert as_counter(found) == expected
        unconsolidated = arrangement.lookup(key_hash(probe, (0,)), consolidated=False)
        assert as_counter(unconsolidated) == expected
    assert as_counter(arrangement.rows()) == as_counter(table(everything))


def test_runs_stay_few():
    arrangement = Arrangement(SCHEMA, (0,))
    for i in range(200):
        arrangement.insert(table([(i % 7, "x", 1)] * 10))
    assert len(arrangement._runs) <= 2 * int(np.log2(2000)) + 1
    assert len(arrangement) == 2000
