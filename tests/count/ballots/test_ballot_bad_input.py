"""Bad input (issue 4): each gets a clear rejection in both languages; nothing is counted.

Blank paper, a photo of something else, a sheet from another station (or
election), a torn sheet with a missing fiducial, two sheets stuck together, a
truncated image file, a scanner that disconnects mid-sheet, plus a forged code
and images that are not images at all.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from ballot_sheets import make_sheet

from count.ballots import layout
from count.ballots.interpret import decode_image, interpret_file, interpret_sheet, read_scanned
from count.ballots.reading import REJECTIONS, SheetReading
from drivers.scanner.base import ScannerStatus, Sheet
from drivers.scanner.simulator import SimulatedScanner
from station.election import BallotStyle


def _assert_rejected(r, reason):
    assert not r.accepted
    assert r.reason == reason
    assert r.message_ky and r.message_ru and r.message_ky != r.message_ru
    assert REJECTIONS[reason][1] in r.message_ru


def _read_bytes(data, election):
    img = decode_image(data)
    if isinstance(img, str):

        return SheetReading.rejected(img)
    return interpret_sheet(img, election)


@pytest.mark.parametrize("kind,reason,deg", [
    ("blank-paper", "blank-paper", {}),
    ("blank-paper", "blank-paper", {"noise": 8.0, "format": "jpg", "streaks": 1}),
    ("photo", "unreadable", {}),
    ("photo", "unreadable", {"dpi": 200, "format": "jpg"}),
    ("other-station", "wrong-station", {}),
    ("torn", "missing-fiducial", {"torn_corner": "tl"}),
    ("torn", "missing-fiducial", {"torn_corner": "br"}),
    ("torn", "missing-fiducial", {"torn_corner": "tr", "dpi": 200}),
    ("torn", "missing-fiducial", {"torn_corner": "bl", "upside_down": True}),
    ("double-feed", "double-feed", {"second_offset_mm": 60.0}),
    ("double-feed", "double-feed", {"second_offset_mm": 110.0, "dpi": 200}),
    ("truncated-file", "truncated-image", {"keep_fraction": 0.5, "format": "jpg"}),
    ("truncated-file", "truncated-image", {"keep_fraction": 0.05, "format": "jpg"}),
], ids=["blank-paper", "blank-paper-noisy", "photo", "photo-200dpi", "other-station",
        "torn-top-left", "torn-ring-corner", "torn-by-the-code", "torn-upside-down", "double-feed",
        "double-feed-long", "truncated-file", "truncated-file-header-only"])
def test_bad_sheet_is_rejected(election, kind, reason, deg):
    data = make_sheet(election, "bs-party-list", {"party-list/p-01": "cross"}, kind=kind, **deg)
    _assert_rejected(_read_bytes(data, election), reason)


@pytest.mark.parametrize("seed", range(6))
def test_pictures_and_other_documents_are_unreadable(election, seed):
    """Half the 'photos' are printed pages of text and tables, half pictures."""
    data = make_sheet(election, "bs-party-list", kind="photo", seed=seed, format="jpg", noise=4.0)
    _assert_rejected(_read_bytes(data, election), "unreadable")


def test_other_election_is_rejected(election):
    other = dataclasses.replace(election, id="kg-2030-local")
    data = make_sheet(other, "bs-district-07", {})
    r = _read_bytes(data, election)
    _assert_rejected(r, "wrong-election")
    assert r.election == "kg-2030-local"


def test_forged_code_checksum_is_rejected(election, monkeypatch):
    monkeypatch.setattr(layout, "qr_payload",
                        lambda e, s, st: f"UCH1|{e}|{s}|{st}|00000000")
    img = np.asarray(layout.render_sheet(election, "bs-district-07", 150))
    _assert_rejected(interpret_sheet(img, election), "bad-code")


def test_code_covered_is_no_code(election):
    img = np.asarray(layout.render_sheet(election, "bs-district-07", 150)).copy()
    x, y, s = (int(v * 150 / 25.4) for v in layout.QR_RECT)
    img[y:y + s, x:x + s] = 255
    _assert_rejected(interpret_sheet(img, election), "no-code")


@pytest.mark.parametrize("data,reason", [
    (b"", "unreadable"),
    (b"hello, not an image", "unreadable"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "truncated-image"),
], ids=["empty-file", "text-file", "jpeg-header-only"])
def test_undecodable_files(election, tmp_path, data, reason):
    p = tmp_path / "sheet.jpg"
    p.write_bytes(data)
    _assert_rejected(interpret_file(p, election), reason)


def test_missing_file_is_unreadable(election, tmp_path):
    _assert_rejected(interpret_file(tmp_path / "nope.png", election), "unreadable")


@pytest.mark.parametrize("image", [
    np.zeros((10, 10), np.uint8),
    np.zeros((0,), np.uint8),
    "not an array",
], ids=["tiny", "empty-array", "not-an-array"])
def test_not_an_image_array(election, image):
    _assert_rejected(interpret_sheet(image, election), "unreadable")


def test_constant_grey_tail_is_a_truncated_image(election):
    img = np.asarray(layout.render_sheet(election, "bs-district-07", 150)).copy()
    img[-300:] = 128                  # what a decoder fills a cut-off file's rows with
    _assert_rejected(interpret_sheet(img, election), "truncated-image")


def test_cut_off_scan_is_a_truncated_image(election):
    img = np.asarray(layout.render_sheet(election, "bs-district-07", 150))
    _assert_rejected(interpret_sheet(np.ascontiguousarray(img[: img.shape[0] // 2]), election),
                     "truncated-image")


# --- through the scanner seam: faults of the feed never reach the tally -----------

def _ballots(election, n=3):
    return [make_sheet(election, "bs-district-07", {}) for _ in range(n)]


@pytest.mark.parametrize("preset,reason", [
    ("disconnect-mid-sheet", "scanner-fault"),
    ("jam", "scanner-fault"),
    ("double-feed", "double-feed"),
    ("truncated-image", "truncated-image"),
], ids=["disconnect-mid-sheet", "jam", "double-feed", "truncated-image"])
def test_scanner_faults_are_rejections(election, preset, reason):
    with SimulatedScanner(_ballots(election), preset=preset, fault_at=1) as s:
        first = read_scanned(s.next_sheet(time.monotonic()), election)
        faulty = read_scanned(s.next_sheet(time.monotonic()), election)
    assert first.accepted
    _assert_rejected(faulty, reason)
    assert faulty.outcomes == ()


def test_disconnected_sheet_without_image():
    r = read_scanned(Sheet(ScannerStatus.DISCONNECTED, detail="usb gone"), None)
    _assert_rejected(r, "scanner-fault")
    assert "usb gone" in r.message_ru


def test_unknown_ballot_style_is_rejected(election):
    other = dataclasses.replace(
        election, ballot_styles=election.ballot_styles + (BallotStyle("bs-extra", ("district-07",)),))
    img = np.asarray(layout.render_sheet(other, "bs-extra", 150))
    r = interpret_sheet(img, election)
    _assert_rejected(r, "unknown-style")
    assert r.ballot_style == "bs-extra"
