"""Sources replay what they polled: a fresh reader restored to an earlier position and replayed
through the later positions gives exactly the batches the polls gave (what recovery relies on),
whatever the rate limit and whatever was appended to the input since; inputs that no longer
hold the rows are refused with a message naming the file."""

from __future__ import annotations

import json
import os
import pathlib
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from connector_helpers import source
from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.catalog.objects import Column
from tidal.engine.connectors import ConnectorError, SourceReader, open_source
from tidal.engine.connectors.datagen import open_datagen
from tidal.engine.connectors.nexmark import open_nexmark

SETTINGS = settings(max_examples=40, deadline=None, database=None)
FILE_COLUMNS = (Column("id", "INTEGER"), Column("name", "VARCHAR"))


class Clock:
    """A clock the test moves by hand (rate limits count rows due since the first poll)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_and_replay(open_reader, steps, act, start: int) -> int:
    """Run ``steps`` on a reader (``("poll", max_rows, drain)``, others go to ``act``), keeping
    each poll's batch, errors and position; then restore a fresh reader to the position before
    poll ``start`` and replay the later positions one by one: the same batches and errors come
    out, and the reader ends at each position. The number of polls replayed."""
    reader = open_reader(Clock())
    positions, kept, batches, errors = [reader.snapshot()], [], [], []
    kept.append(json.loads(json.dumps(positions[0])))  # plain JSON, and a copy
    for step in steps:
        if step[0] != "poll":
            act(step)
            continue
        batches.append(reader.poll(step[1], drain=step[2]))
        errors.append(list(reader.errors))
        reader.errors.clear()
        positions.append(reader.snapshot())
        kept.append(json.loads(json.dumps(positions[-1])))
    assert positions == kept, "a snapshot changed with later polls (it aliases live state)"
    start %= len(batches) + 1
    fresh = open_reader(Clock())  # a clock that never moves: replay ignores the rate limit
    fresh.restore(kept[start])
    for i in range(start, len(batches)):
        replayed = fresh.replay(kept[i + 1])
        if batches[i] is None:
            assert replayed is None, i
        else:
            assert replayed is not None and replayed.equals(batches[i]), i
        assert fresh.snapshot() == kept[i + 1]
        assert fresh.errors == errors[i]
        fresh.errors.clear()
    return len(batches) - start


polls = st.tuples(st.just("poll"), st.integers(1, 40), st.booleans())
clock_moves = st.tuples(st.just("clock"), st.floats(0, 0.5))


# -- generated sources ------------------------------------------------------------------------


@SETTINGS
@given(
    steps=st.lists(st.one_of(polls, clock_moves), min_size=2, max_size=25),
    total=st.one_of(st.none(), st.integers(0, 300)),
    start=st.integers(0, 25),
)
def test_datagen_replays_its_polls(steps, total, start):
    columns = (Column("n", "BIGINT"), Column("s", "VARCHAR"), Column("ts", "TIMESTAMP"))
    options = {"connector": "datagen", "rows-per-second": "100", "fields.s.null-rate": "0.3"}
    if total is not None:
        options["number-of-rows"] = str(total)
    clocks = []

    def open_reader(clock):
        clocks.append(clock)
        return open_datagen(source(columns, **options), clock=clock)

    def act(step):
        clocks[0].now += step[1]

    run_and_replay(open_reader, steps, act, start)


@SETTINGS
@given(
    kind=st.sampled_from(["person", "auction", "bid"]),
    steps=st.lists(st.one_of(polls, clock_moves), min_size=2, max_size=25),
    events=st.one_of(st.none(), st.integers(0, 500)),
    start=st.integers(0, 25),
)
def test_nexmark_replays_its_polls(kind, steps, events, start):
    columns = {
        "person": (Column("id", "BIGINT"), Column("name", "VARCHAR")),
        "auction": (Column("id", "BIGINT"), Column("expires", "TIMESTAMP_MS")),
        "bid": (Column("auction", "BIGINT"), Column("price", "BIGINT"), Column("url", "VARCHAR")),
    }[kind]
    options = {"connector": "nexmark", "kind": kind, "events_per_second": "200"}
    if events is not None:
        options["events"] = str(events)
    clocks = []

    def open_reader(clock):
        clocks.append(clock)
        return open_nexmark(source(columns, **options), clock=clock)

    def act(step):
        clocks[0].now += step[1]

    run_and_replay(open_reader, steps, act, start)


# -- files ------------------------------------------------------------------------------------


def text_line(fmt: str, kind: str, i: int) -> str:
    """One line of a csv or jsonl file: a good row, a bad one, or a blank line."""
    if kind == "blank":
        return "\n"
    if fmt == "csv":
        return {"good": f"{i},name {i}\n", "bad": f"x{i},oops\n", "wide": f"{i},a,b\n"}[kind]
    return {
        "good": json.dumps({"id": i, "name": f"n{i}", "extra": 1}) + "\n",
        "bad": json.dumps({"id": f"x{i}"}) + "\n",
        "wide": "{broken\n",
    }[kind]


line_kinds = st.lists(
    st.sampled_from(["good", "good", "good", "bad", "wide", "blank"]), min_size=0, max_size=30
)
appends = st.tuples(st.just("append"), st.integers(0, 2), st.integers(1, 60))


@SETTINGS
@given(
    fmt=st.sampled_from(["csv", "jsonl"]),
    directory=st.booleans(),
    contents=st.lists(line_kinds, min_size=3, max_size=3),
    steps=st.lists(st.one_of(polls, appends), min_size=4, max_size=30),
    start=st.integers(0, 30),
)
def test_text_files_replay_their_polls_also_when_appended_between_polls(
    fmt, directory, contents, steps, start
):
    header = "id,name\n" if fmt == "csv" else ""
    texts = [
        (header + "".join(text_line(fmt, k, 100 * f + i) for i, k in enumerate(kinds))).encode()
        for f, kinds in enumerate(contents)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp)
        files = [base / "in" / f"{name}.{fmt}" for name in ("b", "a", "c")]
        files[0].parent.mkdir()
        files[0].write_bytes(texts[0][:5])  # a single file must exist when the source opens
        written = [5, 0, 0]
        path = "in/" if directory else f"in/b.{fmt}"

        def open_reader(clock):
            return open_source(source(FILE_COLUMNS, connector="file", path=path, format=fmt), base)

        def act(step):
            _, which, size = step
            if not directory:
                which = 0
            chunk = texts[which][written[which] : written[which] + size]
            with open(files[which], "ab") as file:
                file.write(chunk)
            written[which] += len(chunk)

        run_and_replay(open_reader, [*steps, ("poll", 1000, True)], act, start)


@SETTINGS
@given(
    fmt=st.sampled_from(["csv", "jsonl"]),
    kinds=line_kinds,
    steps=st.lists(
        st.one_of(polls, appends, st.tuples(st.just("rotate"))), min_size=4, max_size=30
    ),
    start=st.integers(0, 30),
)
def test_text_files_replay_their_polls_across_rotations(fmt, kinds, steps, start):
    # logrotate into names the source still reads: app.csv -> app-1.csv, a new app.csv. The
    # positions follow each file by identity, so replay finds a rotated file by its new name.
    header = "id,name\n" if fmt == "csv" else ""
    text = "".join(text_line(fmt, k, i) for i, k in enumerate(kinds * 3)).encode()
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp) / "in"
        folder.mkdir()
        current = folder / f"app.{fmt}"
        current.write_text(header)
        done = {"written": 0, "rotations": 0}

        def open_reader(clock):
            options = {"connector": "file", "path": "in/", "format": fmt}
            return open_source(source(FILE_COLUMNS, **options), pathlib.Path(tmp))

        def act(step):
            if step[0] == "rotate":
                done["rotations"] += 1
                current.rename(folder / f"app-{done['rotations']}.{fmt}")
                current.write_text(header)
                return
            chunk = text[done["written"] : done["written"] + step[2]]
            with open(current, "ab") as file:
                file.write(chunk)
            done["written"] += len(chunk)

        run_and_replay(open_reader, [*steps, ("poll", 1000, True)], act, start)


@SETTINGS
@given(
    sizes=st.lists(st.integers(0, 30), max_size=5),
    steps=st.lists(st.one_of(polls, st.tuples(st.just("add"))), min_size=2, max_size=20),
    start=st.integers(0, 20),
)
def test_parquet_files_replay_their_polls_also_when_files_appear_between_polls(sizes, steps, start):
    with tempfile.TemporaryDirectory() as tmp:
        base = pathlib.Path(tmp)
        (base / "in").mkdir()
        added = []

        def open_reader(clock):
            options = {"connector": "file", "path": "in/", "format": "parquet"}
            return open_source(source(FILE_COLUMNS, **options), base)

        def act(step):
            if len(added) == len(sizes):
                return
            k, size = len(added), sizes[len(added)]
            table = pa.table(
                {"name": [f"n{i}" for i in range(size)], "id": list(range(k * 100, k * 100 + size))}
            )
            # names out of order: a file may sort before the ones already read
            final = base / "in" / f"part-{(7 * k) % 5}-{k}.parquet"
            pq.write_table(table, base / "in" / ".writing")
            os.replace(base / "in" / ".writing", final)
            added.append(final)

        run_and_replay(open_reader, [*steps, ("poll", 1000, True)], act, start)


# -- what cannot be replayed ------------------------------------------------------------------


def csv_reader(tmp_path, path="in.csv"):
    return open_source(source(FILE_COLUMNS, connector="file", path=path, format="csv"), tmp_path)


def polled_positions(reader, *sizes):
    positions = [reader.snapshot()]
    for size in sizes:
        reader.poll(size)
        positions.append(reader.snapshot())
    return positions


def test_replay_of_a_file_cut_short_names_the_file_and_what_was_read(tmp_path):
    (tmp_path / "in.csv").write_text("id,name\n1,a\n2,b\n3,c\n")
    start, _, end = polled_positions(csv_reader(tmp_path), 1, 2)
    (tmp_path / "in.csv").write_text("id,name\n1,a\n")
    fresh = csv_reader(tmp_path)
    fresh.restore(start)
    with pytest.raises(ConnectorError, match=r"in\.csv .*line 4 \(byte 20\).*only 12 bytes"):
        fresh.replay(end)


def test_replay_of_a_removed_file_in_a_directory_says_it_is_missing(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,name\n1,a\n")
    start, end = polled_positions(csv_reader(tmp_path, "in/"), 10)
    (tmp_path / "in" / "a.csv").unlink()
    fresh = csv_reader(tmp_path, "in/")
    fresh.restore(start)
    with pytest.raises(ConnectorError, match=r"in/a\.csv .*the file is missing"):
        fresh.replay(end)


def test_replay_of_rewritten_lines_or_header_is_refused(tmp_path):
    (tmp_path / "in.csv").write_text("id,name\n1,a\n2,b\n")
    start, end = polled_positions(csv_reader(tmp_path), 10)
    (tmp_path / "in.csv").write_text("id,name\n1,a,2,b\n\n")  # same length, other lines
    fresh = csv_reader(tmp_path)
    fresh.restore(start)
    with pytest.raises(ConnectorError, match="its lines have changed"):
        fresh.replay(end)
    (tmp_path / "in.csv").write_text("name,id\n1,a\n2,b\n")
    fresh.restore(start)
    with pytest.raises(ConnectorError, match="its header line has changed"):
        fresh.replay(end)


def test_replay_of_a_parquet_file_with_fewer_rows_is_refused(tmp_path):
    (tmp_path / "in").mkdir()
    pq.write_table(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}), tmp_path / "in/p.parquet")
    options = {"connector": "file", "path": "in/", "format": "parquet"}
    start, end = polled_positions(open_source(source(FILE_COLUMNS, **options), tmp_path), 10)
    pq.write_table(pa.table({"id": [1], "name": ["a"]}), tmp_path / "in/p.parquet")
    fresh = open_source(source(FILE_COLUMNS, **options), tmp_path)
    fresh.restore(start)
    with pytest.raises(ConnectorError, match=r"in/p\.parquet .*first 3 rows.*only 1 rows"):
        fresh.replay(end)
    (tmp_path / "in/p.parquet").unlink()
    with pytest.raises(ConnectorError, match=r"in/p\.parquet .*it cannot be read"):
        fresh.replay(end)


def test_a_poll_that_read_only_the_csv_header_replays(tmp_path):
    (tmp_path / "in.csv").write_text("id,name\n")
    start, end = polled_positions(csv_reader(tmp_path), 10)
    with open(tmp_path / "in.csv", "a") as file:
        file.write("1,a\n")
    fresh = csv_reader(tmp_path)
    fresh.restore(start)
    assert fresh.replay(end) is None
    assert fresh.snapshot() == end
    assert fresh.poll(10).to_pylist() == [{"id": 1, "name": "a"}]


def test_a_replayed_position_is_copied_not_kept_as_live_state(tmp_path):
    (tmp_path / "in.csv").write_text("id,name\n1,a\n")
    start, end = polled_positions(csv_reader(tmp_path), 10)
    logged = json.dumps(end)
    fresh = csv_reader(tmp_path)
    fresh.restore(start)
    fresh.replay(end)
    with open(tmp_path / "in.csv", "a") as file:
        file.write("2,b\n")
    assert fresh.poll(10).to_pylist() == [{"id": 2, "name": "b"}]
    assert json.dumps(end) == logged


def test_replay_backwards_is_refused():
    options = {"connector": "datagen", "number-of-rows": "100"}
    reader = open_source(source((Column("n", "BIGINT"),), **options), ".")
    reader.poll(50, drain=True)
    with pytest.raises(ConnectorError, match="cannot replay up to row 10: it is at row 50 of 100"):
        reader.replay({"rows": 10})


def test_a_source_without_replay_says_it_cannot_be_replayed():
    class Once(SourceReader):
        name, schema, bounded, errors = "feed", pa.schema([]), False, []

        def poll(self, max_rows, drain=False):
            return None

        def snapshot(self):
            return {}

        def restore(self, state):
            pass

    with pytest.raises(ConnectorError, match="source feed cannot be replayed"):
        Once().replay({})
