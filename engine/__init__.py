"""The runtime: change batches, operators, dataflows, connectors, and the Database facade."""

from tidal.engine.database import Database
from tidal.engine.errors import DataError
from tidal.engine.statements import Status
from tidal.engine.udf.api import udf

__all__ = ["DataError", "Database", "Status", "udf"]
