"""The count daemon: polls gating, commit-then-accept, every daemon-level bad input leaves the tally unchanged."""

from __future__ import annotations

import datetime as dt
import logging
import shutil

import numpy as np
import pytest
from countkit import make_home, reading

from base.clock import FixedClock, SaneClock
from count.ballots.interpret import interpret_file
from count.daemon import CountDaemon, image_digest
from count.store import CountStore
from count.tally import compare_with_expected, fold
from count.zero_report import print_zero_report
from drivers.scanner.ballot_box import FolderBallotBox
from drivers.scanner.simulator import SimulatedScanner
from station import polls
from station.db import open_station_db
from station.events import verify_chain
from station.health import DiskPolicy
from station.polls import PollsState

LOG = logging.getLogger("test.count")


@pytest.fixture
def station(tmp_path, manifest, election):
    paths = make_home(tmp_path / "st", manifest, state="open")
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    yield paths, store, sconn
    store.close()
    sconn.close()


def daemon(scanner, store, sconn, election, **kw):
    return CountDaemon(scanner, store, sconn, election, None, FixedClock(), LOG,
                       sleep=lambda s: None, feed_s=0.0, **kw)


def sheet_bytes(deck, kind):
    out, expected = deck
    (s,) = [s for s in expected["sheets"] if s["kind"] == kind][:1]
    return _file(out, s).read_bytes()


def _file(out, s):
    return out / s["file"]


def test_deck_through_the_daemon_equals_the_pure_fold(station, election, deck):
    paths, store, sconn = station
    out, expected = deck
    files = sorted(p for p in out.iterdir() if p.name.startswith("sheet-"))
    d = daemon(SimulatedScanner(p.read_bytes() for p in files), store, sconn, election)
    d.run(until_empty=True)
    readings = [interpret_file(p, election) for p in files]
    accepted = [r for r in readings if r.accepted]
    assert store.tally("real") == fold(election, accepted)
    assert store.sheet_count("real") == len(accepted) == d.summary.counted
    assert store.tally("test").is_zero()
    # Every bad sheet of the deck was returned with its reason; none counted.
    assert d.summary.rejected + d.summary.counted >= len(files) - 1
    assert verify_chain(store.conn).ok


BAD = [
    # (id, how to feed it, expected reason or scanner condition)
    ("blank-paper", "deck:blank-paper", "blank-paper"),
    ("photo-of-something-else", "deck:photo", "unreadable"),
    ("sheet-from-another-station", "deck:other-station", "wrong-station"),
    ("torn-missing-fiducial", "deck:torn", "missing-fiducial"),
    ("two-sheets-stuck-together", "deck:double-feed", "double-feed"),
    ("double-feed-detected-by-scanner", "preset:double-feed", "double-feed"),
    ("truncated-image-file", "deck:truncated-file", "disconnected"),
    ("backend-hands-truncated-image", "preset:truncated-image", "truncated-image"),
    ("disconnect-mid-sheet", "preset:disconnect-mid-sheet", "disconnected"),
    ("jam", "preset:jam", "jam"),
    ("interpreter-crash", "crash", "unreadable"),
]


