"""Live views: a subscription shown as it changes, or a query run again every few seconds
(``\\watch 2 SELECT ...``, as psql's ``\\watch``), until Ctrl-C (or ``q``).

- table mode: the relation's current rows, redrawn in place after every tick that changed them
  (sorted, as many as fit the terminal);
- changelog mode: every change as it happens, one line each, like Flink's SQL client: ``+I``
  insert, ``-D`` delete, and a row's retraction and insertion in one tick with the same key as
  ``-U`` (before) then ``+U`` (after). Without a known key (tables, sources) nothing pairs.

Rows show sorted by their values, or newest first (``\\set WATCH_ORDER newest``): the rows
that appeared last on top (for a query: in the run they first appeared in, then in the query's
order).

Sources keep flowing meanwhile: the embedded backend's ticker runs on its own thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prompt_toolkit.input.typeahead import store_typeahead
from prompt_toolkit.keys import Keys

from tidal.shell.format import Fragments, rows_of, table_lines, type_name
from tidal.shell.interactive.waiting import pressed_keys

if TYPE_CHECKING:
    import pyarrow as pa
    from prompt_toolkit.input import Input

    from tidal.shell.interactive.backend import Subscription
    from tidal.shell.interactive.display import Display

DIFF = "diff"
_STOP_KEYS = (Keys.ControlC, "q")
_OP_STYLES = {"+I": "class:op.insert", "-D": "class:op.delete", "-U": "class:op.before",
              "+U": "class:op.after"}  # fmt: skip
REDRAW_EVERY = 0.1  # seconds: changes arriving faster are drawn together (one next() call)


class LiveTable:
    """A relation's rows folded up from its changes: how many copies of each row there are.

    >>> import pyarrow as pa
    >>> live = LiveTable(pa.schema([("k", pa.string())]))
    >>> live.apply(pa.table({"k": ["a", "b", "a"], "diff": [1, 1, -1]}))
    >>> live.table().to_pylist()
    [{'k': 'b'}]
    >>> live.apply(pa.table({"k": ["c", "a"], "diff": [1, 1]}))
    >>> live.table()["k"].to_pylist(), live.table(newest_first=True)["k"].to_pylist()
    (['a', 'b', 'c'], ['a', 'c', 'b'])
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.counts: dict[tuple, int] = {}
        self.values: dict[tuple, dict] = {}
        self.arrived: dict[tuple, int] = {}  # when each row last appeared (newest first)
        self._serial = 0

    def apply(self, rows: pa.Table) -> None:
        for record in rows.to_pylist():
            diff = record.pop(DIFF)
            key = tuple(_hashable(v) for v in record.values())
            count = self.counts.get(key, 0) + diff
            if count > 0:
                if diff > 0:
                    self._serial += 1
                    self.arrived[key] = self._serial
                self.counts[key] = count
                self.values[key] = record
            else:
                self.counts.pop(key, None)
                self.values.pop(key, None)
                self.arrived.pop(key, None)

    def __len__(self) -> int:
        return sum(self.counts.values())

    def table(self, limit: int | None = None, newest_first: bool = False) -> pa.Table:
        import pyarrow as pa

        try:
            keys = sorted(self.counts, key=lambda k: tuple((v is None, v) for v in k))
        except TypeError:
            keys = sorted(self.counts, key=repr)
        if newest_first:
            keys.sort(key=lambda k: -self.arrived[k])
        records = []
        for key in keys:
            records += [self.values[key]] * self.counts[key]
            if limit is not None and len(records) >= limit:
                break
        return pa.Table.from_pylist(records[:limit], schema=self.schema)


def _hashable(value):
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    return value


class Changelog:
    """Changes as aligned ``op | tick | columns...`` lines; columns widen as values need."""

    def __init__(self, schema: pa.Schema, key_columns: list[str]) -> None:
        self.names = ["op", "tick", *schema.names]
        self.types = ["", "", *(type_name(f.type) for f in schema)]
        self.widths = [max(len(n), len(t), 2) for n, t in zip(self.names, self.types)]
        self.key_columns = key_columns

    def header(self) -> list[Fragments]:
        return [
            self._line([("class:header", n) for n in self.names]),
            self._line([("class:type", t) for t in self.types]),
            [("class:rule", "-" + "-+-".join("-" * w for w in self.widths) + "-")],
        ]

    def lines(self, tick: int, rows: pa.Table) -> list[Fragments]:
        from tidal.engine.changelog import to_changelog
        from tidal.engine.zset import WEIGHT

        changes = to_changelog(
            rows.rename_columns([*rows.column_names[:-1], WEIGHT]), self.key_columns
        )
        out = []
        for row in rows_of(changes):
            op, values = row[0], row[1:]
            cells = [(_OP_STYLES[op], op), ("", str(tick))]
            cells += [("class:null", "NULL") if v is None else ("", v) for v in values]
            self.widths = [max(w, len(c[1])) for w, c in zip(self.widths, cells)]
            out.append(self._line(cells))
        return out

    def _line(self, cells: list[tuple[str, str]]) -> Fragments:
        fragments: Fragments = []
        for i, (style, text) in enumerate(cells):
            fragments += [("class:rule", " | " if i else " "), (style, text.ljust(self.widths[i]))]
        return fragments


