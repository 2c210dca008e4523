"""The simulated IPP printer on its own: CUPS' conformance tests, bad requests, the standalone process.

``ipptool`` (Debian's cups-ipp-utils) is an IPP client we did not write: its RFC 8011
suite (ipp-1.1.test) decodes every answer of the simulator with libcups and sends
requests our decoder must read, including a chunked Print-Job of our PWG raster.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from drivers.docprinter import ipp
from drivers.docprinter.ipp_printer import IppPrinter
from drivers.docprinter.raster import RasterPage, encode_pages
from drivers.docprinter.simulator import PRESETS, DocPrinterSimulator

IPPTOOL = shutil.which("ipptool")
SUITE = "/usr/share/cups/ipptool/ipp-1.1.test"
needs_ipptool = pytest.mark.skipif(IPPTOOL is None, reason="ipptool missing (apt-get install "
                                                            "cups-ipp-utils)")


def a4(dpi: int = 300) -> Image.Image:
    a = np.full((round(297 * dpi / 25.4), round(210 * dpi / 25.4)), 255, dtype=np.uint8)
    a[100:300, 100:900] = 0
    return Image.fromarray(a)


@pytest.fixture
def sim(tmp_path):
    with DocPrinterSimulator(tmp_path / "paper") as simulator:
        yield simulator


@needs_ipptool
def test_cups_rfc_8011_suite_passes(sim, tmp_path):
    raster = tmp_path / "page.pwg"
    raster.write_bytes(encode_pages([RasterPage(a4(), 300)]))
    run = subprocess.run([IPPTOOL, "-t", "-V", "1.1", "-f", str(raster), "-d",
                          "filetype=image/pwg-raster", sim.uri, SUITE],
                         capture_output=True, text=True, timeout=300)
    summary = [line for line in run.stdout.splitlines() if "Summary" in line or "FAIL" in line]
    assert run.returncode == 0, run.stdout[-3000:]
    assert "0 failed" in summary[-1], summary
    # ipptool's Print-Job tests printed our raster, read back pixel for pixel.
    assert sim.printed and all(
        Image.open(p.png).tobytes() == a4().tobytes() for p in sim.printed)


@needs_ipptool
def test_ipptool_reads_every_answer(sim):
    run = subprocess.run([IPPTOOL, "-tv", "-V", "1.1", sim.uri,
                          "/usr/share/cups/ipptool/get-jobs.test"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout[-2000:]


def _post(sim, body: bytes, content_type: str = "application/ipp") -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    conn.request("POST", "/ipp/print", body=body, headers={"Content-Type": content_type})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def _request(code=ipp.OP_GET_PRINTER_ATTRIBUTES, rid=5, ops=None, version=(1, 1)) -> bytes:
    ops = ipp.operation_attributes("ipp://x/ipp/print") if ops is None else ops
    return ipp.encode(ipp.Message(code, rid, [ipp.Group(ipp.TAG_OPERATION, ops)], version=version))


BAD_REQUESTS = [
    ("not-ipp-at-all", b"GET / HTTP/1.0", ipp.BAD_REQUEST, "malformed request"),
    ("no-charset", _request(ops=[ipp.attr("printer-uri", ipp.URI, "ipp://x")]), ipp.BAD_REQUEST,
     "attributes-charset"),
    ("no-printer-uri", _request(ops=ipp.operation_attributes("x")[:2]), ipp.BAD_REQUEST,
     "printer-uri"),
    ("request-id-0", _request(rid=0), ipp.BAD_REQUEST, "request-id"),
    ("version-0", _request(version=(0, 0)), ipp.VERSION_NOT_SUPPORTED, "version 0.0"),
    ("unknown-operation", _request(code=0x0010), ipp.OPERATION_NOT_SUPPORTED, "0x0010"),
    ("pdf", ipp.encode(ipp.Message(ipp.OP_PRINT_JOB, 5, [ipp.Group(ipp.TAG_OPERATION, [
        *ipp.operation_attributes("ipp://x"),
        ipp.attr("document-format", ipp.MIME_TYPE, "application/pdf")])], data=b"%PDF")),
     ipp.FORMAT_NOT_SUPPORTED, "application/pdf"),
    ("job-without-id", _request(code=ipp.OP_GET_JOB_ATTRIBUTES), ipp.BAD_REQUEST, "job-id"),
    ("no-such-job", _request(code=ipp.OP_CANCEL_JOB, ops=[
        *ipp.operation_attributes("ipp://x"), ipp.attr("job-id", ipp.INTEGER, 99)]),
     ipp.NOT_FOUND, "no job 99"),
]


@pytest.mark.parametrize("body,status,fragment", [b[1:] for b in BAD_REQUESTS],
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_requests_get_an_ipp_error_and_print_nothing(sim, body, status, fragment):
    code, data = _post(sim, body)
    assert code == 200
    answer = ipp.decode(data)
    assert answer.code == status
    assert fragment in answer.value(ipp.TAG_OPERATION, "status-message")
    assert sim.jobs == {} and sim.printed == []


def test_not_an_ipp_body_is_an_http_error(sim):
    assert _post(sim, b"hello", "text/plain")[0] == 400


def test_a_chunked_print_job(sim):
    body = ipp.encode(ipp.Message(ipp.OP_PRINT_JOB, 9, [ipp.Group(ipp.TAG_OPERATION, [
        *ipp.operation_attributes(sim.uri),
        ipp.attr("document-format", ipp.MIME_TYPE, "image/pwg-raster")])],
        data=encode_pages([RasterPage(a4(), 300)])))
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=10)
    conn.request("POST", "/ipp/print", body=iter([body[:1000], body[1000:]]),
                 headers={"Content-Type": "application/ipp"}, encode_chunked=True)
    answer = ipp.decode(conn.getresponse().read())
    conn.close()
    assert answer.code == ipp.OK and answer.value(ipp.TAG_JOB, "job-id") == 1


def test_an_unknown_preset_is_refused(sim):
    with pytest.raises(ValueError, match="unknown preset"):
        sim.preset = "on-fire"
    assert set(PRESETS) >= {"media-empty", "media-jam", "door-open", "offline"}


def test_numbering_continues_in_the_same_folder(tmp_path):
    for _ in range(2):
        with DocPrinterSimulator(tmp_path, resolutions=(150,)) as sim, \
                IppPrinter(sim.uri, poll_s=0.01) as printer:
            assert printer.print_pages([RasterPage(a4(150), 150)]).printed
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["job-0001-page-1.png",
                                                              "job-0002-page-1.png"]


def test_the_standalone_simulator(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "drivers.docprinter.simulator",
                                str(tmp_path), "--preset", "door-open"],
                               stdout=subprocess.PIPE, text=True)
    try:
        uri = process.stdout.readline().strip()
        assert uri.startswith("ipp://127.0.0.1:")
        with IppPrinter(uri) as printer:
            assert printer.status().value == "door-open"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
