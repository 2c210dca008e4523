"""A fake ``scanimage`` on PATH: a tiny shell script that plays a scripted sequence.

Each call pops one line of ``$FAKE_SCANIMAGE_PLAN`` and behaves like scanimage
in that situation (messages are SANE's ``sane_strstatus`` texts). The driver
under test is the real ``SaneScanner``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

FAKE = r"""#!/bin/sh
plan="$FAKE_SCANIMAGE_PLAN"
echo "$@" >> "$FAKE_SCANIMAGE_LOG"
mode=$(head -n 1 "$plan")
tail -n +2 "$plan" > "$plan.rest"; mv "$plan.rest" "$plan"
[ -z "$mode" ] && mode=empty
for a in "$@"; do case "$a" in --batch=*) pattern="${a#--batch=}";; esac; done
out=$(printf "$pattern" 1)
case "$mode" in
  page)
    echo "Scanning page 1" >&2
    cp "$FAKE_SCANIMAGE_PAGE" "$out"
    echo "Scanned page 1. (scanner status = 5)" >&2
    echo "scanimage: sane_start: Document feeder out of documents" >&2
    echo "Batch terminated, 1 pages scanned" >&2
    exit 0;;
  cut)
    echo "Scanning page 1" >&2
    head -c 5000 "$FAKE_SCANIMAGE_PAGE" > "$out"
    echo "scanimage: sane_read: Error during device I/O" >&2
    exit 9;;
  cut-silent)
    head -c 5000 "$FAKE_SCANIMAGE_PAGE" > "$out"
    exit 0;;
  garbage)
    echo "this is not an image" > "$out"; exit 0;;
  empty)
    echo "scanimage: sane_start: Document feeder out of documents" >&2
    echo "Batch terminated, 0 pages scanned" >&2
    exit 7;;
  jam)
    echo "scanimage: sane_start: Document feeder jammed" >&2; exit 6;;
  cover)
    echo "scanimage: sane_start: Scanner cover is open" >&2; exit 8;;
  double)
    echo "scanimage: sane_read: Error during device I/O (double feed detected)" >&2; exit 9;;
  nodevice)
    echo "scanimage: open of device fujitsu:fi-800R:1 failed: Invalid argument" >&2; exit 1;;
  io)
    echo "scanimage: sane_start: Error during device I/O" >&2; exit 9;;
  hang)
    sleep 30; exit 0;;
esac
"""


@pytest.fixture
def fake_scanimage(tmp_path, monkeypatch):
    """Returns ``play(*modes)``: sets the plan of the next calls; the log is at ``.log``."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "scanimage"
    exe.write_text(FAKE)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    page = tmp_path / "page.pnm"
    img = np.full((300, 200), 240, np.uint8)
    img[100:150, 50:120] = 10
    page.write_bytes(b"P5\n# fake scan\n200 300\n255\n" + img.tobytes())
    plan = tmp_path / "plan.txt"
    log = tmp_path / "calls.log"
    plan.write_text("")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SCANIMAGE_PLAN", str(plan))
    monkeypatch.setenv("FAKE_SCANIMAGE_PAGE", str(page))
    monkeypatch.setenv("FAKE_SCANIMAGE_LOG", str(log))

    def play(*modes: str) -> None:
        plan.write_text("".join(m + "\n" for m in modes))

    play.log = log
    play.image = img
    return play


@pytest.fixture
def pnm_dir(tmp_path) -> Path:
    return tmp_path
