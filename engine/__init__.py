"""The runtime: change batches, operators, dataflows, connectors, and the Database facade."""

from tidal.engine.database import Database, DataError, Status

__all__ = ["DataError", "Database", "Status"]
