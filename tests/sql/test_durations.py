"""Durations written as text (FETCH's timeout, a source's idle_timeout): one parser,
sql.intervals.duration_seconds, reading them as DuckDB reads an INTERVAL."""

from __future__ import annotations

import pytest

from tidal.catalog.sqlstate import INVALID_PARAMETER_VALUE
from tidal.sql.errors import SqlError
from tidal.sql.intervals import duration_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("500ms", 0.5),
        ("10 milliseconds", 0.01),
        ("1.5s", 1.5),
        ("2 minutes", 120.0),
        ("2 mins", 120.0),
        ("2m", 120.0),
        ("1h", 3600.0),
        ("3 hours", 10800.0),
        ("1", 1.0),  # a bare number is seconds
        (" 0.25 ", 0.25),
        ("01:30:00", 5400.0),
        ("1 hour 30 minutes", 5400.0),
    ],
)
def test_durations_in_the_units_people_write(text, seconds):
    assert duration_seconds(text, "timeout") == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["2x", "", "soon", "1 month", "1 year", "'); SELECT 1; --"])
def test_what_is_no_fixed_duration_is_an_error_naming_the_option(text):
    with pytest.raises(SqlError) as caught:
        duration_seconds(text, "FETCH timeout")
    assert caught.value.sqlstate == INVALID_PARAMETER_VALUE
    assert caught.value.message.startswith(f"FETCH timeout {text!r} is not a duration")


def test_a_negative_duration_is_refused():
    with pytest.raises(SqlError, match="cannot be negative") as caught:
        duration_seconds("-1s", "timeout")
    assert caught.value.sqlstate == INVALID_PARAMETER_VALUE
