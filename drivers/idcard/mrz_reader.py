"""The MRZ / barcode reader on a serial port, and its pty simulator.

Desk MRZ readers (OCR swipe or 2D scanners in MRZ mode) send the 2 or 3
lines of the machine-readable zone as ASCII, each line ended by CR, LF or
CR LF, sometimes split across several USB/serial packets.

``MrzReader(url).read_mrz(timeout)`` guarantees:

* it returns a checked ``MRZ`` as soon as the last lines received form TD1
  (3x30) or TD3 (2x44) and parse; control bytes (STX/ETX, prefixes) are
  dropped;
* it returns ``None`` when nothing at all arrived before the deadline (no
  document presented: a condition, not an error);
* it raises ``InvalidMrzError`` when lines arrived but never formed a valid
  MRZ by the deadline or a check digit fails (the commission rescans or
  types the three fields: ``BacKey.from_fields``);
* it raises ``MrzReaderUnpluggedError`` when the port fails, and reopens the
  port lazily on the next call; ``status()`` says READY or DISCONNECTED.

``PtyMrzScanner`` is the simulator: a pty pair whose slave name the reader
opens (FIELD-NOTES "Serial devices"), with presets "garbled" (one character
misread, a check digit fails), "truncated" (the last line never comes) and
"split" (lines arrive in small pieces).

Example::

    with PtyMrzScanner() as scanner, MrzReader(scanner.port) as reader:
        scanner.present(mrz_text)
        mrz = reader.read_mrz(timeout=2.0)
"""

from __future__ import annotations

import os
import re
import time
import tty
from collections.abc import Callable

import serial

from drivers.device import Device
from drivers.errors import TransportError
from drivers.idcard.base import CardStatus
from drivers.idcard.errors import InvalidMrzError
from drivers.idcard.mrz import MRZ, PinLocation, parse_mrz, split_lines

_NOISE = re.compile(rb"[^\r\nA-Za-z0-9<]")


class MrzReaderUnpluggedError(TransportError):
    """Raised when the MRZ reader's serial port fails (unplugged, closed)."""


class MrzReader(Device):
    """An MRZ reader on a pyserial URL (``/dev/ttyACM0``, ``socket://``, a pty).

    A context manager; ``close()`` releases the port and may be called twice.
    """

    def __init__(self, url: str, *, baudrate: int = 9600,
                 serial_for_url: Callable[..., serial.SerialBase] = serial.serial_for_url,
                 pin_locations: dict[str, PinLocation] | None = None,
                 monotonic: Callable[[], float] = time.monotonic):
        self.url = url
        self.baudrate = baudrate
        self._serial_for_url = serial_for_url
        self._pin_locations = pin_locations
        self._monotonic = monotonic
        self._port: serial.SerialBase | None = None

    def __repr__(self) -> str:
        return f"MrzReader({self.url!r}, open={self._port is not None})"

    def __enter__(self) -> MrzReader:
        # Open now: pyserial flushes the input on open, which would drop a
        # document presented between construction and the first read.
        self._open()
        return self

    def close(self) -> None:
        self._drop_port()

    def _drop_port(self) -> None:
        """Forget the port; the next call opens it again (a replugged reader)."""
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (OSError, serial.SerialException):
                pass

    def _open(self) -> serial.SerialBase:
        if self._port is None:
            try:
                self._port = self._serial_for_url(self.url, baudrate=self.baudrate, timeout=0.05)
            except (OSError, serial.SerialException) as exc:
                raise MrzReaderUnpluggedError(f"cannot open MRZ reader {self.url}: {exc}") from exc
        return self._port

    def status(self) -> CardStatus:
        try:
            self._open()
        except MrzReaderUnpluggedError:
            return CardStatus.DISCONNECTED
        return CardStatus.READY

    def read_mrz(self, timeout: float) -> MRZ | None:
        """Wait up to ``timeout`` seconds for one MRZ (see the module docstring)."""
        port = self._open()
        deadline = self._monotonic() + timeout
        pending = b""
        lines: list[str] = []
        received = False
        while self._monotonic() < deadline:
            try:
                chunk = port.read(256)
            except (OSError, serial.SerialException) as exc:
                self._drop_port()
                raise MrzReaderUnpluggedError(f"MRZ reader {self.url} failed: {exc}") from exc
            if not chunk:
                continue
            received = True
            pending += _NOISE.sub(b"", chunk)
            *complete, pending = re.split(rb"[\r\n]", pending)
            for raw in complete:
                text = raw.decode("ascii").upper()
                if text:
                    lines.append(text)
            mrz = self._complete(lines)
            if mrz is not None:
                return mrz
        if not received:
            return None
        raise InvalidMrzError(f"MRZ reader sent {len(lines)} line(s) that form no MRZ")

    def _complete(self, lines: list[str]) -> MRZ | None:
        for count, width in ((3, 30), (2, 44)):
            tail = lines[-count:]
            if len(tail) == count and all(len(ln) == width for ln in tail):
                return parse_mrz(tuple(tail), pin_locations=self._pin_locations)
        return None


class PtyMrzScanner:
    """A simulated MRZ reader on a pty pair (product code: tests and the demo)."""

    PRESETS = ("garbled", "truncated", "split")

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)

    def __repr__(self) -> str:
        return f"PtyMrzScanner({self.port!r})"

    def __enter__(self) -> PtyMrzScanner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def present(self, mrz_text: str, *, preset: str | None = None,
                line_end: bytes = b"\r\n") -> None:
        """Send one document's MRZ as the reader would."""
        if preset is not None and preset not in self.PRESETS:
            raise ValueError(f"unknown preset {preset!r}; known: {', '.join(self.PRESETS)}")
        lines = list(split_lines(mrz_text))
        if preset == "garbled":
            # OCR misreads one digit of the birth date: a check digit fails.
            target = 1
            col = 0 if len(lines[0]) == 30 else 13
            ch = lines[target][col]
            lines[target] = (lines[target][:col] + ("8" if ch != "8" else "3")
                             + lines[target][col + 1:])
        if preset == "truncated":
            lines = lines[:-1]
        payload = b"\x02" + b"".join(ln.encode("ascii") + line_end for ln in lines)
        if preset == "split":
            for i in range(0, len(payload), 7):
                os.write(self._master, payload[i : i + 7])
                time.sleep(0.002)
        else:
            os.write(self._master, payload)

    def unplug(self) -> None:
        """Close the master end: the reader's next read fails like a pulled USB cable."""
        if self._master is not None:
            os.close(self._master)
            self._master = None

    def close(self) -> None:
        self.unplug()
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
