"""A simulated sheet-fed scanner: feeds images from a folder or from any source of sheets.

Product code, not a test double: the count daemon and the L&A demo run on it.
Sheets come from ``SimulatedScanner.from_folder(dir)`` (PNG/JPEG/PNM files in
name order, decoded grey; an undecodable file is handed over as a short read,
like a real scanner losing the sheet) or from any iterable of images (NumPy
arrays or encoded bytes), e.g. the ballot test deck generator
(simulation/deck.py) which the caller injects (drivers import nothing of
station).

Named failure presets, applied to the sheet at index ``fault_at`` (0-based):

- ``"jam"``: the sheet sticks; every call returns JAM until ``clear()``, then
  the same sheet is fed again;
- ``"double-feed"``: that sheet and the next go in together: DOUBLE_FEED, both
  are returned to the voter (not counted, not fed again);
- ``"disconnect-mid-sheet"``: DISCONNECTED with no image; the device stays
  away for ``down_calls`` calls, then reconnects; the sheet was lost and must
  be fed again (it is fed again);
- ``"truncated-image"``: the backend hands over an image cut off after 40 %
  of its rows with status READY (what a buggy backend does): the reader must
  reject it.

Example::

    with SimulatedScanner.from_folder(Path("deck"), preset="jam", fault_at=3) as s:
        while (sheet := s.next_sheet(time.monotonic() + 1)).status is not ScannerStatus.EMPTY:
            ...
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from drivers.scanner.base import Scanner, ScannerStatus, Sheet, parse_pnm

PRESETS = ("jam", "double-feed", "disconnect-mid-sheet", "truncated-image")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pnm", ".pgm", ".tif", ".tiff")


def decode_grey(data: bytes) -> np.ndarray | None:
    """Grey pixels of PNG/JPEG/PNM/TIFF bytes, or None when undecodable or cut short."""
    if data[:2] in (b"P4", b"P5", b"P6"):
        try:
            img, _ = parse_pnm(data)
        except Exception:  # noqa: BLE001 - undecodable is a value here
            return None
        return img


    try:
        im = Image.open(io.BytesIO(data))
        im.load()
        return np.asarray(im.convert("L"))
    except Exception:  # noqa: BLE001 - PIL raises many kinds for broken files
        return None


class SimulatedScanner(Scanner):
    """Feeds a sequence of sheets; see the module docstring for the failure presets."""

    def __init__(self, sheets: Iterable[np.ndarray | bytes], *, preset: str | None = None,
                 fault_at: int = 0, down_calls: int = 1, feed_delay: float = 0.0,
                 name: str = "simulated") -> None:
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
        self._source: Iterator = iter(sheets)
        self._pending: list = []
        self.preset = preset
        self.fault_at = fault_at
        self.down_calls = down_calls
        self.feed_delay = feed_delay
        self.name = name
        self.fed = 0                  # sheets taken from the source so far
        self._jammed = False
        self._down = 0
        self._fault_done = False
        self._closed = False

    @classmethod
    def from_folder(cls, folder: Path, **kw) -> SimulatedScanner:
        files = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        return cls((p.read_bytes() for p in files), name=str(folder), **kw)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("jammed" if self._jammed else "open")
        return f"<SimulatedScanner {self.name!r} preset={self.preset} fed={self.fed} {state}>"

    def clear(self) -> None:
        """The commission opened the path and took the stuck sheet out (it is fed again)."""
        self._jammed = False

    def _take(self):
        if self._pending:
            return self._pending.pop(0)
        try:
            item = next(self._source)
        except StopIteration:
            return None
        self.fed += 1
        return item

    def next_sheet(self, deadline: float) -> Sheet:
        if self._closed:
            raise RuntimeError("scanner is closed")
        if self._jammed:
            return Sheet(ScannerStatus.JAM, detail="sheet stuck in the paper path")
        if self._down > 0:
            self._down -= 1
            return Sheet(ScannerStatus.DISCONNECTED, detail="device not answering")
        index = self.fed - len(self._pending)        # index of the sheet about to be fed
        item = self._take()
        if item is None:
            left = deadline - time.monotonic()
            if left > 0:
                time.sleep(min(left, 0.05))
            return Sheet(ScannerStatus.EMPTY, detail="feeder empty")
        if self.feed_delay:
            time.sleep(self.feed_delay)
        if self.preset and not self._fault_done and index == self.fault_at:
            self._fault_done = True
            if self.preset == "jam":
                self._pending.insert(0, item)
                self._jammed = True
                return Sheet(ScannerStatus.JAM, detail="sheet stuck in the paper path")
            if self.preset == "double-feed":
                self._take()                          # the sheet stuck to it goes back too
                return Sheet(ScannerStatus.DOUBLE_FEED, detail="two sheets detected")
            if self.preset == "disconnect-mid-sheet":
                self._pending.insert(0, item)
                self._down = self.down_calls
                return Sheet(ScannerStatus.DISCONNECTED, detail="device went away mid-sheet")
        img = item if isinstance(item, np.ndarray) else decode_grey(item)
        if img is None:
            return Sheet(ScannerStatus.DISCONNECTED, detail="image lost in transfer (cut short)")
        if img.ndim == 3:
            img = img.mean(axis=2).astype(np.uint8)
        if self.preset == "truncated-image" and index == self.fault_at:
            img = np.ascontiguousarray(img[: max(1, int(img.shape[0] * 0.4))])
        return Sheet(ScannerStatus.READY, img, detail=f"{img.shape[1]}x{img.shape[0]}")

    def close(self) -> None:
        self._closed = True
