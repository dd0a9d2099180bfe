"""The engine's whole state as one tree, and back: what a checkpoint holds.

``capture`` runs under the engine's lock at a tick boundary, so every view is consistent with
every other and with the sources' positions. It holds: the tick, the catalog as the DDL that
made it (re-run over empty relations on recovery), the users (with their SUPERUSER flag) and
the secret behind unknown names' salts, the contents of tables and
retaining sources, every dataflow's operator states and view contents, the readers' positions,
the sinks' committed states, the watermarks, and the subscriptions' history (for ``AS OF``). ``restore`` puts a captured tree back into an
engine whose catalog was rebuilt from the same DDL.
"""

from __future__ import annotations

import pyarrow as pa

from tidal.catalog.users import User, Users
from tidal.engine.collection import Collection
from tidal.engine.relations import Relations
from tidal.engine.subscriptions import Feeds
from tidal.engine.watermarks import Watermarks


def capture(
    tick: int,
    ddl: list[str],
    users: Users,
    relations: Relations,
    watermarks: Watermarks,
    feeds: Feeds,
) -> dict:
    return {
        "tick": tick,
        "ddl": list(ddl),
        "base_dir": relations.base_dir.resolve(),
        "users": [users.get(name) for name in users.names()],
        "users_secret": users.secret,  # unknown names' salts stay as stable as known ones'
        "bases": {
            name: {
                "contents": _rows(base.contents),
                "reader": base.reader.snapshot() if base.reader is not None else None,
            }
            for name, base in relations.bases.items()
        },
        "views": {
            name: {
                "dataflow": view.dataflow.snapshot() if view.dataflow is not None else None,
                "contents": _rows(view.contents),
            }
            for name, view in relations.views.items()
        },
        "sinks": {
            name: {
                "dataflow": sink.dataflow.snapshot() if sink.dataflow is not None else None,
                "writer": sink.writer.commit(),
            }
            for name, sink in relations.sinks.items()
        },
        "watermarks": watermarks.snapshot(),
        "feeds": feeds.snapshot(),
    }


def restore(
    state: dict, users: Users, relations: Relations, watermarks: Watermarks, feeds: Feeds
) -> None:
    user: User
    for user in state["users"]:
        users.add(user, replace=True)
    users.secret = state.get("users_secret", users.secret)  # absent before issue 15
    for name, saved in state["bases"].items():
        base = relations.bases[name]
        base.contents = _collection(base.contents, saved["contents"])
        if base.reader is not None:
            base.reader.restore(saved["reader"])
    for name, saved in state["views"].items():
        view = relations.views[name]
        if view.dataflow is not None:
            view.dataflow.restore(saved["dataflow"])
        view.contents = _collection(view.contents, saved["contents"])
    for name, saved in state["sinks"].items():
        sink = relations.sinks[name]
        if sink.dataflow is not None:
            sink.dataflow.restore(saved["dataflow"])
        sink.writer.restore(saved["writer"])
    watermarks.restore(state["watermarks"])
    feeds.restore(state["feeds"])


def _rows(contents: Collection | None) -> pa.Table | None:
    # The changes as appended, not consolidated: a checkpoint should not pay for that.
    return contents.changes() if contents is not None else None


def _collection(empty: Collection | None, rows: pa.Table | None) -> Collection | None:
    if empty is None or rows is None:
        return empty
    contents = Collection(empty.schema)
    contents.apply(rows)
    return contents
