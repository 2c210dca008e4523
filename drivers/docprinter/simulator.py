"""A simulated IPP Everywhere A4/A5 printer on 127.0.0.1 that prints pages to PNG files.

``DocPrinterSimulator(out_dir)`` starts an HTTP/1.1 server on a free port of
127.0.0.1 (``uri`` is ``ipp://127.0.0.1:PORT/ipp/print``) and answers IPP/1.1 as
a printer does (RFC 8010/8011): Get-Printer-Attributes (with
``requested-attributes``, groups "all", "printer-description" and
"job-template"), Validate-Job, Print-Job, Get-Job-Attributes, Get-Jobs and
Cancel-Job (the operations RFC 8011 requires of a printer); any
other operation gets ``server-error-operation-not-supported``. Requests are
decoded with ``drivers.docprinter.ipp``; a malformed one gets
``client-error-bad-request`` (a missing charset or natural language, no
printer-uri, request-id 0), version 0.x or 3+ ``server-error-version-not-supported``.
Bodies may come with a Content-Length or chunked (as ``ipptool`` sends them).

Print-Job takes ``image/pwg-raster`` only. The raster is decoded before the
answer (``drivers.docprinter.raster``): a malformed or truncated stream is
refused with ``client-error-document-format-error`` and a status-message naming
the page and line; a page whose size is not the job's medium (A4 or A5, within
1%) likewise; a medium not supported or not loaded, with
``ipp-attribute-fidelity``, is ``client-error-attributes-or-values-not-supported``.
A job accepted is pending; a worker prints jobs in order, each page as
``job-NNNN-page-N.png`` in ``out_dir`` (grey, pixel for pixel what was sent),
and counts ``job-impressions-completed``.

Presets (``sim.preset = ...``, STYLE.md "Simulators are product code"):

- ``media-empty``, ``media-jam``, ``door-open``, ``offline``: the printer is
  stopped with that reason (``offline-report`` for offline) until cleared;
  a job sent meanwhile waits (processing-stopped);
- ``jam-next-job``: the next job's first page jams part way: its top part is
  written as ``job-NNNN-page-N-jammed.png``, the job stops and the printer
  reports ``media-jam-error``;
- ``media-runs-out``: the next job stops before its first page with
  ``media-empty-error``;
- ``unreachable``: every connection is closed without an answer;
- ``bad-response``: every answer is a malformed IPP message;
- ``silent-after-job``: the next Print-Job is accepted and printed, but the
  connection closes without an answer.

``clear()`` (or ``preset = None``) takes the condition away; a stopped job
that was not cancelled then prints, as a real printer resumes (the driver
cancels stopped jobs for that reason). Standalone:
``python -m drivers.docprinter.simulator OUT_DIR [--preset P] [--port N]`` prints
the URI and serves until interrupted.

Example::

    with DocPrinterSimulator(tmp_path) as sim, IppPrinter(sim.uri) as printer:
        printer.print_pages([RasterPage(sheet, 300)])
        sim.printed[0].png          # tmp_path/job-0001-page-1.png
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import signal
import socketserver
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from drivers.device import Device
from drivers.docprinter import ipp
from drivers.docprinter.base import A4, A5, MEDIA_MM
from drivers.docprinter.errors import IppError, RasterError
from drivers.docprinter.raster import MIME_PWG_RASTER, decode_pages
from drivers.simulation import FailurePresets

CONDITIONS = ("media-empty", "media-jam", "door-open", "offline")
PRESETS = CONDITIONS + ("jam-next-job", "media-runs-out", "unreachable", "bad-response",
                        "silent-after-job")
MAX_REQUEST = 64 << 20
RESOLUTIONS = (300, 600)
JAM_FRACTION = 0.4              # how much of a jammed page came out


@dataclass(frozen=True)
class PrintedPage:
    job_id: int
    page: int
    png: Path
    image: Image.Image
    jammed: bool = False


@dataclass
class Job:
    id: int
    name: str
    user: str
    media: str
    pages: list[Image.Image]
    state: int = ipp.JOB_PENDING
    reasons: list[str] = field(default_factory=lambda: ["none"])
    impressions: int = 0
    created: int = 0
    processing: int | None = None
    completed: int | None = None


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-answer is the client's business, not a printer fault.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class DocPrinterSimulator(FailurePresets, Device):
    PRESETS = PRESETS

    def __init__(self, out_dir: str | os.PathLike, preset: str | None = None, *,
                 media_ready: tuple[str, ...] = (A4,), resolutions: tuple[int, ...] = RESOLUTIONS,
                 port: int = 0, name: str = "Uchastok simulated A4 printer") -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.media_ready = tuple(media_ready)
        self.resolutions = tuple(resolutions)
        self.name = name
        self._lock = threading.Condition()
        self._preset: str | None = None
        self._condition: str | None = None
        self.jobs: dict[int, Job] = {}
        self._queue: deque[Job] = deque()
        self.printed: list[PrintedPage] = []
        self.requests: list[ipp.Message] = []           # every request decoded (tests read them)
        self._next_job = 1 + max((int(p.name[4:8]) for p in self.out_dir.glob("job-*.png")
                                  if p.name[4:8].isdigit()), default=0)
        self._started = time.monotonic()
        self._closed = False
        self.set_preset(preset)
        self._server = _Server(("127.0.0.1", port), _handler(self))
        self.port = self._server.server_address[1]
        self.uri = f"ipp://127.0.0.1:{self.port}/ipp/print"
        self._serving = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                         name="ipp-simulator", daemon=True)
        self._worker = threading.Thread(target=self._work, name="ipp-simulator-engine",
                                        daemon=True)
        self._serving.start()
        self._worker.start()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"preset={self._preset}"
        return f"<DocPrinterSimulator {self.uri} {state} printed={len(self.printed)}>"

    # -- presets ---------------------------------------------------------------------

    def set_preset(self, name: str | None) -> None:
        super().set_preset(name)
        with self._lock:
            if name in CONDITIONS:
                self._condition = name
            elif name is None:
                self._condition = None
                self._resume_stopped()
            self._lock.notify_all()

    def clear(self) -> None:
        """Jam cleared, paper loaded, door shut, back online: printing resumes."""
        self.set_preset(None)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._lock.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._worker.join(timeout=10)

    # -- the printer's state -------------------------------------------------------------

    def _uptime(self) -> int:
        return max(1, int(time.monotonic() - self._started))

    def _state(self) -> tuple[int, list[str]]:
        if self._condition:
            reason = "offline-report" if self._condition == "offline" else f"{self._condition}-error"
            return ipp.PRINTER_STOPPED, [reason]
        busy = any(j.state == ipp.JOB_PROCESSING for j in self.jobs.values())
        return (ipp.PRINTER_PROCESSING if busy else ipp.PRINTER_IDLE), ["none"]

    def printer_attributes(self) -> list[ipp.Attribute]:
        state, reasons = self._state()
        a, K, N, E = ipp.attr, ipp.KEYWORD, ipp.INTEGER, ipp.ENUM
        res = [ipp.Resolution(d, d, 3) for d in self.resolutions]
        queued = sum(1 for j in self.jobs.values() if j.state not in ipp.JOB_TERMINAL)
        return [
            a("printer-uri-supported", ipp.URI, self.uri),
            a("uri-security-supported", K, "none"),
            a("uri-authentication-supported", K, "none"),
            a("printer-name", ipp.NAME, "uchastok-a4"),
            a("printer-make-and-model", ipp.TEXT, self.name),
            a("printer-info", ipp.TEXT, self.name),
            a("printer-location", ipp.TEXT, "127.0.0.1"),
            a("printer-more-info", ipp.URI, f"http://127.0.0.1:{self.port}/"),
            a("printer-state", E, state),
            a("printer-state-reasons", K, *reasons),
            a("printer-is-accepting-jobs", ipp.BOOLEAN, True),
            a("printer-up-time", N, self._uptime()),
            a("queued-job-count", N, queued),
            a("ipp-versions-supported", K, "1.1", "2.0"),
            a("operations-supported", E, ipp.OP_PRINT_JOB, ipp.OP_VALIDATE_JOB,
              ipp.OP_CANCEL_JOB, ipp.OP_GET_JOB_ATTRIBUTES, ipp.OP_GET_JOBS,
              ipp.OP_GET_PRINTER_ATTRIBUTES),
            a("charset-configured", ipp.CHARSET, "utf-8"),
            a("charset-supported", ipp.CHARSET, "utf-8"),
            a("natural-language-configured", ipp.LANGUAGE, "en"),
            a("generated-natural-language-supported", ipp.LANGUAGE, "en"),
            a("document-format-default", ipp.MIME_TYPE, MIME_PWG_RASTER),
            a("document-format-supported", ipp.MIME_TYPE, MIME_PWG_RASTER),
            a("pdl-override-supported", K, "not-attempted"),
            a("compression-supported", K, "none"),
            a("color-supported", ipp.BOOLEAN, False),
            a("media-supported", K, A4, A5),
            a("media-default", K, self.media_ready[0] if self.media_ready else A4),
            *([a("media-ready", K, *self.media_ready)] if self.media_ready else []),
            a("sides-supported", K, "one-sided"),
            a("sides-default", K, "one-sided"),
            a("print-color-mode-supported", K, "monochrome"),
            a("print-color-mode-default", K, "monochrome"),
            a("copies-supported", ipp.RANGE, ipp.Range(1, 1)),
            a("copies-default", N, 1),
            a("printer-resolution-supported", ipp.RESOLUTION, *res),
            a("printer-resolution-default", ipp.RESOLUTION, res[0]),
            a("pwg-raster-document-resolution-supported", ipp.RESOLUTION, *res),
            a("pwg-raster-document-type-supported", K, "black_1", "sgray_8", "srgb_8"),
            a("pwg-raster-document-sheet-back", K, "normal"),
        ]

    def job_attributes(self, job: Job) -> list[ipp.Attribute]:
        a, N = ipp.attr, ipp.INTEGER
        unset = ipp.Value(ipp.NO_VALUE, None)
        return [
            a("job-id", N, job.id),
            a("job-uri", ipp.URI, f"{self.uri}/{job.id}"),
            a("job-printer-uri", ipp.URI, self.uri),
            a("job-name", ipp.NAME, job.name),
            a("job-originating-user-name", ipp.NAME, job.user),
            a("job-state", ipp.ENUM, job.state),
            a("job-state-reasons", ipp.KEYWORD, *job.reasons),
            a("job-impressions-completed", N, job.impressions),
            a("job-printer-up-time", N, self._uptime()),
            a("time-at-creation", N, job.created),
            ipp.Attribute("time-at-processing", (ipp.Value(N, job.processing),)
                          if job.processing is not None else (unset,)),
            ipp.Attribute("time-at-completed", (ipp.Value(N, job.completed),)
                          if job.completed is not None else (unset,)),
        ]

    # -- operations ------------------------------------------------------------------------

    def handle(self, body: bytes) -> bytes | None:
        """The answer to one request body, or None to close the connection without one."""
        preset = self._preset
        if preset == "unreachable":
            return None
        try:
            request = ipp.decode(body)
        except IppError as e:
            return self._bad_bytes(body, str(e))
        self.requests.append(request)
        response = self._answer(request)
        if preset == "bad-response":
            return ipp.encode(response)[:11]               # cut inside the first attribute
        if preset == "silent-after-job" and request.code == ipp.OP_PRINT_JOB and \
                response.code < 0x0400:
            self.set_preset(None)
            return None
        return ipp.encode(response)

    def _bad_bytes(self, body: bytes, why: str) -> bytes:
        request_id = int.from_bytes(body[4:8], "big") if len(body) >= 8 else 0
        return ipp.encode(_response(ipp.BAD_REQUEST, request_id, f"malformed request: {why}"))

    def _answer(self, r: ipp.Message) -> ipp.Message:
        if r.version[0] not in (1, 2):
            return _response(ipp.VERSION_NOT_SUPPORTED, r.request_id,
                             f"IPP version {r.version[0]}.{r.version[1]} is not supported")
        if r.request_id <= 0:
            return _response(ipp.BAD_REQUEST, r.request_id, "request-id must be 1 or more")
        op = r.groups[0] if r.groups and r.groups[0].tag == ipp.TAG_OPERATION else None
        first = [a.name for a in op.attributes[:2]] if op else []
        if first != ["attributes-charset", "attributes-natural-language"]:
            return _response(ipp.BAD_REQUEST, r.request_id, "the operation group must start with "
                             "attributes-charset and attributes-natural-language")
        if op.get("attributes-charset").value not in ("utf-8", "us-ascii"):
            return _response(0x040D, r.request_id, "charset not supported")
        if not isinstance(op.get("printer-uri").value if op.get("printer-uri") else None, str):
            return _response(ipp.BAD_REQUEST, r.request_id, "no printer-uri")
        handler = {
            ipp.OP_GET_PRINTER_ATTRIBUTES: self._get_printer_attributes,
            ipp.OP_VALIDATE_JOB: self._validate_job,
            ipp.OP_PRINT_JOB: self._print_job,
            ipp.OP_GET_JOB_ATTRIBUTES: self._get_job_attributes,
            ipp.OP_CANCEL_JOB: self._cancel_job,
            ipp.OP_GET_JOBS: self._get_jobs,
        }.get(r.code)
        if handler is None:
            return _response(ipp.OPERATION_NOT_SUPPORTED, r.request_id,
                             f"operation 0x{r.code:04X} is not supported")
        with self._lock:
            response = handler(r)
        response.version = r.version            # a printer answers in the client's version
        return response

    def _get_printer_attributes(self, r: ipp.Message) -> ipp.Message:
        wanted = set(ipp.keywords(r.get(ipp.TAG_OPERATION, "requested-attributes"))) or {"all"}
        attrs = self.printer_attributes()
        if not wanted & {"all", "printer-description", "job-template"}:
            attrs = [a for a in attrs if a.name in wanted]
        return _response(ipp.OK, r.request_id, groups=[ipp.Group(ipp.TAG_PRINTER, attrs)])

    def _job_check(self, r: ipp.Message) -> ipp.Message | None:
        """What Validate-Job and Print-Job refuse before looking at the document."""
        fmt = r.value(ipp.TAG_OPERATION, "document-format", MIME_PWG_RASTER)
        if fmt != MIME_PWG_RASTER:
            return _response(ipp.FORMAT_NOT_SUPPORTED, r.request_id,
                             f"document-format {fmt!r} is not supported",
                             unsupported=[ipp.attr("document-format", ipp.MIME_TYPE, str(fmt))])
        media = r.value(ipp.TAG_JOB, "media", self.media_ready[0] if self.media_ready else A4)
        fidelity = r.value(ipp.TAG_OPERATION, "ipp-attribute-fidelity", False)
        if media not in (A4, A5) or (fidelity and media not in self.media_ready):
            what = "not supported" if media not in (A4, A5) else "not loaded"
            return _response(ipp.ATTRIBUTES_NOT_SUPPORTED, r.request_id, f"media {media} {what}",
                             unsupported=[ipp.attr("media", ipp.KEYWORD, str(media))])
        return None

    def _validate_job(self, r: ipp.Message) -> ipp.Message:
        return self._job_check(r) or _response(ipp.OK, r.request_id)

    def _print_job(self, r: ipp.Message) -> ipp.Message:
        refused = self._job_check(r)
        if refused:
            return refused
        media = str(r.value(ipp.TAG_JOB, "media", self.media_ready[0] if self.media_ready else A4))
        try:
            pages = decode_pages(r.data)
        except RasterError as e:
            return _response(ipp.DOCUMENT_FORMAT_ERROR, r.request_id, str(e))
        mm = MEDIA_MM[media]
        for n, (header, _) in enumerate(pages, 1):
            size = (header.width * 25.4 / header.dpi[0], header.height * 25.4 / header.dpi[1])
            if abs(size[0] - mm[0]) > mm[0] * 0.01 or abs(size[1] - mm[1]) > mm[1] * 0.01:
                return _response(ipp.DOCUMENT_FORMAT_ERROR, r.request_id,
                                 f"page {n} is {size[0]:.0f} x {size[1]:.0f} mm, the job's "
                                 f"media {media} is {mm[0]:.0f} x {mm[1]:.0f} mm")
        job = Job(self._next_job, str(r.value(ipp.TAG_OPERATION, "job-name", "untitled")),
                  str(r.value(ipp.TAG_OPERATION, "requesting-user-name", "anonymous")),
                  media, [image for _, image in pages], created=self._uptime())
        self._next_job += 1
        self.jobs[job.id] = job
        self._queue.append(job)
        self._lock.notify_all()
        return _response(ipp.OK, r.request_id, groups=[ipp.Group(ipp.TAG_JOB, [
            a for a in self.job_attributes(job)
            if a.name in ("job-id", "job-uri", "job-state", "job-state-reasons")])])

    def _find_job(self, r: ipp.Message) -> Job | ipp.Message:
        job_id = r.value(ipp.TAG_OPERATION, "job-id")
        if not isinstance(job_id, int):
            uri = r.value(ipp.TAG_OPERATION, "job-uri")
            tail = str(uri).rsplit("/", 1)[-1] if uri else ""
            job_id = int(tail) if tail.isdigit() else None
        if job_id is None:
            return _response(ipp.BAD_REQUEST, r.request_id, "no job-id")
        job = self.jobs.get(job_id)
        if job is None:
            return _response(ipp.NOT_FOUND, r.request_id, f"no job {job_id}")
        return job

    def _get_job_attributes(self, r: ipp.Message) -> ipp.Message:
        job = self._find_job(r)
        if isinstance(job, ipp.Message):
            return job
        wanted = set(ipp.keywords(r.get(ipp.TAG_OPERATION, "requested-attributes"))) or {"all"}
        attrs = self.job_attributes(job)
        if "all" not in wanted and "job-description" not in wanted:
            attrs = [a for a in attrs if a.name in wanted]
        return _response(ipp.OK, r.request_id, groups=[ipp.Group(ipp.TAG_JOB, attrs)])

    def _get_jobs(self, r: ipp.Message) -> ipp.Message:
        which = r.value(ipp.TAG_OPERATION, "which-jobs", "not-completed")
        if which not in ("not-completed", "completed", "all"):
            return _response(ipp.ATTRIBUTES_NOT_SUPPORTED, r.request_id,
                             f"which-jobs {which!r} is not supported",
                             unsupported=[ipp.attr("which-jobs", ipp.KEYWORD, str(which))])
        limit = r.value(ipp.TAG_OPERATION, "limit", 0)
        wanted = set(ipp.keywords(r.get(ipp.TAG_OPERATION, "requested-attributes"))) or {
            "job-id", "job-uri"}
        jobs = [j for j in sorted(self.jobs.values(), key=lambda j: -j.id)
                if which == "all" or (j.state in ipp.JOB_TERMINAL) == (which == "completed")]
        if isinstance(limit, int) and limit > 0:
            jobs = jobs[:limit]
        groups = []
        for job in jobs:
            attrs = self.job_attributes(job)
            if "all" not in wanted and "job-description" not in wanted:
                attrs = [a for a in attrs if a.name in wanted]
            groups.append(ipp.Group(ipp.TAG_JOB, attrs))
        return _response(ipp.OK, r.request_id, groups=groups)

    def _cancel_job(self, r: ipp.Message) -> ipp.Message:
        job = self._find_job(r)
        if isinstance(job, ipp.Message):
            return job
        if job.state in ipp.JOB_TERMINAL:
            return _response(ipp.NOT_POSSIBLE, r.request_id, f"job {job.id} is already "
                             f"{'completed' if job.state == ipp.JOB_COMPLETED else 'over'}")
        job.state, job.reasons, job.completed = ipp.JOB_CANCELED, ["job-canceled-by-user"], \
            self._uptime()
        with contextlib.suppress(ValueError):
            self._queue.remove(job)
        self._lock.notify_all()
        return _response(ipp.OK, r.request_id)

    # -- the print engine --------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._runnable():
                    self._lock.wait(0.5)
                if self._closed:
                    return
                job = self._queue[0]
                if job.state == ipp.JOB_PENDING:
                    job.state, job.reasons, job.processing = ipp.JOB_PROCESSING, \
                        ["job-printing"], self._uptime()
                page_no = job.impressions + 1
                image = job.pages[job.impressions]
                preset = self._preset
                if preset == "media-runs-out":
                    self._stop(job, "media-empty")
                    continue
                jammed = preset == "jam-next-job"
                if jammed:
                    self._stop(job, "media-jam")
            # Writing the page happens outside the lock: status queries answer meanwhile.
            if jammed:
                cut = image.crop((0, 0, image.width, int(image.height * JAM_FRACTION)))
                self._save(job, page_no, cut, jammed=True)
                continue
            self._save(job, page_no, image)
            with self._lock:
                if job.state != ipp.JOB_PROCESSING:
                    continue                                # cancelled while the page printed
                job.impressions += 1
                if job.impressions == len(job.pages):
                    job.state, job.reasons, job.completed = ipp.JOB_COMPLETED, \
                        ["job-completed-successfully"], self._uptime()
                    self._queue.popleft()

    def _runnable(self) -> bool:
        return bool(self._queue) and self._condition is None

    def _stop(self, job: Job, reason: str) -> None:
        self._preset = reason
        self._condition = reason
        job.state, job.reasons = ipp.JOB_STOPPED, ["printer-stopped"]

    def _save(self, job: Job, page_no: int, image: Image.Image, *, jammed: bool = False) -> None:
        name = f"job-{job.id:04d}-page-{page_no}{'-jammed' if jammed else ''}.png"
        path = self.out_dir / name
        tmp = path.with_name(f".{name}.tmp")
        image.save(tmp, format="PNG", compress_level=1)
        os.replace(tmp, path)
        with self._lock:
            self.printed.append(PrintedPage(job.id, page_no, path, image, jammed))

    def _resume_stopped(self) -> None:
        for job in self._queue:
            if job.state == ipp.JOB_STOPPED:
                job.state, job.reasons = ipp.JOB_PROCESSING, ["job-printing"]


def _response(status: int, request_id: int, message: str = "", *, groups=(),
              unsupported: list[ipp.Attribute] | None = None) -> ipp.Message:
    op = ipp.operation_attributes("")[:2]
    if message:
        op.append(ipp.attr("status-message", ipp.TEXT, message[:255]))
    out = [ipp.Group(ipp.TAG_OPERATION, op)]
    if unsupported:
        out.append(ipp.Group(ipp.TAG_UNSUPPORTED, unsupported))
    out.extend(groups)
    return ipp.Message(status, request_id, out)


def _handler(sim: DocPrinterSimulator) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "UchastokIppSimulator/1"

        def log_message(self, *args) -> None:   # quiet: tests read the requests instead
            pass

        def do_POST(self) -> None:
            if self.path.rstrip("/") not in ("/ipp/print", ""):
                self._plain(404, b"no such printer")
                return
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype != ipp.MIME_IPP:
                self._plain(400, b"Content-Type must be application/ipp")
                return
            body = self._body()
            if body is None:
                return
            answer = sim.handle(body)
            if answer is None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(2)
                return
            self.send_response(200)
            self.send_header("Content-Type", ipp.MIME_IPP)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_GET(self) -> None:
            self._plain(405, b"IPP requests are POSTs")

        def _body(self) -> bytes | None:
            if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
                chunks, size = [], 0
                while True:
                    line = self.rfile.readline(66)
                    try:
                        n = int(line.split(b";")[0].strip(), 16)
                    except ValueError:
                        self._plain(400, b"bad chunk size")
                        return None
                    size += n
                    if size > MAX_REQUEST:
                        self._plain(413, b"request too large")
                        return None
                    if n == 0:
                        while self.rfile.readline(1024).strip():
                            pass                                # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(n))
                    self.rfile.readline(2)
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self._plain(411, b"Content-Length required")
                return None
            if int(length) > MAX_REQUEST:
                self._plain(413, b"request too large")
                return None
            return self.rfile.read(int(length))

        def _plain(self, code: int, text: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(text)
            self.close_connection = True

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a simulated IPP Everywhere A4 printer.")
    parser.add_argument("out_dir", help="where printed pages go as PNG files")
    parser.add_argument("--preset", choices=PRESETS, default=None)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with DocPrinterSimulator(args.out_dir, args.preset, port=args.port) as sim:
        print(sim.uri, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
