"""Session settings: what a client may SET, SHOW and RESET, and which are reported to it.

Only settings PostgreSQL has (and custom ``prefix.name`` ones) are accepted, so that no client
can reach DuckDB's own settings through SET. Values that would change how values are printed
are checked: tidal always speaks UTF8, ISO dates and the ``postgres`` interval style.

    >>> settings = Settings()
    >>> settings.set("TimeZone", "Europe/Paris")
    >>> settings.get("timezone"), settings.take_changed()
    ('Europe/Paris', [('TimeZone', 'Europe/Paris')])
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field

from tidal.catalog.sqlstate import (
    CANT_CHANGE_RUNTIME_PARAM,
    FEATURE_NOT_SUPPORTED,
    INVALID_PARAMETER_VALUE,
    UNDEFINED_OBJECT,
)
from tidal.shell.pgwire.error_responses import ServerError
from tidal.sql import known_settings

SERVER_VERSION = "15.0"
VERSION = f"PostgreSQL {SERVER_VERSION} (tidal, a streaming SQL engine) on x86_64-pc-linux-gnu"

# Settings a client may read and set, with their defaults; names are case-insensitive.
DEFAULTS = {
    "application_name": "",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "IntervalStyle": "postgres",
    "TimeZone": "UTC",
    "extra_float_digits": "1",
    "search_path": '"$user", public',
    "statement_timeout": "0",
    "lock_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "idle_session_timeout": "0",
    "client_min_messages": "notice",
    "standard_conforming_strings": "on",
    "bytea_output": "hex",
    "default_transaction_isolation": "read committed",
    "transaction_isolation": "read committed",
    "default_transaction_read_only": "off",
    "transaction_read_only": "off",
    "default_transaction_deferrable": "off",
    "transaction_deferrable": "off",
    "server_version": SERVER_VERSION,
    "server_version_num": "150000",
    "server_encoding": "UTF8",
    "integer_datetimes": "on",
    "is_superuser": "on",
    "session_authorization": "",
    "in_hot_standby": "off",
    "max_identifier_length": "63",
    "lc_collate": "C",
    "lc_ctype": "C",
    "lc_messages": "C",
    "lc_monetary": "C",
    "lc_numeric": "C",
    "lc_time": "C",
    "jit": "off",
    "synchronous_commit": "on",
    "row_security": "on",
    "escape_string_warning": "on",
    "array_nulls": "on",
    "backslash_quote": "safe_encoding",
    "work_mem": "4MB",
    "geqo": "on",
    "join_collapse_limit": "8",
    "from_collapse_limit": "8",
    "cursor_tuple_fraction": "0.1",
    "plan_cache_mode": "auto",
    "max_parallel_workers_per_gather": "2",
    "session_replication_role": "origin",
    "xmloption": "content",
    "timezone_abbreviations": "Default",
    "default_text_search_config": "pg_catalog.english",
    "tcp_keepalives_idle": "0",
    "tcp_keepalives_interval": "0",
    "tcp_keepalives_count": "0",
}
_CANONICAL = {name.lower(): name for name in DEFAULTS}

# Sent as ParameterStatus at startup and whenever they change (what libpq, JDBC and asyncpg read).
REPORTED = (
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
)
READ_ONLY = {
    "server_version",
    "server_version_num",
    "server_encoding",
    "integer_datetimes",
    "is_superuser",
    "in_hot_standby",
    "max_identifier_length",
    "lc_collate",
    "lc_ctype",
    "session_authorization",
}
_UTC_NAMES = {"utc", "etc/utc", "gmt", "z", "zulu", "uct", "default", "local", "universal"}


def canonical(name: str) -> str | None:
    """A setting's canonical name; custom ``prefix.name`` settings are their own, and the
    engine's settings (tidal.sql.known_settings) are known too."""
    name = name.strip('"')
    if name.lower() in _CANONICAL:
        return _CANONICAL[name.lower()]
    if known_settings.spelled(name):
        return known_settings.spelled(name)
    return name.lower() if "." in name.strip(".") and not name.startswith(".") else None


