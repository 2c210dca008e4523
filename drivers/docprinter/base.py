"""The document printer seam: what the identify role sees of an A4/A5 printer.

``status()`` is a ``DocPrinterStatus`` value, read from the printer's
``printer-state``, ``printer-state-reasons`` and ``printer-is-accepting-jobs``
(RFC 8011 sections 5.4.11-5.4.13) by ``condition`` below, a pure function:

=================  ===========================================================
READY              idle or processing, accepting jobs, no blocking reason
MEDIA_JAM          ``media-jam``
DOOR_OPEN          ``door-open``, ``cover-open`` or ``interlock-open``
MEDIA_EMPTY        ``media-empty`` (also ``input-tray-missing``)
OFFLINE            ``offline``, ``shutdown`` or ``paused``, or not accepting jobs
STOPPED            printer-state "stopped" for any other reason
DISCONNECTED       no answer at all (address unreachable, connection dropped)
=================  ===========================================================

A reason counts when it has no suffix or ends in ``-error`` (RFC 8011 5.4.12:
an unsuffixed reason is an error); ``-warning`` and ``-report`` reasons (such as
``media-low-report``) do not stop printing, except ``offline`` with any suffix
(CUPS reports ``offline-report`` for a printer that does not answer). When
several hold, the first in the table wins: a jam is what the commission must
clear first.

``print_pages(pages, media=...)`` prints one job and returns a ``JobResult``
(``print_raster`` the same for pages already encoded as PWG raster, so that a
caller printing one document many times encodes it once);
``outcome`` says what became of it and ``impressions`` how many pages came out
complete:

- ``PRINTED``: the job completed;
- ``NOT_SENT``: the printer was not ready (``status`` says why) or not reached:
  nothing was sent, nothing printed;
- ``REFUSED``: the printer answered the job with an IPP error status: nothing
  printed;
- ``STOPPED``: the printer stopped during the job (jam, paper, door, offline);
  the driver cancelled the job so that the printer does not finish it by
  itself once the condition is cleared; ``status`` says why;
- ``ABORTED``: the printer aborted or cancelled the job on its own;
- ``UNKNOWN``: the job was sent but its fate could not be learnt (the link
  dropped, the printer stopped answering, the wait ran out): the page may
  still come out.

Example::

    result = printer.print_pages([RasterPage(sheet, 300)], media=A4)
    if result.outcome is JobOutcome.STOPPED and result.status is DocPrinterStatus.MEDIA_JAM:
        ...  # the jammed sheet is taken out and voided
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.device import Device
from drivers.docprinter.raster import RasterPage

__all__ = ["A4", "A5", "MEDIA_MM", "DocPrinterStatus", "DocumentPrinter", "JobOutcome",
           "JobResult", "RasterPage", "condition"]

A4 = "iso_a4_210x297mm"
A5 = "iso_a5_148x210mm"
MEDIA_MM = {A4: (210.0, 297.0), A5: (148.0, 210.0)}


class DocPrinterStatus(enum.Enum):
    READY = "ready"
    MEDIA_JAM = "media-jam"
    DOOR_OPEN = "door-open"
    MEDIA_EMPTY = "media-empty"
    OFFLINE = "offline"
    STOPPED = "stopped"
    DISCONNECTED = "disconnected"


class JobOutcome(enum.Enum):
    PRINTED = "printed"
    NOT_SENT = "not-sent"
    REFUSED = "refused"
    STOPPED = "stopped"
    ABORTED = "aborted"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class JobResult:
    outcome: JobOutcome
    status: DocPrinterStatus
    job_id: int | None = None
    impressions: int = 0
    detail: str = ""

    @property
    def printed(self) -> bool:
        return self.outcome is JobOutcome.PRINTED


# Reasons by the status they mean, in the order of precedence.
_REASONS: tuple[tuple[DocPrinterStatus, frozenset[str]], ...] = (
    (DocPrinterStatus.MEDIA_JAM, frozenset({"media-jam"})),
    (DocPrinterStatus.DOOR_OPEN, frozenset({"door-open", "cover-open", "interlock-open"})),
    (DocPrinterStatus.MEDIA_EMPTY, frozenset({"media-empty", "input-tray-missing"})),
    (DocPrinterStatus.OFFLINE, frozenset({"offline", "shutdown", "paused"})),
)
_SUFFIXES = ("-error", "-warning", "-report")


def _split_reason(reason: str) -> tuple[str, str]:
    for suffix in _SUFFIXES:
        if reason.endswith(suffix):
            return reason[: -len(suffix)], suffix
    return reason, ""


def condition(printer_state: int | None, reasons: Iterable[str], accepting: bool | None = True
              ) -> DocPrinterStatus:
    """The printer's condition from its IPP state attributes (see the module docstring)."""
    blocking = set()
    for reason in reasons:
        base, suffix = _split_reason(reason)
        if suffix in ("", "-error") or base == "offline":
            blocking.add(base)
    for status, names in _REASONS:
        if blocking & names:
            return status
    if accepting is False:
        return DocPrinterStatus.OFFLINE
    if printer_state == 5:          # stopped, for a reason this table does not name
        return DocPrinterStatus.STOPPED
    return DocPrinterStatus.READY


class DocumentPrinter(Device):
    """An A4/A5 printer. Context manager; ``close()`` is idempotent."""

    @abc.abstractmethod
    def status(self) -> DocPrinterStatus:
        """The printer's condition now."""

    @abc.abstractmethod
    def print_pages(self, pages: Sequence[RasterPage], *, media: str = A4,
                    job_name: str = "document") -> JobResult:
        """Print ``pages`` as one job on ``media`` (see the module docstring for the outcomes)."""

    @abc.abstractmethod
    def print_raster(self, raster: bytes, *, media: str = A4, job_name: str = "document"
                     ) -> JobResult:
        """Print an already encoded PWG raster stream (drivers/docprinter/raster.py) as one job."""
