"""An IPP Everywhere printer driven over IPP/1.1 (RFC 8010/8011) with PWG Raster pages.

``IppPrinter("ipp://10.0.0.5/ipp/print")`` talks HTTP/1.1 to the printer (the
``ipp`` scheme is HTTP on port 631 unless the URI names one) and uses five
operations of RFC 8011: Get-Printer-Attributes (condition and capabilities),
Validate-Job (``validate``: will this printer take our jobs?), Print-Job,
Get-Job-Attributes (the job's fate) and Cancel-Job.

Why PWG Raster and not PDF: every IPP Everywhere printer must accept
``image/pwg-raster`` in ``sgray_8`` at 300 dpi (PWG 5100.14), while PDF is
optional; a raster is pixels we rendered, so the printer cannot reflow, substitute
fonts (the Kyrgyz letters) or scale what the count role's reader measures in
millimetres; and a raster header has no creation date, author or producer field,
where a PDF carries them unless scrubbed (docs/remote-voting.md, secrecy).

``print_pages`` (base.py lists the outcomes), in order:

1. the printer's capabilities, read once: ``image/pwg-raster`` among
   ``document-format-supported``, the medium in ``media-supported`` (and in
   ``media-ready`` when the printer reports what is loaded), the resolution in
   ``pwg-raster-document-resolution-supported``, ``sgray_8`` among
   ``pwg-raster-document-type-supported``; anything missing raises
   ``UnsupportedByPrinter`` (a configuration fault, not a condition). A page whose
   pixel size is not the medium's at its resolution is a ``ValueError``;
2. the condition (``status()``): anything but READY sends nothing (NOT_SENT);
3. Print-Job on a fresh connection, with ``ipp-attribute-fidelity`` true (the
   printer refuses rather than substitutes a medium), a constant
   ``requesting-user-name`` and the caller's ``job-name``; an error status is
   REFUSED. A connection that cannot be opened is NOT_SENT; one that fails once
   the request went out is UNKNOWN, as is an answer that is not valid IPP (the
   printer may be printing: the caller must account for the page);
4. Get-Job-Attributes every ``poll_s`` until the job is completed (PRINTED),
   aborted or cancelled by the printer (ABORTED), or stopped (job-state
   processing-stopped, or the printer no longer READY): then Cancel-Job, so a
   printer that recovers from a jam by reprinting the page does not put a sheet
   in the tray that nobody ordered, and STOPPED with the condition. No answer
   within ``job_timeout_s``: UNKNOWN.

``status()`` and ``capabilities()`` raise ``IppError`` / ``HttpError`` for a
malformed answer (a protocol violation is an exception), and report an
unreachable printer as DISCONNECTED. Every response is checked: HTTP 200 with
``application/ipp``, at most ``MAX_RESPONSE`` bytes, a decodable message with the
request's id, and an operation group starting with ``attributes-charset`` then
``attributes-natural-language`` (RFC 8011 4.1.4).

Example::

    with IppPrinter(sim.uri) as printer:
        result = printer.print_pages([RasterPage(sheet, 300)], media=A4, job_name="ballot")
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from drivers.docprinter import ipp
from drivers.docprinter.base import (
    A4,
    MEDIA_MM,
    DocPrinterStatus,
    DocumentPrinter,
    JobOutcome,
    JobResult,
    condition,
)
from drivers.docprinter.errors import (
    HttpError,
    IppError,
    IppStatusError,
    PrinterUnreachable,
    UnsupportedByPrinter,
)
from drivers.docprinter.raster import (
    MIME_PWG_RASTER,
    RasterPage,
    encode_pages,
    first_header,
)
from drivers.errors import DriverError

MAX_RESPONSE = 1 << 20
USER = "uchastok"
STATE_ATTRIBUTES = ("printer-state", "printer-state-reasons", "printer-is-accepting-jobs")
CAPABILITY_ATTRIBUTES = ("document-format-supported", "media-supported", "media-ready",
                         "pwg-raster-document-resolution-supported",
                         "pwg-raster-document-type-supported", "operations-supported")
JOB_ATTRIBUTES = ("job-state", "job-state-reasons", "job-impressions-completed")
_LINK_FAULTS = (OSError, http.client.HTTPException)


@dataclass(frozen=True)
class Capabilities:
    formats: tuple[str, ...]
    media_supported: tuple[str, ...]
    media_ready: tuple[str, ...]
    resolutions: tuple[int, ...]          # dots per inch, equal in x and y
    raster_types: tuple[str, ...]
    operations: tuple[int, ...]


@dataclass(frozen=True)
class JobState:
    state: int
    reasons: tuple[str, ...]
    impressions: int


class IppPrinter(DocumentPrinter):
    def __init__(self, uri: str, *, timeout_s: float = 10.0, job_timeout_s: float = 120.0,
                 poll_s: float = 0.05, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme not in ("ipp", "http") or not parts.hostname:
            raise ValueError(f"printer URI {uri!r}: expected ipp://host[:port]/path")
        self.uri = uri
        self.host = parts.hostname
        self.port = parts.port or (631 if parts.scheme == "ipp" else 80)
        self.path = parts.path or "/"
        self.timeout_s = timeout_s
        self.job_timeout_s = job_timeout_s
        self.poll_s = poll_s
        self._sleep = sleep
        self._monotonic = monotonic
        self._ids = itertools.count(1)
        self._conn: http.client.HTTPConnection | None = None
        self._caps: Capabilities | None = None
        self._closed = False
        # One request on the wire at a time (the kept-alive connection is not shared).
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("connected" if self._conn else "idle")
        return f"<IppPrinter {self.uri} {state}>"

    # -- the seam ----------------------------------------------------------------

    def status(self) -> DocPrinterStatus:
        try:
            response = self._call(ipp.OP_GET_PRINTER_ATTRIBUTES, _requested(STATE_ATTRIBUTES))
        except PrinterUnreachable:
            return DocPrinterStatus.DISCONNECTED
        return _condition_of(response)

    def print_pages(self, pages: Sequence[RasterPage], *, media: str = A4,
                    job_name: str = "document") -> JobResult:
        if not pages:
            raise ValueError("a job needs at least one page")
        _check_sizes(pages, media)
        if len({p.dpi for p in pages}) > 1:
            raise ValueError("the pages of one job must share one resolution")
        return self.print_raster(encode_pages(list(pages), media), media=media, job_name=job_name)

    def print_raster(self, raster: bytes, *, media: str = A4, job_name: str = "document"
                     ) -> JobResult:
        """Print an already encoded PWG raster stream (``print_pages`` steps 1-4)."""
        # Pages of one job share a resolution here (encode_pages is given them so).
        dpis = {first_header(raster).dpi[0]}
        with self._lock:
            self._check_open()
            try:
                self._check_capabilities(media, dpis)
            except PrinterUnreachable as e:
                return JobResult(JobOutcome.NOT_SENT, DocPrinterStatus.DISCONNECTED,
                                 detail=str(e))
            before = self.status()
            if before is not DocPrinterStatus.READY:
                return JobResult(JobOutcome.NOT_SENT, before, detail=f"printer {before.value}")
            try:
                response = self._call(ipp.OP_PRINT_JOB, [
                    ipp.attr("requesting-user-name", ipp.NAME, USER),
                    ipp.attr("job-name", ipp.NAME, job_name),
                    ipp.attr("ipp-attribute-fidelity", ipp.BOOLEAN, True),
                    ipp.attr("document-format", ipp.MIME_TYPE, MIME_PWG_RASTER),
                ], job=[ipp.attr("media", ipp.KEYWORD, media),
                        ipp.attr("print-color-mode", ipp.KEYWORD, "monochrome"),
                        ipp.attr("sides", ipp.KEYWORD, "one-sided")],
                    data=raster, fresh=True)
            except PrinterUnreachable as e:
                if not e.request_sent:
                    return JobResult(JobOutcome.NOT_SENT, DocPrinterStatus.DISCONNECTED,
                                     detail=str(e))
                return JobResult(JobOutcome.UNKNOWN, DocPrinterStatus.DISCONNECTED, detail=str(e))
            except IppStatusError as e:
                return JobResult(JobOutcome.REFUSED, self._status_or_disconnected(), detail=str(e))
            except (IppError, HttpError) as e:
                return JobResult(JobOutcome.UNKNOWN, DocPrinterStatus.READY,
                                 detail=f"Print-Job answered with a malformed response: {e}")
            job_id = response.value(ipp.TAG_JOB, "job-id")
            if not isinstance(job_id, int):
                return JobResult(JobOutcome.UNKNOWN, DocPrinterStatus.READY,
                                 detail="Print-Job answered without a job-id")
            return self._follow(job_id)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop()

    # -- more of IPP -----------------------------------------------------------------

    def capabilities(self, *, refresh: bool = False) -> Capabilities:
        """What the printer takes (read once; ``refresh`` reads it again)."""
        with self._lock:
            if self._caps is None or refresh:
                r = self._call(ipp.OP_GET_PRINTER_ATTRIBUTES, _requested(CAPABILITY_ATTRIBUTES))
                g = ipp.TAG_PRINTER
                resolutions = tuple(v.x for v in _values(r.get(g, CAPABILITY_ATTRIBUTES[3]))
                                    if isinstance(v, ipp.Resolution) and v.x == v.y
                                    and v.units == 3)
                self._caps = Capabilities(
                    formats=tuple(ipp.keywords(r.get(g, "document-format-supported"))),
                    media_supported=tuple(ipp.keywords(r.get(g, "media-supported"))),
                    media_ready=tuple(ipp.keywords(r.get(g, "media-ready"))),
                    resolutions=resolutions,
                    raster_types=tuple(ipp.keywords(r.get(g, CAPABILITY_ATTRIBUTES[4]))),
                    operations=tuple(v for v in _values(r.get(g, "operations-supported"))
                                     if isinstance(v, int)),
                )
            return self._caps

    def attributes(self, *names: str) -> dict[str, list]:
        """The printer's attributes (all of them when no name is given)."""
        r = self._call(ipp.OP_GET_PRINTER_ATTRIBUTES, _requested(names or ("all",)))
        group = r.group(ipp.TAG_PRINTER)
        return ipp.flatten(group.attributes) if group else {}

    def validate(self, *, media: str = A4, dpi: int = 300) -> None:
        """Validate-Job for our kind of job: raises ``IppStatusError`` when the printer would refuse it."""
        self._call(ipp.OP_VALIDATE_JOB, [
            ipp.attr("requesting-user-name", ipp.NAME, USER),
            ipp.attr("ipp-attribute-fidelity", ipp.BOOLEAN, True),
            ipp.attr("document-format", ipp.MIME_TYPE, MIME_PWG_RASTER),
        ], job=[ipp.attr("media", ipp.KEYWORD, media),
                ipp.attr("print-color-mode", ipp.KEYWORD, "monochrome")])
        caps = self.capabilities()
        if dpi not in caps.resolutions:
            raise UnsupportedByPrinter(f"{self.uri}: no PWG raster at {dpi} dpi "
                                       f"(offers {list(caps.resolutions)})")

    def job(self, job_id: int) -> JobState:
        r = self._call(ipp.OP_GET_JOB_ATTRIBUTES, [
            ipp.attr("job-id", ipp.INTEGER, job_id),
            ipp.attr("requesting-user-name", ipp.NAME, USER),
            ipp.attr("requested-attributes", ipp.KEYWORD, *JOB_ATTRIBUTES)])
        state = r.value(ipp.TAG_JOB, "job-state")
        if not isinstance(state, int):
            raise IppError(f"Get-Job-Attributes for job {job_id} answered without a job-state")
        impressions = r.value(ipp.TAG_JOB, "job-impressions-completed", 0)
        return JobState(state, tuple(ipp.keywords(r.get(ipp.TAG_JOB, "job-state-reasons"))),
                        impressions if isinstance(impressions, int) else 0)

    def cancel(self, job_id: int) -> None:
        self._call(ipp.OP_CANCEL_JOB, [ipp.attr("job-id", ipp.INTEGER, job_id),
                                       ipp.attr("requesting-user-name", ipp.NAME, USER)])

    # -- the job's fate ------------------------------------------------------------

    def _follow(self, job_id: int) -> JobResult:
        deadline = self._monotonic() + self.job_timeout_s
        last: JobState | None = None
        try:
            while True:
                last = self.job(job_id)
                if last.state == ipp.JOB_COMPLETED:
                    return JobResult(JobOutcome.PRINTED, DocPrinterStatus.READY, job_id,
                                     last.impressions)
                if last.state in (ipp.JOB_CANCELED, ipp.JOB_ABORTED):
                    return JobResult(JobOutcome.ABORTED, self._status_or_disconnected(), job_id,
                                     last.impressions,
                                     detail=f"job {job_id} {'cancelled' if last.state == 7 else 'aborted'}"
                                            f" by the printer: {', '.join(last.reasons)}")
                now = self.status()
                if last.state == ipp.JOB_STOPPED or now not in (DocPrinterStatus.READY,):
                    return self._stop(job_id, now)
                if self._monotonic() >= deadline:
                    return JobResult(JobOutcome.UNKNOWN, now, job_id, last.impressions,
                                     detail=f"job {job_id} still {_JOB_STATES.get(last.state)} "
                                            f"after {self.job_timeout_s:g} s")
                self._sleep(self.poll_s)
        except PrinterUnreachable as e:
            return JobResult(JobOutcome.UNKNOWN, DocPrinterStatus.DISCONNECTED, job_id,
                             last.impressions if last else 0,
                             detail=f"lost the printer while job {job_id} was printing: {e}")
        except (IppError, HttpError, IppStatusError) as e:
            return JobResult(JobOutcome.UNKNOWN, DocPrinterStatus.READY, job_id,
                             last.impressions if last else 0,
                             detail=f"job {job_id}: malformed or refused answer while following "
                                    f"it: {e}")

    def _stop(self, job_id: int, now: DocPrinterStatus) -> JobResult:
        detail = f"printer {now.value} during job {job_id}: job cancelled"
        try:
            self.cancel(job_id)
        except IppStatusError as e:
            detail = f"printer {now.value} during job {job_id}; Cancel-Job refused: {e}"
        final = self.job(job_id)
        if final.state == ipp.JOB_COMPLETED:      # it finished between our two questions
            return JobResult(JobOutcome.PRINTED, now, job_id, final.impressions)
        if now is DocPrinterStatus.READY:
            now = DocPrinterStatus.STOPPED
        return JobResult(JobOutcome.STOPPED, now, job_id, final.impressions, detail=detail)

    # -- checks ----------------------------------------------------------------------

    def _check_capabilities(self, media: str, dpis: set[int]) -> None:
        caps = self.capabilities()
        if MIME_PWG_RASTER not in caps.formats:
            raise UnsupportedByPrinter(f"{self.uri} does not take {MIME_PWG_RASTER} "
                                       f"(takes {list(caps.formats)})")
        if media not in caps.media_supported:
            raise UnsupportedByPrinter(f"{self.uri} does not support {media}")
        if caps.media_ready and media not in caps.media_ready:
            raise UnsupportedByPrinter(f"{self.uri} has {list(caps.media_ready)} loaded, not {media}")
        if "sgray_8" not in caps.raster_types:
            raise UnsupportedByPrinter(f"{self.uri} takes no sgray_8 raster")
        missing = sorted(dpis - set(caps.resolutions))
        if missing:
            raise UnsupportedByPrinter(f"{self.uri}: no PWG raster at {missing[0]} dpi "
                                       f"(offers {list(caps.resolutions)})")

    def _check_open(self) -> None:
        if self._closed:
            raise DriverError(f"{self!r} is closed")

    def _status_or_disconnected(self) -> DocPrinterStatus:
        try:
            return self.status()
        except (IppError, HttpError, IppStatusError):
            return DocPrinterStatus.STOPPED

    # -- the wire ----------------------------------------------------------------------

    def _call(self, operation: int, more: list[ipp.Attribute], *, job: list | None = None,
              data: bytes = b"", fresh: bool = False) -> ipp.Message:
        with self._lock:
            self._check_open()
            request_id = next(self._ids)
            groups = [ipp.Group(ipp.TAG_OPERATION, ipp.operation_attributes(self.uri, *more))]
            if job:
                groups.append(ipp.Group(ipp.TAG_JOB, job))
            body = ipp.encode(ipp.Message(operation, request_id, groups)) + data
            raw = self._post(body, retry=not fresh, fresh=fresh)
            return _check_response(raw, request_id, _OPERATION_NAMES.get(operation, str(operation)))

    def _post(self, body: bytes, *, retry: bool, fresh: bool) -> bytes:
        if fresh:
            self._drop()
        for attempt in (1, 2):
            conn = self._connection()
            sent = False
            try:
                if conn.sock is None:
                    conn.connect()
                sent = True
                conn.request("POST", self.path, body=body,
                             headers={"Content-Type": ipp.MIME_IPP})
                response = conn.getresponse()
                payload = _read_body(response)
                if response.will_close:
                    self._drop()
                if response.status != 200:
                    raise HttpError(f"HTTP {response.status} {response.reason} from {self.uri}")
                ctype = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
                if ctype != ipp.MIME_IPP:
                    raise HttpError(f"{self.uri} answered with Content-Type {ctype!r}, "
                                    f"not {ipp.MIME_IPP}")
                return payload
            except _LINK_FAULTS as e:
                self._drop()
                # A kept-alive connection the printer had closed: ask once more, afresh
                # (never for Print-Job, which must not be sent twice).
                if retry and attempt == 1 and sent and not fresh:
                    continue
                raise PrinterUnreachable(f"{self.uri}: {type(e).__name__}: {e}",
                                         request_sent=sent) from e
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        return self._conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


