"""Authentication and TLS: SCRAM-SHA-256 with right and wrong passwords, TLS with a
self-signed certificate, cleartext passwords over TLS only."""

from __future__ import annotations

import asyncio
import shutil
import struct
import subprocess

import asyncpg
import psycopg
import pytest
from psycopg import errors
from wire_client import Raw, error_fields, startup_packet

USERS = """
CREATE USER alice WITH PASSWORD 'correct horse';
CREATE USER bob WITH PASSWORD 'first';
ALTER USER bob WITH PASSWORD 'second';
CREATE TABLE t (x INTEGER);
INSERT INTO t VALUES (42);
"""


def dsn(server, user: str, password: str | None = None, **extra) -> str:
    parts = [f"host={server.host} port={server.port} user={user} dbname=tidal connect_timeout=5"]
    if password is not None:
        parts.append(f"password='{password}'")
    parts += [f"{k}={v}" for k, v in extra.items()]
    return " ".join(parts)


@pytest.fixture
def certificate(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def test_scram_right_and_wrong_password(make_server):
    server = make_server("--auth", "scram-sha-256", init=USERS)
    with psycopg.connect(dsn(server, "alice", "correct horse")) as conn:
        assert conn.execute("SELECT x FROM t").fetchone() == (42,)
        assert conn.execute("SELECT current_user").fetchone() == ("alice",)
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(dsn(server, "alice", "wrong"))
    assert "password authentication failed" in str(caught.value)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(server, "bob", "first"))  # changed by ALTER USER
    with psycopg.connect(dsn(server, "bob", "second")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(server, "nobody", "anything"))


def test_scram_with_asyncpg_reports_28P01(make_server):
    server = make_server("--auth", "scram-sha-256", init=USERS)

    async def go(password):
        conn = await asyncpg.connect(
            host=server.host, port=server.port, user="alice", password=password,
            database="tidal", timeout=5,
        )  # fmt: skip
        try:
            return await conn.fetchval("SELECT x FROM t")
        finally:
            await conn.close()

    assert asyncio.run(go("correct horse")) == 42
    with pytest.raises(asyncpg.InvalidPasswordError) as caught:
        asyncio.run(go("nope"))
    assert caught.value.sqlstate == "28P01"


def test_users_made_over_the_wire_can_log_in(make_server):
    server = make_server("--auth", "scram-sha-256", init=USERS)
    with psycopg.connect(dsn(server, "alice", "correct horse"), autocommit=True) as conn:
        conn.execute("CREATE USER carol WITH PASSWORD 'c4r0l'")
        with pytest.raises(errors.DuplicateObject):
            conn.execute("CREATE USER carol WITH PASSWORD 'again'")
    with psycopg.connect(dsn(server, "carol", "c4r0l")) as conn:
        assert conn.execute("SELECT 7").fetchone() == (7,)
    with psycopg.connect(dsn(server, "alice", "correct horse"), autocommit=True) as conn:
        conn.execute("DROP USER carol")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(server, "carol", "c4r0l"))


def test_tls_with_a_self_signed_certificate(make_server, certificate):
    cert, key = certificate
    server = make_server("--tls-cert", cert, "--tls-key", key, "--auth", "scram-sha-256",
                         init=USERS)  # fmt: skip
    with psycopg.connect(dsn(server, "alice", "correct horse", sslmode="require")) as conn:
        assert conn.pgconn.ssl_in_use
        assert conn.execute("SELECT x FROM t").fetchone() == (42,)
    with psycopg.connect(dsn(server, "alice", "correct horse", sslmode="disable")) as conn:
        assert not conn.pgconn.ssl_in_use  # TLS is offered, not forced


def test_without_tls_the_server_declines_it(server):
    with psycopg.connect(server.dsn + " sslmode=prefer") as conn:
        assert not conn.pgconn.ssl_in_use
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(server.dsn + " sslmode=require connect_timeout=5")
    assert "SSL" in str(caught.value) or "ssl" in str(caught.value)


def test_cleartext_passwords_only_over_tls(make_server, certificate):
    cert, key = certificate
    server = make_server("--tls-cert", cert, "--tls-key", key, "--auth", "password", init=USERS)
    with psycopg.connect(dsn(server, "alice", "correct horse", sslmode="require")) as conn:
        assert conn.execute("SELECT x FROM t").fetchone() == (42,)
    with pytest.raises(psycopg.OperationalError) as caught:
        psycopg.connect(dsn(server, "alice", "correct horse", sslmode="disable"))
    assert "TLS" in str(caught.value)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(server, "alice", "wrong", sslmode="require"))


def test_password_auth_without_tls_refuses_to_start(tmp_path):
    from conftest import start_server

    with pytest.raises(RuntimeError, match="needs --tls-cert"):
        start_server(tmp_path, "--auth", "password", init=None)


def test_bytes_sent_in_the_clear_after_ssl_request_are_refused(make_server, certificate):
    """A startup packet sent right behind SSLRequest, before the TLS handshake, would pass as
    if it came over TLS: the server refuses it (as PostgreSQL does since CVE-2021-23214)."""
    cert, key = certificate
    server = make_server("--tls-cert", cert, "--tls-key", key)
    raw = Raw(server.host, server.port)
    raw.send(struct.pack("!ii", 8, 80877103) + startup_packet())
    assert raw.read_byte() == b"S"
    kind, body = raw.read()
    assert kind == b"E" and error_fields(body)["C"] == "08P01"
    assert "unencrypted" in error_fields(body)["M"]
    assert raw.read() is None
    raw.close()
