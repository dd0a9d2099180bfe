"""The sans-IO codec under arbitrary bytes: decoding returns messages or raises ProtocolError,
nothing else. And what the server builds decodes back to what it meant."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from tidal.shell.pgwire import codec
from tidal.shell.pgwire.auth import ScramError, ScramExchange
from tidal.sql.parameters import stand_ins
from tidal.sql.parser import parse_statement

KINDS = [b"Q", b"P", b"B", b"D", b"E", b"C", b"S", b"H", b"X", b"p", b"d", b"c", b"f", b"F"]


def framed(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_stream_raises_only_protocol_errors(data):
    framer = codec.Framer(max_size=1 << 16)
    try:
        framer.feed(data)
        for kind, body in framer:
            codec.parse_message(kind, body)
    except codec.ProtocolError:
        pass


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(KINDS), st.binary(max_size=200))
def test_arbitrary_bodies_raise_only_protocol_errors(kind, body):
    try:
        message = codec.parse_message(kind, body)
    except codec.ProtocolError:
        return
    assert type(message).__name__  # a message object came back


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_startup_packets(body):
    try:
        codec.parse_startup(body)
    except codec.ProtocolError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(min_value=1, max_value=40))
def test_frames_survive_any_split(payload, cut):
    stream = framed(b"Q", payload.replace(b"\0", b"") + b"\0") + framed(b"S", b"")
    framer = codec.Framer(max_size=1 << 16)
    frames = []
    for start in range(0, len(stream), cut):
        framer.feed(stream[start : start + cut])
        frames.extend(framer)
    assert [k for k, _ in frames] == [b"Q", b"S"]
    assert frames[0][1] == payload.replace(b"\0", b"") + b"\0"


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=20).map(lambda s: s.replace("\0", "")),
    st.text(max_size=60).map(lambda s: s.replace("\0", "")),
    st.lists(st.integers(min_value=0, max_value=2**32 - 1), max_size=5),
)
def test_parse_round_trip(name, text, oids):
    body = codec.cstring(name) + codec.cstring(text)
    body += struct.pack(f"!h{len(oids)}I", len(oids), *oids)
    assert codec.parse_message(b"P", body) == codec.Parse(name, text, tuple(oids))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.binary(max_size=20)), max_size=6))
def test_bind_round_trip(values):
    body = b"portal\0stmt\0" + struct.pack("!hh", 1, 1) + struct.pack("!h", len(values))
    for value in values:
        body += struct.pack("!i", -1) if value is None else struct.pack("!i", len(value)) + value
    body += struct.pack("!h", 0)
    message = codec.parse_message(b"B", body)
    assert message == codec.Bind("portal", "stmt", (1,), tuple(values), ())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_string_parameters_stay_one_literal(value):
    """A value of unknown type, a constant of its plan, comes back unchanged and never becomes
    SQL."""
    value = value.replace("\0", "")
    statement = stand_ins(parse_statement("SELECT $1 AS x"), [None], {1: value})
    text = statement.sql(dialect="tidal")
    reparsed = parse_statement(text)
    assert len(reparsed.expressions) == 1
    assert reparsed.expressions[0].this.this == value


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80), st.binary(max_size=80))
def test_scram_exchange_rejects_garbage(first, final):
    from tidal.catalog.users import parse_verifier, scram_verifier

    exchange = ScramExchange(parse_verifier(scram_verifier("pw", salt=b"0123456789abcdef")))
    try:
        exchange.client_first(first.decode("utf-8", "replace"))
        exchange.client_final(final.decode("utf-8", "replace"))
    except ScramError:
        return
    raise AssertionError("a random client-final message passed SCRAM")
