"""Authentication against hostile clients (issue 15), over the wire with real clients: unknown
users look like known ones, failed logins are throttled, stored verifiers have an iteration cap
and proofs are checked off the event loop, only superusers manage users, and trust auth on a
non-loopback address is warned about."""

from __future__ import annotations

import asyncio
import base64
import socket
import struct
import threading
import time

import asyncpg
import psycopg
import pytest
from psycopg import errors
from test_auth import dsn
from wire_client import Raw, cstring, message, startup_packet

from tidal.catalog.users import ITERATIONS, scram_verifier
from tidal.engine import Database
from tidal.shell.pgwire import auth
from tidal.shell.pgwire.server import Server, ServerConfig

USERS = """
CREATE USER admin WITH PASSWORD 'admin-pw';
CREATE USER alice WITH PASSWORD 'alice-pw';
CREATE USER bob WITH PASSWORD 'bob-pw';
"""


def salt_and_iterations(server, user: str) -> tuple[bytes, int]:
    """What the server's first SCRAM message tells a client about ``user``."""
    raw = Raw(server.host, server.port)
    try:
        raw.send(startup_packet(user=user))
        kind, body = raw.read()
        assert kind == b"R" and struct.unpack("!i", body[:4])[0] == 10  # AuthenticationSASL
        first = b"n,,n=,r=fyko+d2lbbFgONRv9qkxdawL"
        raw.send(message(b"p", cstring("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
        kind, body = raw.read()
        assert kind == b"R" and struct.unpack("!i", body[:4])[0] == 11  # SASLContinue
        fields = dict(part.split("=", 1) for part in body[4:].decode().split(","))
        return base64.b64decode(fields["s"]), int(fields["i"])
    finally:
        raw.close()


# --- user enumeration --------------------------------------------------------------------------


def test_an_unknown_users_salt_is_as_stable_as_a_known_ones(make_server, tmp_path):
    data = tmp_path / "data"
    server = make_server("--auth", "scram-sha-256", "--data-dir", str(data), init=USERS)
    known = salt_and_iterations(server, "alice")
    unknown = salt_and_iterations(server, "mallory")
    assert salt_and_iterations(server, "alice") == known
    assert salt_and_iterations(server, "mallory") == unknown  # random on every try before
    assert salt_and_iterations(server, "MALLORY") == unknown  # names fold as users' do
    assert salt_and_iterations(server, "trudy") != unknown
    assert len(unknown[0]) == len(known[0]) and unknown[1] == known[1] == ITERATIONS
    server.stop()
    again = make_server("--auth", "scram-sha-256", "--data-dir", str(data), init=None)
    # The data directory keeps the secret: a restart does not tell unknown names apart either.
    assert salt_and_iterations(again, "alice") == known
    assert salt_and_iterations(again, "mallory") == unknown


def test_unknown_user_and_wrong_password_fail_alike(make_server):
    server = make_server("--auth", "scram-sha-256", init=USERS)
    messages = []
    for user in ("alice", "mallory"):
        with pytest.raises(psycopg.OperationalError) as caught:
            psycopg.connect(dsn(server, user, "guess"))
        messages.append(str(caught.value).replace(user, "<user>"))
    assert messages[0] == messages[1]
    assert 'password authentication failed for user "<user>"' in messages[0]

    async def sqlstate(user):
        with pytest.raises(asyncpg.InvalidPasswordError) as caught:
            await asyncpg.connect(
                host=server.host, port=server.port, user=user, password="guess",
                database="tidal", timeout=5,
            )  # fmt: skip
        return caught.value.sqlstate

    assert asyncio.run(sqlstate("bob")) == asyncio.run(sqlstate("nobody")) == "28P01"


def test_a_cleartext_login_of_an_unknown_user_computes_a_verifier_too(monkeypatch):
    """No shortcut for a name without a verifier: the same PBKDF2 as a real user's."""
    checked = []

    def matches(secret, password):
        checked.append(secret.iterations)
        return False

    monkeypatch.setattr(auth, "password_matches", matches)
    db = Database()
    try:
        db.execute("CREATE USER alice WITH PASSWORD 'alice-pw'")
        authenticator = auth.Authenticator(auth.PASSWORD)

        async def login(user):
            async def send(_):
                pass

            async def receive():
                return b"guess\0"

            with pytest.raises(auth.ServerError) as caught:
                await authenticator.authenticate(user, "10.0.0.1", db.catalog.users, True,
                                                 send, receive)  # fmt: skip
            return caught.value.sqlstate

        assert asyncio.run(login("alice")) == asyncio.run(login("mallory")) == "28P01"
        authenticator.close()
    finally:
        db.close()
    assert checked == [ITERATIONS, ITERATIONS]


# --- throttling ---------------------------------------------------------------------------------


def test_failed_logins_are_throttled_but_other_users_get_in(make_server):
    server = make_server("--auth", "scram-sha-256", init=USERS)

    async def attempt(user, password):
        started = time.monotonic()
        try:
            conn = await asyncpg.connect(
                host=server.host, port=server.port, user=user, password=password,
                database="tidal", timeout=10,
            )  # fmt: skip
        except asyncpg.PostgresError as error:
            return error.sqlstate, time.monotonic() - started
        await conn.close()
        return "ok", time.monotonic() - started

    async def attack():
        guesses = [attempt("alice", f"guess{i}") for i in range(30)]
        await asyncio.sleep(0.3)  # the guesses are in
        return await asyncio.gather(attempt("bob", "bob-pw"), *guesses)

    started = time.monotonic()
    (bob, bob_seconds), *guesses = asyncio.run(attack())
    took = time.monotonic() - started
    checked = [s for s, _ in guesses if s == "28P01"]
    refused = [s for s, _ in guesses if s == "28000"]
    # Documented in docs/security-auth.md: 3 free, then turns 0.25, 0.5, 1 and 2 s apart; an
    # attempt whose turn is more than 5 s away is refused unchecked. 30 at once: 7 checked.
    assert len(checked) == 7 and len(refused) == 23, guesses
    assert took < 9
    assert bob == "ok" and bob_seconds < 2  # another user, same address: not slowed

    # One at a time, as a password guesser does: one check per turn, the turns growing.
    async def one_by_one():
        results = []
        until = time.monotonic() + 3
        while time.monotonic() < until:
            results.append(await attempt("bob", "guess"))
        return results

    results = asyncio.run(one_by_one())
    assert 4 <= len([s for s, _ in results if s == "28P01"]) <= 7, results  # 259/s before


def test_the_throttle_remembers_a_bounded_number_of_pairs():
    throttle = auth.Throttle(max_pairs=100)
    for n in range(1000):
        throttle.ended(f"10.0.{n // 256}.{n % 256}", "alice", succeeded=False)
    assert len(throttle) == 100
    assert throttle.turn_in("10.0.3.231", "alice") == 0  # the newest, one failure: free
    throttle.ended("10.0.3.231", "alice", succeeded=True)
    assert len(throttle) == 99


# --- iterations and the event loop -------------------------------------------------------------


def test_verifiers_past_the_iteration_cap_are_refused(make_server):
    server = make_server("--auth", "scram-sha-256", init=USERS)
    huge = scram_verifier("x", iterations=1).replace("$1:", "$30000000:")
    capped = scram_verifier("capped-pw", iterations=100_000)
    with psycopg.connect(dsn(server, "admin", "admin-pw"), autocommit=True) as conn:
        with pytest.raises(errors.InvalidParameterValue) as caught:
            conn.execute(f"CREATE USER slow WITH PASSWORD '{huge}'")
        assert "30,000,000 iterations is more than the 100,000 accepted" in str(caught.value)
        with pytest.raises(errors.InvalidParameterValue):
            conn.execute(f"ALTER USER bob WITH PASSWORD '{huge}'")
        conn.execute(f"CREATE USER capped WITH PASSWORD '{capped}'")
    with psycopg.connect(dsn(server, "capped", "capped-pw")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with psycopg.connect(dsn(server, "bob", "bob-pw")) as conn:  # unchanged
        assert conn.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture
def in_process_server():
    """A Server in this process (its loop on a thread), so a test can slow down its checks."""
    db = Database()
    for line in USERS.strip().splitlines():
        db.execute(line)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = Server(db, ServerConfig(port=0, auth=auth.SCRAM))
    host, port = asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield type("Running", (), {"host": host, "port": port})
    asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
    db.close()


def test_a_slow_proof_check_does_not_stop_other_clients(in_process_server, monkeypatch):
    """A login whose check takes long (a verifier of 30 million iterations took 8.4 s) keeps
    only itself waiting: the check runs on the authenticator's threads, not the event loop."""
    check = auth.ScramExchange.client_final
    inside, slow_once = threading.Event(), [True]

    def slow(self, message):
        if slow_once and slow_once.pop():
            inside.set()
            time.sleep(3)
        return check(self, message)

    monkeypatch.setattr(auth.ScramExchange, "client_final", slow)
    server = in_process_server
    slow_login = threading.Thread(
        target=lambda: psycopg.connect(dsn(server, "alice", "alice-pw")).close()
    )
    slow_login.start()
    assert inside.wait(10)
    started = time.monotonic()
    with psycopg.connect(dsn(server, "bob", "bob-pw")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert time.monotonic() - started < 1.5  # 3 s when the check ran on the event loop
    slow_login.join(15)


# --- privileges ---------------------------------------------------------------------------------


def test_only_a_superuser_manages_other_users(make_server):
    server = make_server("--auth", "scram-sha-256", init=USERS)
    with psycopg.connect(dsn(server, "alice", "alice-pw"), autocommit=True) as conn:
        for statement in (
            "ALTER USER bob WITH PASSWORD 'stolen'",
            "ALTER USER admin WITH PASSWORD 'stolen'",
            "CREATE USER eve WITH PASSWORD 'eve-pw'",
            "DROP USER bob",
            "ALTER USER alice SUPERUSER",
            "ALTER USER nobody WITH PASSWORD 'x'",  # no hint whether nobody exists
        ):
            with pytest.raises(errors.InsufficientPrivilege) as caught:
                conn.execute(statement)
            assert caught.value.sqlstate == "42501"
            assert "only a superuser may" in str(caught.value)
        conn.execute("ALTER USER alice WITH PASSWORD 'alice-new'")  # its own password: fine
        roles = dict(conn.execute("SELECT rolname, rolsuper FROM pg_roles").fetchall())
        assert roles["admin"] is True and roles["alice"] is False
        assert conn.info.parameter_status("is_superuser") == "off"  # psql's prompt: '>'
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn(server, "bob", "stolen"))
    with psycopg.connect(dsn(server, "alice", "alice-new")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    with psycopg.connect(dsn(server, "admin", "admin-pw"), autocommit=True) as conn:
        assert conn.info.parameter_status("is_superuser") == "on"
        conn.execute("CREATE USER carol WITH PASSWORD 'carol-pw' SUPERUSER")
        conn.execute("ALTER USER bob WITH PASSWORD 'bob-new'")
        conn.execute("ALTER USER alice SUPERUSER")
        conn.execute("DROP USER carol")
        conn.execute("ALTER USER alice NOSUPERUSER")
        for statement in ("ALTER USER admin NOSUPERUSER", "DROP USER admin"):
            with pytest.raises(errors.ObjectNotInPrerequisiteState) as caught:
                conn.execute(statement)  # the last superuser, with users left
            assert "last superuser" in str(caught.value)
    with psycopg.connect(dsn(server, "bob", "bob-new")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_superusers_survive_a_restart(make_server, tmp_path):
    data = tmp_path / "data"
    server = make_server("--auth", "scram-sha-256", "--data-dir", str(data), init=USERS)
    with psycopg.connect(dsn(server, "admin", "admin-pw"), autocommit=True) as conn:
        conn.execute("CREATE USER root WITH PASSWORD 'root-pw' SUPERUSER")
    server.stop()
    server = make_server("--auth", "scram-sha-256", "--data-dir", str(data), init=None)
    alice = psycopg.connect(dsn(server, "alice", "alice-pw"), autocommit=True)
    with alice, pytest.raises(errors.InsufficientPrivilege):
        alice.execute("ALTER USER bob WITH PASSWORD 'stolen'")
    for superuser, password in (("admin", "admin-pw"), ("root", "root-pw")):
        with psycopg.connect(dsn(server, superuser, password), autocommit=True) as conn:
            conn.execute("ALTER USER bob WITH PASSWORD 'bob-pw'")


def test_under_trust_the_first_user_made_is_the_superuser(make_server):
    server = make_server(init="CREATE TABLE t (x INTEGER);")
    with psycopg.connect(server.dsn, autocommit=True) as conn:  # user "tester", not a user
        conn.execute("CREATE USER alice WITH PASSWORD 'alice-pw'")  # nobody to ask yet
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("CREATE USER bob WITH PASSWORD 'bob-pw'")
    with psycopg.connect(dsn(server, "alice"), autocommit=True) as conn:
        conn.execute("CREATE USER bob WITH PASSWORD 'bob-pw'")


# --- trust on a reachable address ---------------------------------------------------------------


def test_trust_on_a_non_loopback_address_is_warned_about(make_server):
    # A socket holding the port makes the server stop right after the warning, so that the
    # test never serves trust on every address.
    holder = socket.socket()
    holder.bind(("0.0.0.0", 0))
    try:
        port = str(holder.getsockname()[1])
        with pytest.raises(RuntimeError) as caught:
            make_server("--host", "0.0.0.0", "--port", port)
    finally:
        holder.close()
    said = str(caught.value)
    assert "WARNING: --auth trust on 0.0.0.0: anyone who can reach this address" in said
    assert "cannot listen on 0.0.0.0" in said
