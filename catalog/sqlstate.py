"""SQLSTATE codes: the one table of the PostgreSQL error codes tidal raises, and its base error.

Names are PostgreSQL's own (``src/backend/utils/errcodes.txt``, which asyncpg also turns into
its exception classes), so ``sqlstate.UNDEFINED_TABLE`` says what ``42P01`` means. Every error
tidal raises for a client derives from ``TidalError`` and carries its code; a front door sends
``error.sqlstate`` as it is and never guesses a code from a message.

    >>> error = TidalError("relation 'x' does not exist", UNDEFINED_TABLE)
    >>> error.sqlstate, str(error)
    ('42P01', "relation 'x' does not exist")
    >>> TidalError("something broke").sqlstate
    'XX000'
"""

from __future__ import annotations

# Class 01: warning
WARNING = "01000"
# Class 08: connection exception
CONNECTION_FAILURE = "08006"
SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION = "08001"
PROTOCOL_VIOLATION = "08P01"
# Class 0A: feature not supported
FEATURE_NOT_SUPPORTED = "0A000"
# Class 21: cardinality violation
CARDINALITY_VIOLATION = "21000"
# Class 22: data exception
DATA_EXCEPTION = "22000"
NUMERIC_VALUE_OUT_OF_RANGE = "22003"
INVALID_DATETIME_FORMAT = "22007"
DIVISION_BY_ZERO = "22012"
CHARACTER_NOT_IN_REPERTOIRE = "22021"
INVALID_PARAMETER_VALUE = "22023"
INVALID_ESCAPE_SEQUENCE = "22025"
INVALID_USE_OF_ESCAPE_CHARACTER = "2200C"
INVALID_TEXT_REPRESENTATION = "22P02"
INVALID_BINARY_REPRESENTATION = "22P03"
# Class 23: integrity constraint violation
NOT_NULL_VIOLATION = "23502"
UNIQUE_VIOLATION = "23505"
# Class 25: invalid transaction state
ACTIVE_SQL_TRANSACTION = "25001"
NO_ACTIVE_SQL_TRANSACTION = "25P01"
IN_FAILED_SQL_TRANSACTION = "25P02"
# Class 26, 28, 2B, 34, 3F
INVALID_SQL_STATEMENT_NAME = "26000"
INVALID_AUTHORIZATION_SPECIFICATION = "28000"
INVALID_PASSWORD = "28P01"
DEPENDENT_OBJECTS_STILL_EXIST = "2BP01"
INVALID_CURSOR_NAME = "34000"
INVALID_SCHEMA_NAME = "3F000"
# Class 3B: savepoint exception
INVALID_SAVEPOINT_SPECIFICATION = "3B001"
# Class 40: transaction rollback
SERIALIZATION_FAILURE = "40001"
# Class 42: syntax error or access rule violation
SYNTAX_ERROR = "42601"
INSUFFICIENT_PRIVILEGE = "42501"
DUPLICATE_COLUMN = "42701"
AMBIGUOUS_COLUMN = "42702"
GROUPING_ERROR = "42803"
DATATYPE_MISMATCH = "42804"
WRONG_OBJECT_TYPE = "42809"
UNDEFINED_COLUMN = "42703"
UNDEFINED_FUNCTION = "42883"
UNDEFINED_TABLE = "42P01"
UNDEFINED_PARAMETER = "42P02"
UNDEFINED_OBJECT = "42704"
DUPLICATE_CURSOR = "42P03"
DUPLICATE_PREPARED_STATEMENT = "42P05"
DUPLICATE_TABLE = "42P07"
DUPLICATE_OBJECT = "42710"
DUPLICATE_FUNCTION = "42723"
INVALID_COLUMN_REFERENCE = "42P10"
INVALID_FUNCTION_DEFINITION = "42P13"
INVALID_TABLE_DEFINITION = "42P16"
INVALID_OBJECT_DEFINITION = "42P17"
INVALID_RECURSION = "42P19"
WINDOWING_ERROR = "42P20"
# Class 53, 54, 55, 57, 58: resources, limits, state, operator intervention, system
OUT_OF_MEMORY = "53200"
TOO_MANY_CONNECTIONS = "53300"
CONFIGURATION_LIMIT_EXCEEDED = "53400"
PROGRAM_LIMIT_EXCEEDED = "54000"
STATEMENT_TOO_COMPLEX = "54001"
TOO_MANY_COLUMNS = "54011"
OBJECT_NOT_IN_PREREQUISITE_STATE = "55000"
CANT_CHANGE_RUNTIME_PARAM = "55P02"
QUERY_CANCELED = "57014"
ADMIN_SHUTDOWN = "57P01"
IDLE_SESSION_TIMEOUT = "57P05"
IO_ERROR = "58030"
# Class XX: internal error
INTERNAL_ERROR = "XX000"


class TidalError(Exception):
    """An error a client is told about: ``message`` says what to fix, ``sqlstate`` its kind.

    Subclasses set a default ``sqlstate`` for the errors they stand for; a raiser that knows a
    more precise code passes it.
    """

    sqlstate = INTERNAL_ERROR

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if sqlstate is not None:
            self.sqlstate = sqlstate
