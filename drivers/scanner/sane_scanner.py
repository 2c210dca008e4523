"""A SANE-supported sheet-fed scanner, driven through ``scanimage`` (sane-utils).

Each ``next_sheet`` call runs one batch of one page from the automatic
document feeder::

    scanimage [-d DEVICE] --source ADF --mode Gray --resolution 200 \\
              --format=pnm --batch=DIR/sheet-%d.pnm --batch-count=1

and reads the PNM it wrote. scanimage reports SANE status strings
(``sane_strstatus``) on stderr; they become ``ScannerStatus`` values:

====================================================  ==================
stderr contains                                       status
====================================================  ==================
"Document feeder out of documents"                    EMPTY (retried until the deadline)
"Document feeder jammed", "Scanner cover is open"     JAM
"double feed", "multifeed", "multi-feed"              DOUBLE_FEED (backend message)
"Error during device I/O", "no SANE devices",         DISCONNECTED
"open of device", "Invalid argument", "Device busy"
a page written but cut short                          DISCONNECTED (mid-sheet)
scanimage missing or not answering by the deadline    DISCONNECTED
====================================================  ==================

The process is killed at the deadline (plus ``grace`` seconds when a page is
under way), so a hung device never blocks the daemon. Tests put a fake
``scanimage`` on ``PATH`` (tests/drivers/scanner): the class under test is
this one, unmodified.

Example::

    with SaneScanner(device=None, resolution=200) as s:
        sheet = s.next_sheet(time.monotonic() + 5)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from drivers.errors import ProtocolError
from drivers.scanner.base import Scanner, ScannerStatus, Sheet, parse_pnm

_STATUS_TEXT = [
    ("out of documents", ScannerStatus.EMPTY),
    ("double feed", ScannerStatus.DOUBLE_FEED),
    ("double-feed", ScannerStatus.DOUBLE_FEED),
    ("multifeed", ScannerStatus.DOUBLE_FEED),
    ("multi-feed", ScannerStatus.DOUBLE_FEED),
    ("feeder jammed", ScannerStatus.JAM),
    ("cover is open", ScannerStatus.JAM),
    ("error during device i/o", ScannerStatus.DISCONNECTED),
    ("no sane devices", ScannerStatus.DISCONNECTED),
    ("open of device", ScannerStatus.DISCONNECTED),
    ("invalid argument", ScannerStatus.DISCONNECTED),
    ("device busy", ScannerStatus.DISCONNECTED),
    ("access to resource has been denied", ScannerStatus.DISCONNECTED),
]


def status_from_stderr(text: str) -> ScannerStatus | None:
    """The device condition named in scanimage's stderr, or None when none is named."""
    low = text.lower()
    for needle, status in _STATUS_TEXT:
        if needle in low:
            return status
    return None


class SaneScanner(Scanner):
    """Sheet-fed scanner through SANE's ``scanimage``; one subprocess per sheet."""

    def __init__(self, device: str | None = None, *, resolution: int = 200, source: str = "ADF",
                 mode: str = "Gray", scanimage: str = "scanimage", poll_interval: float = 0.25,
                 grace: float = 10.0, workdir: Path | None = None,
                 options: tuple[str, ...] = ()) -> None:
        self.device = device
        # Backend-specific scanimage options (sane-<backend>(5)): ultrasonic double-feed
        # detection, page length detection or A4 length, so one sheet gives one A4 image.
        self.options = tuple(options)
        self.resolution = resolution
        self.source = source
        self.mode = mode
        self.scanimage = scanimage
        self.poll_interval = poll_interval
        self.grace = grace
        self._own_dir = workdir is None
        self._dir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="uchastok-scan-"))
        self._closed = False
        self._count = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SaneScanner device={self.device!r} {self.resolution}dpi {self.source} {state}>"

    def _command(self, pattern: str) -> list[str]:
        cmd = [self.scanimage]
        if self.device:
            cmd += ["-d", self.device]
        cmd += [f"--source={self.source}", f"--mode={self.mode}",
                f"--resolution={self.resolution}", "--format=pnm",
                f"--batch={pattern}", "--batch-count=1", *self.options]
        return cmd

    def next_sheet(self, deadline: float) -> Sheet:
        if self._closed:
            raise RuntimeError("scanner is closed")
        exe = shutil.which(self.scanimage)
        if exe is None:
            return Sheet(ScannerStatus.DISCONNECTED, detail=f"{self.scanimage} not found (install sane-utils)")
        while True:
            sheet = self._one_batch(deadline)
            if sheet.status is not ScannerStatus.EMPTY:
                return sheet
            left = deadline - time.monotonic()
            if left <= 0:
                return sheet
            time.sleep(min(self.poll_interval, left))

    def _one_batch(self, deadline: float) -> Sheet:
        self._count += 1
        pattern = str(self._dir / f"sheet-{self._count}-%d.pnm")
        for old in self._dir.glob(f"sheet-{self._count}-*.pnm"):
            old.unlink()
        timeout = max(0.1, deadline - time.monotonic()) + self.grace
        try:
            proc = subprocess.run(self._command(pattern), capture_output=True, timeout=timeout,
                                  env={**os.environ, "LC_ALL": "C"}, check=False)
        except subprocess.TimeoutExpired:
            self._cleanup_pages()
            return Sheet(ScannerStatus.DISCONNECTED, detail="scanimage did not answer in time")
        except OSError as e:
            return Sheet(ScannerStatus.DISCONNECTED, detail=f"cannot run scanimage: {e}")
        err = proc.stderr.decode("utf-8", "replace")
        pages = sorted(self._dir.glob(f"sheet-{self._count}-*.pnm"))
        try:
            named = status_from_stderr(err)
            if named is not None and named is not ScannerStatus.EMPTY:
                return Sheet(named, detail=_last_line(err))
            if pages:
                data = pages[0].read_bytes()
                try:
                    img, why = parse_pnm(data)
                except ProtocolError as e:
                    return Sheet(ScannerStatus.DISCONNECTED, detail=f"bad image from scanner: {e}")
                if img is None:
                    return Sheet(ScannerStatus.DISCONNECTED, detail=f"disconnected mid-sheet: {why}")
                return Sheet(ScannerStatus.READY, img, detail=f"{img.shape[1]}x{img.shape[0]}")
            if named is ScannerStatus.EMPTY:
                return Sheet(ScannerStatus.EMPTY, detail=_last_line(err))
            return Sheet(ScannerStatus.DISCONNECTED,
                         detail=f"scanimage exit {proc.returncode}: {_last_line(err) or 'no page'}")
        finally:
            self._cleanup_pages()

    def _cleanup_pages(self) -> None:
        for p in self._dir.glob(f"sheet-{self._count}-*.pnm"):
            p.unlink(missing_ok=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
