"""The nexmark source: the Nexmark benchmark's person, auction and bid streams.

One generator numbers events 0, 1, 2, ...; event ``n`` is a person, an auction or a bid by
``n % 50`` (1 : 3 : 46 by default), and its time is ``base_time + n / first_event_rate``
(milliseconds). A source declares one stream (``kind``) and gets the events of that kind, so
three sources created with the same options see one consistent world: bids name auctions and
people that exist (or are about to). The behaviour follows Beam's generator
(../shared/nexmark/GENERATOR.md in the tidal repository's workspace): the same id helpers,
hot sellers, bidders, auctions and channels, prices, string lengths and auction lengths.

Every value is a counter-based hash of (seed, event number, field), computed for whole batches
with numpy: the events are identical whatever the poll sizes and across runs, so batch mode and
the engine see the same data. Only the columns a source declares are generated.

Options: ``kind`` (person | auction | bid, required), ``events`` (how many events the generator
numbers, all kinds together; default unbounded), ``events_per_second`` (pacing, default 0 =
as fast as possible), ``first_event_rate`` (events per second of event time, default 10000),
``base_time`` (default 2015-07-15 00:00:00), ``person_proportion`` / ``auction_proportion`` /
``bid_proportion`` (1 / 3 / 46), ``hot_auction_ratio`` (2), ``hot_bidders_ratio`` (4),
``hot_sellers_ratio`` (4), ``seed`` (0).
"""

from __future__ import annotations

import datetime
import math
import pathlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.lib.stride_tricks import sliding_window_view

from tidal.catalog.objects import Source
from tidal.engine.connectors.base import (
    ConnectorError,
    SourceReader,
    canonical_options,
    check_known,
    choice,
    required,
)

_KINDS = {"person": "person", "auction": "auction", "bid": "bid"}
# Flink's and RisingWave's names for some options
OPTION_ALIASES = {"nexmark.table.type": "kind", "nexmark.event.num": "events"}
_OPTIONS = {
    "connector",
    "kind",
    "events",
    "events_per_second",
    "first_event_rate",
    "base_time",
    "person_proportion",
    "auction_proportion",
    "bid_proportion",
    "hot_auction_ratio",
    "hot_bidders_ratio",
    "hot_sellers_ratio",
    "seed",
}
FIELDS = {
    "person": ("id", "name", "email_address", "credit_card", "city", "state", "date_time", "extra"),
    "auction": (
        "id",
        "item_name",
        "description",
        "initial_bid",
        "reserve",
        "date_time",
        "expires",
        "seller",
        "category",
        "extra",
    ),
    "bid": ("auction", "bidder", "price", "channel", "url", "date_time", "extra"),
}
FIRST_PERSON_ID = 1000
FIRST_AUCTION_ID = 1000
FIRST_CATEGORY_ID = 10
NUM_CATEGORIES = 5
ACTIVE_PEOPLE = 1000
IN_FLIGHT_AUCTIONS = 100
ID_LEAD = 10
HOT_RATIO = 100  # hot sellers, bidders and auctions are multiples of this
CHANNELS = 10_000
_FIRST_NAMES = [
    "Peter",
    "Paul",
    "Luke",
    "John",
    "Saul",
    "Vicky",
    "Kate",
    "Julie",
    "Sarah",
    "Deiter",
    "Walter",
]
_LAST_NAMES = [
    "Shultz",
    "Abrams",
    "Spencer",
    "White",
    "Bartels",
    "Walton",
    "Smith",
    "Jones",
    "Noris",
]
_CITIES = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
]
_STATES = ["AZ", "CA", "ID", "OR", "WA", "WY"]
_HOT_CHANNELS = ("Google", "Facebook", "Baidu", "Apple")
_LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_POOL_BYTES = 1 << 20


