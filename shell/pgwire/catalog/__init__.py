"""pg_catalog and information_schema for tools (psql's ``\\d``, JDBC metadata, Grafana).

``queries`` says which statements are catalog queries and answers them on a private, locked
DuckDB; ``rewrite`` turns their PostgreSQL into DuckDB SQL over the rows
``tidal.catalog.pg_catalog`` generates; ``macros`` are PostgreSQL's catalog functions as DuckDB
macros. See docs/pgwire.md, "Catalog for tools".
"""
