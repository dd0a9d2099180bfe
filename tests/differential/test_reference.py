"""The comparison the differential tests rely on sees the differences it must see."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from .reference import assert_same_rows, difference


def test_rows_are_compared_as_multisets():
    assert difference([(1, "a"), (1, "a")], [(1, "a")], approx=False) == ([(1, "a")], [])
    assert difference([(1, "a")], [(1, "a"), (1, "a")], approx=False) == ([], [(1, "a")])
    assert difference([(2, "b"), (1, "a")], [(1, "a"), (2, "b")], approx=False) == ([], [])


def test_null_is_not_zero_or_empty():
    assert difference([(None,)], [(0,)], approx=False) == ([(None,)], [(0,)])
    assert difference([(None,)], [("",)], approx=False) == ([(None,)], [("",)])
    assert difference([(None,)], [(0.0,)], approx=True) == ([(None,)], [(0.0,)])


def test_floats_are_exact_unless_approx():
    close = (1.0 + 1e-12,)
    assert difference([close], [(1.0,)], approx=False) == ([close], [(1.0,)])
    assert difference([close], [(1.0,)], approx=True) == ([], [])
    assert difference([(1.001,)], [(1.0,)], approx=True) == ([(1.001,)], [(1.0,)])
    assert difference([(-0.0,)], [(0.0,)], approx=False) == ([], [])


def test_decimals_compare_by_value():
    assert difference([(Decimal("2.50"),)], [(Decimal("2.5"),)], approx=True) == ([], [])
    assert difference([(Decimal("2.51"),)], [(Decimal("2.5"),)], approx=True) != ([], [])


def test_approx_rows_still_match_their_exact_columns():
    actual = [("a", 1.0), ("b", 2.0)]
    assert difference(actual, [("a", 2.0), ("b", 1.0)], approx=True) == (
        actual,
        [("a", 2.0), ("b", 1.0)],
    )


def test_assert_same_rows_reports_both_sides():
    with pytest.raises(AssertionError, match=r"unexpected: \[\(2,\)\]\n  missing:    \[\(3,\)\]"):
        assert_same_rows(pa.table({"x": [1, 2]}), pa.table({"x": [1, 3]}), False, "t")
