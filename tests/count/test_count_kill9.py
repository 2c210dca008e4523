"""Reliability: ``kill -9`` of ``uchastok count run`` at random moments, then restart.

The feeder is the simulated ballot box (drivers/scanner/ballot_box.py): a
sheet leaves the feeder folder only when the daemon accepts or returns it,
after its transaction committed, so a killed run leaves the sheet in flight to
be fed again. Whatever the moments of the kills: no sheet lost (every file
ends in box/ or returned/), none counted twice (sheets in count.db == files
in box/), and the tally and the protocol equal an uninterrupted run's.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from countkit import make_home

from base.clock import FixedClock
from count.daemon import CountDaemon
from count.protocol_body import build_protocol
from count.store import CountStore
from drivers.scanner.ballot_box import FolderBallotBox
from simulation.deck import write_deck
from station.db import open_station_db
from station.events import verify_chain

CLOSED_AT = "2026-11-29T14:00:00Z"
REPO = Path(__file__).resolve().parents[2]


def _feeder(root, deck):
    out, expected = deck
    feeder = root / "feeder"
    feeder.mkdir(parents=True)
    for s in expected["sheets"]:
        shutil.copy(out / s["file"], feeder / s["file"])
    return feeder, len(expected["sheets"])


def _uninterrupted(tmp_path, manifest, election, deck):
    paths = make_home(tmp_path / "ref", manifest, state="open")
    feeder, _ = _feeder(tmp_path / "ref", deck)
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    CountDaemon(FolderBallotBox(feeder), store, sconn, election, None, FixedClock(),
                logging.getLogger("test"), sleep=lambda s: None, feed_s=0.0).run(until_empty=True)
    tally = store.tally("real")
    store.close()
    sconn.close()
    return tally


def _run(home, feeder):
    cmd = [sys.executable, "-c", "from cli import main; main()", "count", "run",
           "--home", str(home), "--scanner", f"sim:{feeder}", "--until-empty"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))


def _kill_and_restart(tmp_path, manifest, election, deck, kills: int, seed: int):
    rng = random.Random(seed)
    home = tmp_path / "killed"
    paths = make_home(home, manifest, state="open")
    feeder, n = _feeder(home, deck)
    killed, progress = 0, []
    for _ in range(kills):
        proc = _run(home, feeder)
        # Start-up (imports, package verification) takes ~1 s; a sheet ~40 ms after that.
        time.sleep(rng.uniform(0.8, 2.4))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            killed += 1
        proc.wait()
        progress.append(len(list(feeder.glob("sheet-*"))))   # sheets still waiting after each kill
    proc = _run(home, feeder)
    assert proc.wait(timeout=240) == 0
    store = CountStore.open(paths.count_db, election)
    in_box = len(list((feeder / "box").iterdir()))
    returned = len(list((feeder / "returned").iterdir()))
    result = dict(tally=store.tally("real"), sheets=store.sheet_count("real"), in_box=in_box,
                  returned=returned, left=list(feeder.glob("sheet-*")), pending=store.pending(),
                  chain=verify_chain(store.conn).ok, recount=store.recount("real"), killed=killed, n=n,
                  progress=progress)
    store.close()
    return result


def _check(r, reference, election):
    print(f"kills: {r['killed']}, sheets waiting after each: {r['progress']} of {r['n']}")
    assert r["left"] == [] and r["pending"] is None
    assert r["in_box"] + r["returned"] == r["n"]               # no sheet lost
    assert r["sheets"] == r["in_box"]                           # none counted twice
    assert r["tally"] == reference and r["recount"] == reference
    assert r["chain"]
    assert build_protocol(election, r["tally"], 500, 400, CLOSED_AT) == \
        build_protocol(election, reference, 500, 400, CLOSED_AT)


def test_kill9_during_count_then_restart(tmp_path, manifest, election, deck):
    reference = _uninterrupted(tmp_path, manifest, election, deck)
    r = _kill_and_restart(tmp_path, manifest, election, deck, kills=5, seed=int(time.time()))
    _check(r, reference, election)


@pytest.fixture(scope="module")
def big_deck(tmp_path_factory, election):
    out = tmp_path_factory.mktemp("bigdeck")
    write_deck(election, out, sheets=200, dpi=150, seed=12)
    return out, json.loads((out / "expected.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_kill9_many_times(tmp_path, manifest, election, big_deck, seed):
    reference = _uninterrupted(tmp_path, manifest, election, big_deck)
    r = _kill_and_restart(tmp_path, manifest, election, big_deck, kills=10, seed=seed)
    _check(r, reference, election)
