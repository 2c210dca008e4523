"""A carving attack on the ballot box's disk after the close (docs/secrecy.md, "What the disk keeps").

A simulated day on a loop-mounted ext4 image (the appliance's file system):
voters on a list of 150, 120 of them come, each scans one ballot right after
being identified, so the scan order is the identification order; a few sheets
are returned on the way. The real count daemon reads them from the simulated
ballot box (drivers/scanner/ballot_box.py) into the real count.db; polls
close, the protocol is signed, the files are closed and the image unmounted.

Then the attacker reads the raw image: every byte, free blocks included. They
look for every SQLite cell that looks like a tally line or a sheet record, at
any offset (pages of a write-ahead log sit 24 bytes after each frame header),
and for the page image each cell belongs to. Sorted by ballots read, two
consecutive tally versions give one ballot's vote, and the identification
order gives its voter. The test asserts that no tally version and no
sheet-set version older than the final one is on the disk (the public zero
state, before the first voter, does not count), and prints how many voters the
attack reveals (before count/store.py overwrote its log in place, most of
them).

Needs root, losetup and mkfs.ext4 (marker ``rawdisk``; skipped otherwise).
About 15 s.
"""

from __future__ import annotations

import io
import logging
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from countkit import make_home
from PIL import Image
from sqlite_pages import PAGE, cell_before, cells_with, page_at, page_cells

import count.store
from base.clock import FixedClock
from count.ballots.interpret import interpret_sheet
from count.daemon import CountDaemon
from count.protocol import sign_protocol
from count.store import CountStore
from drivers.scanner.ballot_box import FolderBallotBox
from drivers.scanner.simulator import decode_grey
from simulation.ballots import demo_ballot
from station import polls
from station.db import open_station_db
from sync import signing

pytestmark = pytest.mark.rawdisk

ON_LIST = 150
VOTERS = 120
RETURNED = 4            # blank paper fed on the way: returned, never counted
CONTEST = "district-07"
IMAGE_MB = 48
FIXED = 1 << 32         # count/store.py stores counters as FIXED + n; the old schema stored n


def _run(*cmd: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True)


