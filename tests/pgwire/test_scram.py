"""The server side of SCRAM-SHA-256 against RFC 7677's worked example."""

from __future__ import annotations

import base64

import pytest

from tidal.catalog.users import parse_verifier, scram_verifier
from tidal.shell.pgwire.auth import ScramError, ScramExchange

SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
CLIENT_FIRST = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def exchange(password: str) -> ScramExchange:
    secret = parse_verifier(scram_verifier(password, salt=SALT))
    return ScramExchange(secret, server_nonce=SERVER_NONCE)


def test_rfc_7677_example():
    server = exchange("pencil")
    assert server.client_first(CLIENT_FIRST) == SERVER_FIRST
    assert server.client_final(CLIENT_FINAL) == SERVER_FINAL


def test_wrong_password_fails_the_proof():
    server = exchange("crayon")
    server.client_first(CLIENT_FIRST)
    with pytest.raises(ScramError):
        server.client_final(CLIENT_FINAL)


def test_libpq_style_empty_user_name_is_accepted():
    server = exchange("pencil")
    assert server.client_first("n,,n=,r=abc").startswith("r=abc" + SERVER_NONCE)


def test_channel_binding_requests_are_refused():
    with pytest.raises(ScramError):
        exchange("pencil").client_first("p=tls-server-end-point,,n=,r=abc")
