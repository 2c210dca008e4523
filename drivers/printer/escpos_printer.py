"""ESC/POS receipt printer through python-escpos, printing documents as rasters.

``EscposPrinter(device)`` drives any python-escpos printer object (serial,
USB, or the simulator's link). Each piece of a document is rendered to a
1-bit image and sent with ``GS v 0`` (``impl="bitImageRaster"``), then cut,
after an ``ESC @`` reset. Kyrgyz letters print because they are pixels.

Status is read with the real-time command ``DLE EOT`` where the link can
read: n=2 (offline cause: bit 2 cover open, bit 5 stopped at paper end) and
n=4 (roll paper sensor: bits 5-6 paper end). Every status byte must carry
the fixed bits 0xx1xx10; anything else is a ``PrinterProtocolError``. No
answer means the printer is off or unplugged: DISCONNECTED. A link that
cannot read at all (``reads_status=False``, e.g. a file) reports READY.

``print_document`` checks the status first and sends nothing unless READY;
after sending it checks again, so paper that ran out during the job shows
as PAPER_OUT with ``printed`` False: the caller keeps the job and prints it
again. A real printer may still be printing when the second check runs;
the status after a short job is the best the protocol offers.

Example::

    with EscposPrinter.serial("/dev/ttyUSB1", baudrate=19200) as printer:
        result = printer.print_document(receipt)
"""

from __future__ import annotations

import contextlib
import copy
import termios
import threading

import escpos.exceptions
import escpos.printer
import serial
from escpos.capabilities import Profile, get_profile
from escpos.escpos import Escpos

from drivers.errors import ProtocolError
from drivers.printer.base import Document, Printer, PrinterStatus, PrintResult
from drivers.printer.document import WIDTH_58MM, render_pages

DLE_EOT = b"\x10\x04"
OFFLINE_CAUSE, PAPER_SENSOR = 2, 4
COVER_OPEN_BIT = 0x04
PAPER_END_STOP_BIT = 0x20
PAPER_END_BITS = 0x60
FIXED_MASK, FIXED_BITS = 0x93, 0x12

# What a dead or missing link raises through python-escpos and its backends
# (pyusb's USBError is an OSError; a pty or adapter gone mid-flush raises termios.error).
_LINK_FAULTS = (
    OSError,
    termios.error,
    serial.SerialException,
    escpos.exceptions.DeviceNotFoundError,
)


class PrinterProtocolError(ProtocolError):
    """Raised when a printer's status answer lacks the fixed bits of a DLE EOT reply."""


def media_profile(width_dots: int, base: str = "default") -> Profile:
    """A python-escpos profile like ``base`` with a known media width and a cutter.

    python-escpos prints a warning to stdout for every image on a profile of
    unknown width, and skips the cut command on profiles without a cutter.
    """
    data = copy.deepcopy(get_profile(base).profile_data)
    data.setdefault("media", {}).setdefault("width", {})["pixels"] = width_dots
    data.setdefault("features", {})["paperFullCut"] = True
    # python-escpos accepts a ready profile only as an instance of its Profile.
    profile_class = type(f"Uchastok{width_dots}Profile", (Profile,), {"profile_data": data})
    return profile_class(features=data["features"])


class _StatusSerial(escpos.printer.Serial):
    """python-escpos' serial printer, reading the one-byte status answer.

    The stock ``_read`` asks for 16 bytes and so always waits the whole
    timeout; a DLE EOT answer is a single byte.
    """

    def _read(self) -> bytes:
        assert self.device
        return self.device.read(1)

    def query_status(self, mode: bytes) -> bytes:
        # An answer that came after an earlier query timed out would otherwise
        # be taken for this one, and every later answer would be off by one.
        assert self.device
        self.device.reset_input_buffer()
        return super().query_status(mode)

    def close(self) -> None:
        # The stock close() leaves the port marked open when flushing an
        # unplugged adapter fails, and then fails again at garbage collection.
        port, self._device = self._device, False
        if not port:
            return
        with contextlib.suppress(*_LINK_FAULTS):
            port.flush()
        with contextlib.suppress(*_LINK_FAULTS):
            port.close()