_OPERATION_NAMES = {ipp.OP_PRINT_JOB: "Print-Job", ipp.OP_VALIDATE_JOB: "Validate-Job",
                    ipp.OP_CANCEL_JOB: "Cancel-Job", ipp.OP_GET_JOB_ATTRIBUTES: "Get-Job-Attributes",
                    ipp.OP_GET_PRINTER_ATTRIBUTES: "Get-Printer-Attributes"}
_JOB_STATES = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped",
               7: "canceled", 8: "aborted", 9: "completed"}


def _check_sizes(pages: Sequence[RasterPage], media: str) -> None:
    mm = MEDIA_MM.get(media)
    for n, page in enumerate(pages, 1):
        if mm is None:
            continue
        want = (round(mm[0] * page.dpi / 25.4), round(mm[1] * page.dpi / 25.4))
        if abs(page.image.width - want[0]) > 2 or abs(page.image.height - want[1]) > 2:
            raise ValueError(f"page {n} is {page.image.width} x {page.image.height} px; "
                             f"{media} at {page.dpi} dpi is {want[0]} x {want[1]}")


def _requested(names: Sequence[str]) -> list[ipp.Attribute]:
    return [ipp.attr("requesting-user-name", ipp.NAME, USER),
            ipp.attr("requested-attributes", ipp.KEYWORD, *names)]


