"""Drivers' exception tree (imports nothing of ours).

Transport faults (the device did not answer, the link broke) and device
faults (the device answered with an error or garbage) are separate families,
so retry code can tell them apart. Conditions such as "no finger" or "paper
out" are status values, not exceptions.
"""


class DriverError(Exception):
    """Raised for any driver failure."""


class TransportError(DriverError):
    """Raised when the link to a device fails: timeout, unplugged, short read."""


class ProtocolError(DriverError):
    """Raised when a device's answer violates its protocol (bad frame, checksum, length)."""


class DeviceError(DriverError):
    """Raised when a device answers correctly but reports an error."""
