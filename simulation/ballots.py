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

``mark_printed`` is the voter's pen on a sheet the remote-voting site's printer
put out (simulation/remote_day.py): the same choice of boxes, crosses drawn on
the printer's page, the page then scanned at the scanner's resolution.
"""

from __future__ import annotations

import io
import os
import random

from PIL import Image, ImageDraw

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


def _choose(election: Election, contest_id: str, rng: random.Random) -> list[str]:
    """The boxes one voter marks in ``contest_id`` (a day's mix of valid and invalid choices)."""
    contest = election.contest(contest_id)
    cases = CANDIDATE_CASES if contest.kind == "candidate" else PARTY_CASES
    valid_cases = [c for c in cases if c in deck._cases(contest)]
    case = rng.choices(valid_cases, weights=[cases[c] for c in valid_cases])[0]
    return deck._marked_boxes(contest, case, rng)


def mark_printed(png: str | os.PathLike, election: Election, style: str, seed: int, *,
                 scan_dpi: int = 150) -> bytes:
    """A voter's crosses on a page the on-demand printer put out, scanned at ``scan_dpi`` (PNG bytes)."""
    rng = random.Random(seed)
    geo = layout.sheet_geometry(election, style)
    page = Image.open(png).convert("L")
    k = page.width / 210.0                             # pixels per mm on the A4 page
    draw = ImageDraw.Draw(page)
    ink = rng.randint(10, 90)                          # a dark ballpoint to a worn one
    width = max(2, round(rng.uniform(0.4, 0.8) * k))
    for contest in geo.contests:
        for b in _choose(election, contest, rng):
            box = geo.boxes[b]
            jitter = [rng.uniform(-0.08, 0.08) * box.w for _ in range(4)]
            x0, y0 = (box.x + box.w * 0.2 + jitter[0]) * k, (box.y + box.h * 0.2 + jitter[1]) * k
            x1, y1 = (box.x + box.w * 0.8 + jitter[2]) * k, (box.y + box.h * 0.8 + jitter[3]) * k
            draw.line([x0, y0, x1, y1], fill=ink, width=width)
            draw.line([x0, y1, x1, y0], fill=ink, width=width)
    scale = scan_dpi * 210.0 / 25.4 / page.width
    scanned = page.resize((round(page.width * scale), round(page.height * scale)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    scanned.save(out, format="PNG", dpi=(scan_dpi, scan_dpi))
    return out.getvalue()
