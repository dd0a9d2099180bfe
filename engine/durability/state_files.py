"""A tree of engine state written to a folder: Arrow tables as Arrow IPC files, the rest pickled.

The state of a checkpoint is a tree of dicts, lists and tuples whose leaves are Python values,
numpy arrays and Arrow tables and arrays (operator snapshots, contents, positions). ``freeze``
pickles it under the engine's lock, taking the Arrow objects out as they are (they are immutable,
so the tick that comes next cannot change them); ``write`` stores that in a folder off the lock;
``load`` reads it back, the IPC files memory-mapped (no copy until an operator needs one).

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
import os
import pathlib
import pickle
from dataclasses import dataclass

import pyarrow as pa
from pyarrow import ipc

STATE = "state.pickle"


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
    """The frozen tree as files in ``folder`` (which exists), each fsynced."""
    for number, table in enumerate(frozen.tables):
        with open(folder / f"{number}.arrow", "wb") as file:
            with ipc.new_file(file, table.schema) as writer:
                writer.write_table(table)
            file.flush()
            os.fsync(file.fileno())
    with open(folder / STATE, "wb") as file:
        file.write(frozen.pickled)
        file.flush()
        os.fsync(file.fileno())


def load(folder: pathlib.Path) -> object:
    with open(folder / STATE, "rb") as file:
        return _Unpickler(file, folder).load()


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
    def __init__(self, file, folder: pathlib.Path) -> None:
        super().__init__(file)
        self.folder = folder

    def persistent_load(self, pid):
        kind, number = pid
        source = pa.memory_map(str(self.folder / f"{number}.arrow"))
        return _FROM_TABLE[kind](ipc.open_file(source).read_all())