@pytest.mark.parametrize("feed,expect", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_a_clear_rejection_and_the_tally_is_unchanged(station, election, deck, feed, expect):
    paths, store, sconn = station
    out, expected = deck
    good = [_file(out, s) for s in expected["sheets"] if s["kind"] == "ballot" and s["accepted"]][:2]
    kind, _, what = feed.partition(":")
    interpreter = None
    if kind == "deck":
        scanner = SimulatedScanner([sheet_bytes(deck, what)])
    elif kind == "preset":
        scanner = SimulatedScanner([p.read_bytes() for p in good], preset=what, fault_at=0)
    else:
        scanner = SimulatedScanner([good[0].read_bytes()])

        def interpreter(image, election):
            raise ValueError("boom")
    d = daemon(scanner, store, sconn, election)
    if interpreter is not None:
        d.interpreter = interpreter
    step = d.step()
    assert step.outcome in ("rejected", "scanner")
    assert step.reason.startswith(expect)
    assert step.message_ky and step.message_ru and step.message_ky != step.message_ru
    assert store.tally("real").is_zero() and store.sheet_count("real") == 0


def test_after_a_disconnect_mid_sheet_the_sheet_is_fed_again_and_counted_once(station, election, deck):
    paths, store, sconn = station
    out, expected = deck
    good = [_file(out, s) for s in expected["sheets"] if s["kind"] == "ballot" and s["accepted"]][:3]
    scanner = SimulatedScanner([p.read_bytes() for p in good], preset="disconnect-mid-sheet",
                               fault_at=1, down_calls=3)
    d = daemon(scanner, store, sconn, election)
    d.run(until_empty=True)
    readings = [interpret_file(p, election) for p in good]
    assert store.tally("real") == fold(election, [r for r in readings if r.accepted])
    assert d.summary.counted == sum(r.accepted for r in readings)


@pytest.mark.parametrize("state", ["provisioned", "zero-report-printed", "paused", "closed"])
def test_no_scanning_unless_polls_open_or_test_mode(tmp_path, manifest, election, deck, state):
    paths = make_home(tmp_path / "st", manifest, state="open" if state == "paused" else state)
    sconn = open_station_db(paths.station_db)
    if state == "paused":
        polls.apply(sconn, "pause")
    store = CountStore.open(paths.count_db, election)
    out, expected = deck
    scanner = SimulatedScanner([_file(out, expected["sheets"][0]).read_bytes()])
    step = daemon(scanner, store, sconn, election).step()
    assert step.outcome == "idle" and scanner.fed == 0
    assert store.sheet_count("real") == store.sheet_count("test") == 0
    store.close()
    sconn.close()


def test_test_mode_counts_apart_and_zero_report_still_possible(tmp_path, manifest, election, deck):

    paths = make_home(tmp_path / "st", manifest, state="test-mode")
    sconn = open_station_db(paths.station_db)
    store = CountStore.open(paths.count_db, election)
    out, expected = deck
    files = [_file(out, s) for s in expected["sheets"] if s["kind"] == "ballot" and s["accepted"]][:6]
    d = daemon(SimulatedScanner(p.read_bytes() for p in files), store, sconn, election)
    d.run(until_empty=True)
    assert store.sheet_count("test") == d.summary.counted > 0
    assert store.tally("real").is_zero() and store.sheet_count("real") == 0
    rep = print_zero_report(store, sconn, election, out_dir=tmp_path / "out", clock=FixedClock())
    assert rep.counters_zero and rep.printed and polls.current(sconn) == PollsState.ZERO_REPORT
    store.close()
    sconn.close()


class CrashingBox(FolderBallotBox):
    """The process dies right after the commit, before the box is told to accept."""

    crash = True

    def accept(self):
        if CrashingBox.crash:
            CrashingBox.crash = False
            raise KeyboardInterrupt("killed between commit and accept")
        super().accept()


def test_crash_between_commit_and_accept_never_counts_twice(tmp_path, manifest, election, deck):
    out, expected = deck
    files = [_file(out, s) for s in expected["sheets"]][:8]
    runs = {}
    for name in ("uninterrupted", "crashed"):
        paths = make_home(tmp_path / name, manifest, state="open")
        feeder = tmp_path / name / "in"
        feeder.mkdir()
        for p in files:
            shutil.copy(p, feeder / p.name)
        sconn = open_station_db(paths.station_db)
        store = CountStore.open(paths.count_db, election)
        if name == "crashed":
            CrashingBox.crash = True
            with pytest.raises(KeyboardInterrupt):
                daemon(CrashingBox(feeder), store, sconn, election).run(until_empty=True)
            assert store.pending() is not None and store.sheet_count() == 1
            store.close()
            store = CountStore.open(paths.count_db, election)     # the restarted process
        d = daemon(FolderBallotBox(feeder), store, sconn, election)
        d.run(until_empty=True)
        if name == "crashed":
            assert d.summary.resumed == 1
        runs[name] = (store.tally("real"), store.sheet_count(),
                      len(list((feeder / "box").iterdir())), len(list((feeder / "returned").iterdir())))
        assert not list(feeder.glob("sheet-*")) and store.pending() is None
        store.close()
        sconn.close()
    assert runs["crashed"] == runs["uninterrupted"]
    tally, n, in_box, returned = runs["crashed"]
    assert n == in_box and in_box + returned == len(files)


def test_pending_marker_cleared_by_a_different_sheet(station, election):
    paths, store, sconn = station
    img = np.full((10, 10), 255, np.uint8)
    store.conn.execute("INSERT INTO pending_accept(id, digest) VALUES (1, ?)", ("0" * 64,))
    assert image_digest(img) != "0" * 64
    d = daemon(SimulatedScanner([img]), store, sconn, election)
    step = d.step()
    assert step.outcome == "rejected" and store.pending() is None


def test_full_disk_takes_no_sheet_until_there_is_room(station, election, deck):

    paths, store, sconn = station
    out, expected = deck
    good = [_file(out, s) for s in expected["sheets"] if s["kind"] == "ballot" and s["accepted"]][:1]
    scanner = SimulatedScanner([p.read_bytes() for p in good])
    d = daemon(scanner, store, sconn, election, state_dir=paths.state_dir,
               disk_policy=DiskPolicy(warn_mb=10**9, floor_mb=10**9))
    step = d.step()
    assert step.outcome == "disk" and scanner.fed == 0 and store.sheet_count() == 0
    d.disk_policy = DiskPolicy()
    assert d.step().outcome == "counted" and store.sheet_count() == 1


def test_clock_jump_backwards_is_reported_and_times_never_go_back(station, election, deck, caplog):


    paths, store, sconn = station
    wall = FixedClock("2026-11-29T09:00:00+00:00")
    clock = SaneClock(wall)
    out, expected = deck
    good = [_file(out, s) for s in expected["sheets"] if s["kind"] == "ballot" and s["accepted"]][:2]
    d = CountDaemon(SimulatedScanner([p.read_bytes() for p in good]), store, sconn, election, None,
                    clock, LOG, sleep=lambda s: None, feed_s=0.0)
    d.start()
    wall.set(wall.now() - dt.timedelta(hours=3))           # NTP moves the clock back
    with caplog.at_level(logging.WARNING, logger="test.count"):
        d.run(until_empty=True)
    assert any("jumped backwards" in r.getMessage() for r in caplog.records)
    times = [r[0] for r in store.conn.execute("SELECT at FROM audit_log ORDER BY seq")]
    assert times == sorted(times) and store.sheet_count() >= 1


def test_lna_deck_in_test_mode_matches_its_truth(tmp_path, manifest, election, deck):

    paths = make_home(tmp_path / "st", manifest, state="test-mode")
    sconn = open_station_db(paths.station_db)
    store = CountStore.open(paths.count_db, election)
    out, expected = deck
    files = sorted(p for p in out.iterdir() if p.name.startswith("sheet-"))
    daemon(SimulatedScanner(p.read_bytes() for p in files), store, sconn, election).run(until_empty=True)
    assert compare_with_expected(store.tally("test"), expected["tally"]) == []
    assert store.tally("real").is_zero()
    # A sheet too many or too few shows up line by line.
    store.record_sheet(reading("district-07", choice="c-02"), mode="test")
    diff = compare_with_expected(store.tally("test"), expected["tally"])
    assert any(d.startswith("district-07/ballots_read") for d in diff)
    assert any(d.startswith("district-07/vote:c-02") for d in diff)
    store.close()
    sconn.close()
