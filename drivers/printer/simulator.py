"""A simulated ESC/POS receipt printer that turns the byte stream back into paper.

``SimulatedPrinter(out_dir, preset=None)`` is a ``Printer`` for the daemons
and the demo: it prints through the real ``EscposPrinter`` driver, whose
bytes go to ``receive()``, the printer's side. ``EscposDecoder`` parses the
stream (ESC @, GS v 0 raster images, ESC d feeds, GS V cuts, DLE EOT status
queries, a few mode commands and plain text); raster fragments are stacked
until a cut, and each cut piece is written as ``print-NNNN.png`` and
``print-NNNN.pdf`` (at ``dpi``) in ``out_dir``. The PNG is pixel-identical to
``render_pages()`` of the document, which makes golden tests exact. An
unknown command is a ``PrinterProtocolError``: our driver must send only
what a printer understands.

Status answers follow the ESC/POS DLE EOT bits for the preset (any time,
lasting until changed):

- ``paper-out``: offline cause 0x32 (paper-end stop), paper sensor 0x72.
- ``cover-open``: offline cause 0x16.
- ``disconnected``: the link raises as an unplugged serial port does (or, on
  the pty, the printer is silent and swallows data, like one switched off).
- ``paper-runs-out``: the next image starts printing, then the paper ends:
  that piece is lost (counted in ``torn``) and the preset becomes paper-out.

While not ready the printer discards what it receives, so nothing prints
twice when the job is sent again after ``load_paper()`` / ``preset = None``.

``serve_pty()`` also offers the printer on a pseudo-terminal, for
``EscposPrinter.serial(port)`` and other processes; standalone:
``python -m drivers.printer.simulator OUT_DIR`` prints the port and serves
until interrupted.

Example::

    with SimulatedPrinter(tmp_path) as printer:
        printer.print_document(receipt)      # → tmp_path/print-0001.png, .pdf
        printer.preset = "paper-out"
        assert printer.print_document(receipt).status is PrinterStatus.PAPER_OUT
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import threading
import tty
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from escpos.escpos import Escpos
from PIL import Image

from drivers.printer.base import Document, Printer, PrinterStatus, PrintResult
from drivers.printer.document import WIDTH_58MM, save_pages_pdf
from drivers.printer.escpos_printer import EscposPrinter, PrinterProtocolError, media_profile
from drivers.simulation import FailurePresets

PRESETS = ("paper-out", "cover-open", "disconnected", "paper-runs-out")

ESC, GS, DLE = 0x1B, 0x1D, 0x10
_INVERT = bytes(b ^ 0xFF for b in range(256))
# Commands with a fixed number of parameter bytes: prefix → parameter count.
_FIXED = {
    b"\x1b@": 0,  # ESC @ initialise
    b"\x1bd": 1,  # ESC d n print and feed n lines
    b"\x1bJ": 1,  # ESC J n feed n dots
    b"\x1ba": 1,  # ESC a n justification
    b"\x1bE": 1,  # ESC E n emphasis
    b"\x1b!": 1,  # ESC ! n print mode
    b"\x1bt": 1,  # ESC t n code page
    b"\x1b2": 0,  # ESC 2 default line spacing
    b"\x1b3": 1,  # ESC 3 n line spacing
    b"\x1d!": 1,  # GS ! n character size
    b"\x10\x04": 1,  # DLE EOT n real-time status
}


@dataclass(frozen=True)
class Event:
    kind: str  # init, feed, raster, cut, status, text, mode
    value: object = None


class EscposDecoder:
    """Incremental ESC/POS parser: ``feed(bytes)`` → the events completed."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Event]:
        self._buf += data
        events: list[Event] = []
        while self._buf:
            event, used = self._next()
            if used == 0:
                break
            del self._buf[:used]
            if event is not None:
                events.append(event)
        return events

    def _next(self) -> tuple[Event | None, int]:
        buf = self._buf
        first = buf[0]
        if first not in (ESC, GS, DLE):
            match = re.match(rb"[^\x1b\x1d\x10]+", bytes(buf))
            return Event("text", bytes(match.group(0))), match.end()
        if len(buf) < 2:
            return None, 0
        prefix = bytes(buf[:2])
        if prefix == b"\x1dv":  # GS v 0 m xL xH yL yH d1...dk
            if len(buf) < 8:
                return None, 0
            if buf[2] not in (0x00, 0x30):
                raise PrinterProtocolError(f"GS v {buf[2]:#x} is not GS v 0")
            width_bytes = buf[4] | buf[5] << 8
            height = buf[6] | buf[7] << 8
            end = 8 + width_bytes * height
            if len(buf) < end:
                return None, 0
            # Raster bits are 1 for a black dot; Pillow's mode "1" packs 1 as white.
            data = bytes(buf[8:end]).translate(_INVERT)
            image = Image.frombytes("1", (width_bytes * 8, height), data)
            return Event("raster", image), end
        if prefix == b"\x1dV":  # GS V m, or GS V m n for m = 65/66
            if len(buf) < 3:
                return None, 0
            if buf[2] in (0, 1, 48, 49):
                return Event("cut", buf[2]), 3
            if buf[2] in (65, 66):
                return (Event("cut", buf[2]), 4) if len(buf) >= 4 else (None, 0)
            raise PrinterProtocolError(f"GS V {buf[2]} is not a cut")
        if prefix in _FIXED:
            size = 2 + _FIXED[prefix]
            if len(buf) < size:
                return None, 0
            param = buf[2] if size > 2 else None
            kind = {
                b"\x1b@": "init",
                b"\x1bd": "feed",
                b"\x1bJ": "feed",
                b"\x10\x04": "status",
            }.get(prefix, "mode")
            return Event(kind, param), size
        raise PrinterProtocolError(f"unknown command {prefix.hex(' ')}")


