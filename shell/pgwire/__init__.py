"""The PostgreSQL wire protocol server behind ``tidal serve`` (see docs/pgwire.md).

Bytes and messages, without I/O: ``codec`` (messages <-> bytes), ``pg_types`` and ``encoders``
(Arrow values as PostgreSQL prints them), ``params`` (parameter types and values), and
``protocol``, one session's state machine (messages in, answers out).
Statements: ``router`` says who runs one (``housekeeping`` with ``settings``; ``cursors``;
``copy``; the ``catalog`` emulation; the engine, reached only through ``engine_calls``), and
``session_state`` is what a session remembers between them.
asyncio: ``server`` accepts connections and runs their startup (``auth``), ``connection`` is a
socket, and ``driver`` runs one session's protocol on it.
"""
