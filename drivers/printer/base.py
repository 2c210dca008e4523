"""The printer seam: what the daemons see of any receipt printer.

``status()`` is a ``PrinterStatus`` value. ``print_document(document)``
returns a ``PrintResult`` and never loses a job: when the printer is out of
paper, has its cover open or is unreachable, nothing is sent and the result
says so (``printed`` False); when the paper runs out during the job, the
result is PAPER_OUT with ``printed`` False as well. The caller keeps the job
(it is already committed with the identification) and prints it again once
``status()`` is READY. Exceptions are left for protocol violations.

Documents and their rendering (re-exported here) live in
``drivers.printer.document``.

Example::

    result = printer.print_document(receipt)
    if not result.printed:
        show_on_screen(f"Printer: {result.status.value}; the receipt will reprint")
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass

from drivers.device import Device
from drivers.printer.document import (
    Align,
    Block,
    Cut,
    Document,
    Heading,
    Picture,
    QrCode,
    Row,
    Rule,
    Space,
    Text,
    render,
    render_pages,
    save_pdf,
    save_png,
)

__all__ = [
    "Align",
    "Block",
    "Cut",
    "Document",
    "Heading",
    "Picture",
    "PrintResult",
    "Printer",
    "PrinterStatus",
    "QrCode",
    "Row",
    "Rule",
    "Space",
    "Text",
    "render",
    "render_pages",
    "save_pdf",
    "save_png",
]


class PrinterStatus(enum.Enum):
    READY = "ready"
    PAPER_OUT = "paper-out"
    COVER_OPEN = "cover-open"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class PrintResult:
    status: PrinterStatus
    printed: bool
    pages: int = 0
    detail: str = ""


class Printer(Device):
    """A receipt printer. Context manager; ``close()`` is idempotent."""

    @abc.abstractmethod
    def status(self) -> PrinterStatus:
        """The printer's condition now."""

    @abc.abstractmethod
    def print_document(self, document: Document) -> PrintResult:
        """Print ``document``; ``printed`` is True only when all of it came out."""

