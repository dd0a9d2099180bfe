"""What a session's job asks of the driver (driver.py) when the protocol (protocol.py) must wait:
each request names one thing to do on the event loop's behalf, and the job resumes with its
result."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from tidal.shell.pgwire import copy_in


@dataclass(frozen=True, slots=True)
class RunStatement:
    """Run ``prepared`` with parameter ``values`` (router.Router.run); resume with the outcome."""

    prepared: object
    values: list


@dataclass(frozen=True, slots=True)
class ReadStatement:
    """Read a long statement on a thread (router.Router.prepare): parsing and typing take
    about 12 µs a character, too long for the event loop. Resume with the prepared one."""

    text: str
    declared: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class LearnColumns:
    """Learn the columns ``prepared`` returns (router.Router.describe); resume with a schema
    or None."""

    prepared: object


@dataclass(frozen=True, slots=True)
class Drain:
    """Write everything buffered, and resume once the client reads again."""


DRAIN = Drain()
Request = (
    RunStatement | ReadStatement | LearnColumns | Drain | copy_in.ReadCopyData | copy_in.RunCopy
)
Job = Generator[Request, object, None]
