"""The file source follows files by identity: log rotation (rename, create, copytruncate),
files replaced under their name, and recovery after kill -9 across a rotation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from connector_helpers import drain, file_source, rows

from tidal.catalog.objects import Column
from tidal.engine import Database

ID = (Column("id", "INTEGER"),)


def lines(ids) -> str:
    return "".join(f'{{"id": {i}}}\n' for i in ids)


def test_a_file_removed_and_written_again_is_read_from_its_start(tmp_path):
    # Regression: the new file was read from the old one's byte offset, so its first rows were
    # lost (64 of 120); the file system usually gives the new file the old one's inode.
    path = tmp_path / "app.jsonl"
    path.write_text(lines(range(1000, 1064)))
    reader = file_source(tmp_path, "app.jsonl", "jsonl", ID)
    assert len(drain(reader)) == 64
    path.unlink()
    path.write_text(lines(range(120)))
    assert [r["id"] for r in drain(reader)] == list(range(120))


def test_a_file_replaced_by_rename_is_read_from_its_start(tmp_path):
    (tmp_path / "d").mkdir()
    path = tmp_path / "d" / "app.jsonl"
    path.write_text(lines(range(10, 20)))
    reader = file_source(tmp_path, "d/", "jsonl", ID)
    assert len(drain(reader)) == 10
    (tmp_path / "d" / ".new").write_text(lines(range(12)))
    os.replace(tmp_path / "d" / ".new", path)  # an editor's save, a new inode
    assert [r["id"] for r in drain(reader)] == list(range(12))


def test_a_rotated_file_keeps_its_position_under_its_new_name(tmp_path):
    # logrotate with a suffix kept (app.jsonl -> app-1.jsonl) and a new app.jsonl: the lines
    # written to the old file before the rotation are read once, the new file from its start.
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "app.jsonl").write_text(lines([1, 2, 3]))
    reader = file_source(tmp_path, "logs/", "jsonl", ID)
    assert [r["id"] for r in drain(reader)] == [1, 2, 3]
    with (folder / "app.jsonl").open("a") as file:
        file.write(lines([4, 5]))  # not read yet when the file is rotated
    (folder / "app.jsonl").rename(folder / "app-1.jsonl")
    (folder / "app.jsonl").write_text(lines([6]))
    assert [r["id"] for r in drain(reader)] == [4, 5, 6]
    assert sorted(reader.snapshot()["files"]) == ["app-1.jsonl", "app.jsonl"]
    with (folder / "app-1.jsonl").open("a") as file:
        file.write(lines([7]))  # a writer still holding the old file
    assert [r["id"] for r in drain(reader)] == [7]
    (folder / "app-1.jsonl").unlink()  # the old file removed: forgotten, the others go on
    with (folder / "app.jsonl").open("a") as file:
        file.write(lines([8]))
    assert [r["id"] for r in drain(reader)] == [8] and reader.errors == []
    assert list(reader.snapshot()["files"]) == ["app.jsonl"]


def test_a_file_cut_shorter_is_read_from_its_start(tmp_path):
    # copytruncate rotation: the file is copied, then cut to 0 and written on.
    path = tmp_path / "app.jsonl"
    path.write_text(lines(range(10, 15)))
    reader = file_source(tmp_path, "app.jsonl", "jsonl", ID)
    assert len(drain(reader)) == 5
    with path.open("r+") as file:
        file.truncate(0)
    path.write_text(lines([1, 2]))
    assert [r["id"] for r in drain(reader)] == [1, 2]


def test_a_file_cut_and_written_past_the_old_offset_is_read_from_its_start(tmp_path):
    # The same inode and more bytes than were read: only the first bytes tell the new file.
    path = tmp_path / "app.jsonl"
    path.write_text(lines(range(10, 13)))
    reader = file_source(tmp_path, "app.jsonl", "jsonl", ID)
    assert len(drain(reader)) == 3
    with path.open("r+") as file:
        file.truncate(0)
        file.write(lines(range(20, 30)))
    assert [r["id"] for r in drain(reader)] == list(range(20, 30))


def test_a_csv_file_replaced_takes_its_new_header(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,name\n1,a\n")
    columns = (Column("id", "INTEGER"), Column("name", "VARCHAR"))
    reader = file_source(tmp_path, "a.csv", "csv", columns)
    assert drain(reader) == [{"id": 1, "name": "a"}]
    path.unlink()
    path.write_text("name,id\nb,2\nc,3\n")
    assert drain(reader) == [{"id": 2, "name": "b"}, {"id": 3, "name": "c"}]


def test_hard_links_are_each_followed_under_their_own_name(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_text(lines([1]))
    os.link(tmp_path / "d" / "a.jsonl", tmp_path / "d" / "b.jsonl")
    reader = file_source(tmp_path, "d/", "jsonl", ID)
    assert [r["id"] for r in drain(reader)] == [1, 1]  # two names, as any reader sees them
    with (tmp_path / "d" / "a.jsonl").open("a") as file:
        file.write(lines([2]))
    assert [r["id"] for r in drain(reader)] == [2, 2]
    assert reader.poll(10) is None


def test_replay_finds_a_renamed_file_by_its_identity(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "app.jsonl").write_text(lines([1, 2, 3]))
    reader = file_source(tmp_path, "logs/", "jsonl", ID)
    reader.poll(2)
    start = json.loads(json.dumps(reader.snapshot()))
    (folder / "app.jsonl").rename(folder / "app-1.jsonl")
    (folder / "app.jsonl").write_text(lines([4, 5]))
    batch = reader.poll(10)
    end = json.loads(json.dumps(reader.snapshot()))
    assert rows(batch) == [{"id": 3}, {"id": 4}, {"id": 5}]
    fresh = file_source(tmp_path, "logs/", "jsonl", ID)
    fresh.restore(start)
    assert fresh.replay(end).equals(batch)
    assert fresh.snapshot() == end
    with (folder / "app.jsonl").open("a") as file:
        file.write(lines([6]))
    assert drain(fresh) == [{"id": 6}]


def test_replay_finds_a_single_file_rotated_out_of_its_path(tmp_path):
    path = tmp_path / "app.jsonl"
    path.write_text(lines([1, 2]))
    reader = file_source(tmp_path, "app.jsonl", "jsonl", ID)
    start = reader.snapshot()
    batch = reader.poll(10)
    end = reader.snapshot()
    path.rename(
        tmp_path / "app.jsonl.1"
    )  # logrotate's default name, which the source does not read
    path.write_text(lines([3]))
    fresh = file_source(tmp_path, "app.jsonl", "jsonl", ID)
    fresh.restore(start)
    assert fresh.replay(end).equals(batch)  # recovery finds the rotated file
    assert drain(fresh) == [{"id": 3}]


_PROCESS = textwrap.dedent(
    """
    import json, os, signal, sys
    from tidal.engine import Database
    directory, base, statements = json.loads(sys.argv[1])
    db = Database(directory, base_dir=base)
    results = [db.execute(s) for s in statements]
    print(json.dumps([r.to_pylist() for r in results if hasattr(r, "to_pylist")]), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def killed_after(tmp_path, statements: list[str]) -> list:
    """Run ``statements`` on the data directory in a new process, then kill -9 it."""
    argument = json.dumps([str(tmp_path / "data"), str(tmp_path), statements])
    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, argument],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    return json.loads(done.stdout)


def test_recovery_after_kill_9_follows_a_rotated_file(tmp_path):
    # The logged positions name each file by identity: recovery reads the rotated file under
    # its new name again, then goes on with both files, every line once.
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "app.jsonl").write_text(lines([1, 2, 3]))
    source = "CREATE SOURCE app (id INTEGER) WITH (connector = 'file', path = 'logs/'"
    create = [source + ", format = 'jsonl')", "CREATE MATERIALIZED VIEW ids AS SELECT id FROM app"]
    assert killed_after(tmp_path, [*create, "SELECT count(*) AS n FROM ids"]) == [[{"n": 3}]]
    with (folder / "app.jsonl").open("a") as file:
        file.write(lines([4]))
    (folder / "app.jsonl").rename(folder / "app-1.jsonl")
    (folder / "app.jsonl").write_text(lines([5, 6]))
    db = Database(tmp_path / "data", base_dir=tmp_path)
    try:
        got = db.execute("SELECT id FROM ids ORDER BY id").to_pylist()
        assert [r["id"] for r in got] == [1, 2, 3, 4, 5, 6]
        assert db.take_source_errors() == []
    finally:
        db.close()
