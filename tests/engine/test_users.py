"""CREATE/ALTER/DROP USER: users with salted SCRAM-SHA-256 verifiers, never passwords."""

from __future__ import annotations

import pytest

from tidal.catalog.users import check_password, parse_verifier, scram_verifier
from tidal.engine import Database
from tidal.sql.errors import SqlError


def test_create_alter_drop():
    db = Database()
    assert str(db.execute("CREATE USER alice WITH PASSWORD 'secret' LOGIN")) == "CREATE ROLE"
    verifier = db.catalog.users.get("ALICE").verifier
    assert "secret" not in verifier and check_password(verifier, "secret")
    assert str(db.execute("ALTER USER alice PASSWORD 'other'")) == "ALTER ROLE"
    changed = db.catalog.users.get("alice").verifier
    assert check_password(changed, "other") and not check_password(changed, "secret")
    assert str(db.execute("DROP USER alice")) == "DROP ROLE"
    assert db.catalog.users.get("alice") is None


def test_salt_is_random_and_verifier_is_postgres_format():
    first, second = scram_verifier("same"), scram_verifier("same")
    assert first != second
    secret = parse_verifier(first)
    assert secret.iterations == 4096 and len(secret.salt) == 16
    assert first.startswith("SCRAM-SHA-256$4096:")


def test_errors():
    db = Database()
    db.execute("CREATE ROLE bob LOGIN PASSWORD 'x'")
    with pytest.raises(SqlError) as caught:
        db.execute("CREATE USER bob WITH PASSWORD 'y'")
    assert caught.value.sqlstate == "42710"
    with pytest.raises(SqlError) as caught:
        db.execute("ALTER USER nobody PASSWORD 'y'")
    assert caught.value.sqlstate == "42704"
    with pytest.raises(SqlError) as caught:
        db.execute("DROP USER nobody")
    assert caught.value.sqlstate == "42704"
    assert str(db.execute("DROP USER IF EXISTS nobody, bob")) == "DROP ROLE"
    with pytest.raises(SqlError):
        db.execute("CREATE USER carol WITH PASSWORD ''")
    db.execute("CREATE USER dave WITH PASSWORD NULL")
    assert db.catalog.users.get("dave").verifier is None
    with pytest.raises(SqlError):
        db.execute("CREATE USER eve WITH BOGUS")


def test_a_verifier_is_kept_as_given():
    db = Database()
    verifier = scram_verifier("pw")
    db.execute(f"CREATE USER frank WITH PASSWORD '{verifier}'")
    assert db.catalog.users.get("frank").verifier == verifier
