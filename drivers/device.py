"""What every device seam shares: a context manager around an idempotent ``close()``.

STYLE.md "Explicit lifetimes": devices are context managers whose ``close()`` may
be called twice; no ``__del__``.
"""

import abc


class Device(abc.ABC):
    """A device held open until ``close()`` (or the end of a ``with`` block)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
