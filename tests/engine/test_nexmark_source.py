"""The nexmark source: deterministic whatever the batch size, and Beam's generator's rules."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tidal.catalog.objects import Column, Source
from tidal.engine import Database
from tidal.engine.connectors import ConnectorError
from tidal.engine.connectors.nexmark import FIELDS, nexmark_config, open_nexmark

TYPES = {"date_time": "TIMESTAMP_MS", "expires": "TIMESTAMP_MS"}
TEXT = {"name", "email_address", "credit_card", "city", "state", "extra", "item_name"}
TEXT |= {"description", "channel", "url"}


def source(kind: str, events: int, **options: str) -> Source:
    columns = tuple(
        Column(f, TYPES.get(f, "VARCHAR" if f in TEXT else "BIGINT")) for f in FIELDS[kind]
    )
    pairs = {"connector": "nexmark", "kind": kind, "events": str(events), **options}
    return Source(kind, columns, tuple(pairs.items()))


def read_all(kind: str, events: int, batch: int, **options: str) -> pa.Table:
    reader = open_nexmark(source(kind, events, **options))
    parts = []
    while (part := reader.poll(batch)) is not None:
        parts.append(part)
    return pa.concat_tables(parts)


@pytest.mark.parametrize("kind", ["person", "auction", "bid"])
def test_the_same_events_whatever_the_batch_size(kind):
    assert read_all(kind, 5000, 97).equals(read_all(kind, 5000, 65536))
    assert not read_all(kind, 5000, 65536).equals(read_all(kind, 5000, 65536, seed="7"))


@pytest.mark.parametrize("kind", ["person", "auction", "bid"])
@pytest.mark.parametrize("events", [1, 3, 49, 1234])
def test_rows_in_counts_what_a_source_generates(kind, events):
    options = {"kind": kind, "events": str(events), "person_proportion": "2", "bid_proportion": "5"}
    generated = read_all(kind, events, 4096, person_proportion="2", bid_proportion="5")
    assert nexmark_config(options).rows_in(events) == generated.num_rows


def test_events_follow_the_mix_and_the_timeline():
    events = 10_000
    people, auctions, bids = (read_all(k, events, 4096) for k in ("person", "auction", "bid"))
    assert (people.num_rows, auctions.num_rows, bids.num_rows) == (200, 600, 9200)
    # ids are dense from 1000, in event order
    assert people.column("id").to_pylist() == list(range(1000, 1200))
    assert auctions.column("id").to_pylist() == list(range(1000, 1600))
    # 10,000 events per second of event time by default, from 2015-07-15 00:00:00
    times = pc.cast(bids.column("date_time"), pa.int64()).to_numpy()
    assert (times[1:] >= times[:-1]).all()
    assert times[-1] - times[0] == pytest.approx(999, abs=1)
    # bids name auctions that exist or are about to (Beam's id lead of 10), half of them hot
    assert pc.max(bids.column("auction")).as_py() <= 1599 + 10
    hot = pc.equal(pc.remainder(bids.column("auction"), 100), 0)  # hot auctions: multiples of 100
    assert 0.4 < pc.mean(hot.cast(pa.float64())).as_py() < 0.7
    prices = bids.column("price").to_numpy()
    assert prices.min() >= 100 and prices.max() <= 100_000_000
    assert set(pc.unique(auctions.column("category")).to_pylist()) <= set(range(10, 15))
    assert pc.all(pc.greater(auctions.column("expires"), auctions.column("date_time"))).as_py()


def test_options_are_checked_when_the_source_is_created():
    bad_kind = Source("b", (Column("price", "BIGINT"),), (("connector", "nexmark"), ("kind", "x")))
    with pytest.raises(ConnectorError, match="kind = 'x' is not supported"):
        open_nexmark(bad_kind)
    bad_column = Source(
        "b", (Column("nope", "BIGINT"),), (("connector", "nexmark"), ("kind", "bid"))
    )
    with pytest.raises(ConnectorError, match="not a field of a bid"):
        open_nexmark(bad_column)
    with pytest.raises(ConnectorError, match="first_event_rate"):
        open_nexmark(source("bid", 10, first_event_rate="0"))


def test_a_nexmark_source_in_sql_with_a_watermark():
    db = Database()
    db.execute(
        "CREATE SOURCE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3), "
        "WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) "
        "WITH (connector = 'nexmark', kind = 'bid', events = '200000')"
    )
    db.execute(
        "CREATE MATERIALIZED VIEW per_second AS SELECT window_end, count(*) AS n "
        "FROM TUMBLE(bid, date_time, INTERVAL '1' SECOND) GROUP BY window_end "
        "EMIT ON WINDOW CLOSE"
    )
    rows = db.execute("SELECT n FROM per_second").to_pylist()
    # 20 s of event time (to 19.9999 s); the watermark trails by 4 s: 15 windows have closed
    assert len(rows) == 15 and all(r["n"] == 9200 for r in rows)
