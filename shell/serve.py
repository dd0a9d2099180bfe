"""``tidal serve``: one running Database behind the PostgreSQL wire protocol.

    tidal serve --port 5433 --init queries/demo.sql
    psql -h 127.0.0.1 -p 5433 -c 'SELECT * FROM revenue'

The ``--init`` script runs first (relative paths in it resolve from its folder), then the
ticker keeps sources flowing while clients come and go. SIGTERM or SIGINT stops it cleanly:
no new connections, every session ended with FATAL 57P01, the ticker stopped, the database
closed. See docs/pgwire.md.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import pathlib
import signal
import sys
import threading
import time

from tidal.shell import logs

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    logs.add_argument(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (127.0.0.1); another with --auth trust prints a warning",
    )
    parser.add_argument("--port", type=int, default=5433, help="port to listen on (5433; 0: any)")
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="keep everything in DIR and resume from it on restart (docs/durability.md)",
    )
    parser.add_argument(
        "--init",
        type=pathlib.Path,
        help="a .sql script to run before serving (with --data-dir: only if DIR has no catalog)",
    )
    parser.add_argument(
        "--auth",
        choices=["trust", "scram-sha-256", "password"],
        default="trust",
        help="trust: any user gets in (default); scram-sha-256: users made with CREATE USER "
        "... WITH PASSWORD; password: the same checked in cleartext, over TLS only",
    )
    parser.add_argument("--tls-cert", help="PEM certificate: clients may then use TLS")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--max-connections", type=int, default=100)
    parser.add_argument(
        "--max-message-size", type=int, default=1 << 20, help="bytes (1 MiB)", metavar="BYTES"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=0,
        metavar="SECONDS",
        help="end sessions idle this long (0: never)",
    )
    parser.add_argument(
        "--startup-timeout", type=float, default=10.0, metavar="SECONDS", help="for TLS and auth"
    )
    parser.add_argument(
        "--tick-interval",
        type=float,
        default=0.1,
        metavar="SECONDS",
        help="the shortest time between two ticks (0.1): a tick takes what the sources "
        "produced meanwhile; shorter is fresher, longer leaves more time to readers",
    )
    parser.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="the memory budget, e.g. 512MB or 2GB (default: half of the machine's memory): "
        "near it sources wait, past it statements that add data fail (docs/security.md)",
    )
    parser.add_argument(
        "--webhook-host",
        default="127.0.0.1",
        help="address the HTTP listener of webhook tables listens on (127.0.0.1); another "
        "exposes them to the network, each guarded by its secret (docs/security.md)",
    )
    parser.add_argument(
        "--webhook-port",
        type=int,
        default=4560,
        help="port of the HTTP listener of webhook tables (4560; 0: any); it listens once a "
        "table WITH (connector = 'webhook') exists (docs/connectors.md)",
    )
    add_metrics_arguments(parser)
    parser.add_argument(
        "--allow-file-connectors",
        action="store_true",
        help="let clients create file sources and sinks (they read and write the server's files)",
    )
    parser.add_argument(
        "--allow-python-functions",
        action="store_true",
        help="let superusers create LANGUAGE python functions (they run any code on the server)",
    )


def add_metrics_arguments(parser: argparse.ArgumentParser) -> None:
    """``--metrics-port`` and ``--metrics-host``, of ``tidal serve`` and ``tidal run``."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics on http://HOST:PORT/metrics (0: any free port; default: "
        "none); see docs/operations.md",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address the metrics endpoint listens on (127.0.0.1); it needs no password",
    )


def start_metrics(db, args: argparse.Namespace, who: str) -> object | bool:
    """Start ``/metrics`` if ``--metrics-port`` asks for it: its server (None if not asked
    for), or False if it cannot listen (said on stderr)."""
    if args.metrics_port is None:
        return None
    from tidal.shell.metrics import serve_metrics

    server = serve_metrics(db, args.metrics_host, args.metrics_port, who)
    if server is None:
        return False
    host, port = server.server_address[:2]
    print(f"{who}: metrics on http://{host}:{port}/metrics", flush=True)
    return server


