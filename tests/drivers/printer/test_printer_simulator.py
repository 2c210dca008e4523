"""The simulated printer: golden rasters, PDFs, every preset, paper-out without losing the job."""

import pytest
from escpos.printer import Dummy
from PIL import Image
from printer_receipts import identification_receipt, tall_document, two_piece_document

from drivers.printer.base import Document, PrinterStatus, Text, render_pages
from drivers.printer.escpos_printer import EscposPrinter, PrinterProtocolError, media_profile
from drivers.printer.simulator import PRESETS, EscposDecoder, SimulatedPrinter


@pytest.fixture
def printer(tmp_path):
    with SimulatedPrinter(tmp_path / "paper") as simulated:
        yield simulated


def assert_printed_exactly(printer, document, first=0):
    pages = render_pages(document)
    printed = printer.printed[first:]
    assert len(printed) == len(pages)
    for page, expected in zip(printed, pages, strict=True):
        assert page.image.size == expected.size
        assert page.image.tobytes() == expected.tobytes()
        # What is on disk is what was printed.
        assert Image.open(page.png).convert("1").tobytes() == expected.tobytes()
        assert page.pdf.read_bytes().startswith(b"%PDF")


@pytest.mark.parametrize(
    "document",
    [identification_receipt(), two_piece_document(), tall_document()],
    ids=["receipt", "two-pieces", "taller-than-a-raster-fragment"],
)
def test_golden_raster_round_trip(printer, document):
    result = printer.print_document(document)
    assert result.printed and result.status is PrinterStatus.READY
    assert result.pages == len(render_pages(document))
    assert_printed_exactly(printer, document)


def test_files_are_numbered_and_numbering_continues(tmp_path):
    with SimulatedPrinter(tmp_path) as first:
        first.print_document(two_piece_document())
    with SimulatedPrinter(tmp_path) as second:
        second.print_document(identification_receipt())
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [
        "print-0001.png",
        "print-0002.png",
        "print-0003.png",
    ]
    assert len(list(tmp_path.glob("*.pdf"))) == 3


# preset → status reported
PRESET_STATUS = {
    "paper-out": PrinterStatus.PAPER_OUT,
    "cover-open": PrinterStatus.COVER_OPEN,
    "disconnected": PrinterStatus.DISCONNECTED,
    "paper-runs-out": PrinterStatus.READY,  # until the paper actually ends
}


def test_every_preset_has_a_status_here():
    assert set(PRESET_STATUS) == set(PRESETS)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_status_and_the_job_survives(printer, preset):
    printer.preset = preset
    assert printer.status() is PRESET_STATUS[preset]
    result = printer.print_document(identification_receipt())
    assert not result.printed
    assert result.status is not PrinterStatus.READY
    assert printer.printed == []
    assert result.detail
    # Paper loaded, cover shut, cable in: the caller prints the same job again.
    printer.load_paper()
    assert printer.status() is PrinterStatus.READY
    assert printer.print_document(identification_receipt()).printed
    assert_printed_exactly(printer, identification_receipt())


def test_paper_out_sends_nothing(printer):
    printer.preset = "paper-out"
    result = printer.print_document(identification_receipt())
    assert (result.status, result.printed, result.pages) == (PrinterStatus.PAPER_OUT, False, 0)
    assert printer.discarded_bytes == 0  # only status queries crossed the wire


def test_paper_running_out_mid_job_is_reported_and_reprinted_once(printer):
    printer.preset = "paper-runs-out"
    result = printer.print_document(two_piece_document())
    assert result.status is PrinterStatus.PAPER_OUT and not result.printed
    assert printer.torn == 1 and printer.printed == []
    assert printer.status() is PrinterStatus.PAPER_OUT
    printer.load_paper()
    assert printer.print_document(two_piece_document()).printed
    assert_printed_exactly(printer, two_piece_document())


def test_preset_names_are_checked(printer):
    with pytest.raises(ValueError):
        printer.preset = "on-fire"


def test_decoder_accepts_the_stream_in_any_slices():
    dummy = Dummy(profile=media_profile(384))
    EscposPrinter(dummy, reads_status=False).print_document(identification_receipt())
    stream = dummy.output
    whole = EscposDecoder().feed(stream)
    decoder = EscposDecoder()
    pieces = []
    for i in range(0, len(stream), 7):
        pieces += decoder.feed(stream[i : i + 7])
    assert [e.kind for e in pieces] == [e.kind for e in whole]
    assert [e.kind for e in whole][:2] == ["init", "raster"] and whole[-1].kind == "cut"


@pytest.mark.parametrize(
    "stream",
    [b"\x1b\x7f", b"\x1dV\x07", b"\x1dv\x05\x00\x01\x00\x01\x00\x00"],
    ids=["unknown-esc", "not-a-cut", "not-gs-v-0"],
)
def test_decoder_refuses_unknown_commands(stream):
    with pytest.raises(PrinterProtocolError):
        EscposDecoder().feed(stream)


def test_text_bytes_are_kept(printer):
    printer.receive(b"\x1b@hello\n")
    assert bytes(printer.text) == b"hello\n"


def test_close_is_idempotent(printer):
    printer.close()
    printer.close()
    assert "SimulatedPrinter" in repr(printer)
    assert printer.status() is PrinterStatus.DISCONNECTED


def test_wider_paper(tmp_path):
    document = Document([Text("80 мм кагаз / бумага 80 мм")])
    with SimulatedPrinter(tmp_path, width_dots=576) as wide:
        assert wide.print_document(document).printed
        assert wide.printed[0].image.tobytes() == render_pages(document, 576)[0].tobytes()
