"""``/downloads/all.json``: every station's latest protocol export in one file, signed by the centre.

The file is a signed document (sync/signing.py ``sign_document`` with the
centre's key, the receiver's ack key)::

    {"signed": {"type": "uchastok-bulk", "version": 1, "election": ID,
                "generated_at": TIME, "stations": [
                    {"station": ID, "status": "verified"|"held", "reasons": [...],
                     "export": <observer export: central/bundle.py station_export>}, ...],
                "unavailable": [{"station": ID, "reason": TEXT}, ...]},
     "signer": KEY ID, "signature": BASE64}

Each export verifies on its own against the provisioning authority's key
(``uchastok verify``, sync/export.py); the centre's signature says only that
this is the file the centre published at ``generated_at``
(``signing.open_document(doc, centre_pub)``).

Rebuilt on read, at most once a minute: a request finding the file older than
``every`` seconds starts one rebuild in a background thread and is served the
current file at once (nobody waits for a national rebuild); only the very
first request, before any file exists, waits for it. One rebuild at a time
across processes too (several server workers share the directory): an
``flock`` on ``.all.json.lock``; a worker finding it taken leaves the rebuild
to its holder. Both ``all.json`` and its gzip copy ``all.json.gz`` are written
with base/files.py ``atomic_write`` (a reader sees the old file or the new),
each stamped with ``generated_at`` as its modification time, so the age is
read from the file wherever it was written.

Example::

    bulk = BulkFile(Path("/var/lib/uchastok-central/downloads"), storage, centre_key, "kg-2025",
                    stations=lambda: [("UIK-1", "verified", [])])
    path = bulk.current()          # all.json, rebuilt in the background once it is a minute old
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from base.clock import SystemClock, iso
from base.files import atomic_write
from central.portal.views import ExportUnavailable, export_available, station_export_of
from sync import signing
from sync.errors import SyncError

BULK_TYPE = "uchastok-bulk"


class BulkFile:
    """The bulk download of one election (see the module doc)."""

    def __init__(self, directory: str | os.PathLike, storage, centre_key: signing.PrivateKey,
                 election_id: str | None, stations: Callable[[], list[tuple[str, str, list]]], *,
                 clock=None, every: float = 60.0, background: bool = True):
        self.dir = Path(directory)
        self.path = self.dir / "all.json"
        self.gz = self.dir / "all.json.gz"
        self.storage = storage
        self.key = centre_key
        self.election_id = election_id
        self.stations = stations        # (station, status, reasons) of every station with a protocol
        self.clock = clock or SystemClock()
        self.every = every
        self.background = background
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self.builds = 0

    def __repr__(self) -> str:
        return f"BulkFile({str(self.path)!r}, every={self.every}s)"

    def age(self) -> float | None:
        try:
            return self.clock.now().timestamp() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None

    def current(self) -> Path:
        """The file to serve now; raises ExportUnavailable when exports cannot be made on this server."""
        if not export_available():
            raise ExportUnavailable("the observer export is not available on this server yet")
        age = self.age()
        if age is None:
            with self._lock(blocking=True) as got:
                if got and self.age() is None:
                    self.build()
        elif age >= self.every:
            if self.background:
                with self._guard:
                    if self._thread is None or not self._thread.is_alive():
                        self._thread = threading.Thread(target=self._rebuild, name="bulk-rebuild",
                                                        daemon=True)
                        self._thread.start()
            else:
                self._rebuild()
        return self.path

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background rebuild to end (tests, shutdown)."""
        t = self._thread
        if t is not None:
            t.join(timeout)

    def _rebuild(self) -> None:
        with self._lock(blocking=False) as got:
            age = self.age()
            if got and (age is None or age >= self.every):
                self.build()

    @contextlib.contextmanager
    def _lock(self, *, blocking: bool) -> Iterator[bool]:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".all.json.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)            # closing releases the lock

    def document(self) -> dict[str, Any]:
        """The signed document of every station with a protocol, as of now."""
        now = iso(self.clock.now())
        entries, unavailable = [], []
        for station, status, reasons in self.stations():
            try:
                entries.append({"station": station, "status": status, "reasons": list(reasons),
                                "export": station_export_of(self.storage, station)})
            except SyncError as e:     # a station whose export cannot be made is named, not dropped
                unavailable.append({"station": station, "reason": str(e)[:300]})
        return signing.sign_document(self.key, {
            "type": BULK_TYPE, "version": 1, "election": self.election_id, "generated_at": now,
            "stations": entries, "unavailable": unavailable})

    def build(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        doc = self.document()
        data = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
        stamp = self.clock.now().timestamp()
        atomic_write(self.gz, gzip.compress(data, compresslevel=6, mtime=0))
        os.utime(self.gz, (stamp, stamp))
        atomic_write(self.path, data)
        os.utime(self.path, (stamp, stamp))
        self.builds += 1
