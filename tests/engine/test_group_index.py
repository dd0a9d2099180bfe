from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.engine import group_index
from tidal.engine.group_index import GroupIndex

keys = st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=1, max_size=30)


@settings(max_examples=100, deadline=None)
@given(st.lists(keys, min_size=1, max_size=6))
def test_equal_keys_get_equal_slots_across_batches(batches):
    index = GroupIndex()
    seen: dict = {}
    for batch in batches:
        distinct = list(dict.fromkeys(batch))
        slots, new = index.slots(pa.table({"k": pa.array(distinct, pa.int64())}))
        for key, slot, is_new in zip(distinct, slots.tolist(), new.tolist()):
            assert is_new == (key not in seen)
            assert seen.setdefault(key, slot) == slot
    assert sorted(seen.values()) == list(range(len(seen)))


def test_hash_collisions_never_merge_different_keys(monkeypatch):
    # Every key hashes the same: the stored key values must tell them apart.
    monkeypatch.setattr(
        group_index, "key_hash", lambda table, key: np.zeros(table.num_rows, np.uint64)
    )
    index = GroupIndex()
    first, _ = index.slots(pa.table({"k": ["a", "b", None]}))
    second, new = index.slots(pa.table({"k": [None, "c", "a", "b"]}))
    assert first.tolist() == [0, 1, 2]
    assert second.tolist() == [2, 3, 0, 1]
    assert new.tolist() == [False, True, False, False]
