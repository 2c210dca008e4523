"""The station's exception tree.

``StationError`` is the root for the domain; each subsystem has one base.
Drivers (``drivers.errors``) and sync (``sync.errors``) have their own roots
because they import nothing of ``station``. The CLI turns any of the three into
a clear message and a non-zero exit, never a traceback.
"""


class StationError(Exception):
    """Raised for any failure of the station's domain logic."""


class ConfigError(StationError):
    """Raised when configuration or state on disk is missing or inconsistent."""


class DatabaseError(StationError):
    """Raised when a SQLite file cannot be opened or migrated safely."""


class UnknownSchemaError(DatabaseError):
    """Raised when a database carries migrations this software does not know."""


class AuditChainError(StationError):
    """Raised when the hash-chained audit log does not verify."""


class PackageError(StationError):
    """Raised when an election package is malformed, tampered or refused."""


class VoterListError(PackageError):
    """Raised when a voter row is malformed (names the file and line)."""


class ProvisioningError(StationError):
    """Raised when device identity or enrolment is missing or invalid."""


class PollsError(StationError):
    """Raised when an action is not allowed in the current polls state."""


class IdentificationError(StationError):
    """Raised when an identification cannot be completed (not a refusal)."""


class CountingError(StationError):
    """Raised when a ballot sheet cannot be counted (not a rejection)."""
