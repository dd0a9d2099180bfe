"""Differential tests: incrementally maintained views equal DuckDB's batch results."""