class EscposPrinter(Printer):
    def __init__(
        self,
        device: Escpos,
        *,
        width_dots: int = WIDTH_58MM,
        reads_status: bool = True,
        render_options: dict | None = None,
    ) -> None:
        self.device = device
        self.width_dots = width_dots
        self.reads_status = reads_status
        self.render_options = render_options or {}
        self._opened = False
        self._closed = False
        # One job or status query at a time on the wire.
        self._lock = threading.RLock()

    @classmethod
    def serial(
        cls,
        devfile: str,
        baudrate: int = 9600,
        *,
        profile: str | None = None,
        width_dots: int = WIDTH_58MM,
        timeout_s: float = 0.5,
    ) -> EscposPrinter:
        """A printer on a serial port (or a USB serial adapter)."""
        device = _StatusSerial(
            devfile=devfile,
            baudrate=baudrate,
            timeout=timeout_s,
            dsrdtr=False,
            profile=media_profile(width_dots, profile or "default"),
        )
        return cls(device, width_dots=width_dots)

    @classmethod
    def usb(
        cls,
        vendor_id: int,
        product_id: int,
        *,
        profile: str | None = None,
        width_dots: int = WIDTH_58MM,
        timeout_ms: int = 1000,
        in_ep: int = 0x82,
        out_ep: int = 0x01,
    ) -> EscposPrinter:
        """A USB printer (needs pyusb; python-escpos raises RuntimeError without it)."""
        device = escpos.printer.Usb(
            vendor_id,
            product_id,
            timeout=timeout_ms,
            in_ep=in_ep,
            out_ep=out_ep,
            profile=media_profile(width_dots, profile or "default"),
        )
        return cls(device, width_dots=width_dots)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._opened else "not connected")
        return f"<EscposPrinter {type(self.device).__name__} {self.width_dots} dots {state}>"

    # -- the seam ----------------------------------------------------------

    def status(self) -> PrinterStatus:
        with self._lock:
            return self._status()

    def _status(self) -> PrinterStatus:
        try:
            self._open()
            if not self.reads_status:
                return PrinterStatus.READY
            cause = self._query(OFFLINE_CAUSE)
            if cause is None:
                return PrinterStatus.DISCONNECTED
            if cause & COVER_OPEN_BIT:
                return PrinterStatus.COVER_OPEN
            if cause & PAPER_END_STOP_BIT:
                return PrinterStatus.PAPER_OUT
            paper = self._query(PAPER_SENSOR)
            if paper is None:
                return PrinterStatus.DISCONNECTED
            if paper & PAPER_END_BITS:
                return PrinterStatus.PAPER_OUT
            return PrinterStatus.READY
        except _LINK_FAULTS:
            self._drop()
            return PrinterStatus.DISCONNECTED

    def print_document(self, document: Document) -> PrintResult:
        with self._lock:
            return self._print(document)

    def _print(self, document: Document) -> PrintResult:
        before = self._status()
        if before is not PrinterStatus.READY:
            return PrintResult(before, printed=False, detail=f"not sent: printer {before.value}")
        pages = render_pages(document, self.width_dots, **self.render_options)
        try:
            self.device.hw("INIT")
            for page in pages:
                self.device.image(
                    page,
                    impl="bitImageRaster",
                    high_density_vertical=True,
                    high_density_horizontal=True,
                    center=False,
                )
                self.device.cut()
        except _LINK_FAULTS as exc:
            self._drop()
            return PrintResult(
                PrinterStatus.DISCONNECTED,
                printed=False,
                detail=f"link failed while printing: {exc}",
            )
        after = self._status()
        if after is not PrinterStatus.READY:
            return PrintResult(
                after,
                printed=False,
                pages=len(pages),
                detail=f"printer {after.value} during the job: print it again",
            )
        return PrintResult(PrinterStatus.READY, printed=True, pages=len(pages))

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop()

    # -- the link ------------------------------------------------------------

    def _open(self) -> None:
        if self._closed:
            raise escpos.exceptions.DeviceNotFoundError(f"{self!r} is closed")
        if not self._opened:
            self.device.open()
            self._opened = True

    def _drop(self) -> None:
        # Reopen on the next call: a replugged adapter is a new device.
        self._opened = False
        try:
            self.device.close()
        except _LINK_FAULTS:
            pass  # an unplugged device may fail to close; it is gone either way

    def _query(self, n: int) -> int | None:
        try:
            answer = self.device.query_status(DLE_EOT + bytes([n]))
        except NotImplementedError:
            # The link cannot read (a file, the Dummy printer): trust it.
            self.reads_status = False
            return 0x12
        if not answer:
            return None
        byte = answer[-1]  # a late answer to an earlier query may precede it
        if byte & FIXED_MASK != FIXED_BITS:
            raise PrinterProtocolError(f"DLE EOT {n} answered 0x{byte:02X}")
        return byte
