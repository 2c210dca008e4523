"""Benchmark of ballot reading on a degraded test deck with known truth.

Generates a deck (simulation/deck.py: every validity rule, realistic
degradation, the bad sheets) at one resolution, writes it to a temporary
directory (generation runs in worker processes), then reads every sheet in
this process, one at a time, and prints:

- median and p95 milliseconds per sheet for ``interpret_sheet`` (decoding the
  file is timed apart);
- accuracy per mark box (marked / not marked, on sheets that were read) and
  per ballot outcome (accepted sheets whose verdict equals the truth);
- wrong outcomes among accepted sheets (the aim is 0);
- sheets returned as marginal-needs-review, and the marginal rate on truly
  blank boxes (the aim is < 0.5 %);
- bad sheets rejected with the expected reason.

    .venv/bin/python bench/bench_ballots.py                    # 2,000 sheets at 200 dpi
    .venv/bin/python bench/bench_ballots.py --sheets 300 --dpi 150 --seed 5
    .venv/bin/python bench/bench_ballots.py --sheets 1000 --dpi 0           # mixed 150-300 dpi
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from count.ballots.interpret import (  # noqa: E402
    FILL_BLANK_MAX,
    FILL_MARK_MIN,
    decode_image,
    interpret_sheet,
)
from count.ballots.rules import box_ids  # noqa: E402
from simulation import deck as deckmod  # noqa: E402
from simulation.election import demo_manifest  # noqa: E402
from station.election import Election  # noqa: E402


def bench_election() -> Election:
    return Election.from_manifest(demo_manifest(1))


_E: Election | None = None


def _init() -> None:
    global _E
    _E = bench_election()


def _render(args) -> tuple[int, str]:
    plan, out = args
    (Path(out) / plan.name).write_bytes(deckmod.render_plan(plan, _E))
    return plan.index, plan.name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sheets", type=int, default=2000)
    ap.add_argument("--dpi", type=int, default=200, help="Scan resolution; 0 for a 150-300 mix.")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--hesitation", type=float, default=0.04,
                    help="Share of ballots with a hesitation dot (exercises the marginal policy).")
    ap.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    ap.add_argument("--keep", type=Path, default=None, help="Write the deck here and keep it.")
    a = ap.parse_args()

    election = bench_election()
    plans = deckmod.plan_deck(election, a.sheets, a.seed, a.dpi or None, hesitation=a.hesitation)
    tmp = tempfile.TemporaryDirectory(prefix="uchastok-bench-deck-")
    out = a.keep or Path(tmp.name)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with mp.Pool(a.workers, initializer=_init) as pool:
        for _ in pool.imap_unordered(_render, [(p, str(out)) for p in plans], chunksize=8):
            pass
    gen_s = time.perf_counter() - t0
    print(f"election {election.id}, station {election.station.id}; {a.sheets} sheets at"
          f" {a.dpi or '150-300'} dpi,"
          f" seed {a.seed}; generated in {gen_s:.1f} s with {a.workers} workers")

    interp_ms, decode_ms = [], []
    box_total = box_right = 0
    blank_boxes = blank_marginal = 0
    accepted = wrong = correct = 0
    returned = collections.Counter()
    bad_ok = bad_total = 0
    bad_wrong: list[str] = []
    wrong_cases: list[str] = []
    hesitation = [0, 0]                  # sheets with a hesitation dot, of them returned
    hes_fills: list[float] = []
    marked_fills: list[float] = []
    blank_fills: list[float] = []
    for plan in plans:
        data = (out / plan.name).read_bytes()
        t = time.perf_counter()
        img = decode_image(data)
        decode_ms.append((time.perf_counter() - t) * 1000)
        if isinstance(img, str):
            reason, reading = img, None
        else:
            t = time.perf_counter()
            reading = interpret_sheet(img, election)
            interp_ms.append((time.perf_counter() - t) * 1000)
            reason = reading.reason
        exp = plan.expected
        if not exp["accepted"]:
            bad_total += 1
            if reason == exp["reason"]:
                bad_ok += 1
            else:
                bad_wrong.append(f"{plan.name} {plan.kind}: expected {exp['reason']}, got {reason}")
            continue
        if reading is None or not reading.boxes:
            returned[reason] += 1
            continue
        contest = election.contest(exp["outcomes"][0]["contest"])
        for b in box_ids(contest):
            fill = reading.boxes[b]
            truly = b in plan.marks
            if b == plan.degradation.get("hesitation"):
                continue
            box_total += 1
            box_right += (fill >= FILL_MARK_MIN) == truly
            (marked_fills if truly else blank_fills).append(fill)
            if not truly:
                blank_boxes += 1
                blank_marginal += FILL_BLANK_MAX <= fill < FILL_MARK_MIN
        hes = plan.degradation.get("hesitation")
        hesitation[0] += bool(hes)
        if hes:
            hes_fills.append(reading.boxes[hes])
        if not reading.accepted:
            returned[reading.reason] += 1
            hesitation[1] += bool(hes)
            continue
        accepted += 1
        got = [o.to_json() for o in reading.outcomes]
        for g in got:
            g.pop("marginal")
        if got == exp["outcomes"]:
            correct += 1
        else:
            wrong += 1
            wrong_cases.append(f"{plan.name} {plan.case}: expected {exp['outcomes']}, got {got}")

    ballots = sum(1 for p in plans if p.expected["accepted"])
    print(f"interpret_sheet ms/sheet: median {statistics.median(interp_ms):.1f},"
          f" p95 {np.percentile(interp_ms, 95):.1f}, max {max(interp_ms):.1f}"
          f"  (decode: median {statistics.median(decode_ms):.1f})")
    print(f"mark boxes: {box_right}/{box_total} right ({100 * box_right / max(1, box_total):.3f} %)")
    print(f"ballots: {ballots}; accepted {accepted}; outcome right {correct}"
          f" ({100 * correct / max(1, accepted):.3f} % of accepted); WRONG OUTCOMES {wrong}")
    print(f"returned to the voter: {sum(returned.values())} {dict(returned)}")
    print(f"fill of marked boxes: min {min(marked_fills):.3f}, 1st percentile"
          f" {np.percentile(marked_fills, 1):.3f}; of blank boxes: max {max(blank_fills):.3f},"
          f" 99.9th percentile {np.percentile(blank_fills, 99.9):.3f}"
          f" (thresholds {FILL_BLANK_MAX} / {FILL_MARK_MIN})")
    print(f"marginal on truly blank boxes: {blank_marginal}/{blank_boxes}"
          f" ({100 * blank_marginal / max(1, blank_boxes):.3f} %)")
    if hesitation[0]:
        print(f"hesitation dots (not votes): {hesitation[0]} sheets, {hesitation[1]} returned for"
              f" review, fill median {statistics.median(hes_fills):.3f} max {max(hes_fills):.3f}")
    print(f"bad sheets rejected with the expected reason: {bad_ok}/{bad_total}")
    for line in (wrong_cases + bad_wrong)[:20]:
        print("  ", line)
    tmp.cleanup()


if __name__ == "__main__":
    main()