def run(args: argparse.Namespace) -> int:
    from tidal.shell.pgwire.server import Limits, ServerConfig
    from tidal.shell.scripts import ScriptRunner, forget_failed_script, open_database

    if bool(args.tls_cert) != bool(args.tls_key):
        print("tidal serve: --tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    limits = Limits(
        max_connections=args.max_connections,
        max_message_bytes=args.max_message_size,
        startup_timeout=args.startup_timeout,
        idle_timeout=args.idle_timeout or None,
    )
    config = ServerConfig(
        args.host,
        args.port,
        args.auth,
        args.tls_cert,
        args.tls_key,
        limits,
        args.allow_file_connectors,
        args.allow_python_functions,
    )
    db = open_database(
        "tidal serve",
        args.data_dir,
        base_dir=args.init.parent if args.init else None,
        memory_limit=args.memory_limit,
        webhook_host=args.webhook_host,
        webhook_port=args.webhook_port,
    )
    if db is None:
        return 1
    metrics = None
    try:
        if db.holds_catalog:
            print(f"tidal serve: resuming {args.data_dir} at tick {db.ticks}", flush=True)
        elif args.init and not ScriptRunner(db).run_file(args.init):
            forget_failed_script(db, args.data_dir, args.init)
            return 1
        metrics = start_metrics(db, args, "tidal serve")
        if metrics is False:
            return 1
        warning = trust_warning(args.host, args.auth)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        if args.auth != "trust" and not len(db.catalog.users):
            print(
                "tidal serve: warning: no users exist, so nobody can log in; create them in "
                "the --init script: CREATE USER name WITH PASSWORD '...'",
                file=sys.stderr,
            )
        code = asyncio.run(_serve(db, config, args.tick_interval))
    except ValueError as error:
        print(f"tidal serve: {error}", file=sys.stderr)
        return 2
    finally:
        if metrics:
            metrics.shutdown()
        db.close()
    _leave_stuck_statements(code)
    return code


def _leave_stuck_statements(code: int, grace: float = 5.0) -> None:
    """After SIGTERM, a statement busy where no cancel reaches it (a long Arrow kernel) must
    not keep the process alive: what was acknowledged is durable, so leave without it."""
    deadline = time.monotonic() + grace
    for thread in threading.enumerate():
        if thread.name.startswith("tidal-sql"):
            thread.join(max(0.0, deadline - time.monotonic()))
    if any(t.name.startswith("tidal-sql") and t.is_alive() for t in threading.enumerate()):
        print("tidal serve: leaving a statement that did not stop", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(code)


def trust_warning(host: str, auth: str) -> str | None:
    """A warning for trust auth on an address other hosts can reach, else None.

    A warning, not a refusal, as PostgreSQL does (it starts with ``trust`` in pg_hba.conf for
    any address; its Docker image warns loudly): the operator may mean it, on a private network.

        >>> trust_warning("127.0.0.1", "trust") is None, trust_warning("::1", "trust") is None
        (True, True)
        >>> trust_warning("0.0.0.0", "scram-sha-256") is None
        True
        >>> print(trust_warning("0.0.0.0", "trust"))  # doctest: +ELLIPSIS
        tidal serve: WARNING: --auth trust on 0.0.0.0: anyone who can reach ...
    """
    if auth != "trust" or _loopback(host):
        return None
    return (
        f"tidal serve: WARNING: --auth trust on {host}: anyone who can reach this address may "
        "connect as any user, with no password, and read, change or drop everything. Use "
        "--auth scram-sha-256 (with users made by CREATE USER ... PASSWORD) or --host 127.0.0.1"
    )


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost, or "" (every address)
        return False


async def _report_source_errors(db, every: float = 1.0) -> None:
    """Print what sources met (bad lines skipped, unreadable files, failed ticks) to stderr."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)
        for problem in await loop.run_in_executor(None, db.take_source_errors):
            print(f"tidal serve: warning: {problem}", file=sys.stderr, flush=True)


async def _serve(db, config, tick_interval: float = 0.1) -> int:
    from tidal.engine.ticker import Ticker
    from tidal.shell.pgwire.server import Server

    server = Server(db, config)
    try:
        host, port = await server.start()
    except OSError as error:
        print(
            f"tidal serve: cannot listen on {config.host}:{config.port}: {error}", file=sys.stderr
        )
        return 1
    ticker = Ticker(db, pace=tick_interval, owns_polling=True).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print(f"tidal serve: listening on {host}:{port}", flush=True)
    log.info("listening on %s:%d (tick %d)", host, port, db.ticks)
    if db.webhook_address is not None:
        webhook_host, webhook_port = db.webhook_address
        print(f"tidal serve: webhooks on http://{webhook_host}:{webhook_port}/webhook/", flush=True)
    reporting = asyncio.create_task(_report_source_errors(db))
    try:
        await stop.wait()
        log.info("stopping")
    finally:
        reporting.cancel()
        await server.shutdown()
        ticker.stop()
    print("tidal serve: stopped", flush=True)
    log.info("stopped at tick %d", db.ticks)
    return 0
