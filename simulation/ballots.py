"""Voters marking their ballots, for the simulated election day.

A voter's choice is drawn with the weights of a plausible day (most votes
valid; a few blank, spoiled, or against all) and drawn on the printed ballot
with a pen-like mark; the sheet gets a scanner's ordinary degradation. Built
on the test deck's planner and renderer (simulation/deck.py), so the
demo's sheets are read by exactly the code that reads the L&A deck.
"""

from __future__ import annotations

import random

from count.ballots.rules import outcome_from_boxes
from simulation import deck
from station.election import Election

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
    deg = deck._degradation(rng, dpi)
    deg.update(stray_marks=0, streaks=0, upside_down=rng.random() < 0.1)
    outcome = outcome_from_boxes(contest, set(marks))
    plan = deck.SheetPlan(0, "ballot", style, case, marks,
                          {"accepted": True, "reason": None, "outcomes": [deck._truth_json(outcome)]},
                          deg, rng.getrandbits(32))
    ext = "png" if deg.get("format") == "png" else "jpg"
    return deck.render_plan(plan, election), f"{contest_id}.{ext}"
