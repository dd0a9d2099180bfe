"""The log of the ``tidal`` command: one line per event that matters, on stderr.

Modules log through the standard ``logging`` module under their own names (``tidal.engine.ticks``,
``tidal.engine.durability.durability``, ...); this configures the ``tidal`` logger once, at the
level ``--log-level`` gives. Events, by level (docs/operations.md lists them):

- info: the server started and stopped, a script ran, a relation was created or dropped, a
  checkpoint was written, a database was recovered, a source met a problem (once per problem;
  the front doors also print these);
- warning: a tick of source rows failed and was undone (a statement's own failed tick is
  info: its client is told), a checkpoint could not be written.

    >>> import logging
    >>> configure("info")
    >>> logging.getLogger("tidal").level == logging.INFO
    True
    >>> configure("warning")
"""

from __future__ import annotations

import argparse
import logging
import sys

LEVELS = ("debug", "info", "warning", "error")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# Per command: a server's operators want its start, stop and checkpoints; a script or the
# shell prints what matters already.
DEFAULTS = {"serve": "info"}


def add_argument(parser: argparse.ArgumentParser, top: bool = False) -> None:
    """``--log-level`` on the ``tidal`` command (``top``) or on one of its subcommands; either
    place works (a subcommand's default must not hide the top one's value)."""
    parser.add_argument(
        "--log-level",
        choices=LEVELS,
        default=None if top else argparse.SUPPRESS,
        help="what to log on stderr (default: info for serve, else warning; "
        "docs/operations.md lists the events)",
    )


def level_for(command: str | None, given: str | None) -> str:
    """The level a command logs at: as given, else its default.

    >>> level_for("serve", None), level_for("run", None), level_for("serve", "debug")
    ('info', 'warning', 'debug')
    """
    return given or DEFAULTS.get(command or "", "warning")


def configure(level: str) -> None:
    """Log the ``tidal`` logger's events at ``level`` and above to stderr (called again, it
    replaces its own handler rather than adding one)."""
    logger = logging.getLogger("tidal")
    logger.setLevel(level.upper())
    for handler in list(logger.handlers):
        if getattr(handler, "tidal_log", False):
            logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.tidal_log = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False
