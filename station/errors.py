"""The station's exception tree.

``StationError`` (under ``base.errors.UchastokError``) is the base for the domain;
each subsystem has one base beneath it. ``DatabaseError`` and ``UnknownSchemaError``
belong to ``base.errors`` (the SQLite plumbing) and are re-exported here.
"""

from base.errors import DatabaseError, UchastokError, UnknownSchemaError

__all__ = ["AuditChainError", "ConfigError", "CountingError", "DatabaseError", "IdentificationError",
           "PackageError", "PollsError", "ProvisioningError", "StationError", "UnknownSchemaError",
           "VoterListError"]


class StationError(UchastokError):
    """Raised for any failure of the station's domain logic."""


class ConfigError(StationError):
    """Raised when configuration or state on disk is missing or inconsistent."""


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
