"""What every device seam shares: a context manager around an idempotent ``close()``.

STYLE.md "Explicit lifetimes": devices are context managers whose ``close()`` may
be called twice, and say in their ``__repr__`` what they are attached to and
whether they are closed; no ``__del__``. The seams built on it: the fingerprint
sensor, the ID-card reader and the MRZ reader, the receipt printer, the ballot
scanner and the table's indicators.

Example::

    with CardReader(PcscTransport()) as reader:
        reader.status()
    reader.close()   # already closed: nothing happens
"""

import abc
from typing import Self


class Device(abc.ABC):
    """A device held open until ``close()`` (or the end of a ``with`` block)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
