"""The PostgreSQL wire protocol server behind ``tidal serve`` (see docs/pgwire.md).

``codec`` turns bytes into messages and back without any I/O, ``types`` encodes Arrow values
the way PostgreSQL prints them, ``prepared`` decides who runs a statement (``housekeeping``
for SET, SHOW, BEGIN and ``version()``; cursors, COPY, the catalog queries, or the engine),
``runner`` and ``session`` are one connection's state machine, ``connection`` is its socket,
and ``server`` accepts connections and runs their startup.
"""
