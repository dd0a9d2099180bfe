"""The protocol state machine (shell/pgwire/protocol.py) without a socket: bytes of frontend
messages in, the messages it answers and the state it is in out. The test plays the driver:
it does what a waiting message asks (run a statement, learn its columns, drain) and hands the
result back. The statements come from a stand-in for the router."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import pyarrow as pa
import pytest
from wire_client import FLUSH, SYNC, TERMINATE, bind, describe, execute, message, parse, query

from tidal.catalog.sqlstate import FEATURE_NOT_SUPPORTED, PROTOCOL_VIOLATION, SYNTAX_ERROR
from tidal.shell.pgwire.error_responses import ServerError
from tidal.shell.pgwire.jobs import Drain, LearnColumns, RunStatement
from tidal.shell.pgwire.protocol import ClientState, SessionProtocol, State
from tidal.shell.pgwire.results import LATER, Rows
from tidal.shell.pgwire.session_state import Client, SessionState, TransactionStatus
from tidal.sql.errors import SqlError


@dataclass
class Statement:
    text: str
    param_oids: list[int]
    returns_rows: bool


class Statements:
    """``SELECT n`` answers one row at once; ``SLOW n`` the same after waiting; ``WIDE n`` n
    rows of 100 characters after waiting; ``BAD`` does not parse; ``FAIL`` fails when run;
    anything else is a command answered at once with its first word as tag."""

    def prepare(self, text: str, declared: tuple[int, ...] = ()) -> Statement:
        if text.startswith("BAD"):
            raise SqlError("syntax error at or near 'BAD'", line=1, column=1)
        rows = text.startswith(("SELECT", "SLOW", "WIDE"))
        return Statement(text, list(declared), rows)

    def run_now(self, statement: Statement, values: list):
        if statement.text.startswith(("SLOW", "WIDE")):
            return LATER
        if statement.text.startswith("FAIL"):
            raise ServerError("it failed", FEATURE_NOT_SUPPORTED)
        if statement.text.startswith("SELECT"):
            return Rows(pa.table({"n": [int(statement.text.split()[1])]}))
        return statement.text.split()[0].upper() if statement.text else None


def result_of(statement: Statement) -> Rows:
    """What the driver hands back for a statement that waited."""
    count = int(statement.text.split()[1])
    if statement.text.startswith("WIDE"):
        return Rows(pa.table({"s": ["x" * 100] * count}))
    return Rows(pa.table({"n": [count]}))


def session() -> SessionProtocol:
    return SessionProtocol(SessionState(Client("me", 1, 2)), Statements(), 1 << 20)


def kinds(data: bytes) -> str:
    """The type letters of the backend messages in ``data``."""
    letters, at = [], 0
    while at < len(data):
        letters.append(chr(data[at]))
        at += 1 + struct.unpack_from("!i", data, at + 1)[0]
    assert at == len(data)
    return "".join(letters)


def error_code(data: bytes) -> str:
    at = data.index(b"E")
    fields = data[at + 5 :].split(b"\0")
    return next(f[1:].decode() for f in fields if f[:1] == b"C")


def test_a_pipelined_read_is_answered_at_once_and_sent_at_sync():
    protocol = session()
    protocol.receive(parse("s", "SELECT 7") + bind("", "s") + execute(""))
    assert protocol.answer() is None and protocol.phase is State.READY
    assert protocol.data_to_send() == b""  # answers before Sync may wait
    protocol.receive(SYNC)
    protocol.answer()
    assert kinds(protocol.data_to_send()) == "12DCZ"
    assert protocol.data_to_send() == b""


def test_an_extended_query_error_skips_everything_up_to_sync():
    protocol = session()
    protocol.receive(parse("", "BAD") + bind("", "") + execute(""))
    protocol.answer()
    assert protocol.phase is State.SKIPPING
    sent = protocol.data_to_send()  # sent at once: a driver that sent Flush waits for it
    assert kinds(sent) == "E" and error_code(sent) == SYNTAX_ERROR
    protocol.receive(describe("S", "") + SYNC + parse("", "SELECT 1") + SYNC)
    protocol.answer()
    assert kinds(protocol.data_to_send()) == "Z1Z" and protocol.phase is State.READY


def test_a_message_that_must_wait_holds_back_the_ones_after_it():
    protocol = session()
    protocol.receive(parse("", "SLOW 5") + bind("", "") + execute("") + SYNC)
    protocol.receive(query("SELECT 6"))
    request = protocol.answer()
    assert isinstance(request, RunStatement) and protocol.phase is State.WAITING
    assert protocol.answer() is None and len(protocol.pending) == 2  # Sync, Query wait
    assert protocol.resume(result_of(request.prepared)) is None
    assert protocol.phase is State.READY
    protocol.answer()
    assert kinds(protocol.data_to_send()) == "12DCZTDCZ"


def test_work_that_fails_while_waiting_is_reported_and_skips_to_sync():
    protocol = session()
    protocol.receive(parse("", "SLOW 1") + bind("", "") + execute("") + SYNC)
    protocol.answer()
    assert protocol.throw(ServerError("it failed", FEATURE_NOT_SUPPORTED)) is None
    assert protocol.phase is State.SKIPPING
    protocol.answer()
    sent = protocol.data_to_send()
    assert kinds(sent) == "12EZ" and error_code(sent) == FEATURE_NOT_SUPPORTED


def test_a_simple_query_runs_its_statements_in_order_and_stops_at_an_error():
    protocol = session()
    protocol.receive(query("SELECT 1; SLOW 2; FAIL; SELECT 4"))
    request = protocol.answer()
    assert isinstance(request, RunStatement) and request.prepared.text == "SLOW 2"
    protocol.resume(result_of(request.prepared))
    sent = protocol.data_to_send()
    assert kinds(sent) == "TDCTDCEZ" and protocol.phase is State.READY


def test_an_error_inside_a_transaction_block_fails_it():
    protocol = session()
    protocol.state.transaction = TransactionStatus.IN_BLOCK
    protocol.receive(query("FAIL"))
    protocol.answer()
    assert protocol.state.transaction is TransactionStatus.FAILED
    assert protocol.data_to_send().endswith(b"Z\x00\x00\x00\x05E")


def test_copy_out_is_a_state_of_its_own_until_copy_done():
    protocol = session()
    protocol.receive(query("SLOW 1"))
    request = protocol.answer()
    protocol.copy_out(b"H\x00\x00\x00\x07\x00\x00\x00")  # what COPY sends as it starts
    assert protocol.phase is State.COPY_OUT
    protocol.send(message(b"d", b"1\n"))
    protocol.copy_out_done(message(b"c"))
    assert protocol.phase is State.WAITING
    assert protocol.resume("COPY 1") is None and protocol.phase is State.READY
    assert isinstance(request, RunStatement)
    assert kinds(protocol.data_to_send()) == "HdcCZ"


def test_an_error_ends_copy_out():
    protocol = session()
    protocol.receive(query("SLOW 1"))
    protocol.answer()
    protocol.copy_out(b"H\x00\x00\x00\x07\x00\x00\x00")
    protocol.throw(ServerError("the view was dropped", FEATURE_NOT_SUPPORTED))
    assert protocol.phase is State.READY
    assert kinds(protocol.data_to_send()) == "HEZ"


def test_describe_of_a_statement_waits_to_learn_its_columns():
    protocol = session()
    protocol.receive(parse("q", "SLOW 1", (23,)) + describe("S", "q") + FLUSH)
    request = protocol.answer()
    assert isinstance(request, LearnColumns)
    protocol.resume(pa.schema([("n", pa.int32())]))
    assert protocol.data_to_send() == b""  # until Flush, which waited its turn
    protocol.answer()
    assert kinds(protocol.data_to_send()) == "1tT"
    assert protocol.state.statements["q"].described.names == ["n"]


def test_a_large_result_asks_the_driver_to_drain_between_chunks():
    protocol = session()
    protocol.receive(query("WIDE 20000"))  # about 2 MB of rows
    request = protocol.answer()
    drains = 0
    request = protocol.resume(result_of(request.prepared))
    while isinstance(request, Drain):
        drains += 1
        protocol.take_output()  # the driver writes, then waits for the client
        request = protocol.resume(None)
    assert request is None and drains >= 4
    assert protocol.data_to_send().endswith(b"Z\x00\x00\x00\x05I")


def test_sync_forgets_unnamed_portals_only_outside_a_block():
    protocol = session()
    protocol.receive(parse("s", "SELECT 1") + bind("p", "s") + SYNC)
    protocol.answer()
    assert protocol.portals == {}
    protocol.state.transaction = TransactionStatus.IN_BLOCK
    protocol.receive(bind("p", "s") + SYNC)
    protocol.answer()
    assert list(protocol.portals) == ["p"]


def test_terminate_closes_and_nothing_after_it_is_read():
    protocol = session()
    protocol.receive(query("SELECT 1") + TERMINATE + query("SELECT 2"))
    assert protocol.client is ClientState.DONE and len(protocol.pending) == 2
    protocol.receive(query("SELECT 3"))
    assert len(protocol.pending) == 2
    protocol.answer()
    assert protocol.phase is State.CLOSED
    assert kinds(protocol.data_to_send()) == "TDCZ"


def test_what_the_client_sent_before_closing_is_still_answered():
    protocol = session()
    protocol.receive(query("SLOW 1"))
    request = protocol.answer()
    protocol.receive_end()
    assert protocol.client is ClientState.DONE and protocol.phase is State.WAITING
    protocol.resume(result_of(request.prepared))
    protocol.answer()
    assert protocol.phase is State.CLOSED
    assert kinds(protocol.data_to_send()) == "TDCZ"


@pytest.mark.parametrize(
    "data",
    [b"\x01\x02garbage that is no message", message(b"p", b"secret\0")],
    ids=["garbage", "a password after startup"],
)
def test_bytes_that_are_no_expected_message_end_the_session_with_fatal_08P01(data):
    protocol = session()
    protocol.receive(query("SELECT 1") + data)
    protocol.answer()
    sent = protocol.data_to_send()
    assert protocol.phase is State.CLOSED
    assert kinds(sent) == "TDCZE" and error_code(sent) == PROTOCOL_VIOLATION
    assert b"SFATAL\0" in sent


def test_the_function_call_protocol_is_refused():
    protocol = session()
    protocol.receive(message(b"F", b"\0\0\0\0"))
    protocol.answer()
    sent = protocol.data_to_send()
    assert kinds(sent) == "EZ" and error_code(sent) == FEATURE_NOT_SUPPORTED
    assert protocol.phase is State.READY


def test_a_paused_writer_holds_the_answers_back():
    protocol = session()
    protocol.receive(query("SELECT 1") + query("SELECT 2"))
    assert protocol.answer(paused=lambda: True) is None and len(protocol.pending) == 2
    protocol.answer()
    assert kinds(protocol.data_to_send()) == "TDCZTDCZ"
