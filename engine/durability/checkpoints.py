"""Checkpoints: the whole engine state at a tick boundary, written atomically.

A checkpoint is a folder ``ckpt-<sequence>`` (tidal.engine.durability.state_files) written
under a temporary name, fsynced, renamed into place; then ``CURRENT`` is rewritten to name it
(tidal.engine.durability.data_dir.write_durably). A crash at any moment leaves ``CURRENT``
naming a complete checkpoint, the previous one or the new one. Older checkpoints are removed
once ``CURRENT`` names the new one; a half-written temporary folder is removed at the next write.
"""

from __future__ import annotations

import pathlib
import shutil

from tidal.engine.durability import state_files
from tidal.engine.durability.data_dir import DurabilityError, fsync_directory, write_durably

CURRENT = "CURRENT"
_PREFIX = "ckpt-"


def current(directory: pathlib.Path) -> pathlib.Path | None:
    """The newest complete checkpoint's folder, None if there is none."""
    pointer = directory / CURRENT
    if not pointer.exists():
        return None
    folder = directory / pointer.read_text().strip()
    if not (folder / state_files.STATE).exists():
        raise DurabilityError(
            f"checkpoint {folder} named by {pointer} is missing: the data directory was "
            "changed by something other than tidal"
        )
    return folder


def write(directory: pathlib.Path, frozen: state_files.Frozen) -> pathlib.Path:
    """Write a checkpoint and make it the current one; returns its folder."""
    previous = current(directory)
    sequence = int(previous.name.removeprefix(_PREFIX)) + 1 if previous else 1
    name = f"{_PREFIX}{sequence:010d}"
    temporary = directory / f".{name}.tmp"
    for stale in directory.glob(f".{_PREFIX}*.tmp"):  # left by a crash during a write
        shutil.rmtree(stale)
    temporary.mkdir()
    state_files.write(frozen, temporary)
    fsync_directory(temporary)
    folder = directory / name
    temporary.rename(folder)
    fsync_directory(directory)
    write_durably(directory / CURRENT, name.encode())
    for old in directory.glob(f"{_PREFIX}*"):
        if old.name != name:
            shutil.rmtree(old)
    return folder


def load(folder: pathlib.Path) -> dict:
    return state_files.load(folder)
