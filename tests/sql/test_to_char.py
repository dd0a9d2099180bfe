"""to_char with PostgreSQL's template patterns: tidal's answers against PostgreSQL 15's.

The expected strings were printed by PostgreSQL 15.18 for the same timestamps and formats
(``SELECT to_char(TIMESTAMP '...', '...')``); tidal must print the same, in an ad hoc query
and in a materialized view maintained through inserts, updates and deletes, and refuse by name
what it cannot translate."""

from __future__ import annotations

import pytest

from tidal.engine import Database
from tidal.sql.errors import SqlError

STAMPS = [
    "2024-03-04 13:45:06.0891",
    "1999-12-31 00:00:00",
    "0099-01-01 12:00:00.5",
    "2021-01-03 23:59:59.999999",
    "2024-12-30 08:05:09.000001",
    "2023-07-16 00:30:00",
]

# format -> PostgreSQL's to_char of each of STAMPS
POSTGRES = {
    "HH:MI": ["01:45", "12:00", "12:00", "11:59", "08:05", "12:30"],
    "HH12:MI:SS AM": [
        "01:45:06 PM",
        "12:00:00 AM",
        "12:00:00 PM",
        "11:59:59 PM",
        "08:05:09 AM",
        "12:30:00 AM",
    ],
    "HH24:MI:SS.MS": [
        "13:45:06.089",
        "00:00:00.000",
        "12:00:00.500",
        "23:59:59.999",
        "08:05:09.000",
        "00:30:00.000",
    ],
    "HH24:MI:SS.US": [
        "13:45:06.089100",
        "00:00:00.000000",
        "12:00:00.500000",
        "23:59:59.999999",
        "08:05:09.000001",
        "00:30:00.000000",
    ],
    "FMHH:FMMI:FMSS": ["1:45:6", "12:0:0", "12:0:0", "11:59:59", "8:5:9", "12:30:0"],
    "FMHH24 FMHH12": ["13 1", "0 12", "12 12", "23 11", "8 8", "0 12"],
    "FF1 FF2 FF3 FF4 FF5 FF6": [
        "0 08 089 0891 08910 089100",
        "0 00 000 0000 00000 000000",
        "5 50 500 5000 50000 500000",
        "9 99 999 9999 99999 999999",
        "0 00 000 0000 00000 000001",
        "0 00 000 0000 00000 000000",
    ],
    "SSSS SSSSS": ["49506 49506", "0 0", "43200 43200", "86399 86399", "29109 29109", "1800 1800"],
    "YYYY YYY YY Y": [
        "2024 024 24 4",
        "1999 999 99 9",
        "0099 099 99 9",
        "2021 021 21 1",
        "2024 024 24 4",
        "2023 023 23 3",
    ],
    "FMYYYY FMYY": ["2024 24", "1999 99", "99 99", "2021 21", "2024 24", "2023 23"],
    "IYYY IYY IY I IW ID": [
        "2024 024 24 4 10 1",
        "1999 999 99 9 52 5",
        "0099 099 99 9 01 4",
        "2020 020 20 0 53 7",
        "2025 025 25 5 01 1",
        "2023 023 23 3 28 7",
    ],
    "FMIYYY FMIW": ["2024 10", "1999 52", "99 1", "2020 53", "2025 1", "2023 28"],
    "MM DD DDD": ["03 04 064", "12 31 365", "01 01 001", "01 03 003", "12 30 365", "07 16 197"],
    "FMMM/FMDD/FMDDD": ["3/4/64", "12/31/365", "1/1/1", "1/3/3", "12/30/365", "7/16/197"],
    "D W WW CC Q J": [
        "2 1 10 21 1 2460374",
        "6 5 53 20 4 2451544",
        "5 1 01 01 1 1757220",
        "1 1 01 21 1 2459218",
        "2 5 53 21 4 2460675",
        "1 3 29 21 3 2460142",
    ],
    "FMWW FMCC": ["10 21", "53 20", "1 1", "1 21", "53 21", "29 21"],
    "Month|MONTH|month": [
        "March    |MARCH    |march    ",
        "December |DECEMBER |december ",
        "January  |JANUARY  |january  ",
        "January  |JANUARY  |january  ",
        "December |DECEMBER |december ",
        "July     |JULY     |july     ",
    ],
    "FMMonth|FMMONTH|FMmonth": [
        "March|MARCH|march",
        "December|DECEMBER|december",
        "January|JANUARY|january",
        "January|JANUARY|january",
        "December|DECEMBER|december",
        "July|JULY|july",
    ],
    "Mon MON mon": [
        "Mar MAR mar",
        "Dec DEC dec",
        "Jan JAN jan",
        "Jan JAN jan",
        "Dec DEC dec",
        "Jul JUL jul",
    ],
    "Day|DAY|day": [
        "Monday   |MONDAY   |monday   ",
        "Friday   |FRIDAY   |friday   ",
        "Thursday |THURSDAY |thursday ",
        "Sunday   |SUNDAY   |sunday   ",
        "Monday   |MONDAY   |monday   ",
        "Sunday   |SUNDAY   |sunday   ",
    ],
    "FMDay FMDAY FMday": [
        "Monday MONDAY monday",
        "Friday FRIDAY friday",
        "Thursday THURSDAY thursday",
        "Sunday SUNDAY sunday",
        "Monday MONDAY monday",
        "Sunday SUNDAY sunday",
    ],
    "Dy DY dy": [
        "Mon MON mon",
        "Fri FRI fri",
        "Thu THU thu",
        "Sun SUN sun",
        "Mon MON mon",
        "Sun SUN sun",
    ],
    "RM rm FMRM": [
        "III  iii  III",
        "XII  xii  XII",
        "I    i    I",
        "I    i    I",
        "XII  xii  XII",
        "VII  vii  VII",
    ],
    "AM PM am pm A.M. P.M. a.m. p.m.": [
        "PM PM pm pm P.M. P.M. p.m. p.m.",
        "AM AM am am A.M. A.M. a.m. a.m.",
        "PM PM pm pm P.M. P.M. p.m. p.m.",
        "PM PM pm pm P.M. P.M. p.m. p.m.",
        "AM AM am am A.M. A.M. a.m. a.m.",
        "AM AM am am A.M. A.M. a.m. a.m.",
    ],
    "AD BC ad bc A.D. B.C. a.d. b.c.": [
        "AD AD ad ad A.D. A.D. a.d. a.d.",
        "AD AD ad ad A.D. A.D. a.d. a.d.",
        "AD AD ad ad A.D. A.D. a.d. a.d.",
        "AD AD ad ad A.D. A.D. a.d. a.d.",
        "AD AD ad ad A.D. A.D. a.d. a.d.",
        "AD AD ad ad A.D. A.D. a.d. a.d.",
    ],
    "TMMonth TMDay TMHH24": [
        "March Monday 13",
        "December Friday 00",
        "January Thursday 12",
        "January Sunday 23",
        "December Monday 08",
        "July Sunday 00",
    ],
    "hh:mi:ss yyyy-mm-dd": [
        "01:45:06 2024-03-04",
        "12:00:00 1999-12-31",
        "12:00:00 0099-01-01",
        "11:59:59 2021-01-03",
        "08:05:09 2024-12-30",
        "12:30:00 2023-07-16",
    ],
    '"Hour" HH24 "is \\"x\\"" 100%': [
        'Hour 13 is "x" 100%',
        'Hour 00 is "x" 100%',
        'Hour 12 is "x" 100%',
        'Hour 23 is "x" 100%',
        'Hour 08 is "x" 100%',
        'Hour 00 is "x" 100%',
    ],
    'YYYY-MM-DD"T"HH24:MI:SS': [
        "2024-03-04T13:45:06",
        "1999-12-31T00:00:00",
        "0099-01-01T12:00:00",
        "2021-01-03T23:59:59",
        "2024-12-30T08:05:09",
        "2023-07-16T00:30:00",
    ],
    "FXYYYY": ["2024", "1999", "0099", "2021", "2024", "2023"],
    "Q-YYYY": ["1-2024", "4-1999", "1-0099", "1-2021", "4-2024", "3-2023"],
}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def db():
    db = Database()
    db.execute("CREATE TABLE t (i INTEGER, ts TIMESTAMP)")
    rows = ", ".join(f"({i}, TIMESTAMP '{s}')" for i, s in enumerate(STAMPS))
    db.execute(f"INSERT INTO t VALUES {rows}, (99, NULL)")
    return db


