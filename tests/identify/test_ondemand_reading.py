"""A ballot printed on demand is read by the count role: the PNG the printer made, through interpret_file.

The simulated printer renders the page it decoded from the IPP job to PNG; the count role's
reader (count/ballots/interpret.py) reads that file, blank and marked by a voter, as it
reads a scanned sheet: the style code and checksum from the QR, each box, the rules.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from count.ballots.interpret import interpret_file, interpret_sheet
from count.ballots.layout import parse_qr_payload, qr_payload, sheet_geometry
from count.ballots.reading import box_id
from drivers.docprinter.ipp_printer import IppPrinter
from drivers.docprinter.simulator import DocPrinterSimulator
from identify.ondemand import DPI, OnDemandBallots, PrintState
from identify.store import open_identify_db


@pytest.fixture
def printed(tmp_path, election):
    """Print one ballot of each style on demand; map style -> the printed PNG."""
    conn = open_identify_db(tmp_path / "identify.db")
    with DocPrinterSimulator(tmp_path / "paper") as sim, IppPrinter(sim.uri, poll_s=0.01) as printer:
        ballots = OnDemandBallots(conn, election, printer)
        styles = [s.id for s in election.ballot_styles]
        results = ballots.print_ballots(styles)
        assert [r.state for r in results] == [PrintState.ON_PAPER] * len(styles)
        pages = {style: sim.printed[i].png for i, style in enumerate(styles)}
    conn.close()
    return pages


def mark(png, election, style: str, options: list[str | int], dpi: int = DPI) -> Image.Image:
    """The voter's pen: a cross in each named box (a candidate, a party or a list number)."""
    image = Image.open(png).convert("L")
    geo = sheet_geometry(election, style)
    contest = geo.contests[0]
    draw = ImageDraw.Draw(image)
    k = dpi / 25.4
    for option in options:
        b = geo.boxes[box_id(contest, option)]
        x0, y0, x1, y1 = ((b.x + b.w * 0.2) * k, (b.y + b.h * 0.2) * k,
                          (b.x + b.w * 0.8) * k, (b.y + b.h * 0.8) * k)
        width = max(2, round(0.6 * k))
        draw.line([x0, y0, x1, y1], fill=25, width=width)
        draw.line([x0, y1, x1, y0], fill=25, width=width)
    return image


def test_the_printed_page_is_the_layout_at_300_dpi(printed, election):
    for style, png in printed.items():
        image = Image.open(png)
        assert image.size == (2480, 3508)                       # A4 at 300 dpi
        reading = interpret_file(png, election)
        assert reading.accepted, reading.reason
        assert (reading.election, reading.station, reading.ballot_style) == (
            election.id, election.station.id, style)


@pytest.mark.parametrize("style", ["bs-district-07", "bs-party-list"])
def test_a_blank_printed_ballot_reads_as_blank(printed, election, style):
    reading = interpret_file(printed[style], election)
    assert reading.accepted
    [outcome] = reading.outcomes
    assert (outcome.status, outcome.reason) == ("blank", "no-mark")
    assert reading.marks == {}


def test_a_marked_candidate_ballot_reads_as_that_vote(printed, election):
    district = election.contest("district-07")
    chosen = next(c.id for c in district.candidates if not c.withdrawn)
    image = mark(printed["bs-district-07"], election, "bs-district-07", [chosen])
    reading = interpret_sheet(np.asarray(image), election)
    assert reading.accepted, reading.reason
    [outcome] = reading.outcomes
    assert (outcome.status, outcome.choice) == ("valid", chosen)
    assert reading.marks == {box_id("district-07", chosen): "marked"}


def test_a_marked_party_list_ballot_with_a_preference(printed, election):
    party = election.contest("party-list").parties[0]
    number = next(c.number for c in party.candidates if not c.withdrawn)
    image = mark(printed["bs-party-list"], election, "bs-party-list", [party.id, number])
    reading = interpret_sheet(np.asarray(image), election)
    assert reading.accepted, reading.reason
    [outcome] = reading.outcomes
    assert (outcome.status, outcome.choice, outcome.preference) == ("valid", party.id, number)


def test_two_marks_on_a_printed_ballot_are_an_overvote(printed, election):
    district = election.contest("district-07")
    a, b = [c.id for c in district.candidates if not c.withdrawn][:2]
    image = mark(printed["bs-district-07"], election, "bs-district-07", [a, b])
    [outcome] = interpret_sheet(np.asarray(image), election).outcomes
    assert (outcome.status, outcome.reason) == ("invalid", "overvote")


def test_the_printed_sheet_fed_as_a_scanner_would(printed, election):
    """A little turned and moved, on a darker backing, at 200 dpi: still read."""
    district = election.contest("district-07")
    chosen = next(c.id for c in district.candidates if not c.withdrawn)
    page = mark(printed["bs-district-07"], election, "bs-district-07", [chosen])
    page = page.resize((1654, 2339), Image.Resampling.LANCZOS)        # 200 dpi
    canvas = Image.new("L", (1732, 2420), 205)
    canvas.paste(page.rotate(1.4, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=205),
                 (20, 10))
    reading = interpret_sheet(np.asarray(canvas), election)
    assert reading.accepted, reading.reason
    assert reading.outcomes[0].choice == chosen


def test_the_code_on_the_sheet_is_election_style_site_and_checksum_only(election):
    text = qr_payload(election.id, "bs-district-07", election.station.id)
    assert text.split("|")[:4] == ["UCH1", election.id, "bs-district-07", election.station.id]
    assert len(text.split("|")) == 5
    assert parse_qr_payload(text) == (election.id, "bs-district-07", election.station.id)
