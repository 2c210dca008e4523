"""Ballot layouts: geometry is a pure function; sheets print in both languages."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw

from count.ballots import layout
from count.ballots.rules import box_ids


@pytest.mark.parametrize("style", ["bs-district-07", "bs-party-list"])
def test_geometry_covers_every_box_and_is_stable(election, style):
    g1 = layout.sheet_geometry(election, style)
    g2 = layout._geometry(election, style)            # uncached: same answer
    assert g1 == g2
    contest = election.contest(g1.contests[0])
    assert set(g1.boxes) == set(box_ids(contest))


@pytest.mark.parametrize("style", ["bs-district-07", "bs-party-list"])
def test_boxes_inside_content_apart_and_clear_of_fiducials(election, style):
    boxes = list(layout.sheet_geometry(election, style).boxes.values())
    for b in boxes:
        assert layout.CONTENT_TOP - 1 <= b.y and b.y + b.h <= layout.CONTENT_BOTTOM
        assert 20 <= b.x and b.x + b.w <= 190
        assert 6.0 <= b.w <= 9.0 and b.w == b.h
        for cx, cy in layout.FIDUCIALS.values():
            assert abs(b.center[0] - cx) > 15 or abs(b.center[1] - cy) > 15
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a.x + a.w < b.x or b.x + b.w < a.x or a.y + a.h < b.y or b.y + b.h < a.y


def test_party_list_has_54_numbered_boxes_in_rows_of_14(election):
    g = layout.sheet_geometry(election, "bs-party-list")
    nums = [g.boxes[f"party-list/#{n}"] for n in range(1, 55)]
    assert len({round(b.y, 3) for b in nums}) == 4
    assert nums[0].y == nums[13].y and nums[14].y > nums[13].y


@pytest.mark.parametrize("payload_edit,ok", [
    (lambda p: p, True),
    (lambda p: p.replace("uik-1021", "uik-1022"), False),    # checksum no longer holds
    (lambda p: p[:-1] + ("0" if p[-1] != "0" else "1"), False),
    (lambda p: "UCH2" + p[4:], False),
    (lambda p: p + "|extra", False),
], ids=["intact", "station-edited", "checksum-edited", "other-prefix", "extra-field"])
def test_qr_payload_round_trip_and_checksum(election, payload_edit, ok):
    p = layout.qr_payload(election.id, "bs-party-list", election.station.id)
    parsed = layout.parse_qr_payload(payload_edit(p))
    if ok:
        assert parsed == (election.id, "bs-party-list", election.station.id)
    else:
        assert parsed is None


@pytest.mark.parametrize("dpi,size", [(150, (1240, 1754)), (200, (1654, 2339)), (300, (2480, 3508))])
def test_render_sizes_and_fiducials(election, dpi, size):
    img = layout.render_sheet(election, "bs-district-07", dpi)
    assert img.size == size and img.mode == "L"
    a = np.asarray(img)
    k = dpi / 25.4
    for name, (cx, cy) in layout.FIDUCIALS.items():
        centre = a[int(cy * k), int(cx * k)]
        assert centre == (255 if name == "br" else 0)       # the ring has a hole: orientation


def test_kyrgyz_letters_are_printed(election):
    """DejaVu Sans carries Ң Ө Ү (DOMAIN.md "Languages"): the glyphs are not empty boxes."""

    f = layout._font(True, 40)
    for ch in "ҢӨҮңөү":
        im = Image.new("L", (60, 60), 255)
        ImageDraw.Draw(im).text((5, 5), ch, font=f, fill=0)
        assert (np.asarray(im) < 128).sum() > 30
    assert f.getmask("Ң").getbbox() != f.getmask("\uffff").getbbox()


def test_write_ballots_png_per_dpi_and_pdf(election, tmp_path):
    files = layout.write_ballots(election, tmp_path, dpis=(150, 200))
    names = sorted(p.name for p in files)
    assert names == ["ballots.pdf", "bs-district-07-150dpi.png", "bs-district-07-200dpi.png",
                     "bs-party-list-150dpi.png", "bs-party-list-200dpi.png"]
    pdf = (tmp_path / "ballots.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) == 2      # one page per ballot style


def test_demo_election_layouts(demo_election):
    for s in demo_election.ballot_styles:
        g = layout.sheet_geometry(demo_election, s.id)
        assert set(g.boxes) == set(box_ids(demo_election.contest(g.contests[0])))
