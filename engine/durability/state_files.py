"""A tree of engine state written to a folder: Arrow tables as Arrow IPC files, the rest pickled.

The state of a checkpoint is a tree of dicts, lists and tuples whose leaves are Python values,
numpy arrays and Arrow tables and arrays (operator snapshots, contents, positions). ``freeze``
pickles it under the engine's lock, taking the Arrow objects out as they are (they are immutable,
so the tick that comes next cannot change them); ``write`` stores that in a folder off the lock;
``load`` reads it back, the IPC files memory-mapped (no copy until an operator needs one),
after checking every file against the checksum written with it: a flipped bit is refused,
never read as data.

    >>> import tempfile, pathlib, pyarrow as pa, numpy as np
    >>> tree = {"t": pa.table({"a": [1, 2]}), "counts": np.arange(3), "pos": {"rows": 2}}
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> write(freeze(tree), folder)
    >>> back = load(folder)
    >>> back["t"].to_pylist(), back["counts"].tolist(), back["pos"]
    ([{'a': 1}, {'a': 2}], [0, 1, 2], {'rows': 2})
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import pickle
import zlib
from dataclasses import dataclass

import pyarrow as pa
from pyarrow import ipc

from tidal.engine.durability.data_dir import DurabilityError

STATE = "state.pickle"
CHECKSUMS = "checksums.json"


@dataclass(frozen=True)
class Frozen:
    """A state tree, pickled, with its Arrow tables kept aside for their own files."""

    pickled: bytes
    tables: list[pa.Table]

    @property
    def nbytes(self) -> int:
        return len(self.pickled) + sum(table.nbytes for table in self.tables)


def freeze(tree: object) -> Frozen:
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.dump(tree)
    return Frozen(buffer.getvalue(), pickler.tables)


def write(frozen: Frozen, folder: pathlib.Path) -> None:
    """The frozen tree as files in ``folder`` (which exists), each fsynced, and their
    checksums (``checksums.json``, written last)."""
    checksums = {}
    for number, table in enumerate(frozen.tables):
        with (
            _ChecksummedFile(folder / f"{number}.arrow") as file,
            ipc.new_file(file, table.schema) as writer,
        ):
            writer.write_table(table)
        checksums[f"{number}.arrow"] = file.crc
    with _ChecksummedFile(folder / STATE) as file:
        file.write(frozen.pickled)
    checksums[STATE] = file.crc
    with _ChecksummedFile(folder / CHECKSUMS) as file:
        file.write(json.dumps(checksums).encode())


def load(folder: pathlib.Path) -> object:
    """The tree written in ``folder``; a file whose checksum does not match is refused."""
    checksums = json.loads((folder / CHECKSUMS).read_text())
    buffers = {}
    for name, expected in checksums.items():
        buffers[name] = pa.memory_map(str(folder / name)).read_buffer()
        if zlib.crc32(buffers[name]) != expected:
            raise DurabilityError(
                f"checkpoint {folder} is corrupt: the checksum of {name} does not match; "
                "restore the data directory from a backup"
            )
    return _Unpickler(io.BytesIO(buffers[STATE]), buffers).load()


class _ChecksummedFile(io.RawIOBase):
    """A file being written whose crc32 is kept as it goes (no second pass, no copy of its
    contents in memory), fsynced when closed."""

    def __init__(self, path: pathlib.Path) -> None:
        super().__init__()
        self._file = open(path, "wb")  # noqa: SIM115 - closed in close()
        self.crc = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.crc = zlib.crc32(data, self.crc)
        return self._file.write(data)

    def close(self) -> None:
        if not self.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        super().close()


# An Arrow object is stored as a table: tables as they are, an array or chunked array as the
# one column "values", a record batch as a one-batch table.
_KINDS = {
    pa.Table: ("table", lambda t: t, lambda t: t),
    pa.RecordBatch: ("batch", pa.Table.from_batches, lambda t: t.combine_chunks().to_batches()[0]),
    pa.ChunkedArray: ("chunked", lambda c: pa.table({"values": c}), lambda t: t.column(0)),
    pa.Array: ("array", lambda a: pa.table({"values": a}), lambda t: t.column(0).combine_chunks()),
}
_FROM_TABLE = {kind: back for kind, _, back in _KINDS.values()}


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO) -> None:
        super().__init__(file, protocol=5)
        self.tables: list[pa.Table] = []

    def persistent_id(self, obj: object):
        for arrow_type, (kind, to_table, _) in _KINDS.items():
            if isinstance(obj, arrow_type):
                self.tables.append(to_table(obj))
                return (kind, len(self.tables) - 1)
        return None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, buffers: dict[str, pa.Buffer]) -> None:
        super().__init__(file)
        self.buffers = buffers

    def persistent_load(self, pid):
        kind, number = pid
        return _FROM_TABLE[kind](ipc.open_file(self.buffers[f"{number}.arrow"]).read_all())
