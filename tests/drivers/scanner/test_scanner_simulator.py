"""SimulatedScanner: folder feeding and the named failure presets."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from drivers.errors import ProtocolError
from drivers.scanner.base import ScannerStatus, Sheet, parse_pnm
from drivers.scanner.simulator import PRESETS, SimulatedScanner


def _sheets(n):
    return [np.full((40, 30), 10 * (i + 1), np.uint8) for i in range(n)]


def _drain(s, limit=20):
    out = []
    for _ in range(limit):
        sh = s.next_sheet(time.monotonic())
        if sh.status is ScannerStatus.EMPTY:
            break
        out.append(sh)
    return out


def test_feeds_sheets_in_order_then_empty():
    with SimulatedScanner(_sheets(3)) as s:
        got = _drain(s)
    assert [int(g.image[0, 0]) for g in got] == [10, 20, 30]


def test_from_folder_decodes_files_in_name_order(tmp_path):

    for i in range(3):
        Image.fromarray(np.full((20, 10), 50 + i, np.uint8)).save(tmp_path / f"s{i}.png")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "s9.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    with SimulatedScanner.from_folder(tmp_path) as s:
        got = _drain(s)
    assert [g.status for g in got] == [ScannerStatus.READY] * 3 + [ScannerStatus.DISCONNECTED]
    assert [int(g.image[0, 0]) for g in got[:3]] == [50, 51, 52]


def test_jam_holds_until_cleared_then_refeeds_the_same_sheet():
    s = SimulatedScanner(_sheets(3), preset="jam", fault_at=1)
    assert s.next_sheet(0).status is ScannerStatus.READY
    assert s.next_sheet(0).status is ScannerStatus.JAM
    assert s.next_sheet(0).status is ScannerStatus.JAM
    s.clear()
    rest = _drain(s)
    assert [int(g.image[0, 0]) for g in rest] == [20, 30]


def test_double_feed_returns_both_sheets():
    s = SimulatedScanner(_sheets(4), preset="double-feed", fault_at=1)
    got = _drain(s)
    assert [g.status for g in got] == [ScannerStatus.READY, ScannerStatus.DOUBLE_FEED,
                                       ScannerStatus.READY]
    assert int(got[-1].image[0, 0]) == 40


def test_disconnect_mid_sheet_then_reconnects_and_refeeds():
    s = SimulatedScanner(_sheets(2), preset="disconnect-mid-sheet", fault_at=0, down_calls=2)
    got = _drain(s)
    assert [g.status for g in got] == [ScannerStatus.DISCONNECTED] * 3 + [ScannerStatus.READY] * 2
    assert all(g.image is None for g in got[:3])


def test_truncated_image_preset_hands_over_a_short_image():
    s = SimulatedScanner(_sheets(1), preset="truncated-image")
    sh = s.next_sheet(0)
    assert sh.status is ScannerStatus.READY and sh.image.shape[0] < 40


def test_unknown_preset_refused():
    with pytest.raises(ValueError):
        SimulatedScanner([], preset="fire")
    assert set(PRESETS) == {"jam", "double-feed", "disconnect-mid-sheet", "truncated-image"}


def test_ready_sheet_needs_an_image():
    with pytest.raises(ValueError):
        Sheet(ScannerStatus.READY)


@pytest.mark.parametrize("data,ok", [
    (b"P5\n2 2\n255\n\x00\x01\x02\x03", True),
    (b"P5 2 2 255 \x00\x01", False),
    (b"P6\n1 1\n255\n\xff\x00\x00", True),
    (b"P4\n8 1\n\x0f", True),
], ids=["p5", "p5-cut", "p6", "p4"])
def test_parse_pnm(data, ok):
    img, why = parse_pnm(data)
    assert (img is not None) is ok and (why == "") is ok


def test_parse_pnm_rejects_non_pnm():
    with pytest.raises(ProtocolError):
        parse_pnm(b"GIF89a")
