"""Test decks: marked, degraded ballot images with known truth (the L&A deck and the benchmark deck).

``plan_deck(election, sheets, seed, dpi=None, mix="lna")`` decides, deterministically
from the seed, what every sheet is: which rule of DOMAIN.md "Ballots and contests" it
exercises (every rule appears in the first pass: valid, blank, overvote, against all,
withdrawn candidate; party only, party + number, party + withdrawn or beyond-list
number, party + several numbers, number without party, several parties), then one
sheet of each kind of mark that is not a plain mark in a square (a circle around the
box, a mark straddling two boxes, an erasure, a hesitation dot, a stain, a tick that
starts outside the box) and of each new degradation (perspective, badly uneven light),
then a realistic mix. Which pens draw the marks and how the scan is degraded is
decided per sheet.

Pens (``PENS``), drawn as strokes with a width, a darkness (the ink's darkness against
the paper in a grey scan, before the scanner's blur) that varies with pressure along
the stroke, skips of a ballpoint, the grain of a pencil, the soft edge of a felt tip:
blue and black ballpoint 0.30-0.50 mm, gel 0.45-0.70 mm, felt tip 0.8-1.5 mm, pencil
0.45-0.80 mm. Mark shapes (``MARK_SHAPES``): filled (hatched with a ballpoint or
pencil, solid with a felt tip), cross, tick, a tick that starts outside the box,
slash, dot, partial fill. The strokes are synthetic: no licensed set of real pen
strokes was at hand (docs/ballots.md "Test deck").

Marks that are not votes, or not in a square (``OTHER_KINDS``): a circle drawn
around the box instead of a mark in it; a mark straddling two neighbouring boxes; an
erasure (a grey cross, tick or slash 35-45 % dark, with the eraser's smudge); a
hesitation dot (0.8-1.6 mm); a stain over empty boxes (a coffee ring).

The truth of every sheet is written from the rules table of docs/ballots.md "The
voter's intent" (``mark_category``): a mark in a square is a vote (``vote``; a pale
pen near the threshold is ``faint``: a vote that the reader may return for review);
a hesitation dot or a pale stain is nothing (``noise``); an erasure or a dark stain is
``doubtful``; a circle or a straddling mark is ``outside``; a stain between pale and
dark is ``either``. Expected: the outcome with votes (and faint marks) marked, returned
(``marginal-needs-review`` or, where an outside mark could change the verdict,
``mark-outside-box``) when treating doubtful or outside boxes as marked could change
it (count/ballots/rules.py ``review``). Each sheet also records ``intent`` (the verdict
by the voter's intent), ``must_return`` (an outside mark could change it: accepting the
sheet would be a wrong outcome), ``may_return`` (a doubtful, faint or outside mark
could change it) and ``clear`` (nothing could: a return is a clear sheet returned).

Degradation, per sheet: 150-300 dpi, skew up to ±3° (±6° on some), shift up to ±4 mm,
scale 0.97-1.03, perspective and shear (corners moved up to 3-4.5 mm), paper and
scanner-backing tone, Gaussian blur, sensor noise, JPEG artefacts (quality 55-95; 15-40
on a few benchmark sheets), stray pen strokes at least 8 mm from every box, folds,
paper that does not lie flat (a smooth local displacement up to 0.8 mm), lamp fall-off
across the page (up to 28 %, along x, along y or towards the corners; 40-50 % on a few
sheets, which must be returned as ``uneven-light``), vertical scanner streaks,
upside-down feeds.

``mix``: ``"lna"`` (default; ``write_deck``, ``count test-deck``) draws only marks whose
truth is definite, so every sheet reads to exactly its expected result and the tally of
a test-mode run equals ``tally``; ``"bench"`` adds the pale pens, stains and light
fall-off near the thresholds, lower JPEG quality and more of every kind of mark.

Bad sheets (each expected to be rejected with its reason): blank paper, a photo of
something else, a sheet of another station, a torn sheet with a missing fiducial, two
sheets stuck together, a truncated image file.

``write_deck(election, out_dir, sheets=100, dpi=None, seed=0)`` writes the images and
``expected.json`` (per sheet: accepted or rejection reason, outcomes, marks; and the
expected tally of the accepted sheets). The scan canvas is 220 × 307 mm: a sheet-fed
scanner's image is a little wider and longer than the paper.

Example::

    for sheet in generate_deck(election, 100, seed=1, dpi=200):
        reading = interpret_file_bytes(sheet.data)     # compare with sheet.plan.expected
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from count.ballots import layout
from count.ballots.reading import AGAINST_ALL, box_id
from count.ballots.rules import outcome_from_boxes, review
from station.election import Contest, Election

CANVAS_W, CANVAS_H = 220.0, 307.0
PRINT_DPI = 300                 # ballots are printed from the 300-dpi print file
MARK_SHAPES = ("filled", "cross", "tick", "dot", "partial", "slash", "tick-out")
OTHER_KINDS = ("circle", "straddle", "erasure", "hesitation", "stain")
BAD_SHEETS = ("blank-paper", "photo", "other-station", "torn", "double-feed", "truncated-file")
EXPECTED_REJECTION = {
    "blank-paper": "blank-paper", "photo": "unreadable", "other-station": "wrong-station",
    "torn": "missing-fiducial", "double-feed": "double-feed", "truncated-file": "truncated-image",
}

# Pens voters use: stroke width (mm) and darkness (share of the paper's light the ink
# absorbs in a grey scan) ranges; the benchmark mix draws from the whole range, the L&A
# mix from ``dark_lna`` (clear of the reader's review band, docs/ballots.md).
PENS = {
    "ballpoint-blue": {"width": (0.30, 0.50), "dark": (0.52, 0.85), "dark_lna": (0.62, 0.85)},
    "ballpoint-black": {"width": (0.30, 0.50), "dark": (0.68, 0.90), "dark_lna": (0.70, 0.90)},
    "gel": {"width": (0.45, 0.70), "dark": (0.78, 0.95), "dark_lna": (0.80, 0.95)},
    "felt-tip": {"width": (0.80, 1.50), "dark": (0.70, 0.92), "dark_lna": (0.72, 0.92)},
    "pencil": {"width": (0.45, 0.80), "dark": (0.45, 0.72), "dark_lna": (0.58, 0.72)},
}
PEN_WEIGHTS = {"ballpoint-blue": 45, "ballpoint-black": 25, "gel": 12, "felt-tip": 8, "pencil": 10}
FAINT_BELOW = {"ballpoint-blue": 0.60, "pencil": 0.56}   # darker: a clear mark; lighter: faint
THIN_ERASURE_INK = 0.225       # ink per mm of line (darkness × width) of a 0.5 mm line 45 % dark
BLURRED_PX = 0.8               # scanner blur (σ in 200-dpi pixels, 0.1 mm) that hides a line's darkness
LNA_INK = 0.30                 # L&A decks: ink per mm of line at least this
ERASURE_DARK = (0.35, 0.45)
HESITATION_MM = (0.8, 1.6)
STAIN_NOISE_MAX, STAIN_DOUBTFUL_MIN = 0.22, 0.32        # rim darkness: nothing / either / doubtful
LIGHT_READ_MAX, LIGHT_RETURN_MIN = 0.28, 0.40           # lamp fall-off: read / either / returned


def mark_category(kind: str, params: dict, deg: dict | None = None) -> str:
    """The rules table of docs/ballots.md "The voter's intent": what a drawn mark is.

    A vote in a square is ``faint`` when its pen is pale, or when its line carries no
    more ink per mm (darkness × width) than the darkest thin erasure (``THIN_ERASURE_INK``)
    and the scan is too blurred or coarse to tell them apart by darkness (``deg``).
    """
    if kind in MARK_SHAPES:
        if params["dark"] < FAINT_BELOW.get(params["pen"], 0.0):
            return "faint"
        coarse = deg is not None and (deg.get("blur_px", 0) >= BLURRED_PX or deg.get("dpi") == 150)
        thin = kind not in ("dot", "filled") and params["dark"] * params["width"] < THIN_ERASURE_INK
        return "faint" if coarse and thin else "vote"
    if kind in ("circle", "straddle"):
        return "outside"
    if kind == "erasure":
        return "doubtful"
    if kind == "hesitation":
        return "noise"
    if kind == "stain":
        rim = params["dark"]
        return "noise" if rim <= STAIN_NOISE_MAX else "doubtful" if rim >= STAIN_DOUBTFUL_MIN else "either"
    raise ValueError(kind)


@dataclass(frozen=True)
class SheetPlan:
    """What one deck sheet is and how it is degraded (all decided from the seed).

    ``marks``: box → pen shape of the votes drawn in their squares; ``pens``: box → the
    pen drawing it ({"pen", "dark", "width"}; absent: drawn from the seed); ``others``:
    the marks that are not a vote in a square ({"kind", "boxes", ...}).
    """

    index: int
    kind: str                       # "ballot" or one of BAD_SHEETS
    style: str | None
    case: str                       # the rule exercised, e.g. "party+withdrawn-number"
    marks: dict[str, str]           # box id → pen shape
    expected: dict                  # {"accepted", "reason", "outcomes", ...}
    degradation: dict
    seed: int
    pens: dict[str, dict] = field(default_factory=dict)
    others: tuple[dict, ...] = ()

    @property
    def name(self) -> str:
        ext = "png" if self.degradation.get("format") == "png" else "jpg"
        return f"sheet-{self.index:05d}.{ext}"

    @property
    def mark_kinds(self) -> set[str]:
        """The kinds of mark on the sheet ("ballpoint-blue", "circle", ...), for breakdowns."""
        return {p["pen"] for p in self.pens.values()} | {o["kind"] for o in self.others} | (
            {"tick-out"} if "tick-out" in self.marks.values() else set())

    def to_json(self) -> dict:
        return {"file": self.name, "kind": self.kind, "style": self.style, "case": self.case,
                "marks": self.marks, "pens": self.pens, "others": list(self.others),
                "degradation": self.degradation, **self.expected}


@dataclass
class DeckSheet:
    plan: SheetPlan
    data: bytes                     # the encoded image file
    image: np.ndarray | None = field(default=None, repr=False)   # decoded pixels when available


# --- planning ----------------------------------------------------------------------

def _cases(contest: Contest) -> list[str]:
    if contest.kind == "candidate":
        cs = ["valid", "blank", "overvote-2", "overvote-3"]
        if contest.against_all:
            cs += ["against-all", "against-all+candidate"]
        if any(c.withdrawn for c in contest.candidates):
            cs.append("withdrawn-candidate")
        return cs
    cs = ["party-only", "party+number", "party+2-numbers", "number-without-party",
          "two-parties", "blank"]
    if any(c.withdrawn for p in contest.parties for c in p.candidates):
        cs.append("party+withdrawn-number")
    if any(len(p.candidates) < contest.number_boxes for p in contest.parties):
        cs.append("party+beyond-list-number")
    if contest.against_all:
        cs += ["against-all", "against-all+number", "against-all+party"]
    return cs


# How often each case appears after the first pass: mostly valid votes, as on the day.
_WEIGHTS = {"valid": 12, "party-only": 6, "party+number": 8, "against-all": 2}

# The first pass after the rules: one sheet of each kind of mark and degradation.
KIND_SHEETS = ("circle", "straddle", "erasure", "hesitation", "stain", "tick-out", "perspective",
               "uneven-light")

# Share of ballots carrying each kind of mark, per mix.
_MIX = {
    "lna": {"circle": 0.03, "straddle": 0.02, "erasure": 0.04, "hesitation": 0.0, "stain": 0.03,
            "tick-out": 0.05, "perspective": 0.15, "perspective_mm": 3.0, "light": 0.25,
            "light_strong": 0.02, "light_band": 0.0, "skew6": 0.05, "low_jpeg": 0.0},
    "bench": {"circle": 0.06, "straddle": 0.04, "erasure": 0.08, "hesitation": 0.06, "stain": 0.06,
              "tick-out": 0.08, "perspective": 0.30, "perspective_mm": 4.5, "light": 0.25,
              "light_strong": 0.03, "light_band": 0.015, "skew6": 0.10, "low_jpeg": 0.05},
}


def _marked_boxes(contest: Contest, case: str, rng: random.Random) -> list[str]:
    cid = contest.id
    if contest.kind == "candidate":
        active = [c.id for c in contest.candidates if not c.withdrawn]
        pick = {"valid": 1, "overvote-2": 2, "overvote-3": 3}.get(case, 0)
        out = [box_id(cid, c) for c in rng.sample(active, min(pick, len(active)))]
        if case == "against-all":
            out = [box_id(cid, AGAINST_ALL)]
        elif case == "against-all+candidate":
            out = [box_id(cid, AGAINST_ALL), box_id(cid, rng.choice(active))]
        elif case == "withdrawn-candidate":
            out = [box_id(cid, rng.choice([c.id for c in contest.candidates if c.withdrawn]))]
        return out
    parties = list(contest.parties)
    party = rng.choice(parties)
    nums = list(range(1, contest.number_boxes + 1))

    def valid_numbers(p):
        return [n for n in nums if (c := p.candidate(n)) is not None and not c.withdrawn]

    if case == "party-only":
        return [box_id(cid, party.id)]
    if case == "party+number":
        return [box_id(cid, party.id), box_id(cid, rng.choice(valid_numbers(party)))]
    if case == "party+withdrawn-number":
        p = rng.choice([p for p in parties if any(c.withdrawn for c in p.candidates)])
        n = rng.choice([c.number for c in p.candidates if c.withdrawn and c.number in nums])
        return [box_id(cid, p.id), box_id(cid, n)]
    if case == "party+beyond-list-number":
        p = rng.choice([p for p in parties if len(p.candidates) < contest.number_boxes])
        n = rng.choice([n for n in nums if p.candidate(n) is None])
        return [box_id(cid, p.id), box_id(cid, n)]
    if case == "party+2-numbers":
        return [box_id(cid, party.id)] + [box_id(cid, n) for n in rng.sample(nums, rng.choice((2, 2, 3)))]
    if case == "number-without-party":
        return [box_id(cid, n) for n in rng.sample(nums, rng.choice((1, 1, 2)))]
    if case == "two-parties":
        return [box_id(cid, p.id) for p in rng.sample(parties, 2)]
    if case == "against-all":
        return [box_id(cid, AGAINST_ALL)]
    if case == "against-all+number":
        return [box_id(cid, AGAINST_ALL), box_id(cid, rng.choice(nums))]
    if case == "against-all+party":
        return [box_id(cid, AGAINST_ALL), box_id(cid, party.id)]
    return []                                   # blank


def _degradation(rng: random.Random, dpi: int | None) -> dict:
    return {
        "dpi": dpi or rng.choice((150, 200, 200, 240, 300)),
        "skew_deg": round(rng.uniform(-3, 3), 3),
        "shift_mm": [round(rng.uniform(-4, 4), 2), round(rng.uniform(-4, 4), 2)],
        "scale": round(rng.uniform(0.97, 1.03), 4),
        "upside_down": rng.random() < 0.15,
        "blur_px": round(rng.uniform(0.0, 1.1), 2),
        "noise": round(rng.uniform(0.0, 8.0), 2),
        "paper": rng.randint(228, 252),
        "backing": rng.randint(185, 215),
        "format": "png" if rng.random() < 0.15 else "jpg",
        "jpeg_quality": rng.randint(55, 95),
        "streaks": rng.choice((0,) * 8 + (1, 2)),
        "stray_marks": rng.choice((0, 0, 0, 1, 2, 3)),
        "folds": rng.choice((0, 0, 1, 2)),         # voters fold the ballot for the box
        "uneven_light": round(rng.uniform(0.0, 0.15), 3) if rng.random() < 0.3 else 0.0,
        "curl_mm": round(rng.uniform(0.2, 0.8), 2) if rng.random() < 0.4 else 0.0,
    }


def _pen(rng: random.Random, mix: str, pen: str | None = None) -> dict:
    pen = pen or rng.choices(list(PEN_WEIGHTS), weights=list(PEN_WEIGHTS.values()))[0]
    spec = PENS[pen]
    lo, hi = spec["dark"] if mix == "bench" else spec["dark_lna"]
    dark, width = round(rng.uniform(lo, hi), 3), round(rng.uniform(*spec["width"]), 3)
    if mix != "bench":
        # An L&A deck's marks are clear: at least LNA_INK per mm of line, well above a thin
        # erasure's, so that every sheet reads to exactly its expected result.
        width = round(max(width, min(spec["width"][1], LNA_INK / dark)), 3)
    return {"pen": pen, "dark": dark, "width": width}


def _neighbours(geo: layout.SheetGeometry, b: str) -> list[str]:
    """Boxes beside ``b`` (same row or column, less than 13 mm apart): where a straddling mark lands."""
    a = geo.boxes[b]
    out = []
    for k, o in geo.boxes.items():
        if k == b:
            continue
        gx = max(o.x - (a.x + a.w), a.x - (o.x + o.w))
        gy = max(o.y - (a.y + a.h), a.y - (o.y + o.h))
        if (gx < 0 < gy < 13) or (gy < 0 < gx < 13):
            out.append(k)
    return out


def _stain_boxes(geo: layout.SheetGeometry, st: dict) -> list[str]:
    """The boxes a stain's ring or tint reaches (their rectangle meets the stain's ellipse)."""
    out = []
    cx, cy, rx, ry = st["cx"], st["cy"], st["rx"] + st["rim"], st["ry"] + st["rim"]
    for k, b in geo.boxes.items():
        nx = min(max(cx, b.x), b.x + b.w)
        ny = min(max(cy, b.y), b.y + b.h)
        if ((nx - cx) / rx) ** 2 + ((ny - cy) / ry) ** 2 <= 1.0:
            out.append(k)
    return out


def plan_deck(election: Election, sheets: int, seed: int = 0, dpi: int | None = None,
              hesitation: float | None = None, mix: str = "lna") -> list[SheetPlan]:
    """The deck's sheets: every rule and every bad sheet, then one sheet of each kind of
    mark and degradation (``KIND_SHEETS``), then a realistic mix (``mix``: "lna" or "bench").

    ``hesitation``: the share of ballots with a hesitation dot (default: the mix's).
    """
    if mix not in _MIX:
        raise ValueError(f"mix must be one of {sorted(_MIX)}")
    shares = dict(_MIX[mix])
    if hesitation is not None:
        shares["hesitation"] = hesitation
    rng = random.Random(seed)
    styles = [s.id for s in election.ballot_styles]
    first: list[tuple[str, str | None, str, str | None]] = []
    for sid in styles:
        contest = layout.contest_of(election, sid)
        first += [("ballot", sid, c, None) for c in _cases(contest)]
    bad = [(b, rng.choice(styles), b, None) for b in BAD_SHEETS]
    # interleave bad sheets into the first pass so even a small deck has all of them
    order: list[tuple[str, str | None, str, str | None]] = []
    step = max(1, len(first) // len(bad))
    for i, item in enumerate(first):
        order.append(item)
        if i % step == step - 1 and bad:
            order.append(bad.pop(0))
    order += bad
    party_style = next((s for s in styles if layout.contest_of(election, s).kind == "party-list"), styles[0])
    for i, k in enumerate(KIND_SHEETS):
        sid = party_style if i % 2 == 0 else styles[-1 if party_style == styles[0] else 0]
        order.append(("ballot", sid, "", k))
    plans: list[SheetPlan] = []
    for i in range(sheets):
        srng = random.Random(rng.getrandbits(64))
        forced = None
        if i < len(order):
            kind, sid, case, forced = order[i]
            if forced:
                cases = _cases(layout.contest_of(election, sid))
                case = srng.choices(cases, weights=[_WEIGHTS.get(c, 1) for c in cases])[0]
        elif srng.random() < 0.03:
            kind = srng.choice(BAD_SHEETS)
            sid, case = srng.choice(styles), kind
        else:
            kind, sid = "ballot", srng.choice(styles)
            cases = _cases(layout.contest_of(election, sid))
            case = srng.choices(cases, weights=[_WEIGHTS.get(c, 1) for c in cases])[0]
        plans.append(_plan_one(election, i, kind, sid, case, srng, dpi, shares, mix, forced))
    return plans


def _plan_one(election, i, kind, sid, case, rng, dpi, shares, mix, forced) -> SheetPlan:
    deg = _degradation(rng, dpi)
    marks: dict[str, str] = {}
    pens: dict[str, dict] = {}
    others: list[dict] = []
    expected: dict
    if kind in ("ballot", "torn", "double-feed", "other-station", "truncated-file"):
        contest = layout.contest_of(election, sid)
        geo = layout.sheet_geometry(election, sid)
        use_case = case if kind == "ballot" else rng.choice(_cases(contest))
        for b in _marked_boxes(contest, use_case, rng):
            marks[b] = rng.choice(MARK_SHAPES[:6])
            pens[b] = _pen(rng, mix)
        if kind == "ballot":
            _plan_kinds(geo, marks, pens, others, deg, rng, shares, mix, forced)
            expected = _expected(contest, geo, marks, pens, others, deg)
            if forced:
                case = f"{case} ({forced})"
        else:
            expected = {"accepted": False, "reason": EXPECTED_REJECTION[kind], "outcomes": []}
            case = f"{kind} ({use_case})"
    else:
        sid = None
        expected = {"accepted": False, "reason": EXPECTED_REJECTION[kind], "outcomes": []}
    if kind == "truncated-file":
        deg["format"] = "jpg"
        deg["keep_fraction"] = round(rng.uniform(0.3, 0.8), 3)
    if kind == "torn":
        deg["torn_corner"] = rng.choice(("tl", "tr", "bl", "br"))
    if kind == "double-feed":
        deg["second_offset_mm"] = round(rng.uniform(45, 110), 1)
    return SheetPlan(i + 1, kind, sid, case, marks, expected, deg, rng.getrandbits(32), pens,
                     tuple(others))


def _plan_kinds(geo, marks, pens, others, deg, rng, shares, mix, forced) -> None:
    """Choose the sheet's other marks and degradations (``forced``: the first-pass kind sheet)."""

    def want(name: str) -> bool:
        return forced == name or (forced is None and rng.random() < shares[name])

    free = [b for b in geo.boxes if b not in marks]
    if want("tick-out") and marks:
        b = rng.choice(sorted(marks))
        marks[b] = "tick-out"
    if want("circle"):
        # The voter circles the box instead of marking in it (one of the intended boxes).
        b = rng.choice(sorted(marks)) if marks else rng.choice(free)
        marks.pop(b, None)
        pen = pens.pop(b, None) or _pen(rng, mix)
        others.append({"kind": "circle", "boxes": [b], **pen,
                       "grow": [round(rng.uniform(1.0, 3.0), 2), round(rng.uniform(1.0, 2.4), 2)],
                       "start": round(rng.uniform(0, 360), 1), "sweep": round(rng.uniform(330, 400), 1)})
    if want("straddle"):
        cand = [b for b in (sorted(marks) or free) if any(n not in marks for n in _neighbours(geo, b))]
        if cand:
            a = rng.choice(cand)
            n = rng.choice([x for x in _neighbours(geo, a) if x not in marks])
            marks.pop(a, None)
            pen = pens.pop(a, None) or _pen(rng, mix)
            others.append({"kind": "straddle", "boxes": [a, n], **pen,
                           "shape": rng.choice(("cross", "cross", "tick", "slash")),
                           "size": round(rng.uniform(0.8, 1.05), 3),
                           "off": round(rng.uniform(-0.5, 0.5), 2)})
    free = [b for b in geo.boxes if b not in marks and not any(b in o["boxes"] for o in others)]
    if want("erasure") and free:
        others.append({"kind": "erasure", "boxes": [rng.choice(free)], "pen": "eraser",
                       "dark": round(rng.uniform(*ERASURE_DARK), 3),
                       "width": round(rng.uniform(0.6, 1.3), 3),
                       "shape": rng.choice(("cross", "cross", "tick", "slash"))})
    free = [b for b in free if not any(b in o["boxes"] for o in others)]
    if want("hesitation") and free:
        pen = _pen(rng, "lna")
        others.append({"kind": "hesitation", "boxes": [rng.choice(free)], **pen,
                       "width": round(rng.uniform(*HESITATION_MM), 3),
                       "at": [round(rng.uniform(0.3, 0.7), 3), round(rng.uniform(0.3, 0.7), 3)]})
    if want("stain") and free:
        b = geo.boxes[rng.choice(free)]
        hi = 0.2 if mix == "lna" else 0.45
        st = {"kind": "stain", "pen": "coffee", "dark": round(rng.uniform(0.08, hi), 3),
              "cx": round(b.center[0] + rng.uniform(-3, 3), 2), "cy": round(b.center[1] + rng.uniform(-3, 3), 2),
              "rx": round(rng.uniform(5, 13), 2), "ry": round(rng.uniform(5, 13), 2),
              "rim": round(rng.uniform(0.4, 1.2), 2), "tint": round(rng.uniform(0.2, 0.5), 2)}
        st["boxes"] = _stain_boxes(geo, st)
        others.append(st)
    if want("perspective"):
        m = shares["perspective_mm"] if forced != "perspective" else 3.0
        deg["perspective_mm"] = [[round(rng.uniform(-m, m), 2), round(rng.uniform(-m, m), 2)]
                                 for _ in range(4)]
    if forced == "uneven-light" or (forced is None and rng.random() < shares["light_strong"]):
        deg["uneven_light"] = round(rng.uniform(LIGHT_RETURN_MIN, 0.50), 3)
    elif forced is None and rng.random() < shares["light_band"]:
        deg["uneven_light"] = round(rng.uniform(LIGHT_READ_MAX, LIGHT_RETURN_MIN), 3)
    elif forced is None and rng.random() < shares["light"]:
        deg["uneven_light"] = round(rng.uniform(0.03, LIGHT_READ_MAX), 3)
    if deg.get("uneven_light"):
        deg["light_shape"] = rng.choice(("x", "x", "y", "corners"))
    if forced is None and rng.random() < shares["skew6"]:
        deg["skew_deg"] = round(rng.choice((-1, 1)) * rng.uniform(3, 6), 3)
    if forced is None and rng.random() < shares["low_jpeg"]:
        deg["format"], deg["jpeg_quality"] = "jpg", rng.randint(15, 40)
    if forced is None and mix == "lna":
        deg["stray_marks"] = min(deg["stray_marks"], 2)


def _categories(marks, pens, others, deg=None) -> dict[str, str]:
    """Box → category (docs/ballots.md "The voter's intent"); the strongest claim wins."""
    rank = ["noise", "either", "doubtful", "outside", "faint", "vote"]
    cats: dict[str, str] = {}

    def put(b, c):
        if b not in cats or rank.index(c) > rank.index(cats[b]):
            cats[b] = c

    for b, shape in marks.items():
        put(b, mark_category(shape, pens[b], deg))
    for o in others:
        for b in o["boxes"]:
            put(b, mark_category(o["kind"], o))
    return cats


def _expected(contest, geo, marks, pens, others, deg) -> dict:
    cats = _categories(marks, pens, others, deg)
    marked = {b for b, c in cats.items() if c in ("vote", "faint")}
    doubtful = {b for b, c in cats.items() if c == "doubtful"}
    outside = {b for b, c in cats.items() if c == "outside"}
    either = {b for b, c in cats.items() if c == "either"}
    faint = {b for b, c in cats.items() if c == "faint"}
    intent = outcome_from_boxes(contest, marked)
    needs, outside_pivotal = review(contest, marked, doubtful, outside)
    must = any(outcome_from_boxes(contest, marked | set(s)).verdict() != intent.verdict()
               for k in range(1, len(outside) + 1) for s in itertools.combinations(sorted(outside), k))
    may_marks = review(contest, marked - faint, doubtful | either | faint, outside)[0]
    light = deg.get("uneven_light", 0.0)
    out = {"accepted": True, "reason": None, "outcomes": [_truth_json(intent)]}
    if light >= LIGHT_RETURN_MIN:
        out = {"accepted": False, "reason": "uneven-light", "outcomes": []}
    elif needs:
        out = {"accepted": False, "reason": "mark-outside-box" if outside_pivotal else "marginal-needs-review",
               "outcomes": []}
    out["intent"] = [_truth_json(intent)]
    out["must_return"] = must
    out["may_return"] = may_marks or light > LIGHT_READ_MAX
    out["clear"] = not (out["may_return"] or must)
    out["boxes"] = dict(sorted(cats.items()))
    return out


def _truth_json(o) -> dict:
    j = o.to_json()
    j.pop("marginal")
    return j


# --- pen strokes -------------------------------------------------------------------

def _resample(pts: np.ndarray, step: float) -> np.ndarray:
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    if s[-1] <= 0:
        return pts[:1]
    n = max(2, int(math.ceil(s[-1] / step)) + 1)
    t = np.linspace(0, s[-1], n)
    return np.stack([np.interp(t, s, pts[:, 0]), np.interp(t, s, pts[:, 1])], axis=1)


def _profile(n: int, length: float, base: float, var: float, rng: random.Random) -> np.ndarray:
    """Pressure along a stroke: slow variation of ±``var`` around ``base``."""
    s = np.linspace(0, length, n)
    f = 1.0 + var * (0.6 * np.sin(2 * math.pi * s / rng.uniform(3, 8) + rng.uniform(0, 6.3))
                     + 0.4 * np.sin(2 * math.pi * s / rng.uniform(0.8, 2.5) + rng.uniform(0, 6.3)))
    return base * f


def _stroke_field(xs: np.ndarray, ys: np.ndarray, pts: np.ndarray, width: np.ndarray,
                  dark: np.ndarray, edge: float) -> np.ndarray:
    """Darkness of one stroke on a pixel grid (mm coordinates of pixel centres): the nearest
    segment's width and darkness, anti-aliased over ``edge`` mm."""
    out = np.zeros(xs.shape, np.float32)
    if len(pts) == 1:
        pts = np.vstack([pts, pts])
        width, dark = np.repeat(width, 2), np.repeat(dark, 2)
    pts, width, dark = pts.astype(np.float32), width.astype(np.float32), dark.astype(np.float32)
    gx, gy = xs[0], ys[:, 0]
    for j0 in range(0, len(pts) - 1, 12):
        p = pts[j0:j0 + 13]
        m = float(width[j0:j0 + 13].max()) / 2 + edge + 0.05
        cols = np.nonzero((gx >= p[:, 0].min() - m) & (gx <= p[:, 0].max() + m))[0]
        rows = np.nonzero((gy >= p[:, 1].min() - m) & (gy <= p[:, 1].max() + m))[0]
        if not len(cols) or not len(rows):
            continue
        sl = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        a, b = p[:-1], p[1:]
        v = b - a
        vv = np.maximum((v ** 2).sum(axis=1), 1e-9)
        qx = xs[sl][..., None] - a[:, 0]
        qy = ys[sl][..., None] - a[:, 1]
        t = np.clip((qx * v[:, 0] + qy * v[:, 1]) / vv, 0, 1)
        d = np.hypot(qx - t * v[:, 0], qy - t * v[:, 1])
        n = len(p) - 1
        w = width[j0:j0 + n] + t * (width[j0 + 1:j0 + n + 1] - width[j0:j0 + n])
        k = dark[j0:j0 + n] + t * (dark[j0 + 1:j0 + n + 1] - dark[j0:j0 + n])
        cov = np.clip((w / 2 - d) / edge + 0.5, 0, 1)
        np.maximum(out[sl], (k * cov).max(axis=-1), out=out[sl])
    return out


def _ink(page: np.ndarray, strokes: list[np.ndarray], pen: dict, k: float, rng: random.Random,
         grain: bool | None = None, smooth: bool = False) -> None:
    """Draw pen strokes (polylines in page mm) on the page, multiplying its light by the ink's."""
    name = pen.get("pen", "ballpoint-blue")
    w0, d0 = float(pen["width"]), float(pen["dark"])
    allp = np.vstack(strokes)
    m = w0 + 0.5
    x0, y0 = max(0, int((allp[:, 0].min() - m) * k)), max(0, int((allp[:, 1].min() - m) * k))
    x1 = min(page.shape[1], int((allp[:, 0].max() + m) * k) + 2)
    y1 = min(page.shape[0], int((allp[:, 1].max() + m) * k) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    xs, ys = (xs + 0.5) / k, (ys + 0.5) / k
    light = np.ones(xs.shape, np.float32)
    soft = name in ("felt-tip", "coffee") or smooth
    edge = max(1.0 / k, 0.22 if soft else 0.0)
    for pts in strokes:
        pts = _resample(np.asarray(pts, np.float64), 0.25)
        length = 0.25 * (len(pts) - 1)
        var = {"ballpoint-blue": 0.12, "ballpoint-black": 0.12, "pencil": 0.15, "eraser": 0.0}.get(name, 0.05)
        dark = _profile(len(pts), length, d0, var, rng)
        width = _profile(len(pts), length, w0, var * 0.6, rng)
        if name.startswith("ballpoint"):
            dark[:2] *= 1.06                                  # the ball's blob where it lands
            if rng.random() < 0.35 and len(pts) > 8:          # the ball skips
                s = rng.randrange(2, len(pts) - 4)
                dark[s:s + rng.randint(1, 3)] *= rng.uniform(0.3, 0.6)
        if name == "eraser":                                  # what the eraser left: patchy, never darker
            dark *= np.clip(_profile(len(pts), length, 0.92, 0.1, rng), 0.75, 1.0)
        f = _stroke_field(xs, ys, pts, width, np.clip(dark, 0.0, 0.97), edge)
        if grain if grain is not None else name == "pencil":
            g = np.random.default_rng(rng.getrandbits(32)).normal(1.0, 0.35, f.shape).astype(np.float32)
            f = f * np.clip(cv2.GaussianBlur(g, (0, 0), 0.5), 0.2, 1.6)
        light *= 1.0 - np.clip(f, 0, 0.98)
    win = page[y0:y1, x0:x1].astype(np.float32)
    page[y0:y1, x0:x1] = np.clip(win * light + 0.5, 0, 255).astype(np.uint8)


def _blob(page: np.ndarray, cx: float, cy: float, rx: float, ry: float, dark: float, soft: float,
          k: float) -> None:
    """A soft-edged elliptic tint (an eraser's smudge, a stain's inside)."""
    x0, x1 = max(0, int((cx - rx - 2 * soft) * k)), min(page.shape[1], int((cx + rx + 2 * soft) * k) + 1)
    y0, y1 = max(0, int((cy - ry - 2 * soft) * k)), min(page.shape[0], int((cy + ry + 2 * soft) * k) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    r = np.hypot(((xs + 0.5) / k - cx) / rx, ((ys + 0.5) / k - cy) / ry)
    f = dark * np.clip((1 - r) * min(rx, ry) / soft + 0.5, 0, 1)
    win = page[y0:y1, x0:x1].astype(np.float32)
    page[y0:y1, x0:x1] = np.clip(win * (1 - f) + 0.5, 0, 255).astype(np.uint8)


def _shape_strokes(b: layout.Box, shape: str, rng: random.Random, size: float = 1.0,
                   centre: tuple[float, float] | None = None, width: float = 0.4) -> list[np.ndarray]:
    """Polylines (page mm) of a pen shape in box ``b`` (or of ``b``'s size around ``centre``)."""
    s = min(b.w, b.h) * size
    cx, cy = centre or b.center

    def P(fx, fy, j=0.06):      # a point at a fraction of the (square) box, with hand jitter
        return (cx + s * (fx - 0.5 + rng.uniform(-j, j)), cy + s * (fy - 0.5 + rng.uniform(-j, j)))

    def line(p, q):             # a hand-drawn line: slightly bowed
        mx, my = (p[0] + q[0]) / 2, (p[1] + q[1]) / 2
        bow = rng.uniform(-0.04, 0.04) * s
        n = np.hypot(q[0] - p[0], q[1] - p[1]) or 1.0
        mid = (mx - (q[1] - p[1]) / n * bow, my + (q[0] - p[0]) / n * bow)
        return np.array([p, mid, q])

    if shape == "cross":
        a = rng.uniform(0.05, 0.2) if rng.random() < 0.85 else rng.uniform(-0.1, 0.05)
        return [line(P(a, a), P(1 - a, 1 - a)), line(P(1 - a, a), P(a, 1 - a))]
    if shape == "tick":
        return [np.array([P(0.15, 0.5), P(0.42, 0.85), P(0.9, 0.12)])]
    if shape == "tick-out":       # starts 0.5-2.5 mm outside the box, ends inside (or just beyond)
        out = rng.uniform(0.5, 2.5) / s
        return [np.array([P(-out, rng.uniform(0.3, 0.6), 0.02), P(0.4, 0.85), P(rng.uniform(0.8, 1.05), 0.08)])]
    if shape == "slash":
        return [line(P(0.15, 0.85), P(0.85, 0.15))]
    if shape == "dot":
        d = rng.uniform(0.48, 0.64) * s
        return [np.array([P(0.5, 0.5, 0.04)])], d
    if shape in ("filled", "partial"):
        if shape == "filled":
            fx0, fy0, fx1, fy1 = 0.1, 0.1, 0.9, 0.9
        else:
            w, h = rng.uniform(0.35, 0.6), rng.uniform(0.3, 0.5)
            fx0, fy0 = rng.uniform(0.1, 0.9 - w), rng.uniform(0.1, 0.9 - h)
            fx1, fy1 = fx0 + w, fy0 + h
        gap = max(0.35, width * 0.9) / s                      # hatching: strokes close together
        pts, left = [], True
        for fy in np.arange(fy0, fy1 + 1e-6, gap):
            pts += [P(fx0 if left else fx1, fy, 0.02), P(fx1 if left else fx0, fy + gap / 2, 0.02)]
            left = not left
        return [np.array(pts)]
    raise ValueError(shape)


def _draw_mark(page: np.ndarray, b: layout.Box, shape: str, pen: dict, k: float, rng: random.Random) -> None:
    strokes = _shape_strokes(b, shape, rng, width=pen["width"])
    if shape == "dot":
        strokes, d = strokes
        _ink(page, strokes, {**pen, "width": d}, k, rng)
    elif shape in ("filled", "partial") and pen["pen"] == "felt-tip":
        _ink(page, strokes, {**pen, "width": max(pen["width"], 1.2)}, k, rng)
    else:
        _ink(page, strokes, pen, k, rng)


def _draw_other(page: np.ndarray, geo: layout.SheetGeometry, o: dict, k: float, rng: random.Random) -> None:
    kind = o["kind"]
    b = geo.boxes[o["boxes"][0]]
    if kind == "circle":
        cx, cy = b.center[0] + rng.uniform(-0.5, 0.5), b.center[1] + rng.uniform(-0.5, 0.5)
        a, c = b.w / 2 + o["grow"][0], b.h / 2 + o["grow"][1]
        # Wide enough to pass outside the box's corners ((w/2)²/a² + (h/2)²/c² ≤ 0.85);
        # a hand's wobble of ±3 % on top.
        a = max(a, b.w / 2 / math.sqrt(max(0.05, 0.85 - (b.h / 2 / c) ** 2)))
        t = np.radians(o["start"] + np.linspace(0, o["sweep"], 90))
        wob = 1 + 0.03 * np.sin(t * rng.choice((2, 3)) + rng.uniform(0, 6.3))
        _ink(page, [np.stack([cx + a * wob * np.cos(t), cy + c * wob * np.sin(t)], axis=1)], o, k, rng)
    elif kind == "straddle":
        n = geo.boxes[o["boxes"][1]]
        (ax, ay), (bx, by) = b.center, n.center
        # the middle of the gap between the two boxes, moved a little along the line
        if abs(ax - bx) > abs(ay - by):
            gx = (min(ax, bx) + max(ax, bx)) / 2
            centre = (gx + o["off"], (ay + by) / 2 + rng.uniform(-0.5, 0.5))
        else:
            gy = (min(ay, by) + max(ay, by)) / 2
            centre = ((ax + bx) / 2 + rng.uniform(-0.5, 0.5), gy + o["off"])
        _ink(page, _shape_strokes(b, o["shape"], rng, o["size"], centre), o, k, rng)
    elif kind == "erasure":
        # The eraser's smudge and the rubbed-out strokes: together 35-45 % dark at most.
        smudge = rng.uniform(0.03, 0.08)
        _blob(page, b.center[0], b.center[1], b.w * rng.uniform(0.4, 0.6), b.h * rng.uniform(0.4, 0.6),
              smudge, 1.0, k)
        rest = {**o, "dark": 1.0 - (1.0 - o["dark"]) / (1.0 - smudge)}
        _ink(page, _shape_strokes(b, o["shape"], rng), rest, k, rng, grain=False, smooth=True)
    elif kind == "hesitation":
        fx, fy = o["at"]
        _ink(page, [np.array([[b.x + b.w * fx, b.y + b.h * fy]])], o, k, rng)
    elif kind == "stain":
        # The tint inside and the darker rim: together ``dark`` at the rim.
        _blob(page, o["cx"], o["cy"], o["rx"], o["ry"], o["dark"] * o["tint"], 0.6, k)
        o = {**o, "dark": 1.0 - (1.0 - o["dark"]) / (1.0 - o["dark"] * o["tint"])}
        t = np.linspace(0, 2 * math.pi, 120)
        wob = 1 + 0.06 * np.sin(3 * t + rng.uniform(0, 6.3)) + 0.03 * np.sin(7 * t + rng.uniform(0, 6.3))
        ring = np.stack([o["cx"] + o["rx"] * wob * np.cos(t), o["cy"] + o["ry"] * wob * np.sin(t)], axis=1)
        _ink(page, [ring], {"pen": "coffee", "dark": o["dark"], "width": o["rim"]}, k, rng)
    else:
        raise ValueError(kind)


def _draw_stray(page: np.ndarray, geo: layout.SheetGeometry, k: float, rng: random.Random) -> None:
    """A pen stroke somewhere in the text or margins, at least 8 mm from every box."""
    for _ in range(40):
        x, y = rng.uniform(25, 160), rng.uniform(55, 270)
        ln, ang = rng.uniform(4, 25), rng.uniform(0, math.pi)
        x2, y2 = x + ln * math.cos(ang), y + ln * math.sin(ang)
        if all(not _near(b, x, y, x2, y2, 8.0) for b in geo.boxes.values()):
            _ink(page, [np.array([[x, y], [x2, y2]])], _pen(rng, "lna"), k, rng)
            return


def _near(b: layout.Box, x1, y1, x2, y2, m) -> bool:
    lo_x, hi_x = min(x1, x2), max(x1, x2)
    lo_y, hi_y = min(y1, y2), max(y1, y2)
    return not (hi_x < b.x - m or lo_x > b.x + b.w + m or hi_y < b.y - m or lo_y > b.y + b.h + m)


# --- rendering ---------------------------------------------------------------------

@lru_cache(maxsize=16)
def _base_page(election: Election, style: str, dpi: int) -> np.ndarray:
    """The printed sheet as the scanner sees it at ``dpi``: printed from the 300-dpi print
    file (layout.write_ballots' PDF), then sampled at the scan's resolution."""
    page = np.asarray(layout.render_sheet(election, style, PRINT_DPI))
    if dpi == PRINT_DPI:
        return page
    size = (int(layout.PAGE_W * dpi / 25.4), int(layout.PAGE_H * dpi / 25.4))
    return cv2.resize(page, size, interpolation=cv2.INTER_AREA)


def _other_station(election: Election) -> Election:
    st = dataclasses.replace(election.station, id=election.station.id + "-other",
                             number=election.station.number + 1000)
    return dataclasses.replace(election, station=st)


def _page_transform(deg: dict, k: float, page_w: int, page_h: int, canvas: tuple[int, int]) -> np.ndarray:
    """Page px → canvas px: rotation, scale and shift, then the corners moved (perspective, shear)."""
    a = math.radians(deg["skew_deg"])
    s = deg["scale"]
    cw, ch = canvas
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * s
    c_page = np.array([page_w / 2, page_h / 2])
    top = max(5.0, (ch / k - CANVAS_H) / 2 + 5.0) if ch / k < CANVAS_H + 40 else 5.0
    c_canvas = np.array([cw / 2 + deg["shift_mm"][0] * k, layout.PAGE_H * k / 2 + top * k
                         + deg["shift_mm"][1] * k])
    t = c_canvas - R @ c_page
    A = np.vstack([np.hstack([R, t[:, None]]), [0, 0, 1]])
    moves = deg.get("perspective_mm")
    if not moves:
        return A[:2]
    src = np.float32([[0, 0], [page_w, 0], [0, page_h], [page_w, page_h]])
    dst = (A[:2, :2] @ src.T).T + A[:2, 2] + np.float32(moves) * k
    return cv2.getPerspectiveTransform(src, dst.astype(np.float32))


def render_plan(plan: SheetPlan, election: Election) -> bytes:
    """The encoded image file of one planned sheet (deterministic)."""
    rng = random.Random(plan.seed)
    deg = plan.degradation
    dpi = deg["dpi"]
    k = dpi / 25.4
    # A sheet turned by more than 3° cannot pass a 220 mm feeder: such scans (a flatbed,
    # a wider feeder) are wider and longer than the feeder's.
    a = math.radians(abs(deg["skew_deg"]))
    cw_mm, ch_mm = CANVAS_W, CANVAS_H
    if abs(deg["skew_deg"]) > 3.0 and plan.kind != "double-feed":
        cw_mm = max(CANVAS_W, layout.PAGE_W * math.cos(a) + layout.PAGE_H * math.sin(a) + 10)
        ch_mm = max(CANVAS_H, layout.PAGE_H * math.cos(a) + layout.PAGE_W * math.sin(a) + 12)
    cw, ch = int(round(cw_mm * k)), int(round(ch_mm * k))
    paper, backing = deg["paper"], deg["backing"]
    if plan.kind == "photo":
        img = _photo(rng, cw, ch)
    else:
        if plan.kind == "blank-paper":
            page = np.full((int(layout.PAGE_H * k), int(layout.PAGE_W * k)), 255, np.uint8)
        else:
            el = _other_station(election) if plan.kind == "other-station" else election
            page = _base_page(el, plan.style, dpi).copy()
            geo = layout.sheet_geometry(el, plan.style)
            for bid, shape in plan.marks.items():
                pen = plan.pens.get(bid) or _pen(rng, "lna")
                _draw_mark(page, geo.boxes[bid], shape, pen, k, rng)
            for o in plan.others:
                _draw_other(page, geo, o, k, rng)
            if deg.get("hesitation"):                 # the older form: a dot on one box
                _draw_other(page, geo, {"kind": "hesitation", "boxes": [deg["hesitation"]],
                                        "at": [0.5, 0.5], **_pen(rng, "lna"), "width": 1.2}, k, rng)
            for _ in range(deg["stray_marks"]):
                _draw_stray(page, geo, k, rng)
        for _ in range(deg.get("folds", 0)):
            _fold(page, k, rng)
        ph, pw = page.shape
        page = (page.astype(np.uint16) * paper // 255).astype(np.uint8)
        mask = np.full_like(page, 255)
        if plan.kind == "torn":
            _tear(mask, deg["torn_corner"], k, rng)
        if plan.kind == "double-feed":
            ch += int(round(deg["second_offset_mm"] * k))
        M = _page_transform(deg, k, pw, ph, (cw, ch))
        img = np.full((ch, cw), backing, np.uint8)
        if plan.kind == "double-feed":
            M2 = M.copy()
            M2[1, 2] += deg["second_offset_mm"] * k
            M2[0, 2] += rng.uniform(-3, 3) * k
            _paste(img, page, mask, M2)
        _paste(img, page, mask, M)
        if deg.get("curl_mm", 0) > 0:
            img = _curl(img, deg["curl_mm"], k, rng, backing)
    if deg["upside_down"]:
        img = np.ascontiguousarray(img[::-1, ::-1])
    img = _scanner_effects(img, deg, k, rng)
    if deg["format"] == "png":
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    else:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, deg["jpeg_quality"]])
    data = buf.tobytes()
    if plan.kind == "truncated-file":
        data = data[: int(len(data) * deg["keep_fraction"])]
    return data


def _paste(img: np.ndarray, page: np.ndarray, mask: np.ndarray, M: np.ndarray) -> None:
    ch, cw = img.shape
    if M.shape == (3, 3):
        warped = cv2.warpPerspective(page, M, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
        m = cv2.warpPerspective(mask, M, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
    else:
        warped = cv2.warpAffine(page, M, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
        m = cv2.warpAffine(mask, M, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
    a = m.astype(np.uint16)
    img[:] = ((warped * a + img * (255 - a) + 127) // 255).astype(np.uint8)


def _tear(mask: np.ndarray, corner: str, k: float, rng: random.Random) -> None:
    """Remove a jagged corner of the sheet, taking its fiducial with it."""
    h, w = mask.shape
    a, b = rng.uniform(30, 45) * k, rng.uniform(30, 45) * k
    pts = [(0, 0), (a, 0)]
    for t in np.linspace(0.15, 0.85, 6):
        pts.append((a * (1 - t) + rng.uniform(-2, 2) * k, b * t + rng.uniform(-2, 2) * k))
    pts.append((0, b))
    arr = np.array(pts, np.float64)
    if corner in ("tr", "br"):
        arr[:, 0] = w - 1 - arr[:, 0]
    if corner in ("bl", "br"):
        arr[:, 1] = h - 1 - arr[:, 1]
    cv2.fillPoly(mask, [arr.astype(np.int32)], 0)


def _photo(rng: random.Random, w: int, h: int) -> np.ndarray:
    """Something that is not a ballot: a printed page of text and a table, or a picture."""
    if rng.random() < 0.5:
        return _other_document(rng, w, h)
    yy, xx = np.mgrid[0:h:8, 0:w:8].astype(np.float32)
    g = 90 + 70 * np.sin(xx / rng.uniform(40, 120)) * np.cos(yy / rng.uniform(40, 120))
    img = cv2.resize(g.astype(np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
    for _ in range(rng.randint(6, 14)):
        c = (rng.randrange(w), rng.randrange(h))
        ax = (rng.randint(w // 30, w // 5), rng.randint(h // 30, h // 5))
        cv2.ellipse(img, c, ax, rng.uniform(0, 180), 0, 360, rng.randint(0, 255), -1, cv2.LINE_AA)
    for _ in range(rng.randint(3, 8)):
        cv2.line(img, (rng.randrange(w), rng.randrange(h)), (rng.randrange(w), rng.randrange(h)),
                 rng.randint(0, 255), rng.randint(2, 20), cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 3)


def _other_document(rng: random.Random, w: int, h: int) -> np.ndarray:

    k = w / CANVAS_W
    im = Image.new("L", (w, h), rng.randint(228, 250))
    d = ImageDraw.Draw(im)
    font = layout._font(False, int(3.2 * k))
    words = ["шайлоо", "комиссия", "протокол", "участок", "выборы", "бюллетень", "өкмөт",
             "жыйынтык", "маалымат", "список", "кызмат", "район"]
    y = 20 * k
    while y < h - 30 * k:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 11)))
        d.text((int(20 * k), int(y)), line, font=font, fill=rng.randint(0, 60))
        y += rng.uniform(5, 9) * k
        if rng.random() < 0.05:                       # a table
            rows, cols = rng.randint(3, 8), rng.randint(3, 6)
            cw, rh = 170 * k / cols, 7 * k
            for r in range(rows + 1):
                d.line([(20 * k, y + r * rh), (190 * k, y + r * rh)], fill=0, width=max(1, int(0.3 * k)))
            for c in range(cols + 1):
                d.line([(20 * k + c * cw, y), (20 * k + c * cw, y + rows * rh)], fill=0,
                       width=max(1, int(0.3 * k)))
            y += rows * rh + 6 * k
    return np.asarray(im).copy()


def _curl(img: np.ndarray, amp_mm: float, k: float, rng: random.Random, backing: int) -> np.ndarray:
    """Paper that does not lie flat: a smooth displacement of up to ``amp_mm`` that no
    homography from the corners can undo (the reader must tolerate it locally)."""
    h, w = img.shape
    ys, xs = np.mgrid[0:h:16, 0:w:16].astype(np.float32)
    px, py = rng.uniform(0, 2 * math.pi), rng.uniform(0, 2 * math.pi)
    lx, ly = rng.uniform(120, 260) * k, rng.uniform(120, 260) * k
    # zero at the corners' neighbourhood is not required: the fiducials move too
    dx = amp_mm * k * np.sin(2 * math.pi * ys / ly + px) * np.sin(math.pi * xs / w)
    dy = amp_mm * k * np.sin(2 * math.pi * xs / lx + py) * np.sin(math.pi * ys / h)
    mapx = cv2.resize(xs + dx, (w, h), interpolation=cv2.INTER_LINEAR)
    mapy = cv2.resize(ys + dy, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.remap(img, mapx, mapy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                     borderValue=backing)


def _fold(page: np.ndarray, k: float, rng: random.Random) -> None:
    """A crease across the sheet: a soft shadow band and a thin grey line."""
    y = int(rng.uniform(70, 230) * k)
    half = max(2, int(rng.uniform(1.5, 4.0) * k))
    depth = rng.uniform(0.03, 0.10)
    lo, hi = max(0, y - half), min(page.shape[0], y + half)
    t = np.abs(np.arange(lo, hi) - y) / half
    shade = (1.0 - depth * (1.0 - t))[:, None]
    page[lo:hi] = (page[lo:hi] * shade).astype(np.uint8)
    page[y:y + max(1, int(0.15 * k))] = np.minimum(page[y:y + max(1, int(0.15 * k))],
                                                   rng.randint(170, 215))


def _light(shape: tuple[int, int], fall: float, kind: str, flip: bool, k: float) -> np.ndarray:
    """The lamp's light over the image: 1 at its brightest, 1 - ``fall`` at the darkest
    point of the page (the page lies about centred on the scan, ``k`` px/mm)."""
    h, w = shape
    pw, ph = layout.PAGE_W * k, layout.PAGE_H * k
    if kind == "y":
        t = np.clip((np.arange(h, dtype=np.float32) - (h - ph) / 2) / ph, 0, 1)
        ramp = 1.0 - fall * t
        return (ramp[::-1] if flip else ramp)[:, None].astype(np.float32)
    if kind == "corners":
        yy, xx = np.mgrid[0:h:8, 0:w:8].astype(np.float32)
        r2 = ((xx - w / 2) / (pw / 2)) ** 2 + ((yy - h / 2) / (ph / 2)) ** 2
        return cv2.resize(1.0 - fall * np.minimum(r2 / 2.0, 1.0), (w, h), interpolation=cv2.INTER_LINEAR)
    t = np.clip((np.arange(w, dtype=np.float32) - (w - pw) / 2) / pw, 0, 1)
    ramp = 1.0 - fall * t
    return (ramp[::-1] if flip else ramp)[None, :].astype(np.float32)


def _scanner_effects(img: np.ndarray, deg: dict, k: float, rng: random.Random) -> np.ndarray:
    if deg.get("uneven_light", 0) > 0:
        # lamp fall-off across the sensor (or towards the corners of a camera-like scan)
        light = _light(img.shape, deg["uneven_light"], deg.get("light_shape", "x"), rng.random() < 0.5, k)
        img = np.clip(img * light, 0, 255).astype(np.uint8)
    if deg["blur_px"] > 0.05:
        img = cv2.GaussianBlur(img, (0, 0), deg["blur_px"] * k / (200 / 25.4))
    for _ in range(deg["streaks"]):
        x = rng.randrange(img.shape[1] - 4)
        wid = rng.randint(1, max(1, int(0.3 * k)))
        img[:, x:x + wid] = np.minimum(img[:, x:x + wid], rng.randint(40, 150))
    if deg["noise"] > 0.3:
        nrng = np.random.default_rng(rng.getrandbits(32))
        tile = nrng.normal(0, deg["noise"], (251, 257)).astype(np.int16)
        reps = (img.shape[0] // 251 + 1, img.shape[1] // 257 + 1)
        noise = np.tile(tile, reps)[: img.shape[0], : img.shape[1]]
        img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return img


# --- whole decks ---------------------------------------------------------------------

def generate_deck(election: Election, sheets: int, seed: int = 0, dpi: int | None = None,
                  hesitation: float | None = None, mix: str = "lna") -> Iterator[DeckSheet]:
    for plan in plan_deck(election, sheets, seed, dpi, hesitation, mix):
        yield DeckSheet(plan, render_plan(plan, election))


def sheet_source(election: Election, sheets: int, seed: int = 0,
                 dpi: int | None = None) -> Iterator[bytes]:
    """Encoded deck images one by one: what ``SimulatedScanner(sheet_source(...))`` feeds."""
    for sheet in generate_deck(election, sheets, seed, dpi):
        yield sheet.data


def expected_tally(election: Election, plans: list[SheetPlan]) -> dict:
    """Per contest: sheets accepted, valid / invalid / blank, votes and preferences (truth)."""
    tally: dict[str, dict] = {}
    for c in election.contests:
        tally[c.id] = {"ballots_read": 0, "valid": 0, "invalid": 0, "blank": 0,
                       "votes": {o: 0 for o in c.options()}, "preferences": {}}
    for p in plans:
        if not p.expected["accepted"]:
            continue
        for o in p.expected["outcomes"]:
            t = tally[o["contest"]]
            t["ballots_read"] += 1
            t[o["status"]] += 1
            if o["status"] == "valid":
                t["votes"][o["choice"]] += 1
                if o["preference"] is not None:
                    prefs = t["preferences"].setdefault(o["choice"], {})
                    key = str(o["preference"])
                    prefs[key] = prefs.get(key, 0) + 1
    return tally


def write_deck(election: Election, out_dir: Path, sheets: int = 100, dpi: int | None = None,
               seed: int = 0, mix: str = "lna") -> Path:
    """Write the deck's images and expected.json into ``out_dir``; returns expected.json's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_deck(election, sheets, seed, dpi, mix=mix)
    for plan in plans:
        (out_dir / plan.name).write_bytes(render_plan(plan, election))
    doc = {
        "election": election.id, "station": election.station.id, "seed": seed, "dpi": dpi, "mix": mix,
        "sheets": [p.to_json() for p in plans],
        "tally": expected_tally(election, plans),
    }
    path = out_dir / "expected.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return path
