"""tidal's streaming SQL dialect: RisingWave's (PostgreSQL-based) with tidal's statements added.

RisingWave's sqlglot dialect already parses ``CREATE SOURCE ... WITH (...)``, ``WATERMARK FOR``,
``CREATE MATERIALIZED VIEW`` and ``CREATE SINK``. Additions are made through sqlglot's
class-level tables, never by patching.
"""
from __future__ import annotations

from sqlglot.dialects.risingwave import RisingWave


class Tidal(RisingWave):
    class Tokenizer(RisingWave.Tokenizer):
        pass

    class Parser(RisingWave.Parser):
        pass

    class Generator(RisingWave.Generator):
        pass
