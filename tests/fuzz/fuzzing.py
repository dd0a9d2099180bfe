"""A seeded fuzzer for tidal: mutated SQL through ``Database.execute`` and over pgwire, and
malformed protocol messages over a raw socket.

The SQL comes from the project itself (the sqllogictest files, queries/demo.sql): each file
runs in order, every statement as written and then a few mutations of it (tokens deleted,
duplicated, swapped or replaced; deep nesting; huge literals; odd Unicode). What counts as a
finding (``Findings``): an exception that is not a ``TidalError``, an error whose SQLSTATE is
XX000 or whose message names a Python exception type, a statement past ``HANG_SECONDS``, and
over the wire a server that stops answering. ``tests/fuzz/test_fuzz.py`` runs a bounded share
in the suite; ``benchmarks/fuzz.py`` the long run.
"""

from __future__ import annotations

import pathlib
import random
import re
import signal
import struct
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tidal.catalog.sqlstate import TidalError
from tidal.engine.database import Database
from tidal.sql.dialect import Tidal

ROOT = pathlib.Path(__file__).resolve().parents[2]
HANG_SECONDS = 10.0
# Statements that would reach outside the process (files, connectors) or wait for time.
_SKIPPED = re.compile(
    r"connector|COPY|\bWITH\s*\(|SUBSCRIBE|FETCH|DECLARE|CHECKPOINT", re.IGNORECASE
)
# A Python exception's name in a message: ``ValueError``, ``ArrowInvalid``, ``KeyError``.
_PYTHON_NAME = re.compile(
    r"\b(?:[A-Z][a-z]+)+(?:Error|Exception)\b|\bArrow[A-Z][a-z]+\b|Traceback|object has no attribute"
)


@dataclass
class Findings:
    """What a fuzz run counted, and each finding (at most ``keep`` kept in full)."""

    statements: int = 0
    errors: int = 0
    messages: int = 0
    problems: list[str] = field(default_factory=list)
    keep: int = 50

    def add(self, problem: str) -> None:
        if len(self.problems) < self.keep:
            self.problems.append(problem[:500])
        else:
            self.problems[-1] = f"... and more ({problem[:100]})"


def leak(sqlstate: str | None, message: str) -> bool:
    """Whether an error a client got is an internal one leaking.

    >>> leak("42601", "syntax error at or near 'x'"), leak("XX000", "internal error")
    (False, True)
    >>> leak("22000", "ValueError: precision should be between 1 and 38")
    True
    """
    return sqlstate == "XX000" or bool(_PYTHON_NAME.search(message))


def corpus() -> list[list[str]]:
    """The project's own SQL, one list of statements per file, in file order."""
    files = sorted((ROOT / "tests" / "slt").glob("*.slt"))
    scripts = [_slt_statements(path.read_text()) for path in files]
    demo = ROOT / "queries" / "demo.sql"
    if demo.exists():
        scripts.append([s.strip() for s in demo.read_text().split(";") if s.strip()])
    return [[s for s in script if not _SKIPPED.search(s)] for script in scripts]


def _slt_statements(text: str) -> list[str]:
    """The SQL of each ``statement``/``query`` record of a sqllogictest file."""
    statements = []
    for record in text.split("\n\n"):
        lines = [line for line in record.split("\n") if not line.startswith("#")]
        if lines and lines[0].split(" ")[0] in ("statement", "query"):
            sql = "\n".join(lines[1:]).split("\n----")[0].strip()
            if sql:
                statements.append(sql)
    return statements


_ODD = ["\udc80", "\x00", "\u202e", "\U0001f600", "e\u0301", "\ufeff", "\\", "'", '"', "$1"]
_WORDS = ["(", ")", ",", "SELECT", "FROM", "WHERE", "NULL", "CASE", "END", "::", "[", "]", "*"]