@pytest.mark.parametrize("form", list(POSTGRES))
def test_ad_hoc_query_prints_what_postgresql_prints(db, form):
    got = db.execute(f"SELECT to_char(ts, {_quoted(form)}) FROM t ORDER BY i").column(0)
    assert got.to_pylist() == [*POSTGRES[form], None]


def test_the_issue_example_is_no_longer_hh_45(db):
    got = db.execute("SELECT to_char(TIMESTAMP '2024-03-04 13:45:06', 'HH:MI')").column(0)
    assert got.to_pylist() == ["01:45"]


def test_a_date_prints_as_its_midnight(db):
    got = db.execute("SELECT to_char(DATE '2024-03-04', 'FMDay DD Mon YYYY HH24:MI')").column(0)
    assert got.to_pylist() == ["Monday 04 Mar 2024 00:00"]


def test_a_view_is_maintained_through_changes(db):
    """Every format in one view, created before the rows, then the rows changed."""
    db = Database()
    db.execute("CREATE TABLE t (i INTEGER, ts TIMESTAMP)")
    columns = ", ".join(f"to_char(ts, {_quoted(f)}) AS c{n}" for n, f in enumerate(POSTGRES))
    db.execute(f"CREATE MATERIALIZED VIEW v AS SELECT i, {columns} FROM t")
    rows = ", ".join(f"({i}, TIMESTAMP '{s}')" for i, s in enumerate(STAMPS))
    db.execute(f"INSERT INTO t VALUES {rows}")
    db.execute("UPDATE t SET ts = TIMESTAMP '2024-03-04 13:45:06.0891' WHERE i = 1")
    db.execute("DELETE FROM t WHERE i = 2")
    view = db.execute("SELECT * FROM v ORDER BY i").to_pylist()
    expected_stamps = {0: 0, 1: 0, 3: 3, 4: 4, 5: 5}  # row i -> the stamp it holds now
    assert [r["i"] for r in view] == list(expected_stamps)
    for row in view:
        stamp = expected_stamps[row["i"]]
        assert [row[f"c{n}"] for n in range(len(POSTGRES))] == [
            values[stamp] for values in POSTGRES.values()
        ]


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ("DDth", "'th'"),
        ("DDTH", "'TH'"),
        ("HH24 TZ", "'TZ'"),
        ("OF", "'OF'"),
        ("TZH:TZM", "'TZH'"),
        ("FMMS", "'FMMS'"),
        ("FMUS", "'FMUS'"),
        ("IDDD", "'IDDD'"),
        ("Y,YYY", "'Y,YYY'"),
        ("DDSP", "'SP'"),
    ],
)
def test_a_pattern_without_translation_is_refused_by_name(db, form, named):
    with pytest.raises(SqlError) as error:
        db.execute(f"SELECT to_char(ts, {_quoted(form)}) FROM t")
    assert error.value.sqlstate == "0A000"
    assert f"pattern {named}" in str(error.value)


def test_a_format_that_is_not_a_constant_is_refused(db):
    with pytest.raises(SqlError, match="not a constant") as error:
        db.execute("SELECT to_char(ts, CAST(i AS VARCHAR)) FROM t")
    assert error.value.sqlstate == "0A000"


def test_a_plain_view_keeps_its_meaning_through_its_definitions_text(db):
    """A view keeps its definition as text in tidal's dialect: printed and parsed again, the
    translation must print the same (sqlglot prints strftime as TO_CHAR of its own format)."""
    columns = ", ".join(f"to_char(ts, {_quoted(f)}) AS c{n}" for n, f in enumerate(POSTGRES))
    db.execute(f"CREATE VIEW texts AS SELECT i, {columns} FROM t")
    view = db.execute("SELECT * FROM texts WHERE i < 99 ORDER BY i").to_pylist()
    for row in view:
        assert [row[f"c{n}"] for n in range(len(POSTGRES))] == [
            values[row["i"]] for values in POSTGRES.values()
        ]