@pytest.fixture
def ext4(tmp_path):
    """(image file, mount point): a fresh ext4 file system on a loop device, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("the carving test mounts a loop device: it needs root")
    missing = [t for t in ("losetup", "mkfs.ext4", "mount", "umount") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the carving test needs {', '.join(missing)}")
    image = tmp_path / "state.img"
    with open(image, "wb") as f:
        f.truncate(IMAGE_MB << 20)
    made = _run("mkfs.ext4", "-q", "-F", "-b", str(PAGE), image)
    if made.returncode:
        pytest.skip(f"mkfs.ext4 failed: {made.stderr.strip()}")
    loop = _run("losetup", "--find", "--show", image)
    if loop.returncode:
        pytest.skip(f"no loop device: {loop.stderr.strip()}")
    device = loop.stdout.strip()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        mounted = _run("mount", "-t", "ext4", "-o", "data=ordered", device, mnt)
        if mounted.returncode:
            pytest.skip(f"cannot mount {device}: {mounted.stderr.strip()}")
        try:
            yield image, mnt
        finally:
            _run("umount", mnt)
    finally:
        _run("losetup", "-d", device)


def _label(reading) -> str:
    (o,) = reading.outcomes
    return f"vote:{o.choice}" if o.status == "valid" else o.status


def _ballots(election, n: int, seed: int = 7) -> list[tuple[bytes, str]]:
    """(image bytes, what it counts as) for n voters: a pool of marked ballots, drawn at random."""
    pool = []
    for s in range(40):
        data, name = demo_ballot(election, CONTEST, seed=s, dpi=100)
        r = interpret_sheet(decode_grey(data), election)
        if r.accepted:
            pool.append((data, _label(r)))
        if len(pool) == 16:
            break
    rng = random.Random(seed)
    return [rng.choice(pool) for _ in range(n)]


def _blank_paper() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((1100, 850), 250, np.uint8)).save(out, "PNG")
    return out.getvalue()


def _day(root: Path, feeder: Path, manifest, election, ballots, noon) -> tuple[dict, bytes]:
    """The election day; returns (final tally lines of CONTEST, final count.db bytes).

    ``noon(tally lines, count.db bytes)`` is called after half the voters: the disk seized mid-day.
    """
    paths = make_home(root / "st", manifest, state="open")
    clock = FixedClock()
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    daemon = CountDaemon(FolderBallotBox(feeder), store, sconn, election, None, clock,
                         logging.getLogger("test.carving"), sleep=lambda s: None, feed_s=0.0)
    daemon.begin()
    returned_at = set(random.Random(3).sample(range(VOTERS), RETURNED))
    for i, (data, _) in enumerate(ballots):
        if i == len(ballots) // 2:
            noon({line: n for line, n in store.tally("real").contest(CONTEST).lines()},
                 paths.count_db.read_bytes())
        if i in returned_at:
            (feeder / f"{i:04d}-0-blank.png").write_bytes(_blank_paper())
        (feeder / f"{i:04d}-1-ballot.png").write_bytes(data)   # this voter, just identified
        for _ in range(2 if i in returned_at else 1):
            for _turn in range(10):
                step = daemon.step()
                if step.outcome in ("counted", "rejected"):
                    break
            else:
                raise AssertionError(f"voter {i}: the sheet was not read ({step})")
    polls.apply(sconn, "close", clock=clock)
    daemon.step()                   # polls closed: the returned sheets' aggregate
    daemon.end()
    sign_protocol(store, sconn, election, key=signing.private_from_seed(bytes(range(32))), outbox=None,
                  voters_on_list=ON_LIST, voters_identified=VOTERS, clock=clock)
    final = {line: n for line, n in store.tally("real").contest(CONTEST).lines()}
    assert store.sheet_count("real") == VOTERS
    assert daemon.summary.rejected == RETURNED
    store.close()
    sconn.close()
    return final, paths.count_db.read_bytes()


# --- the attacker's side: nothing below knows count.db's layout beyond SQLite's format ----------

def _n(v: int) -> int:
    return v - FIXED if v >= FIXED else v


def _tally_cell(contests):
    """A parser for cells (mode, contest, line, n): the record header sits 5 bytes before 'real'."""

    def parse(buf: bytes, at: int):
        got = cell_before(buf, at - 5)
        if got is None:
            return None
        values = got[1]
        if (len(values) == 4 and values[0] == "real" and values[1] in contests and isinstance(values[2], str)
                and isinstance(values[3], int)):
            return got
        return None
    return parse


def _is_sheet(values) -> bool:
    """(16-byte id, mode, ...): a sheet record, the old schema's or the slots'."""
    return (len(values) >= 3 and isinstance(values[0], bytes) and len(values[0]) == 16
            and values[1] in ("real", "test", "none"))


def _sheet_cell(buf: bytes, at: int):
    """A parser for sheet cells: 0x2C 0x15 (the id's and the mode's serial types) follow the header size."""
    got = cell_before(buf, at - 1)
    return got if got is not None and _is_sheet(got[1]) else None


def _sheet_set(buf: bytes, start: int) -> frozenset | None:
    """The sheet records of the index-leaf page image at ``start`` (None: not a sheet page)."""
    cells = page_cells(buf, start)
    if not cells or not all(_is_sheet(v) for _, v in cells):
        return None
    return frozenset(tuple(v) for _, v in cells)


def carve(raw: bytes, final_db: bytes, final: dict, election) -> dict:
    """What the raw image gives away: older tally versions, older sheet sets, voters' votes."""
    contests = {c.id for c in election.contests}
    older_cells, versions, older_tally_pages = [], {}, 0
    pages_seen: set[int] = set()
    for needle in (b"real" + c.encode() for c in contests):
        for at, (_, contest, line, v) in cells_with(raw, needle, _tally_cell(contests)):
            if contest == CONTEST and 0 < _n(v) != final.get(line, 0):
                older_cells.append((at, line, _n(v)))
            start = page_at(raw, at)
            if start is None or start in pages_seen:
                continue
            pages_seen.add(start)
            lines = {vals[2]: _n(vals[3]) for _, vals in page_cells(raw, start)
                     if len(vals) == 4 and vals[0] == "real" and vals[1] == CONTEST}
            if not lines:
                continue
            if any(lines.get(k, 0) != final.get(k, 0) for k in lines) and any(lines.values()):
                older_tally_pages += 1
            versions.setdefault(lines.get("ballots_read", 0), lines)
    final_sets = {s for k in range(len(final_db) // PAGE) if (s := _sheet_set(final_db, k * PAGE))}
    older_sheet_pages, sheet_pages = 0, set()
    for at, _ in cells_with(raw, b"\x2c\x15", _sheet_cell):
        start = page_at(raw, at)
        if start is None or start in sheet_pages:
            continue
        sheet_pages.add(start)
        s = _sheet_set(raw, start)
        if s and any(c[1] == "real" for c in s) and s not in final_sets:
            older_sheet_pages += 1
    # The attack: consecutive versions (k, k+1 ballots read) give ballot k+1's vote.
    votes = {}
    for k in sorted(versions):
        if k + 1 in versions:
            a, b = versions[k], versions[k + 1]
            up = {line for line in set(a) | set(b)
                  if b.get(line, 0) - a.get(line, 0) == 1 and line not in ("ballots_read", "marginal_sheets")}
            up.discard("valid")
            if len(up) == 1:
                votes[k] = up.pop()
    return {"older_tally_cells": older_cells, "older_tally_pages": older_tally_pages,
            "older_sheet_pages": older_sheet_pages, "versions": sorted(versions), "votes": votes}


def test_the_disk_after_the_close_holds_no_older_tally_or_sheet_set(ext4, tmp_path, manifest, election,
                                                                    monkeypatch):
    image, mnt = ext4
    # A small first deck, so the day also deals it again twice (every record moves; old pages zeroed).
    monkeypatch.setattr(count.store, "DEFAULT_SLOTS", 48, raising=False)
    feeder = tmp_path / "feeder"          # the scanner's paper path: not on the appliance's disk
    feeder.mkdir()
    ballots = _ballots(election, VOTERS)
    truth = [label for _, label in ballots]
    at_noon = {}

    def noon(current, db):
        os.sync()
        at_noon.update(carve(image.read_bytes(), db, current, election))

    t0 = time.monotonic()
    final, final_db = _day(mnt, feeder, manifest, election, ballots, noon)
    day_s = time.monotonic() - t0
    _run("umount", mnt)
    raw = image.read_bytes()
    t1 = time.monotonic()
    found = carve(raw, final_db, final, election)
    carve_s = time.monotonic() - t1
    revealed = sum(1 for k, vote in found["votes"].items() if truth[k] == vote)
    print(f"\ncarving: {VOTERS} voters, day {day_s:.1f} s, carving {carve_s:.1f} s;"
          f" tally versions found {len(found['versions'])} (ballots read {found['versions'][:8]}...),"
          f" older tally cells {len(found['older_tally_cells'])}, older tally pages"
          f" {found['older_tally_pages']}, older sheet-set pages {found['older_sheet_pages']},"
          f" links {len(found['votes'])}, voters revealed {revealed};"
          f" at noon: older tally cells {len(at_noon['older_tally_cells'])}, older sheet-set pages"
          f" {at_noon['older_sheet_pages']}, links {len(at_noon['votes'])}")
    assert final["ballots_read"] == VOTERS
    assert found["older_tally_cells"] == [], "tally versions older than the final one are on the disk"
    assert found["older_tally_pages"] == 0
    assert found["older_sheet_pages"] == 0, "sheet-set versions older than the final one are on the disk"
    assert revealed == 0 and found["votes"] == {}
    # Seized mid-day, the disk holds the current state only, too.
    assert at_noon["older_tally_cells"] == [] and at_noon["older_tally_pages"] == 0
    assert at_noon["older_sheet_pages"] == 0 and at_noon["votes"] == {}