def mutate(sql: str, rng: random.Random) -> str:
    """One random mutation of ``sql``."""
    try:
        tokens = Tidal().tokenize(sql)
    except Exception:  # noqa: BLE001 (text the tokenizer refuses is mutated as text)
        tokens = []
    if not tokens:
        return sql + rng.choice(_WORDS)
    i = rng.randrange(len(tokens))
    token = tokens[i]
    start, end = token.start, token.end + 1
    kind = rng.randrange(10)
    if kind == 0:  # delete a token
        return sql[:start] + sql[end:]
    if kind == 1:  # duplicate a token
        return sql[:end] + " " + sql[start:end] + sql[end:]
    if kind == 2 and i + 1 < len(tokens):  # swap two neighbours
        after = tokens[i + 1]
        return (
            sql[:start]
            + sql[after.start : after.end + 1]
            + " "
            + sql[start:end]
            + sql[after.end + 1 :]
        )
    if kind == 3:  # a word where a token was
        return sql[:start] + rng.choice(_WORDS) + sql[end:]
    if kind == 4:  # deep nesting around a token
        n = rng.choice([10, 60, 130, 500, 2000])
        opener, closer = rng.choice(
            [("(", ")"), ("abs(", ")"), ("ARRAY[", "]"), ("- ", ""), ("NOT ", "")]
        )
        return sql[:start] + opener * n + sql[start:end] + closer * n + sql[end:]
    if kind == 5:  # a huge literal
        literal = rng.choice(
            [
                "9" * rng.choice([40, 400, 5000, 200_000]),
                "'" + "x" * 300_000 + "'",
                "1e400",
                "-0.0e-999",
            ]
        )
        return sql[:start] + literal + sql[end:]
    if kind == 6:  # odd Unicode inside the token
        cut = rng.randrange(start, end + 1)
        return sql[:cut] + rng.choice(_ODD) + sql[cut:]
    if kind == 7:  # cut short
        return sql[: rng.randrange(len(sql) + 1)]
    if kind == 8:  # a long chain
        n = rng.choice([50, 500, 3000])
        return sql[:start] + " AND ".join([sql[start:end]] * n) + sql[end:]
    other = tokens[rng.randrange(len(tokens))]  # a token from elsewhere in the statement
    return sql[:start] + sql[other.start : other.end + 1] + sql[end:]


def _show(sql: str) -> str:
    """A statement for a report: long runs of one character shortened, at most 300 characters."""
    short = re.sub(r"(.)\1{20,}", lambda m: f"{m.group(1) * 3}<x{len(m.group(0))}>", sql)
    return repr(short if len(short) <= 300 else short[:150] + " ... " + short[-150:])


