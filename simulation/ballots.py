"""Voters marking their ballots, for the simulated election day.

A voter's choice is drawn with the weights of a plausible day (most votes
valid; a few blank, spoiled, or against all) and drawn on the printed ballot
with the pen the voter happened to use (simulation/deck.py ``PENS``: ballpoint,
gel, felt tip, pencil, some pale); a few voters do what voters do
(``DAY_KINDS``): circle a box instead of marking in it, rub a mark out and mark
another box, leave a hesitation dot, begin a tick outside the box, stain the
sheet; the sheet gets a scanner's ordinary degradation, a few a little
perspective or lamp fall-off. Sheets the reader returns are counted as
returned to the voter by the count role. Built on the test deck's planner and
renderer (simulation/deck.py), so the demo's sheets are read by exactly the
code that reads the L&A deck.
"""

from __future__ import annotations

import random

from count.ballots import layout
from simulation import deck
from station.election import Election

PALE_PEN = 0.2       # share of marks drawn from every pen's whole range (the others: clear pens)
# Share of a day's ballots with each kind of mark and scan (simulation/deck.py _MIX keys).
DAY_KINDS = {"circle": 0.01, "straddle": 0.005, "erasure": 0.02, "hesitation": 0.03, "stain": 0.01,
             "tick-out": 0.05, "perspective": 0.10, "perspective_mm": 2.5, "light": 0.15,
             "light_strong": 0.0, "light_band": 0.0, "skew6": 0.0, "low_jpeg": 0.0}

# How a day's ballots look (per contest kind): mostly valid, some of each invalid kind.
CANDIDATE_CASES = {"valid": 90, "against-all": 4, "blank": 3, "overvote-2": 2, "withdrawn-candidate": 1}
PARTY_CASES = {"party-only": 38, "party+number": 52, "against-all": 3, "blank": 2, "party+2-numbers": 2,
               "number-without-party": 1, "two-parties": 1, "party+withdrawn-number": 1}


def demo_ballot(election: Election, contest_id: str, seed: int, dpi: int = 150) -> tuple[bytes, str]:
    """(encoded image, file name) of one voter's marked ballot for ``contest_id``."""
    rng = random.Random(seed)
    contest = election.contest(contest_id)
    style = election.style_for_contest(contest_id).id
    cases = CANDIDATE_CASES if contest.kind == "candidate" else PARTY_CASES
    valid_cases = [c for c in cases if c in deck._cases(contest)]
    case = rng.choices(valid_cases, weights=[cases[c] for c in valid_cases])[0]
    marks = {b: rng.choice(deck.MARK_SHAPES[:3]) for b in deck._marked_boxes(contest, case, rng)}
    pens = {b: deck._pen(rng, "bench" if rng.random() < PALE_PEN else "lna") for b in marks}
    deg = deck._degradation(rng, dpi)
    deg.update(stray_marks=0, streaks=0, upside_down=rng.random() < 0.1)
    geo = layout.sheet_geometry(election, style)
    others: list[dict] = []
    deck._plan_kinds(geo, marks, pens, others, deg, rng, DAY_KINDS, "bench", None)
    plan = deck.SheetPlan(0, "ballot", style, case, marks,
                          deck._expected(contest, geo, marks, pens, others, deg),
                          deg, rng.getrandbits(32), pens, tuple(others))
    ext = "png" if deg.get("format") == "png" else "jpg"
    return deck.render_plan(plan, election), f"{contest_id}.{ext}"