def _only(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value.upper().replace("-", "") in allowed:
        return allowed[0]
    raise ServerError(
        f"{what} {value!r} is not supported: tidal uses {allowed[0]}", FEATURE_NOT_SUPPORTED
    )


def _timezone(value: str) -> str:
    if value.lower() in _UTC_NAMES:
        return "UTC"
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ServerError(
            f'invalid value for parameter "TimeZone": {value!r}', INVALID_PARAMETER_VALUE
        ) from None
    return value


def _date_style(value: str) -> str:
    parts = [p.strip().upper() for p in value.split(",")]
    if "ISO" not in parts or any(p not in ("ISO", "MDY", "DMY", "YMD") for p in parts):
        raise ServerError(
            f"DateStyle {value!r} is not supported: tidal prints ISO dates", FEATURE_NOT_SUPPORTED
        )
    order = next((p for p in parts if p != "ISO"), "MDY")
    return f"ISO, {order}"


def _float_digits(value: str) -> str:
    try:
        digits = int(value)
    except ValueError:
        digits = None
    if digits is None or not -15 <= digits <= 3:
        raise ServerError(
            f'invalid value for parameter "extra_float_digits": {value!r} (an integer from '
            "-15 to 3)",
            INVALID_PARAMETER_VALUE,
        )
    return str(digits)


# PostgreSQL's units of time settings, in milliseconds, the largest first (how SHOW prints them).
_TIME_UNITS = {"d": 86_400_000, "h": 3_600_000, "min": 60_000, "s": 1000, "ms": 1}
_TIME = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*", re.IGNORECASE)


def milliseconds(value: str) -> int:
    """A time setting's value in milliseconds (a bare number is milliseconds, as in
    PostgreSQL).

    >>> milliseconds("1.5s"), milliseconds("250"), milliseconds("2min")
    (1500, 250, 120000)
    """
    match = _TIME.fullmatch(value)
    if match is None:
        raise ServerError(
            f"invalid value for a time setting: {value!r} (e.g. 5000, '5s', '2min')",
            INVALID_PARAMETER_VALUE,
        )
    number, unit = match.groups()
    return round(float(number) * _TIME_UNITS[(unit or "ms").lower()])


def _duration(value: str) -> str:
    """A time setting as PostgreSQL shows it: in the largest unit that divides it."""
    ms = milliseconds(value)
    unit = next(u for u, size in _TIME_UNITS.items() if ms % size == 0)
    return "0" if ms == 0 else f"{ms // _TIME_UNITS[unit]}{unit}"


_VALIDATORS = {
    "statement_timeout": _duration,
    "client_encoding": lambda v: _only(v, ("UTF8", "UNICODE"), "client_encoding"),
    "TimeZone": _timezone,
    "DateStyle": _date_style,
    "IntervalStyle": lambda v: _only(v, ("POSTGRES",), "IntervalStyle").lower(),
    "standard_conforming_strings": lambda v: _only(
        v, ("ON", "TRUE"), "standard_conforming_strings"
    ).lower(),
    "bytea_output": lambda v: _only(v, ("HEX",), "bytea_output").lower(),
    "extra_float_digits": _float_digits,
}


@dataclass
class Settings:
    """A session's settings: defaults, then the startup packet's values, then SETs."""

    startup: dict[str, str] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    changed: set[str] = field(default_factory=set)  # reported ones to send as ParameterStatus
    version: int = 0  # counts changes, so what depends on the values can be kept until then

    def get(self, name: str) -> str | None:
        key = canonical(name)
        if key is None:
            return None
        if key not in DEFAULTS and known_settings.spelled(key):
            return self.values.get(key, known_settings.default(key))
        return self.values.get(key, self.startup.get(key, DEFAULTS.get(key)))

    def set(self, name: str, value: str | None, at_startup: bool = False) -> None:
        """Set (None: reset) a setting; unknown names and bad values raise ServerError."""
        key = canonical(name)
        if key is None:
            raise ServerError(f'unrecognized configuration parameter "{name}"', UNDEFINED_OBJECT)
        if key in READ_ONLY and not at_startup:
            raise ServerError(f'parameter "{key}" cannot be changed', CANT_CHANGE_RUNTIME_PARAM)
        if value is not None and key in _VALIDATORS:
            value = _VALIDATORS[key](value)
        elif value is not None and key not in DEFAULTS and known_settings.spelled(key):
            value = known_settings.checked(key, value)
        target = self.startup if at_startup else self.values
        self.version += 1
        if value is None:
            self.values.pop(key, None)
        else:
            target[key] = value
        if key in REPORTED:
            self.changed.add(key)

    @property
    def statement_timeout(self) -> float | None:
        """Seconds a statement may run (``statement_timeout``); None: no limit."""
        ms = milliseconds(self.get("statement_timeout") or "0")
        return ms / 1000 if ms else None

    def reset_all(self) -> None:
        self.version += 1
        for key in list(self.values):
            if key in REPORTED:
                self.changed.add(key)
        self.values.clear()

    def take_changed(self) -> list[tuple[str, str]]:
        if not self.changed:
            return []
        changed = [(k, self.get(k) or "") for k in REPORTED if k in self.changed]
        self.changed.clear()
        return changed

    def all(self) -> list[tuple[str, str]]:
        names = sorted({*DEFAULTS, *self.startup, *self.values}, key=str.lower)
        return [(name, self.get(name) or "") for name in names]