@dataclass(frozen=True)
class PrintedPage:
    png: Path
    pdf: Path | None
    image: Image.Image


class SimulatedLink(Escpos):
    """The python-escpos device whose wire ends in a ``SimulatedPrinter``."""

    def __init__(self, printer: SimulatedPrinter, **kwargs) -> None:
        Escpos.__init__(self, **kwargs)
        self._printer = printer

    def open(self) -> None:
        self._printer._check_link()

    def _raw(self, msg: bytes) -> None:
        self._printer._check_link()
        self._printer.receive(msg)

    def _read(self) -> bytes:
        self._printer._check_link()
        return self._printer.take_answer()


class SimulatedPrinter(FailurePresets, Printer):
    PRESETS = PRESETS

    def __init__(
        self,
        out_dir: str | os.PathLike,
        preset: str | None = None,
        *,
        width_dots: int = WIDTH_58MM,
        dpi: float = 203.0,
        write_pdf: bool = True,
    ) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.width_dots = width_dots
        self.dpi = dpi
        self.write_pdf = write_pdf
        self._lock = threading.RLock()
        self._decoder = EscposDecoder()
        self._answers = bytearray()
        self._parts: list[Image.Image] = []
        self._preset: str | None = None
        self.set_preset(preset)
        self.printed: list[PrintedPage] = []
        self.torn = 0
        self.discarded_bytes = 0
        self.text = bytearray()
        existing = [
            int(m.group(1))
            for p in self.out_dir.glob("print-*.png")
            if (m := re.fullmatch(r"print-(\d+)\.png", p.name))
        ]
        self._sequence = max(existing, default=0)
        self.link = SimulatedLink(self, profile=media_profile(width_dots))
        self._driver = EscposPrinter(self.link, width_dots=width_dots)
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"<SimulatedPrinter {self.out_dir} preset={self._preset} printed={len(self.printed)}>"
        )

    # -- the seam, through the real driver -----------------------------------

    def status(self) -> PrinterStatus:
        return self._driver.status()

    def print_document(self, document: Document) -> PrintResult:
        return self._driver.print_document(document)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._driver.close()

    # -- faults --------------------------------------------------------------

    def load_paper(self) -> None:
        """Paper back in, cover shut, cable in: the printer is ready."""
        self.set_preset(None)

    def _check_link(self) -> None:
        if self._preset == "disconnected":
            raise OSError(errno.EIO, "printer unplugged (simulated)")

    # -- the printer's side of the wire ----------------------------------------

    def _ready(self) -> bool:
        return self._preset in (None, "paper-runs-out")

    def receive(self, data: bytes) -> None:
        """Bytes arriving from the host."""
        with self._lock:
            for event in self._decoder.feed(data):
                self._act(event)

    def take_answer(self) -> bytes:
        """Bytes the printer has sent back since the last call."""
        with self._lock:
            answer = bytes(self._answers)
            self._answers.clear()
            return answer

    def _status_byte(self, n: int) -> int:
        preset = self._preset
        if n == 1:  # printer status: bit 3 offline
            return 0x12 | (0x08 if not self._ready() else 0)
        if n == 2:  # offline cause
            return 0x12 | {"cover-open": 0x04, "paper-out": 0x20}.get(preset or "", 0)
        if n == 3:  # error cause
            return 0x12
        if n == 4:  # roll paper sensor
            return 0x12 | (0x60 if preset == "paper-out" else 0)
        raise PrinterProtocolError(f"DLE EOT {n} is not a status request")

    def _act(self, event: Event) -> None:
        if event.kind == "status":
            self._answers.append(self._status_byte(event.value))
            return
        if not self._ready():
            self.discarded_bytes += 1
            return
        if event.kind == "raster":
            if self._preset == "paper-runs-out":
                self._parts.clear()
                self.torn += 1
                self._preset = "paper-out"
                return
            self._parts.append(event.value)
        elif event.kind == "cut":
            self._finish_page()
        elif event.kind == "init":
            self._parts.clear()
        elif event.kind == "text":
            self.text += event.value

    def _finish_page(self) -> None:
        if not self._parts:
            return
        width = max(p.width for p in self._parts)
        page = Image.new("1", (width, sum(p.height for p in self._parts)), 1)
        y = 0
        for part in self._parts:
            page.paste(part, (0, y))
            y += part.height
        self._parts.clear()
        self._sequence += 1
        png = self.out_dir / f"print-{self._sequence:04d}.png"
        tmp = png.with_name(f".{png.name}.tmp")
        page.save(tmp, format="PNG")
        os.replace(tmp, png)
        pdf = None
        if self.write_pdf:
            pdf = save_pages_pdf([page], png.with_suffix(".pdf"), dpi=self.dpi)
        self.printed.append(PrintedPage(png, pdf, page))

    # -- on a pseudo-terminal --------------------------------------------------

    @contextlib.contextmanager
    def serve_pty(self) -> Iterator[str]:
        """Offer this printer on a pty; yields the device path to open."""
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        link_dir = tempfile.mkdtemp(prefix="uchastok-printer-")
        port = os.path.join(link_dir, "ttyPRN0")
        os.symlink(os.ttyname(slave), port)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:
                    continue
                if self._preset == "disconnected":
                    continue  # switched off: silent
                self.receive(data)
                answer = self.take_answer()
                if answer:
                    os.write(master, answer)

        thread = threading.Thread(target=serve, name="printer-simulator", daemon=True)
        thread.start()
        try:
            yield port
        finally:
            stop.set()
            thread.join(timeout=5)
            os.close(master)
            os.close(slave)
            shutil.rmtree(link_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a simulated receipt printer on a pty.")
    parser.add_argument("out_dir", help="where printed pieces go as PNG and PDF files")
    parser.add_argument("--preset", choices=PRESETS, default=None)
    parser.add_argument("--width-dots", type=int, default=WIDTH_58MM)
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the pty and its link are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with SimulatedPrinter(args.out_dir, args.preset, width_dots=args.width_dots) as printer:
        with printer.serve_pty() as port:
            print(port, flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()


if __name__ == "__main__":
    main()
