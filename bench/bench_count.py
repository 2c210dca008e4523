"""Benchmark of the count role: a sheet end to end through the daemon, and its parts.

Figures printed (median and p95 ms per sheet):

- ``commit``: one sheet's transaction alone (tally increments + sheet record +
  pending-accept marker; WAL, synchronous=FULL) on count.db;
- ``daemon (memory feeder)``: a generated 200 dpi deck through
  ``CountDaemon.step`` — interpretation, commit, accept — with the product
  scanner simulator feeding decoded images;
- ``daemon (ballot box folder)``: the same through the simulated ballot box
  (image files decoded, moved to box/ with a directory fsync after the commit);
- protocol build + sign, receipt and A4 rendering, once.

Usage::

    .venv/bin/python bench/bench_count.py            # 120-sheet deck
    .venv/bin/python bench/bench_count.py --quick    # 30 sheets
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from countkit import make_home, reading  # noqa: E402
from sample_manifest import sample_manifest  # noqa: E402

from base.clock import FixedClock  # noqa: E402
from count.daemon import CountDaemon  # noqa: E402
from count.paper import protocol_document, save_a4, save_receipt  # noqa: E402
from count.protocol import device_outbox, sign_protocol  # noqa: E402
from count.store import CountStore  # noqa: E402
from drivers.scanner.ballot_box import FolderBallotBox  # noqa: E402
from drivers.scanner.simulator import SimulatedScanner  # noqa: E402
from simulation.deck import write_deck  # noqa: E402
from station import polls  # noqa: E402
from station.db import open_station_db  # noqa: E402
from station.election import Election  # noqa: E402


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def line(name: str, xs: list[float]) -> None:
    ms = [x * 1000 for x in xs]
    print(f"{name:<34} n={len(ms):<5} median {statistics.median(ms):7.2f} ms   p95 {pct(ms, 95):7.2f} ms")


def timed_daemon(d: CountDaemon, n_max: int) -> tuple[list[float], dict]:
    times, outcomes = [], {}
    for _ in range(n_max * 3):
        t = time.perf_counter()
        step = d.step()
        dt = time.perf_counter() - t
        if step.outcome == "empty":
            break
        outcomes[step.outcome] = outcomes.get(step.outcome, 0) + 1
        if step.outcome in ("counted", "rejected"):
            times.append(dt)
    return times, outcomes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="30 sheets instead of 120")
    ap.add_argument("--sheets", type=int, default=None)
    ap.add_argument("--dpi", type=int, default=200)
    a = ap.parse_args()
    n = a.sheets or (30 if a.quick else 120)
    manifest = sample_manifest(7)
    election = Election.from_manifest(manifest)
    log = logging.getLogger("bench.count")
    log.addHandler(logging.NullHandler())
    log.propagate = False
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"count benchmark: {n}-sheet deck at {a.dpi} dpi (sample election: 7 candidates, 12 party lists)")
        t = time.perf_counter()
        write_deck(election, tmp / "deck", sheets=n, dpi=a.dpi, seed=5)
        print(f"deck generated in {time.perf_counter() - t:.1f} s")
        files = sorted((tmp / "deck").glob("sheet-*"))

        # 1. the transaction alone
        paths = make_home(tmp / "commit", manifest, state="open")
        store = CountStore.open(paths.count_db, election)
        rs = [reading("district-07", choice="c-01"), reading("party-list", choice="p-02", preference=3),
              reading("party-list", "invalid", reason="overvote")]
        commit = []
        for i in range(max(200, n)):
            t = time.perf_counter()
            store.record_sheet(rs[i % 3], mode="real", pending_digest=f"{i:064x}")
            store.clear_pending()
            commit.append(time.perf_counter() - t)
        line("commit (1 sheet transaction)", commit)
        store.close()

        # 2. daemon, memory feeder
        paths = make_home(tmp / "mem", manifest, state="open")
        store = CountStore.open(paths.count_db, election)
        sconn = open_station_db(paths.station_db)
        d = CountDaemon(SimulatedScanner(p.read_bytes() for p in files), store, sconn, election, None,
                        FixedClock(), log, sleep=lambda s: None, feed_s=0.0)
        times, outcomes = timed_daemon(d, n)
        line("daemon step (memory feeder)", times)
        print(f"{'':<34} outcomes {outcomes}; counted {store.sheet_count('real')}")
        store.close()
        sconn.close()

        # 3. daemon, ballot box over a folder
        paths = make_home(tmp / "box", manifest, state="open")
        feeder = tmp / "box" / "feeder"
        feeder.mkdir()
        for p in files:
            shutil.copy(p, feeder / p.name)
        store = CountStore.open(paths.count_db, election)
        sconn = open_station_db(paths.station_db)
        d = CountDaemon(FolderBallotBox(feeder), store, sconn, election, None, FixedClock(), log,
                        sleep=lambda s: None, feed_s=0.0)
        times, outcomes = timed_daemon(d, n)
        line("daemon step (ballot box folder)", times)
        print(f"{'':<34} throughput {len(times) / sum(times):.1f} sheets/s"
              f" (a Pi 4 ballot box takes a sheet every ~2 s)")

        # 4. close, protocol, paper
        clock = FixedClock("2026-11-29T14:00:00+00:00")
        polls.apply(sconn, "close", clock=clock)
        t = time.perf_counter()
        key, outbox = device_outbox(paths, store.conn, election, clock=clock)
        sp = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                           voters_identified=n, clock=clock)
        print(f"{'protocol build + sign + enqueue':<34} {1000 * (time.perf_counter() - t):7.1f} ms"
              f"   ({len(str(sp.body))} chars, sha256 {sp.hash[:16]}…)")
        doc = protocol_document(election, sp.body, sp.hash)
        t = time.perf_counter()
        save_receipt(doc, tmp / "p.png")
        t1 = time.perf_counter()
        save_a4(doc, tmp / "p-a4")
        t2 = time.perf_counter()
        print(f"{'protocol receipt / A4 rendering':<34} {1000 * (t1 - t):7.1f} ms / {1000 * (t2 - t1):.1f} ms")
        store.close()
        sconn.close()


if __name__ == "__main__":
    main()