def _values(a: ipp.Attribute | None) -> list:
    return a.all if a is not None else []


def _read_body(response: http.client.HTTPResponse) -> bytes:
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > MAX_RESPONSE:
        raise HttpError(f"an answer of {int(length):,} bytes (at most {MAX_RESPONSE:,})")
    payload = response.read(MAX_RESPONSE + 1)
    if len(payload) > MAX_RESPONSE:
        raise HttpError(f"an answer longer than {MAX_RESPONSE:,} bytes")
    return payload


def _check_response(raw: bytes, request_id: int, operation: str) -> ipp.Message:
    try:
        message = ipp.decode(raw)
    except IppError as e:
        raise IppError(f"{operation}: malformed response: {e}") from e
    if message.version[0] not in (1, 2):
        raise IppError(f"{operation}: response version {message.version[0]}.{message.version[1]}")
    if message.request_id != request_id:
        raise IppError(f"{operation}: response to request {message.request_id}, "
                       f"not to this one ({request_id})")
    first = message.groups[0] if message.groups else None
    names = [a.name for a in first.attributes[:2]] if first else []
    if first is None or first.tag != ipp.TAG_OPERATION or names != [
            "attributes-charset", "attributes-natural-language"]:
        raise IppError(f"{operation}: the response does not start with attributes-charset and "
                       "attributes-natural-language in its operation group (RFC 8011 4.1.4)")
    if message.code >= 0x0400:
        text = message.value(ipp.TAG_OPERATION, "status-message", "")
        raise IppStatusError(operation, message.code, ipp.status_name(message.code),
                             text if isinstance(text, str) else "")
    return message


def _condition_of(r: ipp.Message) -> DocPrinterStatus:
    state = r.value(ipp.TAG_PRINTER, "printer-state")
    if not isinstance(state, int):
        raise IppError("Get-Printer-Attributes answered without a printer-state")
    accepting = r.value(ipp.TAG_PRINTER, "printer-is-accepting-jobs")
    return condition(state, ipp.keywords(r.get(ipp.TAG_PRINTER, "printer-state-reasons")),
                     accepting if isinstance(accepting, bool) else None)
