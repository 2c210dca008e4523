"""The root of the product's exception tree, and the errors of the plumbing in ``base``.

``UchastokError`` is the root of every error the product raises on purpose; each
package has one base beneath it (``station.errors.StationError``,
``sync.errors.SyncError``). Drivers keep their own root (``drivers.errors.DriverError``)
because they import nothing of ours. The CLI turns any of them into a clear message and
a non-zero exit, never a traceback.
"""


class UchastokError(Exception):
    """Raised for any failure the product detects and explains (the root of the tree)."""


class DatabaseError(UchastokError):
    """Raised when a SQLite file cannot be opened or migrated safely."""


class UnknownSchemaError(DatabaseError):
    """Raised when a database carries migrations this software does not know."""


class ClockJumpError(UchastokError):
    """Raised when a strict SaneClock sees the wall clock jump backwards."""
