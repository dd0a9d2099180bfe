"""A real PostgreSQL for the connector tests: initdb in a temporary folder, a free port on
127.0.0.1, ``wal_level = logical`` so that CDC can replicate from it.

The server binaries are found on PATH or under Debian's /usr/lib/postgresql/<version>/bin
(`.ci/services` installs the package where it is missing). PostgreSQL refuses to run as root,
so as root the server runs as the ``postgres`` user (which Debian's package creates).
"""

from __future__ import annotations

import copy
import glob
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

USER = "tidal"
PASSWORD = "tidal-secret"


def binaries() -> pathlib.Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found:
        return pathlib.Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return pathlib.Path(candidates[-1]).parent if candidates else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """One running server; ``dsn`` reaches its ``tidal`` database as a superuser with a
    password (SCRAM), over TCP on 127.0.0.1."""

    def __init__(self) -> None:
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError(
                "PostgreSQL's server is not installed: run .ci/services (it installs Debian's "
                "postgresql package), or apt-get install postgresql"
            )
        self.bin_dir = bin_dir
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="tidal-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.host = "127.0.0.1"
        self.user, self.password, self.dbname = USER, PASSWORD, "tidal"
        self._as_user = self._server_user()
        password_file = self.folder / "password"
        password_file.write_text(self.password)
        self._chown(self.folder, password_file)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            self.user,
            "--auth=scram-sha-256",
            f"--pwfile={password_file}",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.folder}'\nwal_level = logical\n"
                "max_replication_slots = 20\nmax_wal_senders = 20\nfsync = off\n"
                "synchronous_commit = off\nfull_page_writes = off\n"
            )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        self._wait_ready()
        self.database("postgres").execute("CREATE DATABASE tidal")

    def database(self, dbname: str) -> PostgresServer:
        """The same server, reached in another database."""
        other = copy.copy(self)
        other.dbname = dbname
        return other

    @property
    def dsn(self) -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={self.dbname}"
        )

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    def connect(self):
        import psycopg2

        return psycopg2.connect(self.dsn, connect_timeout=10)

    def execute(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run one statement in autocommit; its rows (empty for a command)."""
        connection = self.connect()
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(sql, params or None)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _server_user(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam("postgres")
        except KeyError as error:
            raise RuntimeError(
                "running as root needs a 'postgres' user to run the server"
            ) from error
        return "postgres"

    def _chown(self, *paths: pathlib.Path) -> None:
        if self._as_user is not None:
            record = pwd.getpwnam(self._as_user)
            for path in paths:
                os.chown(path, record.pw_uid, record.pw_gid)

    def _run(self, program: str, *args: str, check: bool = True) -> None:
        command = [str(self.bin_dir / program), *args]
        if self._as_user is not None:
            command = ["runuser", "-u", self._as_user, "--", *command]
        result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            log = self.folder / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {result.stderr or result.stdout}\n{tail}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.database("postgres").connect().close()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
