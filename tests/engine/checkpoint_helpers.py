"""A checkpoint and a recovery of a whole Database, done the way the durability layer does them.

``Twin`` runs a database straight through and, from a chosen point on, a second one recovered
from a checkpoint of the first: the state captured and frozen as a checkpoint does
(tidal.engine.durability.engine_state, state_files), written to files and loaded back, the
catalog rebuilt by running its DDL again over empty relations, then every state put back (the
tables' and views' contents, every dataflow's operators, the watermarks). From then on both get
the same statements, and each tick's changes and every relation's rows must be the same. The
frozen state is written again at the end: later ticks must not have changed its Arrow tables (a
checkpoint writes them in the background while ticks go on).
"""

from __future__ import annotations

import math
import pathlib
import shutil
import tempfile

import numpy as np
import pyarrow as pa

from tests.differential.reference import difference
from tidal.engine import Database
from tidal.engine.durability import engine_state, state_files
from tidal.engine.zset import consolidate


class Journaled(Database):
    """A database that keeps the text of its DDL statements (the catalog a checkpoint holds)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ddl: list[str] = []
        self.changes: list[dict[str, pa.Table]] = []  # each tick's changes, consolidated
        self.tick_loop.on_tick.append(
            lambda tick, changes: self.changes.append(
                {name: consolidate(delta) for name, delta in changes.items()}
            )
        )

    def execute(self, sql: str):
        result = super().execute(sql)
        if sql.lstrip().upper().startswith(("CREATE", "DROP", "ALTER")):
            self.ddl.append(sql)
        return result


def capture(db: Journaled) -> dict:
    """Every state of ``db`` between two ticks, as a checkpoint takes it (under the lock)."""
    with db.tick_loop.exclusive():
        return engine_state.capture(
            db.ticks, db.ddl, db.catalog.users, db.relations, db.watermarks, db.feeds
        )


def recover(state: dict, **options) -> Journaled:
    """A database whose catalog is the state's DDL run over empty relations, with the state put
    back (as recovery does it before replaying the log)."""
    db = Journaled(**options)
    for statement in state["ddl"]:
        db.execute(statement)
    engine_state.restore(state, db.catalog.users, db.relations, db.watermarks, db.feeds)
    db.tick_loop.ticks = state["tick"]
    return db


def through_files(tree: object) -> object:
    """``tree`` frozen, written as a checkpoint's files and loaded back."""
    folder = pathlib.Path(tempfile.mkdtemp(prefix="tidal-checkpoint-"))
    try:
        state_files.write(state_files.freeze(tree), folder)
        return state_files.load(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def written(frozen: state_files.Frozen, folder: pathlib.Path) -> dict[str, bytes]:
    """The files a checkpoint of ``frozen`` writes into ``folder``, by name."""
    folder.mkdir()
    state_files.write(frozen, folder)
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


# --- two databases side by side -----------------------------------------------------------------


class Twin:
    """``straight`` runs every statement; after ``crash()``, ``recovered`` (recovered from a
    checkpoint of ``straight``) runs the same ones, and ``compare`` holds them equal."""

    def __init__(self, straight: Journaled, **options) -> None:
        self.straight = straight
        self.options = options  # for the recovered database (a clock)
        self.recovered: Journaled | None = None
        self._folder = pathlib.Path(tempfile.mkdtemp(prefix="tidal-checkpoint-"))
        self._frozen: state_files.Frozen | None = None
        self._files: dict[str, bytes] = {}

    def crash(self) -> Journaled:
        with self.straight.tick_loop.exclusive():
            self._frozen = state_files.freeze(capture(self.straight))
        self._files = written(self._frozen, self._folder / "at_crash")
        state = state_files.load(self._folder / "at_crash")
        self.recovered = recover(state, **self.options)
        self._compared = len(self.straight.changes)
        # Restored exactly: captured again, the recovered database gives back what it got.
        assert_same_state(capture(self.recovered), state, "recovered state")
        return self.recovered

    def execute(self, sql: str) -> None:
        """Run ``sql`` on the straight database, and on the recovered one if there is one."""
        self.straight.execute(sql)
        if self.recovered is not None:
            self.recovered.execute(sql)

    def tick(self) -> None:
        """A tick without changes (the clock moved), on both databases."""
        self.straight.tick()
        if self.recovered is not None:
            self.recovered.tick()

    def compare(self, when: str, approx: bool = False) -> None:
        """The ticks since the crash changed the same rows, and every relation holds the same."""
        if self.recovered is None:
            return
        straight = self.straight.changes[self._compared :]
        recovered = self.recovered.changes
        assert len(straight) == len(recovered), f"{when}: {len(recovered)} ticks after recovery"
        for tick, (expected, actual) in enumerate(zip(straight, recovered)):
            assert sorted(expected) == sorted(actual), f"{when}: relations changed in tick {tick}"
            for name in expected:
                _assert_same(actual[name], expected[name], approx, f"{when}: changes of {name}")
        for name in list(self.straight.relations.bases) + list(self.straight.relations.views):
            _assert_same(
                self.recovered.read(name), self.straight.read(name), approx, f"{when}: {name}"
            )

    def finish(self) -> None:
        """The state frozen at the crash was not changed by the ticks after it: a checkpoint
        writes its Arrow tables in the background while ticks go on."""
        if self._frozen is not None:
            later = written(self._frozen, self._folder / "at_end")
            for name, data in self._files.items():
                assert later[name] == data, f"{name} of a checkpoint changed after it was taken"

    def close(self) -> None:
        self.straight.close()
        if self.recovered is not None:
            self.recovered.close()
        shutil.rmtree(self._folder, ignore_errors=True)


def assert_same_state(actual: object, expected: object, path: str) -> None:
    """Two states hold the same values: tables by content (not by how they are chunked),
    numpy arrays by dtype and bytes, collections by what they pickle."""
    assert type(actual) is type(expected), f"{path}: {type(actual)} != {type(expected)}"
    if isinstance(actual, dict):
        assert sorted(actual, key=repr) == sorted(expected, key=repr), f"{path}: keys"
        for key in actual:
            assert_same_state(actual[key], expected[key], f"{path}[{key!r}]")
    elif isinstance(actual, (list, tuple)):
        assert len(actual) == len(expected), f"{path}: {len(actual)} != {len(expected)} items"
        for i, (a, b) in enumerate(zip(actual, expected)):
            assert_same_state(a, b, f"{path}[{i}]")
    elif isinstance(actual, (pa.Table, pa.ChunkedArray)):
        if isinstance(actual, pa.ChunkedArray):
            actual, expected = pa.table({"c": actual}), pa.table({"c": expected})
        assert actual.schema == expected.schema, f"{path}: {actual.schema} != {expected.schema}"
        assert _ipc(actual.combine_chunks()) == _ipc(expected.combine_chunks()), (
            f"{path}: {actual.to_pylist()[:10]} != {expected.to_pylist()[:10]}"
        )
    elif isinstance(actual, np.ndarray):
        assert (actual.dtype, actual.shape) == (expected.dtype, expected.shape), path
        same = (
            actual.tolist() == expected.tolist()
            if actual.dtype == object
            else actual.tobytes() == expected.tobytes()
        )
        assert same, f"{path}: {actual[:10]} != {expected[:10]}"
    elif isinstance(actual, float) and math.isnan(actual):
        assert math.isnan(expected), path
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def _assert_same(actual: pa.Table, expected: pa.Table, approx: bool, what: str) -> None:
    assert actual.schema == expected.schema, f"{what}: {actual.schema} != {expected.schema}"
    rows = [list(t.to_pylist()) for t in (actual, expected)]
    extra, missing = difference(
        [tuple(r.values()) for r in rows[0]], [tuple(r.values()) for r in rows[1]], approx
    )
    assert not extra and not missing, (
        f"{what} after recovery differ from the run without it:\n"
        f"  only after recovery: {extra}\n  only without: {missing}"
    )


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
