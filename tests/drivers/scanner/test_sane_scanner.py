"""SaneScanner against a fake scanimage on PATH (one file per failure family)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.scanner.base import ScannerStatus
from drivers.scanner.sane_scanner import SaneScanner, status_from_stderr


def test_reads_one_sheet_from_the_feeder(fake_scanimage):
    fake_scanimage("page")
    with SaneScanner(device="fujitsu:fi-800R:1", resolution=200, options=("--page-height=297",)) as s:
        sheet = s.next_sheet(time.monotonic() + 2)
    assert sheet.status is ScannerStatus.READY
    assert np.array_equal(sheet.image, fake_scanimage.image)
    args = fake_scanimage.log.read_text()
    assert "-d fujitsu:fi-800R:1" in args and "--source=ADF" in args and "--batch-count=1" in args
    assert "--resolution=200" in args and "--format=pnm" in args and "--page-height=297" in args


@pytest.mark.parametrize("mode,status", [
    ("jam", ScannerStatus.JAM),
    ("cover", ScannerStatus.JAM),
    ("double", ScannerStatus.DOUBLE_FEED),
    ("nodevice", ScannerStatus.DISCONNECTED),
    ("io", ScannerStatus.DISCONNECTED),
    ("cut", ScannerStatus.DISCONNECTED),           # disconnect mid-sheet, with the error text
    ("cut-silent", ScannerStatus.DISCONNECTED),    # a page written but cut short, no message
    ("garbage", ScannerStatus.DISCONNECTED),       # not an image: never READY
], ids=["jam", "cover-open", "double-feed", "no-device", "io-error", "disconnect-mid-sheet",
        "short-page", "garbage-output"])
def test_device_conditions_are_values(fake_scanimage, mode, status):
    fake_scanimage(mode)
    with SaneScanner() as s:
        sheet = s.next_sheet(time.monotonic() + 1)
    assert sheet.status is status
    assert sheet.image is None
    assert sheet.detail


def test_empty_feeder_is_polled_until_a_sheet_arrives(fake_scanimage):
    fake_scanimage("empty", "empty", "page")
    with SaneScanner(poll_interval=0.01) as s:
        sheet = s.next_sheet(time.monotonic() + 10)
    assert sheet.status is ScannerStatus.READY
    assert len(fake_scanimage.log.read_text().splitlines()) == 3


def test_empty_feeder_until_deadline(fake_scanimage):
    fake_scanimage("empty")
    with SaneScanner(poll_interval=0.01) as s:
        sheet = s.next_sheet(time.monotonic() + 0.05)
    assert sheet.status is ScannerStatus.EMPTY


def test_hung_scanimage_is_killed_and_reported(fake_scanimage):
    fake_scanimage("hang")
    with SaneScanner(grace=0.2) as s:
        sheet = s.next_sheet(time.monotonic() + 0.1)
    assert sheet.status is ScannerStatus.DISCONNECTED


def test_missing_scanimage_is_disconnected():
    with SaneScanner(scanimage="scanimage-not-installed-here") as s:
        assert s.next_sheet(time.monotonic()).status is ScannerStatus.DISCONNECTED


def test_close_is_idempotent_and_repr_useful():
    s = SaneScanner(device="x")
    s.close()
    s.close()
    assert "closed" in repr(s) and "'x'" in repr(s)


@pytest.mark.parametrize("text,status", [
    ("scanimage: sane_start: Document feeder out of documents", ScannerStatus.EMPTY),
    ("scanimage: sane_start: Document feeder jammed", ScannerStatus.JAM),
    ("scanimage: sane_read: Error during device I/O", ScannerStatus.DISCONNECTED),
    ("scanimage: no SANE devices found", ScannerStatus.DISCONNECTED),
    ("Scanned page 1. (scanner status = 5)", None),
])
def test_status_from_stderr(text, status):
    assert status_from_stderr(text) is status
