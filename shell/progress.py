"""A progress line on the terminal while tidal reads bounded inputs to their end.

``tidal run`` reads a script's files (and finite datagen) to their end before a view is created
or a query answered; a big file takes a while. On a terminal, stderr shows one line, rewritten
in place, with the rows taken in, the rate and, where the inputs' size is known, the
percentage; the line is cleared when the reading ends. Nothing is written when stderr is not a
terminal (a pipe, a file, CI), nor for a catch-up shorter than ``DELAY`` seconds.

    >>> import io
    >>> from tidal.engine.ticks import Progress
    >>> out = io.StringIO()
    >>> line = ProgressLine(out, tty=True)
    >>> line(Progress(rows=1_500_000, seconds=2.0, fraction=0.25))
    >>> out.getvalue()
    '\\rreading inputs: 1,500,000 rows, 750,000 rows/s, 25%'
    >>> line(Progress(rows=6_000_000, seconds=8.0, fraction=1.0, finished=True))
    >>> out.getvalue().endswith("25%\\r" + " " * 51 + "\\r")  # the line is cleared
    True
"""

from __future__ import annotations

import time
from typing import TextIO

from tidal.engine.ticks import Progress

DELAY = 0.5  # seconds: quicker catch-ups show nothing
EVERY = 0.2  # seconds between two updates of the line


class ProgressLine:
    def __init__(self, stream: TextIO, tty: bool | None = None) -> None:
        self.stream = stream
        if tty is None:  # the shell's own streams may not say: then they are no terminal
            isatty = getattr(stream, "isatty", None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self._shown = 0  # the length of the line on screen
        self._last = float("-inf")

    def __call__(self, progress: Progress) -> None:
        if not self.tty:
            return
        if progress.finished:
            if self._shown:
                self.stream.write("\r" + " " * self._shown + "\r")
                self.stream.flush()
                self._shown = 0
            return
        now = time.monotonic()
        if (progress.seconds < DELAY and not self._shown) or now - self._last < EVERY:
            return
        self._last = now
        rate = progress.rows / progress.seconds if progress.seconds else 0
        text = f"reading inputs: {progress.rows:,} rows, {rate:,.0f} rows/s"
        if progress.fraction is not None:
            text += f", {progress.fraction:.0%}"
        padding = " " * max(0, self._shown - len(text))
        self.stream.write("\r" + text + padding)
        self.stream.flush()
        self._shown = max(self._shown, len(text))
