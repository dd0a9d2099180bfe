"""The settings of other engines that tidal knows: a SET that asks for what tidal already does
is accepted, any other value is refused naming the value tidal uses.

Scripts written for DuckDB, PostgreSQL or RisingWave start with settings. Some choose a
behaviour tidal has fixed (DuckDB's ``integer_division``, the NULL order, the time zone, a
RisingWave DML that returns once its changes are visible); the others tune how RisingWave runs
(parallelism, join encodings, caches) and never change an answer: tidal accepts any value of
those and ignores it. A setting not in this table is not one tidal knows (42704). The settings
a pgwire client sets for its own session (client_encoding, DateStyle, ...) are the pgwire
server's (tidal.shell.pgwire.settings); it asks this table about every other name.

    >>> checked("integer_division", "on")
    'true'
    >>> checked("RW_IMPLICIT_FLUSH", "true")
    'true'
    >>> checked("streaming_parallelism", "4")
    '4'
    >>> checked("default_null_order", "nulls_first")
    Traceback (most recent call last):
    ...
    tidal.sql.errors.SqlError: not supported: SET default_null_order = 'nulls_first': tidal sorts NULLs last ascending and first descending, as PostgreSQL does (default_null_order = 'nulls_last_on_asc_first_on_desc')
"""

from __future__ import annotations

from dataclasses import dataclass

from tidal.catalog.sqlstate import UNDEFINED_OBJECT
from tidal.sql.errors import SqlError, unsupported

_TRUE = ("true", "on", "yes", "1", "t", "y")
_FALSE = ("false", "off", "no", "0", "f", "n")


@dataclass(frozen=True)
class FixedSetting:
    """A setting whose value is tidal's behaviour: ``value`` as SHOW prints it, ``spellings``
    (lower case) that mean the same, and ``behaviour``, what tidal does, for the refusal."""

    name: str
    value: str
    spellings: tuple[str, ...]
    behaviour: str


def _boolean(name: str, value: bool, behaviour: str) -> FixedSetting:
    return FixedSetting(name, "true" if value else "false", _TRUE if value else _FALSE, behaviour)


FIXED = {
    s.name.lower(): s
    for s in (
        _boolean("integer_division", True, "tidal's / on two integers truncates, as PostgreSQL's"),
        FixedSetting(
            "default_null_order",
            "nulls_last_on_asc_first_on_desc",
            ("nulls_last_on_asc_first_on_desc", "postgres"),
            "tidal sorts NULLs last ascending and first descending, as PostgreSQL does",
        ),
        FixedSetting(
            "TimeZone",
            "UTC",
            ("utc", "etc/utc", "gmt", "z", "zulu", "uct", "universal", "local", "+00:00", "0"),
            "tidal's timestamps with time zone are shown in UTC here (a pgwire client may SET "
            "its own time zone)",
        ),
        _boolean(
            "rw_implicit_flush",
            True,
            "a tidal DML statement returns once its changes are in every view",
        ),
        _boolean(
            "implicit_flush",
            True,
            "a tidal DML statement returns once its changes are in every view",
        ),
        _boolean(
            "background_ddl",
            False,
            "CREATE MATERIALIZED VIEW returns once the view holds its inputs' current rows",
        ),
        _boolean("rw_streaming_allow_jsonb_in_stream_key", True, "any column may be in a key"),
    )
}

# RisingWave's knobs for how a query runs, never what it answers: any value is accepted.
TUNING = frozenset(
    {
        "streaming_parallelism",
        "streaming_parallelism_for_table",
        "streaming_parallelism_for_source",
        "streaming_parallelism_for_sink",
        "streaming_parallelism_for_index",
        "streaming_parallelism_for_materialized_view",
        "streaming_max_parallelism",
        "batch_parallelism",
        "query_mode",
        "rw_streaming_enable_delta_join",
        "rw_streaming_enable_bushy_join",
        "rw_enable_join_ordering",
        "rw_enable_two_phase_agg",
        "rw_force_two_phase_agg",
        "enable_two_phase_agg",
        "rw_force_split_distinct_agg",
        "rw_enable_share_plan",
        "rw_batch_enable_lookup_join",
        "rw_batch_enable_sort_agg",
        "batch_enable_distributed_dml",
        "streaming_join_encoding",
        "streaming_enable_unaligned_join",
        "streaming_asof_join_use_cache",
        "streaming_over_window_cache_policy",
        "rw_streaming_over_window_cache_policy",
        "streaming_use_arrangement_backfill",
        "streaming_use_snapshot_backfill",
        "streaming_enable_materialized_expressions",
    }
)


def spelled(name: str) -> str | None:
    """A setting's name as this table spells it (``TimeZone``), None when it has no such."""
    key = name.lower()
    if key in FIXED:
        return FIXED[key].name
    return key if key in TUNING else None


def default(name: str) -> str:
    """What SHOW prints for a setting of this table that was not SET."""
    fixed = FIXED.get(name.lower())
    return fixed.value if fixed else ""


def checked(name: str, value: str | None) -> str:
    """The value SHOW prints after ``SET name = value`` (None: DEFAULT); a value that is not
    tidal's behaviour raises 0A000, an unknown name 42704."""
    key = name.lower()
    if key in TUNING:
        return value or ""
    setting = FIXED.get(key)
    if setting is None:
        raise SqlError(f'unrecognized configuration parameter "{name}"', sqlstate=UNDEFINED_OBJECT)
    if value is None or value.strip().lower() in setting.spellings:
        return setting.value
    raise unsupported(
        f"SET {setting.name} = {value!r}: {setting.behaviour} ({setting.name} = {setting.value!r})"
    )
