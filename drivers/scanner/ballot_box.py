"""A simulated ballot box over a folder: the sheet stays in the path until the count commits.

A ballot-box scanner (unlike an office document feeder) holds each sheet in
its transport after scanning and drops it into the box, or gives it back to
the voter, only when told. The count daemon tells it *after* the sheet's
transaction committed (count/store.py, "Commit, then accept").

``FolderBallotBox(folder)`` models that with files:

- ``folder/*.png|jpg|pnm...``: sheets waiting in the feeder, fed in name order;
- ``next_sheet`` scans the first waiting file and *holds* it (the file stays
  where it is); asking again before ``accept``/``return_sheet`` scans the
  same held sheet again (a transport that was reset);
- ``accept()`` moves the held file to ``folder/box/`` (atomic rename),
  ``return_sheet()`` to ``folder/returned/``.

So a process killed at any moment leaves the sheet in flight in ``folder``,
and the restarted daemon is fed that same sheet first: exactly the situation
the pending-accept marker resolves. A file that does not decode whole is
handed over as the partial image a faulty transfer gives (the reader rejects
it as ``truncated-image``); bytes that are no image at all are returned with
status DISCONNECTED ("image lost in transfer").

It implements the scanner seam (drivers/scanner/base.py) plus ``accept`` and
``return_sheet``; the simulated ballot box of the count role
(simulation/ballot_box.py ``SimulatedCountFactory``, ``uchastok count run
--scanner sim:FOLDER``) is made of it.

Example::

    box = FolderBallotBox("/tmp/st1/scanner-in")
    sheet = box.next_sheet(time.monotonic() + 1)
    ...commit...
    box.accept()
"""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile

from drivers.scanner.base import Scanner, ScannerStatus, Sheet
from drivers.scanner.simulator import IMAGE_SUFFIXES, decode_grey


def _partial_grey(data: bytes) -> np.ndarray | None:
    """What a scanner hands over when the transfer stops early: the rows that arrived."""

    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = True
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
        return np.asarray(im.convert("L"))
    except Exception:  # noqa: BLE001 - not an image at all
        return None
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


class FolderBallotBox(Scanner):
    """A holding sheet transport over a folder of images (module docstring)."""

    def __init__(self, folder: str | os.PathLike, *, poll_s: float = 0.05):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.box = self.folder / "box"
        self.returned = self.folder / "returned"
        self.box.mkdir(exist_ok=True)
        self.returned.mkdir(exist_ok=True)
        self.poll_s = poll_s
        self.held: Path | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<FolderBallotBox {str(self.folder)!r} held={self.held.name if self.held else None}>"

    def waiting(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)

    def next_sheet(self, deadline: float) -> Sheet:
        if self._closed:
            raise RuntimeError("ballot box is closed")
        while True:
            files = [self.held] if self.held is not None and self.held.exists() else self.waiting()
            if files:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                return Sheet(ScannerStatus.EMPTY, detail="feeder empty")
            time.sleep(min(left, self.poll_s))
        self.held = files[0]
        data = self.held.read_bytes()
        img = decode_grey(data)
        if img is None:
            img = _partial_grey(data)
        if img is None:
            self.return_sheet()
            return Sheet(ScannerStatus.DISCONNECTED, detail="image lost in transfer")
        return Sheet(ScannerStatus.READY, img, detail=self.held.name)

    def _move(self, target_dir: Path) -> None:
        if self.held is None:
            return
        if self.held.exists():
            os.replace(self.held, target_dir / self.held.name)
            fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.held = None

    def accept(self) -> None:
        """Drop the held sheet into the box."""
        self._move(self.box)

    def return_sheet(self) -> None:
        """Give the held sheet back to the voter."""
        self._move(self.returned)

    def close(self) -> None:
        self._closed = True
