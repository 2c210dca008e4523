"""Sync's exception tree (imports nothing of station).

``TransportFault`` (network, timeouts, server unavailable: retry later) and
``RemoteRejected`` (the far side answered and refused: do not retry blindly)
are separate families; ``VerificationError`` is for anything that fails a
signature, hash or chain check.
"""

from base.errors import UchastokError


class SyncError(UchastokError):
    """Raised for any failure in the trust boundary."""


class VerificationError(SyncError):
    """Raised when a signature, hash, certificate or chain does not verify."""


class EnvelopeError(SyncError):
    """Raised when an envelope is malformed, too large or inconsistent."""


class OutboxFullError(SyncError):
    """Raised when the outbox has reached its cap: the state change is refused, not dropped."""


class TransportFault(SyncError):
    """Raised when the link or the server is unavailable: retry with backoff."""


class OutboxUnavailable(TransportFault):
    """Raised when a role's outbox service does not answer (stopped, restarting): retry with backoff."""


class RemoteRejected(SyncError):
    """Raised when the server answers and refuses a request."""


class OutsideTransactionError(SyncError):
    """Raised when an outbox is written outside the caller's open transaction."""


class DeviceCredentialsError(SyncError):
    """Raised when the device key or its certificate is missing, unreadable or unusable."""


class CertificateMismatchError(VerificationError):
    """Raised when the installed device certificate names another key than this device's."""


class ForkError(VerificationError):
    """Raised when an ack names a hash that differs from this device's envelope at that seq."""
