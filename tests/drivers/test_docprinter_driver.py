"""The IPP driver against the simulated printer on a real socket: jobs, conditions, faults.

Malformed answers come from a small canned HTTP server (the far side), never from a
stand-in for the driver.
"""

from __future__ import annotations

import http.server
import socketserver
import threading

import numpy as np
import pytest
from PIL import Image

from drivers.device import Device
from drivers.docprinter import ipp
from drivers.docprinter.base import A4, A5, DocPrinterStatus, JobOutcome, condition
from drivers.docprinter.errors import HttpError, IppError, UnsupportedByPrinter
from drivers.docprinter.ipp_printer import IppPrinter
from drivers.docprinter.raster import HEADER_SIZE, RasterPage, encode_pages
from drivers.docprinter.simulator import DocPrinterSimulator
from drivers.errors import DriverError

DPI = 150       # small pages keep these tests quick; the ballot tests print at 300 dpi


def a4_page(seed: int = 0, dpi: int = DPI) -> Image.Image:
    w, h = round(210 * dpi / 25.4), round(297 * dpi / 25.4)
    a = np.full((h, w), 255, dtype=np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(40):
        x, y = rng.integers(0, w - 60), rng.integers(0, h - 20)
        a[y:y + 12, x:x + 50] = rng.integers(0, 200)
    return Image.fromarray(a)


@pytest.fixture
def sim(tmp_path):
    with DocPrinterSimulator(tmp_path / "paper") as simulator:
        simulator.resolutions = (DPI, 300)
        yield simulator


@pytest.fixture
def printer(sim):
    with IppPrinter(sim.uri, poll_s=0.01, job_timeout_s=30) as p:
        yield p


def test_a_job_prints_pixel_for_pixel(sim, printer):
    page = a4_page(1)
    result = printer.print_pages([RasterPage(page, DPI)], job_name="ballot")
    assert result.printed and result.impressions == 1 and result.status is DocPrinterStatus.READY
    [printed] = sim.printed
    assert printed.png.name == f"job-{result.job_id:04d}-page-1.png"
    assert Image.open(printed.png).tobytes() == page.tobytes()
    job = sim.jobs[result.job_id]
    assert (job.name, job.user, job.media) == ("ballot", "uchastok", A4)


def test_what_the_driver_sends_is_ipp_1_1_with_fidelity(sim, printer):
    printer.print_pages([RasterPage(a4_page(), DPI)])
    ops = [r.code for r in sim.requests]
    # capabilities, the condition, the job, then its fate
    assert ops[:3] == [ipp.OP_GET_PRINTER_ATTRIBUTES] * 2 + [ipp.OP_PRINT_JOB]
    assert ops[-1] == ipp.OP_GET_JOB_ATTRIBUTES
    job = next(r for r in sim.requests if r.code == ipp.OP_PRINT_JOB)
    assert job.version == (1, 1)
    assert [a.name for a in job.groups[0].attributes[:3]] == [
        "attributes-charset", "attributes-natural-language", "printer-uri"]
    assert job.value(ipp.TAG_OPERATION, "ipp-attribute-fidelity") is True
    assert job.value(ipp.TAG_OPERATION, "document-format") == "image/pwg-raster"
    assert job.data.startswith(b"RaS2")


def test_validate_job_and_capabilities(printer):
    printer.validate(media=A4, dpi=300)
    caps = printer.capabilities()
    assert "image/pwg-raster" in caps.formats and A4 in caps.media_ready
    assert {ipp.OP_PRINT_JOB, ipp.OP_VALIDATE_JOB, ipp.OP_GET_JOB_ATTRIBUTES,
            ipp.OP_GET_PRINTER_ATTRIBUTES, ipp.OP_CANCEL_JOB} <= set(caps.operations)
    with pytest.raises(UnsupportedByPrinter, match="1200 dpi"):
        printer.validate(dpi=1200)


@pytest.mark.parametrize("preset,status", [
    (None, DocPrinterStatus.READY),
    ("media-empty", DocPrinterStatus.MEDIA_EMPTY),
    ("media-jam", DocPrinterStatus.MEDIA_JAM),
    ("door-open", DocPrinterStatus.DOOR_OPEN),
    ("offline", DocPrinterStatus.OFFLINE),
    ("unreachable", DocPrinterStatus.DISCONNECTED),
])
def test_conditions_are_status_values(sim, printer, preset, status):
    sim.preset = preset
    assert printer.status() is status


@pytest.mark.parametrize("preset", ["media-empty", "media-jam", "door-open", "offline", "unreachable"])
def test_a_printer_not_ready_gets_nothing(sim, printer, preset):
    printer.capabilities()
    sim.preset = preset
    result = printer.print_pages([RasterPage(a4_page(), DPI)])
    assert result.outcome is JobOutcome.NOT_SENT and not result.printed
    assert not any(r.code == ipp.OP_PRINT_JOB for r in sim.requests)
    assert sim.jobs == {} and sim.printed == []


def test_a_jam_stops_and_cancels_the_job_so_clearing_it_prints_nothing_more(sim, printer):
    sim.preset = "jam-next-job"
    result = printer.print_pages([RasterPage(a4_page(), DPI)])
    assert result.outcome is JobOutcome.STOPPED and result.status is DocPrinterStatus.MEDIA_JAM
    assert result.impressions == 0
    assert [p.jammed for p in sim.printed] == [True]          # a part of the sheet came out
    assert sim.jobs[result.job_id].state == ipp.JOB_CANCELED
    sim.clear()
    assert printer.status() is DocPrinterStatus.READY
    again = printer.print_pages([RasterPage(a4_page(), DPI)])
    assert again.printed
    assert [p.jammed for p in sim.printed] == [True, False]   # the cancelled job never resumed


def test_a_stopped_job_left_alone_resumes_when_cleared(sim, printer):
    """Why the driver cancels: a real printer finishes a stopped job once the jam is cleared."""
    sim.preset = "media-empty"
    data = encode_pages([RasterPage(a4_page(), DPI)])
    printer._call(ipp.OP_PRINT_JOB, [ipp.attr("document-format", ipp.MIME_TYPE, "image/pwg-raster")],
                  job=[ipp.attr("media", ipp.KEYWORD, A4)], data=data, fresh=True)
    assert sim.printed == []
    sim.clear()
    for _ in range(500):
        if sim.printed:
            break
        threading.Event().wait(0.01)
    assert len(sim.printed) == 1


def test_paper_running_out_before_the_page(sim, printer):
    sim.preset = "media-runs-out"
    result = printer.print_pages([RasterPage(a4_page(), DPI)])
    assert result.outcome is JobOutcome.STOPPED and result.status is DocPrinterStatus.MEDIA_EMPTY
    assert result.impressions == 0 and sim.printed == []


def test_an_answer_lost_after_the_job_is_unknown_not_failed(sim, printer):
    printer.capabilities()
    sim.preset = "silent-after-job"
    result = printer.print_pages([RasterPage(a4_page(), DPI)])
    assert result.outcome is JobOutcome.UNKNOWN
    assert "RemoteDisconnected" in result.detail or "closed" in result.detail
    for _ in range(500):                         # the page did come out
        if sim.printed:
            break
        threading.Event().wait(0.01)
    assert len(sim.printed) == 1


def test_a_truncated_raster_is_refused_by_the_printer_with_its_reason(sim, printer):
    data = encode_pages([RasterPage(a4_page(), DPI)])
    header_end = 4 + HEADER_SIZE
    result = printer.print_raster(data[: header_end + (len(data) - header_end) // 2])
    assert result.outcome is JobOutcome.REFUSED
    assert "client-error-document-format-error" in result.detail and "cut short" in result.detail
    assert sim.jobs == {}


def test_a_page_of_the_wrong_size_for_the_medium(sim, printer):
    with pytest.raises(ValueError, match="iso_a5"):
        printer.print_pages([RasterPage(a4_page(), DPI)], media=A5)
    # The printer refuses it too when the stream itself says A4 and the job says A5.
    sim.media_ready = (A4, A5)
    printer.capabilities(refresh=True)
    data = encode_pages([RasterPage(a4_page(), DPI)])
    result = printer.print_raster(data, media=A5)
    assert result.outcome is JobOutcome.REFUSED and "media iso_a5_148x210mm" in result.detail


def test_a_medium_not_loaded_is_a_configuration_fault(tmp_path):
    with DocPrinterSimulator(tmp_path, media_ready=(A5,)) as sim, IppPrinter(sim.uri) as printer:
        with pytest.raises(UnsupportedByPrinter, match="loaded"):
            printer.print_pages([RasterPage(a4_page(dpi=300), 300)])
        assert sim.jobs == {}


def test_the_seam_is_a_device_closed_once(sim):
    printer = IppPrinter(sim.uri)
    assert isinstance(printer, Device)
    with printer:
        printer.status()
        open_repr = repr(printer)
    assert "closed" in repr(printer) and repr(printer) != open_repr
    printer.close()
    with pytest.raises(DriverError, match="closed"):
        printer.print_raster(encode_pages([RasterPage(a4_page(), DPI)]))


@pytest.mark.parametrize("uri", ["http:///x", "ipps://printer/ipp/print", "lpd://x/q"])
def test_a_uri_it_cannot_use(uri):
    with pytest.raises(ValueError, match="expected ipp://"):
        IppPrinter(uri)


# -- malformed answers from the far side ---------------------------------------------------

def _reply(request_id: int, *, code=ipp.OK, first=None, groups=(), version=(1, 1)) -> bytes:
    op = first if first is not None else ipp.operation_attributes("")[:2]
    return ipp.encode(ipp.Message(code, request_id, [ipp.Group(ipp.TAG_OPERATION, op), *groups],
                                  version=version))


STATE = [ipp.Group(ipp.TAG_PRINTER, [ipp.attr("printer-state", ipp.ENUM, 3),
                                     ipp.attr("printer-state-reasons", ipp.KEYWORD, "none")])]
ANSWERS = {
    "garbage": (lambda rid: (200, "application/ipp", b"\x01\x01\x00"), IppError, "malformed"),
    "cut-short": (lambda rid: (200, "application/ipp", _reply(rid, groups=STATE)[:-5]), IppError,
                  "malformed"),
    "other-request-id": (lambda rid: (200, "application/ipp", _reply(rid + 1, groups=STATE)),
                         IppError, "not to this one"),
    "no-charset-first": (lambda rid: (200, "application/ipp", _reply(rid, first=[], groups=STATE)),
                         IppError, "attributes-charset"),
    "version-9": (lambda rid: (200, "application/ipp", _reply(rid, groups=STATE, version=(9, 0))),
                  IppError, "version 9.0"),
    "no-printer-state": (lambda rid: (200, "application/ipp", _reply(rid)), IppError,
                         "without a printer-state"),
    "http-500": (lambda rid: (500, "text/plain", b"oops"), HttpError, "HTTP 500"),
    "html": (lambda rid: (200, "text/html", b"<html>"), HttpError, "text/html"),
    "too-long": (lambda rid: (200, "application/ipp", b"\x00" * (1 << 20 + 1)), HttpError,
                 "bytes"),
}


@pytest.fixture
def canned():
    """An HTTP server answering every POST with ``server.answer(request_id)``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            code, ctype, payload = self.server.answer(int.from_bytes(body[4:8], "big"))
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass                      # the driver hangs up on an answer too long to read

    server = Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("answer,error,fragment", list(ANSWERS.values()), ids=list(ANSWERS))
def test_malformed_answers_are_clear_errors(canned, answer, error, fragment):
    canned.answer = answer
    with IppPrinter(f"ipp://127.0.0.1:{canned.server_address[1]}/ipp/print") as printer:
        with pytest.raises(error, match=fragment):
            printer.status()


def test_a_malformed_answer_to_print_job_is_unknown(canned):
    """The printer may be printing: the caller must account for the page, so no exception."""
    caps = [ipp.Group(ipp.TAG_PRINTER, [
        ipp.attr("document-format-supported", ipp.MIME_TYPE, "image/pwg-raster"),
        ipp.attr("media-supported", ipp.KEYWORD, A4),
        ipp.attr("pwg-raster-document-resolution-supported", ipp.RESOLUTION,
                 ipp.Resolution(DPI, DPI, 3)),
        ipp.attr("pwg-raster-document-type-supported", ipp.KEYWORD, "sgray_8"),
        *STATE[0].attributes])]
    calls = []

    def answer(rid):
        calls.append(rid)
        if len(calls) <= 2:
            return 200, "application/ipp", _reply(rid, groups=caps)
        return 200, "application/ipp", b"\x01\x01\x00\x00\x00\x00"

    canned.answer = answer
    with IppPrinter(f"ipp://127.0.0.1:{canned.server_address[1]}/ipp/print") as printer:
        result = printer.print_pages([RasterPage(a4_page(), DPI)])
    assert result.outcome is JobOutcome.UNKNOWN and "malformed" in result.detail


REASONS = [
    ("idle", 3, ["none"], True, DocPrinterStatus.READY),
    ("processing", 4, ["none"], True, DocPrinterStatus.READY),
    ("warning-only", 3, ["media-low-warning", "toner-low-report"], True, DocPrinterStatus.READY),
    ("media-empty-error", 5, ["media-empty-error"], True, DocPrinterStatus.MEDIA_EMPTY),
    ("unsuffixed-is-error", 5, ["media-empty"], True, DocPrinterStatus.MEDIA_EMPTY),
    ("media-empty-report", 3, ["media-empty-report"], True, DocPrinterStatus.READY),
    ("jam-wins", 5, ["media-empty-error", "media-jam-error", "door-open-error"], True,
     DocPrinterStatus.MEDIA_JAM),
    ("door-before-paper", 5, ["media-empty-error", "door-open-error"], True,
     DocPrinterStatus.DOOR_OPEN),
    ("cover-open", 5, ["cover-open-error"], True, DocPrinterStatus.DOOR_OPEN),
    ("offline-report", 5, ["offline-report"], True, DocPrinterStatus.OFFLINE),
    ("not-accepting", 3, ["none"], False, DocPrinterStatus.OFFLINE),
    ("stopped-other", 5, ["fuser-over-temp-error"], True, DocPrinterStatus.STOPPED),
]


@pytest.mark.parametrize("state,reasons,accepting,status", [r[1:] for r in REASONS],
                         ids=[r[0] for r in REASONS])
def test_condition_from_printer_state_reasons(state, reasons, accepting, status):
    """RFC 8011 5.4.12: an unsuffixed reason is an error; -warning and -report do not stop."""
    assert condition(state, reasons, accepting) is status
