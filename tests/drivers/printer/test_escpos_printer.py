"""EscposPrinter: the bytes it sends, DLE EOT status, serial over a pty, missing devices."""

import subprocess
import sys

import pytest
from escpos.escpos import Escpos
from escpos.printer import Dummy
from printer_receipts import identification_receipt

from drivers.printer.base import PrinterStatus, render_pages
from drivers.printer.escpos_printer import EscposPrinter, PrinterProtocolError, media_profile
from drivers.printer.simulator import SimulatedPrinter


def test_stream_is_init_raster_cut():
    dummy = Dummy(profile=media_profile(384))
    result = EscposPrinter(dummy, reads_status=False).print_document(identification_receipt())
    assert result.printed
    page = render_pages(identification_receipt())[0]
    header = b"\x1dv0\x00" + (384 // 8).to_bytes(2, "little") + page.height.to_bytes(2, "little")
    out = dummy.output
    assert out.startswith(b"\x1b@" + header)
    assert out.endswith(b"\x1dV\x00")


def test_a_link_that_cannot_read_is_trusted():
    printer = EscposPrinter(Dummy(profile=media_profile(384)))
    assert printer.status() is PrinterStatus.READY
    assert printer.reads_status is False


class ScriptedStatus(Escpos):
    """A printer that answers every DLE EOT with the given bytes."""

    def __init__(self, answers):
        super().__init__(profile=media_profile(384))
        self.answers = list(answers)
        self.sent = []

    def _raw(self, msg):
        self.sent.append(msg)

    def _read(self):
        return self.answers.pop(0)


@pytest.mark.parametrize(
    "answers,status",
    [
        ([b"\x12", b"\x12"], PrinterStatus.READY),
        ([b"\x12", b"\x1e"], PrinterStatus.READY),  # paper near its end still prints
        ([b"\x16"], PrinterStatus.COVER_OPEN),
        ([b"\x32"], PrinterStatus.PAPER_OUT),
        ([b"\x12", b"\x72"], PrinterStatus.PAPER_OUT),
        ([b""], PrinterStatus.DISCONNECTED),
        ([b"\x12", b""], PrinterStatus.DISCONNECTED),
        ([b"\x00\x12", b"\x12"], PrinterStatus.READY),  # a late byte before the answer
    ],
    ids=[
        "ready",
        "near-end",
        "cover-open",
        "paper-end-stop",
        "paper-sensor-end",
        "silent",
        "silent-second",
        "late-byte",
    ],
)
def test_dle_eot_status_bits(answers, status):
    device = ScriptedStatus(answers)
    assert EscposPrinter(device).status() is status
    assert device.sent[0] == b"\x10\x04\x02"


@pytest.mark.parametrize("byte", [b"\x00", b"\xff", b"\x13"], ids=["zero", "all-ones", "bit0"])
def test_status_without_fixed_bits_is_a_protocol_error(byte):
    with pytest.raises(PrinterProtocolError):
        EscposPrinter(ScriptedStatus([byte])).status()


def test_serial_printer_on_a_pty(tmp_path):
    with SimulatedPrinter(tmp_path) as simulated, simulated.serve_pty() as port:
        with EscposPrinter.serial(port, baudrate=19200, timeout_s=0.2) as printer:
            assert printer.status() is PrinterStatus.READY
            assert printer.print_document(identification_receipt()).printed
            simulated.preset = "paper-out"
            result = printer.print_document(identification_receipt())
            assert (result.status, result.printed) == (PrinterStatus.PAPER_OUT, False)
            simulated.preset = "disconnected"
            assert printer.status() is PrinterStatus.DISCONNECTED
            simulated.load_paper()
            assert printer.print_document(identification_receipt()).printed
    expected = render_pages(identification_receipt())[0].tobytes()
    assert [p.image.tobytes() for p in simulated.printed] == [expected, expected]


def test_missing_serial_device_is_disconnected_then_found(tmp_path):
    port = tmp_path / "ttyPRN"
    with EscposPrinter.serial(str(port), timeout_s=0.2) as printer:
        assert printer.status() is PrinterStatus.DISCONNECTED
        result = printer.print_document(identification_receipt())
        assert (result.status, result.printed) == (PrinterStatus.DISCONNECTED, False)
        with SimulatedPrinter(tmp_path / "paper") as simulated, simulated.serve_pty() as real:
            port.symlink_to(real)
            assert printer.status() is PrinterStatus.READY
            assert printer.print_document(identification_receipt()).printed
    assert "closed" in repr(printer)


def test_media_profile_knows_width_and_cutter():
    profile = media_profile(576, "TM-T20II")
    assert profile.profile_data["media"]["width"]["pixels"] == 576
    assert profile.supports("paperFullCut")
    # The shared profile database is not touched.
    assert media_profile(384).profile_data["media"]["width"]["pixels"] == 384


def test_absent_usb_printer_is_disconnected():
    pytest.importorskip("usb", reason="pyusb drives USB printers")
    with EscposPrinter.usb(0x0416, 0x5011) as printer:  # no such device here
        assert printer.status() is PrinterStatus.DISCONNECTED
        result = printer.print_document(identification_receipt())
        assert (result.status, result.printed) == (PrinterStatus.DISCONNECTED, False)


def test_simulator_runs_standalone(tmp_path):

    proc = subprocess.Popen(
        [sys.executable, "-m", "drivers.printer.simulator", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = proc.stdout.readline().strip()
        with EscposPrinter.serial(port, timeout_s=0.5) as printer:
            assert printer.print_document(identification_receipt()).printed
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert (tmp_path / "print-0001.png").exists() and (tmp_path / "print-0001.pdf").exists()