class Hang(Exception):
    """A statement ran past ``HANG_SECONDS``."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ``Hang`` in the main thread if the block runs longer than ``seconds``."""

    def expire(signum, frame):
        raise Hang(f"past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def statements(seed: int, count: int, variants: int = 3) -> Iterator[tuple[int, str, bool]]:
    """(script number, statement, mutated) for ``count`` statements: each script's statements
    as written, each followed by ``variants`` mutations, scripts taken in a seeded order."""
    rng = random.Random(seed)
    scripts = corpus()
    produced = 0
    while True:
        order = list(range(len(scripts)))
        rng.shuffle(order)
        for number in order:
            for sql in scripts[number]:
                for variant in range(variants + 1):
                    if produced >= count:
                        return
                    produced += 1
                    yield number, (mutate(sql, rng) if variant else sql), bool(variant)


def fuzz_database(seed: int, count: int, findings: Findings) -> Findings:
    """Run ``count`` statements through ``Database.execute``, a fresh database per script."""
    db, current = None, None
    for number, sql, _ in statements(seed, count):
        if number != current:
            if db is not None:
                db.close()
            db, current = Database(), number
        findings.statements += 1
        started = time.monotonic()
        try:
            with deadline(HANG_SECONDS):
                db.execute(sql)
        except Hang:
            findings.add(f"hang: {_show(sql)}")
        except TidalError as error:
            findings.errors += 1
            if leak(error.sqlstate, error.message):
                findings.add(f"leak {error.sqlstate} {error.message[:200]!r} from {_show(sql)}")
        except Exception as error:  # noqa: BLE001 (any other exception is a finding)
            findings.add(f"{type(error).__name__}: {str(error)[:200]!r} from {_show(sql)}")
        if time.monotonic() - started > HANG_SECONDS:
            findings.add(f"slow ({time.monotonic() - started:.1f} s): {_show(sql)}")
    if db is not None:
        db.close()
    return findings


def fuzz_pgwire(dsn: str, seed: int, count: int, findings: Findings) -> Findings:
    """Send ``count`` statements over psycopg; after each, the server must answer SELECT 1."""
    import psycopg

    connection = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    try:
        for _, sql, _ in statements(seed, count):
            findings.statements += 1
            try:
                with deadline(HANG_SECONDS):
                    connection.execute(sql.encode("utf-8", "surrogatepass"))
            except Hang:
                findings.add(f"hang over pgwire: {_show(sql)}")
            except psycopg.errors.Error as error:
                findings.errors += 1
                code = error.sqlstate
                message = error.diag.message_primary or str(error)
                if code is None and connection.closed:
                    findings.add(f"connection lost on {_show(sql)}: {error}")
                elif leak(code, message):
                    findings.add(f"leak {code} {message[:200]!r} from {_show(sql)}")
            try:
                if connection.closed or connection.info.transaction_status != 0:
                    connection.close()
                    connection = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
                if connection.execute("SELECT 1").fetchone() != (1,):
                    findings.add(f"SELECT 1 answered wrongly after {_show(sql)}")
            except psycopg.errors.Error as error:
                findings.add(f"the server stopped answering after {_show(sql)}: {error}")
                return findings
    finally:
        connection.close()
    return findings


# --- the wire ------------------------------------------------------------------------------------

_KINDS = b"QPBDECSHXpdcfF"


def _frame(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def malformed(rng: random.Random) -> tuple[bytes, bool]:
    """One malformed message, and whether it is complete (a server may wait for the rest of
    one that is not, as PostgreSQL does)."""
    kind = bytes([rng.choice(_KINDS)]) if rng.random() < 0.8 else bytes([rng.randrange(256)])
    body = rng.randbytes(rng.choice([0, 1, 3, 8, 40, 300]))
    shape = rng.randrange(6)
    if shape == 0:  # a known kind, a random body
        return _frame(kind, body), True
    if shape == 1:  # a length past anything allowed
        return kind + struct.pack("!i", rng.choice([0x7FFFFFFF, 1 << 30, 1 << 24])) + body, False
    if shape == 2:  # a length below the minimum
        return kind + struct.pack("!i", rng.choice([-1, 0, 3, -(1 << 31)])) + body, True
    if shape == 3:  # cut short
        whole = _frame(kind, body + b"\0")
        return whole[: rng.randrange(1, len(whole))], False
    if shape == 4:  # a well-formed Parse/Bind/Execute with odd fields
        text = rng.choice(["SELECT 1", "SELECT $1", "", "SELECT $70000", "\udc80"])
        parts = [
            _frame(
                b"P",
                b"s\0"
                + text.encode("utf-8", "surrogatepass")
                + b"\0"
                + struct.pack("!h", rng.choice([-1, 0, 1, 32767])),
            ),
            _frame(
                b"B",
                b"\0s\0"
                + struct.pack("!hh", rng.choice([-1, 0, 2]), rng.choice([-5, 0, 1, 1000]))
                + body,
            ),
            _frame(b"E", b"\0" + struct.pack("!i", rng.choice([-1, 0, 1]))),
            _frame(b"D", rng.choice([b"S", b"P", b"Z"]) + b"s\0"),
        ]
        return b"".join(rng.sample(parts, rng.randrange(1, 5))), True
    return rng.randbytes(rng.choice([1, 7, 64, 1000])), False  # noise


def fuzz_wire(host: str, port: int, seed: int, count: int, findings: Findings) -> Findings:
    """Send ``count`` malformed messages on fresh connections after a valid startup; after each,
    the connection must answer a Sync and a simple query (or be closed by the server), with
    no XX000 and no Python exception name in any error, and the server keep accepting."""
    from tests.pgwire.wire_client import SYNC, Raw, query

    rng = random.Random(seed)
    sent = 0
    while sent < count:
        raw = Raw(host, port, timeout=HANG_SECONDS)
        data = b""
        try:
            raw.login()
            for _ in range(rng.randrange(1, 20)):
                data, complete = malformed(rng)
                sent += 1
                findings.messages += 1
                raw.send(data)
                if not complete:
                    break  # the server may wait for the rest: leave it the connection to end
                raw.send(SYNC + query("SELECT 1"))
                if not _answered(raw, findings, data):
                    break
        except TimeoutError:
            findings.add(f"no answer within {HANG_SECONDS} s after {data[:60]!r}")
        except OSError:
            pass  # the server closed the connection: allowed after a protocol violation
        finally:
            raw.close()
        _check_alive(host, port, findings, data)
    return findings


def _answered(raw, findings: Findings, data: bytes) -> bool:
    """Read up to the answer to SELECT 1; False when the server closed the connection."""
    from tests.pgwire.wire_client import error_fields

    while True:
        got = raw.read()
        if got is None:
            return False
        kind, body = got
        if kind == b"E":
            findings.errors += 1
            fields = error_fields(body)
            if leak(fields.get("C"), fields.get("M", "")):
                findings.add(
                    f"leak {fields.get('C')} {fields.get('M', '')[:200]!r} after {data[:60]!r}"
                )
        if kind == b"D" and body.endswith(b"1"):
            while got is not None and got[0] != b"Z":
                got = raw.read()
            return got is not None


def _check_alive(host: str, port: int, findings: Findings, data: bytes) -> None:
    from tests.pgwire.wire_client import Raw, query

    raw = Raw(host, port, timeout=HANG_SECONDS)
    try:
        raw.login()
        raw.send(query("SELECT 1"))
        if not any(kind == b"D" for kind, _ in raw.until_ready()):
            findings.add(f"server did not answer SELECT 1 after {data[:60]!r}")
    except OSError as error:
        findings.add(f"server unreachable after {data[:60]!r}: {error}")
    finally:
        raw.close()
