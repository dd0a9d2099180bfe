"""to_changelog / to_upsert: pairing of retractions and insertions into change kinds."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.engine.changelog import to_changelog, to_upsert


def delta(rows: list[tuple], names: tuple[str, ...] = ("k", "v")) -> pa.Table:
    """A delta from (k, v, weight) tuples."""
    columns = list(zip(*rows)) if rows else [[] for _ in range(len(names) + 1)]
    arrays = [
        pa.array(list(c), pa.int64() if n == "k" else pa.string()) for n, c in zip(names, columns)
    ]
    return pa.Table.from_arrays(
        [*arrays, pa.array(list(columns[-1]), pa.int64())], names=[*names, "__weight"]
    )


def ops(table: pa.Table) -> list[tuple]:
    return list(zip(*(table.column(n).to_pylist() for n in table.column_names)))


def test_update_pairs_old_then_new():
    out = to_changelog(delta([(1, "new", 1), (1, "old", -1)]), ["k"])
    assert out.column_names == ["op", "k", "v"]
    assert ops(out) == [("-U", 1, "old"), ("+U", 1, "new")]


def test_without_keys_nothing_pairs_and_input_order_is_kept():
    out = to_changelog(delta([(1, "new", 1), (1, "old", -1), (2, "x", 2)]), [])
    assert ops(out) == [("+I", 1, "new"), ("-D", 1, "old"), ("+I", 2, "x"), ("+I", 2, "x")]


def test_weight_of_magnitude_two_gives_two_pairs():
    out = to_changelog(delta([(7, "a", -2), (7, "b", 2)]), ["k"])
    assert ops(out) == [("-U", 7, "a"), ("+U", 7, "b"), ("-U", 7, "a"), ("+U", 7, "b")]


def test_unequal_counts_leave_inserts_and_deletes():
    out = to_changelog(delta([(1, "a", -1), (1, "b", 2), (2, "c", -3), (2, "d", 1)]), ["k"])
    assert ops(out) == [
        ("-U", 1, "a"),
        ("+U", 1, "b"),
        ("+I", 1, "b"),
        ("-U", 2, "c"),
        ("+U", 2, "d"),
        ("-D", 2, "c"),
        ("-D", 2, "c"),
    ]


def test_null_keys_pair_with_each_other_only():
    out = to_changelog(delta([(None, "a", -1), (None, "b", 1), (3, "c", 1)]), ["k"])
    assert ops(out) == [("+I", 3, "c"), ("-U", None, "a"), ("+U", None, "b")]


def test_all_key_columns_must_match_to_pair():
    table = pa.table(
        {
            "a": [1, 1, 2],
            "b": ["x", "y", "y"],
            "v": [10, 20, 30],
            "__weight": pa.array([-1, 1, 1], pa.int64()),
        }
    )
    out = to_changelog(table, ["a", "b"])
    assert out.column("op").to_pylist() == ["-D", "+I", "+I"]
    out = to_changelog(table, ["a"])
    assert out.column("op").to_pylist() == ["-U", "+U", "+I"]


def test_output_order_does_not_depend_on_input_order():
    rows = [(2, "a", -1), (1, "b", 1), (2, "c", 1), (1, "d", -1), (3, "e", 1)]
    first = to_changelog(delta(rows), ["k"])
    second = to_changelog(delta(rows[::-1]), ["k"])
    assert first.equals(second)
    assert ops(first)[:2] == [("-U", 1, "d"), ("+U", 1, "b")]


def test_empty_delta_gives_empty_changelog_with_the_columns():
    out = to_changelog(delta([]), ["k"])
    assert out.num_rows == 0 and out.column_names == ["op", "k", "v"]
    assert to_upsert(delta([]), ["k"]).num_rows == 0


def test_upsert_keeps_the_new_row_and_deletes_keys_only_retracted():
    out = to_upsert(
        delta([(1, "old", -1), (1, "new", 1), (2, "gone", -1), (3, "added", 1), (None, "nk", 1)]),
        ["k"],
    )
    assert ops(out) == [
        ("upsert", 1, "new"),
        ("delete", 2, "gone"),
        ("upsert", 3, "added"),
        ("upsert", None, "nk"),
    ]


def test_upsert_needs_key_columns():
    with pytest.raises(ValueError, match="key"):
        to_upsert(delta([(1, "a", 1)]), [])


# A consolidated delta: distinct (k, v) rows with non-zero weights.
deltas = st.dictionaries(
    st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.sampled_from(["a", "b", "c"])),
    st.integers(-3, 3).filter(bool),
    max_size=12,
).map(lambda d: delta([(k, v, w) for (k, v), w in d.items()]))


@settings(max_examples=150, deadline=None)
@given(deltas, st.booleans())
def test_changelog_counts_equal_the_weights(table, keyed):
    out = to_changelog(table, ["k"] if keyed else [])
    signed = Counter()
    for op, k, v in ops(out):
        signed[(k, v)] += 1 if op in ("+I", "+U") else -1
    expected = {(k, v): w for k, v, w in ops(table)}
    assert dict(signed) == expected
    assert out.num_rows == sum(abs(w) for w in expected.values())


@settings(max_examples=150, deadline=None)
@given(deltas)
def test_every_update_is_an_adjacent_pair_of_one_key(table):
    rows = ops(to_changelog(table, ["k"]))
    for i, (op, k, _) in enumerate(rows):
        if op == "-U":
            assert rows[i + 1][0] == "+U" and rows[i + 1][1] == k
        if op == "+U":
            assert rows[i - 1][0] == "-U"
    # As many pairs per key as the smaller side allows: a key has -D or +I rows, never both.
    kinds_per_key: dict = {}
    for op, k, _ in rows:
        kinds_per_key.setdefault(k, set()).add(op)
    assert all(not {"-D", "+I"} <= kinds for kinds in kinds_per_key.values())