def watch(
    subscription: Subscription,
    display: Display,
    input: Input,
    key_columns: list[str],
    changelog: bool = False,
    newest_first: bool = False,
) -> None:
    """Show ``subscription`` live until Ctrl-C or ``q``, or until it ends; then close it."""
    name = subscription.name
    schema = subscription.schema
    schema = schema.remove(schema.get_field_index(DIFF)) if DIFF in schema.names else schema
    live = LiveTable(schema)
    log = Changelog(schema, key_columns) if changelog else None
    output = display.output
    frame = 0  # lines of the table drawn last (table mode)
    tick, changed, reason = None, True, ""
    if log is not None:
        display.lines(log.header(), terminal=True)
    typed: list = []  # keys after the one that stops the view are kept for the prompt
    try:
        with input.raw_mode():
            while True:
                typed += pressed_keys(input, 0)
                stop = next((i for i, k in enumerate(typed) if k.key in _STOP_KEYS), None)
                if stop is not None:
                    typed, reason = typed[stop + 1 :], "stopped"
                    break
                for update in subscription.next(timeout=REDRAW_EVERY):
                    tick = update.tick
                    if update.rows is None:
                        continue
                    live.apply(update.rows)
                    if log is not None and update.rows.num_rows:
                        _status(output, "")
                        display.lines(log.lines(update.tick, update.rows), terminal=True)
                    changed = True
                if getattr(subscription, "closed", False):
                    reason = subscription.error or "the subscription ended"
                    break
                if log is None and changed:
                    frame = _redraw(display, live, frame, newest_first)
                    changed = False
                _status(output, f"watching {name} · {len(live)} rows · tick {tick} · Ctrl-C stops")
    finally:
        store_typeahead(input, typed)
        subscription.close()
        if log is None and changed:
            _redraw(display, live, frame, newest_first)
        _status(output, "")
    display.notice(f"{reason} watching {name} at tick {tick} ({len(live)} rows)".strip())


def watch_query(
    run: Callable[[], pa.Table],
    label: str,
    interval: float,
    display: Display,
    input: Input,
    newest_first: bool = False,
) -> None:
    """``run()`` every ``interval`` seconds, its rows redrawn in place, until Ctrl-C or ``q``
    (an error of ``run`` ends the watch and is raised)."""
    output = display.output
    frame = runs = 0
    table = None
    first_seen: dict[tuple, int] = {}  # a row -> the run it first appeared in
    typed: list = []
    due = time.monotonic()
    try:
        with input.raw_mode():
            while True:
                typed += pressed_keys(input, 0)
                stop = next((i for i, k in enumerate(typed) if k.key in _STOP_KEYS), None)
                if stop is not None:
                    typed = typed[stop + 1 :]
                    break
                if time.monotonic() >= due:
                    due = time.monotonic() + interval
                    table, runs = run(), runs + 1
                    if newest_first:
                        table = _newest_first(table, first_seen, runs)
                    frame = _draw(display, table, table.num_rows, frame)
                rows = table.num_rows if table is not None else 0
                every = f"every {interval:g} s"
                _status(
                    output, f"watching {label} · {rows} rows · run {runs}, {every} · Ctrl-C stops"
                )
                time.sleep(min(REDRAW_EVERY, max(due - time.monotonic(), 0)))
    finally:
        store_typeahead(input, typed)
        _status(output, "")
    rows = table.num_rows if table is not None else 0
    display.notice(f"stopped watching {label} after {runs} runs ({rows} rows)")


def _newest_first(table: pa.Table, first_seen: dict[tuple, int], run: int) -> pa.Table:
    """``table``'s rows, those that appeared in the latest runs first, else in its order.

    >>> import pyarrow as pa
    >>> seen = {}
    >>> _newest_first(pa.table({"k": [1, 2]}), seen, 1)["k"].to_pylist()
    [1, 2]
    >>> _newest_first(pa.table({"k": [1, 2, 3]}), seen, 2)["k"].to_pylist()
    [3, 1, 2]
    """
    keys = [tuple(_hashable(v) for v in row.values()) for row in table.to_pylist()]
    for key in keys:
        first_seen.setdefault(key, run)
    for gone in set(first_seen) - set(keys):  # a row that comes back is new again
        del first_seen[gone]
    import pyarrow as pa

    order = sorted(range(len(keys)), key=lambda i: -first_seen[keys[i]])
    return table.take(pa.array(order, pa.int64()))


def _redraw(display: Display, live: LiveTable, frame: int, newest_first: bool = False) -> int:
    room = max(display.height() - 6, 1)
    return _draw(display, live.table(limit=room, newest_first=newest_first), len(live), frame)


def _draw(display: Display, table: pa.Table, total: int, frame: int) -> int:
    """Draw as much of ``table`` (of ``total`` rows) as fits over the previous frame; returns
    its height in lines."""
    output = display.output
    shown = table.slice(0, max(display.height() - 6, 1))
    lines = table_lines(shown, width=output.get_size().columns, types=True).lines
    if total > shown.num_rows:
        lines.append([("class:footer", f"… {total - shown.num_rows} more rows")])
    output.write_raw("\r")
    if frame:
        output.cursor_up(frame)
    output.erase_down()
    display.lines(lines, terminal=True)
    return len(lines)


def _status(output, text: str) -> None:
    """The line under the view (no newline: it is redrawn in place)."""
    output.write_raw("\r")
    output.erase_end_of_line()
    if text:
        output.write(text[: max(output.get_size().columns - 1, 10)])
    output.flush()
