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


def test_the_first_user_is_a_superuser_and_one_stays():
    db = Database()
    db.execute("CREATE USER admin WITH PASSWORD 'a'")
    db.execute("CREATE USER alice WITH PASSWORD 'b'")
    db.execute("CREATE USER root WITH SUPERUSER PASSWORD 'c'")
    users = db.catalog.users
    assert users.superusers() == {"admin", "root"}
    db.execute("ALTER USER root NOSUPERUSER")
    db.execute("ALTER USER alice PASSWORD 'd'")  # keeps what it does not name
    assert not users.get("alice").superuser and check_password(users.get("alice").verifier, "d")
    for statement in ("ALTER USER admin NOSUPERUSER", "DROP USER admin"):
        with pytest.raises(SqlError) as caught:
            db.execute(statement)
        assert caught.value.sqlstate == "55000" and "last superuser" in str(caught.value)
    db.execute("DROP USER admin, alice, root")  # none left: nobody needs a superuser
    db.execute("CREATE USER plain WITH NOSUPERUSER PASSWORD 'e'")
    assert users.superusers() == set()


@pytest.mark.parametrize("iterations", [0, 100_001, 30_000_000])
def test_a_verifier_past_the_iteration_bounds_is_refused(iterations):
    verifier = scram_verifier("pw", iterations=1).replace("$1:", f"${iterations}:")
    with pytest.raises(SqlError) as caught:
        Database().execute(f"CREATE USER frank WITH PASSWORD '{verifier}'")
    assert caught.value.sqlstate == "22023"
    assert "at most 100,000 iterations" in str(caught.value)
