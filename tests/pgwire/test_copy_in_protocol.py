"""COPY FROM STDIN in the protocol state machine, without a socket: the test plays the driver,
handing the job each next message of the client (ReadCopyData) and the load's result
(RunCopy)."""

from __future__ import annotations

from test_protocol_states import Statement, Statements, error_code, kinds
from wire_client import SYNC, bind, execute, message, parse, query

from tidal.catalog.sqlstate import FEATURE_NOT_SUPPORTED, PROTOCOL_VIOLATION, QUERY_CANCELED
from tidal.shell.pgwire.copy_in import CopyIn, ReadCopyData, RunCopy, copy_in_response
from tidal.shell.pgwire.protocol import SessionProtocol, State
from tidal.shell.pgwire.session_state import Client, SessionState


class CopyStatements(Statements):
    """``COPY ...`` takes rows from the client (two columns); the rest as Statements."""

    def run_now(self, statement: Statement, values: list):
        if statement.text.startswith("COPY"):
            return CopyIn(statement, copy_in_response(2))
        return super().run_now(statement, values)


def session() -> SessionProtocol:
    return SessionProtocol(SessionState(Client("me", 1, 2)), CopyStatements(), 1 << 20)


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


COPY_DONE = message(b"c")


def feed(protocol: SessionProtocol, request):
    """Hand the job the client's messages while it asks for them; the request after."""
    while isinstance(request, ReadCopyData) and protocol.pending:
        request = protocol.resume(protocol.pending.popleft())
    return request


def test_copy_data_then_done_loads_the_rows_and_warns_of_lines_left_out():
    protocol = session()
    protocol.receive(query("COPY t FROM STDIN"))
    request = protocol.answer()
    assert isinstance(request, ReadCopyData) and protocol.phase is State.WAITING
    assert kinds(protocol.data_to_send()) == "G"  # CopyInResponse goes out at once
    protocol.receive(copy_data(b"1\tx\n2\t") + copy_data(b"y\n") + message(b"H") + COPY_DONE)
    request = feed(protocol, request)
    assert request == RunCopy(request.prepared, b"1\tx\n2\ty\n")
    assert protocol.resume(("COPY 2", ("line left out: STDIN:3: bad",))) is None
    assert kinds(protocol.data_to_send()) == "NCZ" and protocol.phase is State.READY


def test_copy_fail_is_an_error_and_the_session_goes_on():
    protocol = session()
    protocol.receive(query("COPY t FROM STDIN; SELECT 1"))
    request = protocol.answer()
    protocol.data_to_send()
    protocol.receive(copy_data(b"1\tx\n") + message(b"f", b"gave up\0") + query("SELECT 2"))
    assert feed(protocol, request) is None
    sent = protocol.data_to_send()
    assert kinds(sent) == "EZ" and error_code(sent) == QUERY_CANCELED
    assert protocol.phase is State.READY
    protocol.answer()
    assert kinds(protocol.data_to_send()) == "TDCZ"  # SELECT 2; the SELECT 1 after COPY did not run


def test_another_message_during_copy_is_a_protocol_violation():
    protocol = session()
    protocol.receive(query("COPY t FROM STDIN"))
    request = protocol.answer()
    protocol.data_to_send()
    protocol.receive(query("SELECT 1"))
    assert feed(protocol, request) is None
    sent = protocol.data_to_send()
    assert kinds(sent) == "EZ" and error_code(sent) == PROTOCOL_VIOLATION


def test_copy_from_stdin_in_the_extended_protocol_is_refused():
    protocol = session()
    protocol.receive(parse("", "COPY t FROM STDIN") + bind("", "") + execute("") + SYNC)
    protocol.answer()
    sent = protocol.data_to_send()
    assert kinds(sent) == "12EZ" and error_code(sent) == FEATURE_NOT_SUPPORTED
