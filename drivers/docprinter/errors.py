"""The document printer's errors, beneath ``drivers.errors`` (transport vs device vs protocol).

A printer's condition (out of paper, jammed, door open, offline, unreachable) is
a status value (``drivers.docprinter.base.DocPrinterStatus``), not an error:
these are for answers that break the protocol and for requests the printer
cannot serve at all.
"""

from drivers.errors import DeviceError, ProtocolError, TransportError


class IppError(ProtocolError):
    """Raised when an IPP message is malformed (RFC 8010 encoding) or answers another request."""


class RasterError(ProtocolError):
    """Raised when a PWG raster stream is malformed or cut short (PWG 5102.4)."""


class HttpError(ProtocolError):
    """Raised when the printer's HTTP answer is not an IPP response (status, type, length)."""


class PrinterUnreachable(TransportError):
    """Raised when the printer's address cannot be reached or the connection drops."""

    def __init__(self, message: str, *, request_sent: bool = False) -> None:
        # Whether the request may have reached the printer (a job may then be printing).
        self.request_sent = request_sent
        super().__init__(message)


class IppStatusError(DeviceError):
    """Raised when the printer answers an operation with an IPP error status."""

    def __init__(self, operation: str, status: int, name: str, message: str = "") -> None:
        self.operation = operation
        self.status = status
        self.status_name = name
        self.status_message = message
        super().__init__(f"{operation}: {name}" + (f" ({message})" if message else ""))


class UnsupportedByPrinter(DeviceError):
    """Raised when the printer lacks what a job needs (PWG raster, the medium, the resolution)."""