@dataclass(frozen=True)
class Config:
    kind: str
    events: int | None
    events_per_second: float
    first_event_rate: float
    base_time_ms: int
    proportions: tuple[int, int, int]  # person, auction, bid
    hot_auction_ratio: int
    hot_bidders_ratio: int
    hot_sellers_ratio: int
    seed: int

    @property
    def total(self) -> int:
        return sum(self.proportions)

    def rows_in(self, events: int) -> int:
        """How many of the events numbered ``0 .. events - 1`` are of this source's kind (the
        rows it generates out of ``events`` events): event ``n`` is of the kind whose share of
        ``0 .. total - 1`` holds ``n % total``."""
        kind = _KIND_INDEX[self.kind]
        first = sum(self.proportions[:kind])
        offsets = np.arange(first, first + self.proportions[kind])
        return int(np.maximum(0, -(-(events - offsets) // self.total)).sum())


def open_nexmark(
    source: Source,
    base_dir: pathlib.Path | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> NexmarkSource:
    what = f"{source.kind} {source.name} (connector 'nexmark')"
    options = canonical_options(what, source.options, OPTION_ALIASES)
    check_known(what, options, _OPTIONS)
    config = nexmark_config(options, what)
    fields = FIELDS[config.kind]
    for column in source.columns:
        if _field_name(column.name) not in {_field_name(f) for f in fields}:
            raise ConnectorError(
                f"{what}: column {column.name!r} is not a field of a {config.kind}; fields: "
                f"{', '.join(fields)}"
            )
    return NexmarkSource(source.arrow_schema(), config, clock, source.name)


def nexmark_config(options: Mapping[str, str], what: str = "nexmark source") -> Config:
    """A source's generator settings from its options (under their canonical names, see
    ``OPTION_ALIASES``; options of other kinds are ignored here). ConnectorError if one is bad.

    >>> nexmark_config({"kind": "bid", "events": "100"}).rows_in(100)
    92
    """
    required(what, options, "kind", "person, auction or bid")
    kind = choice(what, options, "kind", _KINDS)

    def number(key: str, default: str, kind_=int, low=0):
        text = options.get(key, default)
        try:
            value = kind_(text)
        except ValueError:
            raise ConnectorError(f"{what}: {key} = '{text}' is not a number") from None
        if value < low:
            raise ConnectorError(f"{what}: {key} must be at least {low}, got {text}")
        return value

    try:
        base = datetime.datetime.fromisoformat(options.get("base_time", "2015-07-15 00:00:00"))
    except ValueError:
        raise ConnectorError(
            f"{what}: base_time = '{options['base_time']}' is not a timestamp "
            "(e.g. '2015-07-15 00:00:00')"
        ) from None
    base = base.replace(tzinfo=base.tzinfo or datetime.UTC)
    config = Config(
        kind=kind,
        events=number("events", "-1", low=-1) if "events" in options else None,
        events_per_second=number("events_per_second", "0", float),
        first_event_rate=number("first_event_rate", "10000", float, low=1),
        base_time_ms=int(base.timestamp() * 1000),
        proportions=(
            number("person_proportion", "1"),
            number("auction_proportion", "3"),
            number("bid_proportion", "46"),
        ),
        hot_auction_ratio=number("hot_auction_ratio", "2", low=1),
        hot_bidders_ratio=number("hot_bidders_ratio", "4", low=1),
        hot_sellers_ratio=number("hot_sellers_ratio", "4", low=1),
        seed=number("seed", "0", low=-(1 << 63)),
    )
    if config.proportions[_KIND_INDEX[kind]] == 0:
        raise ConnectorError(f"{what}: {kind}_proportion is 0, so this source would be empty")
    if config.proportions[0] == 0 or config.proportions[1] == 0:
        raise ConnectorError(f"{what}: person_proportion and auction_proportion must be positive")
    return config


_KIND_INDEX = {"person": 0, "auction": 1, "bid": 2}


def _field_name(name: str) -> str:
    """Flink's camelCase and RisingWave's snake_case name the same field."""
    return name.lower().replace("_", "")


class NexmarkSource(SourceReader):
    """Events of one kind, on demand; its position is the next event number to look at."""

    def __init__(
        self,
        schema: pa.Schema,
        config: Config,
        clock: Callable[[], float] = time.monotonic,
        name: str = "",
    ) -> None:
        self.schema, self.config, self.errors, self.name = schema, config, [], name
        self.bounded = config.events is not None
        self.generator = Generator(config)
        self._clock = clock
        self._next = 0  # event number
        self._started: tuple[float, int] | None = None

    def poll(self, max_rows: int, drain: bool = False) -> pa.Table | None:
        config = self.config
        share = config.proportions[_KIND_INDEX[config.kind]]
        end = self._next + max(1, max_rows * config.total // share)
        if config.events is not None:
            end = min(end, config.events)
        if config.events_per_second > 0 and not (drain and self.bounded):
            end = min(end, self._due())
        if end <= self._next:
            return None
        first, self._next = self._next, end
        return self.generator.events(first, end, self.schema)

    def _due(self) -> int:
        now = self._clock()
        if self._started is None:
            self._started = (now, self._next)
        started_at, next_then = self._started
        return next_then + math.floor(self.config.events_per_second * (now - started_at) + 1e-9)

    def progress(self) -> tuple[int, int] | None:
        events = self.config.events
        return None if events is None else (self._next, events)

    def snapshot(self) -> dict:
        return {"next_event": self._next}

    def restore(self, state: dict) -> None:
        self._next = int(state["next_event"])
        self._started = None

    def replay(self, position: dict) -> pa.Table | None:
        """Events up to event number ``position["next_event"]``, without the pacing."""
        end = int(position["next_event"])
        events = self.config.events
        if end < self._next or (events is not None and end > events):
            raise ConnectorError(
                f"source {self.name}: cannot replay up to event {end}: it is at event "
                f"{self._next} of {'unbounded' if events is None else events}"
            )
        first, self._next = self._next, end
        self._started = None
        return self.generator.events(first, end, self.schema) if end > first else None


class Generator:
    """Nexmark events as Arrow columns, for event numbers ``first`` .. ``end - 1``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.seed = np.uint64(config.seed & ((1 << 64) - 1))
        # Strings are slices of fixed pools of random characters (as nexmark-flink does): a
        # slice per event at a hashed start, so building one costs the same at any length.
        self.letters = _pool(self.seed, 1)
        self.text_pools = {" ": _pool(self.seed, 2, " "), "_": _pool(self.seed, 3, "_")}
        # Channels and their URLs: the hot ones first, then channel-0 .. channel-9999.
        hot = np.arange(len(_HOT_CHANNELS), dtype=np.uint64)
        channel = np.arange(CHANNELS, dtype=np.uint64)
        self.channel_names = pa.array(
            list(_HOT_CHANNELS) + [f"channel-{i}" for i in range(CHANNELS)], pa.string()
        )
        self.channel_urls = pa.concat_arrays(
            [self._urls(hot, 3, with_channel_id=False), self._urls(channel, 2)]
        )

    # --- events ---

    def events(self, first: int, end: int, schema: pa.Schema) -> pa.Table:
        config = self.config
        numbers = np.arange(first, end, dtype=np.int64)
        offset = numbers % config.total
        person, auction, _ = config.proportions
        kind = {
            "person": offset < person,
            "auction": (offset >= person) & (offset < person + auction),
        }
        mask = kind.get(config.kind, offset >= person + auction)
        numbers = numbers[mask]
        make = getattr(self, f"_{config.kind}")
        wanted = {_field_name(f.name): f for f in schema}
        columns = make(numbers, wanted)
        return pa.Table.from_arrays(
            [columns[_field_name(f.name)].cast(f.type) for f in schema], schema=schema
        )

    def _person(self, n: np.ndarray, wanted: dict) -> dict[str, pa.Array]:
        h = _Hashes(n, self.seed, 100)
        out: dict[str, pa.Array] = {}
        out["id"] = pa.array(self._last_person(n) + FIRST_PERSON_ID)
        first = pa.array(_FIRST_NAMES).take(pa.array(h.below(1, len(_FIRST_NAMES))))
        last = pa.array(_LAST_NAMES).take(pa.array(h.below(2, len(_LAST_NAMES))))
        out["name"] = pc.binary_join_element_wise(first, last, " ")
        user, host = self._text(h, 3, 7), self._text(h, 4, 5)
        out["emailaddress"] = pc.binary_join_element_wise(user, "@", host, ".com", "")
        groups = [
            pc.utf8_lpad(pa.array(h.below(10 + i, 10_000)).cast(pa.string()), 4, "0")
            for i in range(4)
        ]
        out["creditcard"] = pc.binary_join_element_wise(*groups, " ")
        out["city"] = pa.array(_CITIES).take(pa.array(h.below(5, len(_CITIES))))
        out["state"] = pa.array(_STATES).take(pa.array(h.below(6, len(_STATES))))
        out["datetime"] = self._timestamps(n)
        if "extra" in wanted:
            used = 8 + sum(
                _lengths(out[k]) for k in ("name", "emailaddress", "creditcard", "city", "state")
            )
            out["extra"] = self._extra(h, 20, used, 200)
        return out

    def _auction(self, n: np.ndarray, wanted: dict) -> dict[str, pa.Array]:
        config = self.config
        h = _Hashes(n, self.seed, 200)
        out: dict[str, pa.Array] = {}
        last_person = self._last_person(n)
        out["id"] = pa.array(self._last_auction(n) + FIRST_AUCTION_ID)
        hot = h.below(1, config.hot_sellers_ratio) > 0
        seller = np.where(hot, (last_person // HOT_RATIO) * HOT_RATIO, self._random_person(h, 2, n))
        out["seller"] = pa.array(seller + FIRST_PERSON_ID)
        out["category"] = pa.array(FIRST_CATEGORY_ID + h.below(3, NUM_CATEGORIES))
        initial = _price(h, 4)
        out["initialbid"] = pa.array(initial)
        out["reserve"] = pa.array(initial + _price(h, 5))
        times = self._millis(n)
        out["datetime"] = self._timestamps(n)
        # An auction lasts about as long as the next ~1666 events take (Beam's in-flight count).
        ahead = IN_FLIGHT_AUCTIONS * config.total // config.proportions[1]
        horizon = self._millis(n + ahead) - times
        length = 1 + h.below(6, np.maximum(2 * horizon, 1))
        out["expires"] = pa.array(times + length, pa.timestamp("ms"))
        if "itemname" in wanted or "extra" in wanted:
            out["itemname"] = self._text(h, 7, 20)
        if "description" in wanted or "extra" in wanted:
            out["description"] = self._text(h, 8, 100)
        if "extra" in wanted:
            used = 8 + 40 + _lengths(out["itemname"]) + _lengths(out["description"])
            out["extra"] = self._extra(h, 20, used, 500)
        return out

    def _bid(self, n: np.ndarray, wanted: dict) -> dict[str, pa.Array]:
        config = self.config
        h = _Hashes(n, self.seed, 300)
        out: dict[str, pa.Array] = {}
        if "auction" in wanted:
            hot = h.below(1, config.hot_auction_ratio) > 0
            last_auction = self._last_auction(n)
            auction = np.where(
                hot, (last_auction // HOT_RATIO) * HOT_RATIO, self._random_auction(h, 2, n)
            )
            out["auction"] = pa.array(auction + FIRST_AUCTION_ID)
        if "bidder" in wanted:
            hot = h.below(3, config.hot_bidders_ratio) > 0
            last_person = self._last_person(n)
            bidder = np.where(
                hot, (last_person // HOT_RATIO) * HOT_RATIO + 1, self._random_person(h, 4, n)
            )
            out["bidder"] = pa.array(bidder + FIRST_PERSON_ID)
        out["price"] = pa.array(_price(h, 5))
        if "channel" in wanted or "url" in wanted:
            hot = h.below(6, 2) > 0
            hot_count = len(_HOT_CHANNELS)
            which = pa.array(np.where(hot, h.below(7, hot_count), hot_count + h.below(8, CHANNELS)))
            if "channel" in wanted:
                out["channel"] = self.channel_names.take(which)
            if "url" in wanted:
                out["url"] = self.channel_urls.take(which)
        out["datetime"] = self._timestamps(n)
        if "extra" in wanted:
            out["extra"] = self._extra(h, 20, 32, 100)
        return out

    # --- ids (Beam's base-0 helpers) ---

    def _last_person(self, n: np.ndarray) -> np.ndarray:
        person = self.config.proportions[0]
        epoch, offset = n // self.config.total, n % self.config.total
        return epoch * person + np.minimum(offset, person - 1)

    def _last_auction(self, n: np.ndarray) -> np.ndarray:
        person, auction, _ = self.config.proportions
        epoch, offset = n // self.config.total, n % self.config.total
        before = offset < person
        epoch = np.where(before, epoch - 1, epoch)
        offset = np.where(before | (offset >= person + auction), auction - 1, offset - person)
        return epoch * auction + offset

    def _random_person(self, h: _Hashes, field: int, n: np.ndarray) -> np.ndarray:
        people = self._last_person(n) + 1
        active = np.minimum(people, ACTIVE_PEOPLE)
        return people - active + h.below(field, active + ID_LEAD)

    def _random_auction(self, h: _Hashes, field: int, n: np.ndarray) -> np.ndarray:
        newest = self._last_auction(n)
        oldest = np.maximum(newest - IN_FLIGHT_AUCTIONS, 0)
        return oldest + h.below(field, newest - oldest + 1 + ID_LEAD)

    # --- values ---

    def _millis(self, n: np.ndarray) -> np.ndarray:
        delay_us = 1e6 / self.config.first_event_rate
        return self.config.base_time_ms + np.floor(n * delay_us).astype(np.int64) // 1000

    def _timestamps(self, n: np.ndarray) -> pa.Array:
        return pa.array(self._millis(n), pa.timestamp("ms"))

    def _text(self, h: _Hashes, field: int, longest: int, special: str = " ") -> pa.Array:
        """Beam's str(longest): 3 .. longest-1 characters, each ``special`` with probability 1/13
        else a lowercase letter, then trimmed of ``special``."""
        pool = self.text_pools[special]
        sizes = 3 + h.below(field, longest - 3)
        starts = h.below(field + 32, len(pool) - max(longest, 12))  # room for 12 inline bytes
        return pc.utf8_trim(_slices(pool, starts, sizes), special)

    def _extra(self, h: _Hashes, field: int, used, average: int) -> pa.Array:
        """Beam's extra(used, average): filler bringing the event to about ``average`` bytes, a
        slice of a fixed pool of random letters (as nexmark-flink does, for speed)."""
        gap = np.maximum(average - np.asarray(used, dtype=np.int64), 0)
        delta = np.round(0.2 * gap).astype(np.int64)
        wobble = np.where(delta > 0, h.below(field, np.maximum(2 * delta, 1)), 0)
        sizes = np.where(gap > 0, gap - delta + wobble, 0)
        starts = h.below(field + 32, _POOL_BYTES - 2 * average)  # sizes stay below 1.2 x average
        return _slices(self.letters, starts, sizes)

    def _urls(self, channels: np.ndarray, field: int, with_channel_id: bool = True) -> pa.Array:
        h = _Hashes(channels, self.seed, 900 + field)
        parts = [self._text(h, 10 + i, 5, "_") for i in range(3)]
        urls = [
            f"https://www.nexmark.com/{a}/{b}/{c}/item.htm?query=1"
            for a, b, c in zip(*(p.to_pylist() for p in parts))
        ]
        if with_channel_id:
            add = h.below(20, 10) > 0
            urls = [
                u + f"&channel_id={abs(_reverse32(int(c)))}" if a else u
                for u, c, a in zip(urls, channels, add)
            ]
        return pa.array(urls, pa.string())


class _Hashes:
    """Uniform draws per event and field: splitmix64 of (seed, event number, field)."""

    def __init__(self, numbers: np.ndarray, seed: np.uint64, stream: int) -> None:
        self.numbers = numbers.astype(np.uint64)
        self.seed = seed
        self.stream = stream

    def bits(self, field: int) -> np.ndarray:
        return _hash(self.numbers, self.seed, self.stream * 1024 + field)

    def below(self, field: int, bound) -> np.ndarray:
        """Integers in [0, bound) (bound a number or an array)."""
        return (self.bits(field) % np.asarray(bound, dtype=np.uint64)).astype(np.int64)

    def unit(self, field: int) -> np.ndarray:
        return (self.bits(field) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _hash(values: np.ndarray, seed: np.uint64, stream: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = (
            values * np.uint64(0x9E3779B97F4A7C15)
            + seed
            + np.uint64(stream) * np.uint64(0xD1B54A32D192ED03)
        )
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _price(h: _Hashes, field: int) -> np.ndarray:
    """Log-uniform in [100, 100,000,000]: round(10^(6 u)) * 100."""
    return np.round(10.0 ** (h.unit(field) * 6.0)).astype(np.int64) * 100


def _pool(seed: np.uint64, stream: int, special: str | None = None) -> np.ndarray:
    """Random lowercase letters, and ``special`` with probability 1/13 where given."""
    draws = _hash(np.arange(_POOL_BYTES, dtype=np.uint64), seed, stream)
    chars = _LETTERS[draws % np.uint64(26)]
    if special is not None:
        chars = np.where((draws >> np.uint64(40)) % np.uint64(13) == 0, ord(special), chars)
    return chars.astype(np.uint8)


def _slices(pool: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> pa.Array:
    """Strings ``pool[start : start + size]``: Arrow string views into the pool itself (no
    per-byte work in Python), cast to plain strings."""
    rows = len(starts)
    if rows and (starts.max() > len(pool) - 12 or (starts + sizes).max() > len(pool)):
        raise ValueError("a string slice runs past the end of its pool")  # views would, too
    views = np.zeros((rows, 4), dtype=np.int32)  # length, prefix or inline bytes, buffer, offset
    views[:, 0] = sizes
    inline = sizes <= 12
    if inline.any():
        heads = sliding_window_view(pool, 12)[starts[inline]]
        keep = np.arange(12)[None, :] < sizes[inline][:, None]
        views.view(np.uint8)[inline, 4:16] = heads * keep
    long_ = ~inline
    # The 4-byte prefix of each long string: an int32 read at any byte offset of the pool.
    prefixes = np.ndarray((len(pool) - 3,), dtype="<i4", buffer=pool, strides=(1,))
    views[long_, 1] = prefixes[starts[long_]]
    views[long_, 3] = starts[long_]
    array = pa.Array.from_buffers(
        pa.string_view(), rows, [None, pa.py_buffer(views), pa.py_buffer(pool)]
    )
    return array.cast(pa.string())


def _lengths(array: pa.Array) -> np.ndarray:
    return pc.utf8_length(array).to_numpy(zero_copy_only=False).astype(np.int64)


def _reverse32(value: int) -> int:
    """Java's Integer.reverse: the 32 bits in reverse order, as a signed int."""
    reversed_ = int(f"{value & 0xFFFFFFFF:032b}"[::-1], 2)
    return reversed_ - (1 << 32) if reversed_ >= 1 << 31 else reversed_
