"""The ID-card reader's leaves of the drivers' exception tree.

Transport faults (the card left, the chip went silent, no PC/SC service) are
``TransportError``; a chip that answers but refuses (wrong MRZ keys, no eMRTD
application) is ``DeviceError``; answers that break ICAO 9303 (bad MAC, garbled
TLV) are ``ProtocolError``. A document that fails passive authentication is
not an exception: it is a value (``PassiveAuthResult``).
"""

from drivers.errors import DeviceError, DriverError, ProtocolError, TransportError


class CardRemovedError(TransportError):
    """Raised when the card leaves the reader (or its field) during a read."""


class CardAbsentError(TransportError):
    """Raised when a read is asked for while no card is in the reader."""


class ReaderUnavailableError(TransportError):
    """Raised when the PC/SC service or the named reader cannot be reached."""


class ChipSilentError(TransportError):
    """Raised when the chip returns no answer at all to a command."""


class CardReadTimeoutError(TransportError):
    """Raised when reading one document takes longer than the reader's deadline (a stalling chip)."""


class BacFailedError(DeviceError):
    """Raised when the chip refuses Basic Access Control (the MRZ keys are wrong)."""


class NotAnEmrtdError(DeviceError):
    """Raised when the card has no ICAO eMRTD application (SELECT refused)."""


class ChipError(DeviceError):
    """Raised when the chip answers a command with an unexpected status word."""


class SecureMessagingError(ProtocolError):
    """Raised when a secure-messaging answer has a bad MAC or is malformed."""


class MalformedDataError(ProtocolError):
    """Raised when an elementary file (EF.COM, DG1, DG2, TLV) does not parse."""


class InvalidMrzError(DriverError, ValueError):
    """Raised when MRZ text has the wrong shape or one of its check digits fails."""
