"""The scanner seam: sheet images in, device condition out.

``Scanner.next_sheet(deadline)`` waits until a sheet has been scanned or the
``deadline`` (a ``time.monotonic()`` value) passes, and returns a ``Sheet``:

- ``READY`` with ``image`` (a 2-D uint8 NumPy array, grey) — one sheet read;
- ``EMPTY`` — no sheet arrived before the deadline (the feeder is empty);
- ``JAM`` — the sheet stuck in the path; it is not read, the commission clears it;
- ``DOUBLE_FEED`` — two sheets went in together; both come back to the voter;
- ``DISCONNECTED`` — the device is unplugged, powered off, or went away in
  the middle of a sheet (a partial image is never handed out as READY).

Device conditions are values, not exceptions; the driver reconnects lazily on
the next call. ``ProtocolError`` (drivers.errors) is for output that violates
the image format. Scanners are context managers with an idempotent
``close()``.

Example::

    with SaneScanner(device="fujitsu:fi-800R:1") as scanner:
        sheet = scanner.next_sheet(time.monotonic() + 2.0)
        if sheet.status is ScannerStatus.READY:
            reading = interpret_sheet(sheet.image, election)
"""

from __future__ import annotations

import abc
import enum
from dataclasses import dataclass, field

import numpy as np

from drivers.device import Device
from drivers.errors import ProtocolError


class ScannerStatus(enum.Enum):
    READY = "ready"
    EMPTY = "empty"
    JAM = "jam"
    DOUBLE_FEED = "double-feed"
    DISCONNECTED = "disconnected"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Sheet:
    """The result of one feed: a status, the image when READY, and a detail for the log."""

    status: ScannerStatus
    image: np.ndarray | None = field(default=None, repr=False)
    detail: str = ""

    def __post_init__(self) -> None:
        if self.status is ScannerStatus.READY and self.image is None:
            raise ValueError("a READY sheet carries an image")


class Scanner(Device):
    """A sheet-fed ballot scanner."""

    @abc.abstractmethod
    def next_sheet(self, deadline: float) -> Sheet:
        """The next fed sheet, or the device condition when none was read by ``deadline``."""



def parse_pnm(data: bytes) -> tuple[np.ndarray | None, str]:
    """Grey pixels of a binary PNM (P4/P5/P6) and "" — or (None, reason) when cut short.

    Raises ``drivers.errors.ProtocolError`` when the header is not PNM at all.
    """

    fields: list[bytes] = []
    pos = 0
    magic = data[:2]
    if magic not in (b"P4", b"P5", b"P6"):
        raise ProtocolError(f"not a binary PNM image (magic {magic!r})")
    need = 3 if magic == b"P4" else 4
    while len(fields) < need:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if pos < len(data) and data[pos:pos + 1] == b"#":
            while pos < len(data) and data[pos:pos + 1] not in (b"\n", b"\r"):
                pos += 1
            continue
        start = pos
        while pos < len(data) and not data[pos:pos + 1].isspace():
            pos += 1
        if start == pos:
            return None, "image header cut short"
        fields.append(data[start:pos])
    pos += 1                                     # the single whitespace after the header
    try:
        w, h = int(fields[1]), int(fields[2])
        maxval = int(fields[3]) if need == 4 else 1
    except ValueError as e:
        raise ProtocolError(f"bad PNM header: {e}") from e
    if w <= 0 or h <= 0 or not 0 < maxval < 256:
        raise ProtocolError(f"unsupported PNM geometry {w}x{h} maxval {maxval}")
    body = data[pos:]
    if magic == b"P4":
        row = (w + 7) // 8
        if len(body) < row * h:
            return None, f"image cut short: {len(body) // row} of {h} rows"
        bits = np.unpackbits(np.frombuffer(body[: row * h], np.uint8).reshape(h, row), axis=1)[:, :w]
        return ((1 - bits) * 255).astype(np.uint8), ""
    ch = 3 if magic == b"P6" else 1
    if len(body) < w * h * ch:
        return None, f"image cut short: {len(body) // (w * ch)} of {h} rows"
    px = np.frombuffer(body[: w * h * ch], np.uint8).reshape(h, w, ch)
    if ch == 3:
        px = (px @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)[:, :, None]
    img = px[:, :, 0]
    if maxval != 255:
        img = (img.astype(np.uint16) * 255 // maxval).astype(np.uint8)
    return np.ascontiguousarray(img), ""
