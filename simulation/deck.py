"""Test decks: marked, degraded ballot images with known truth (the L&A deck).

``plan_deck(election, sheets, seed)`` decides, deterministically from the seed,
what every sheet is: which rule of DOMAIN.md "Ballots and contests" it
exercises (every rule appears in the first pass: valid, blank, overvote,
against all, withdrawn candidate; party only, party + number, party + withdrawn
or beyond-list number, party + several numbers, number without party, several
parties), which pen marks it carries and how the scan is degraded. The truth
(expected outcome) is computed by the pure rules (count/ballots/rules.py)
from the intended marks.

Degradation, per sheet: 150-300 dpi, skew up to ±3°, shift up to ±4 mm, scale
0.97-1.03, paper and scanner-backing tone, Gaussian blur, sensor noise, JPEG
artefacts (quality 55-95), pen marks of varied shape (filled, cross, tick,
dot, partial) and darkness, stray marks away from the boxes, optional hesitation dots (a small
dot on an unmarked box, not a vote by intent: read as blank or marginal, never
as a mark; off in L&A decks so their tally matches exactly), folds across the
sheet, paper that does not lie flat (a smooth local displacement up to 0.8 mm),
uneven lamp light, vertical scanner streaks, upside-down feeds.

Bad sheets (each expected to be rejected with its reason): blank paper, a
photo of something else, a sheet of another station, a torn sheet with a
missing fiducial, two sheets stuck together, a truncated image file.

``write_deck(election, out_dir, sheets=100, dpi=None, seed=0)`` writes the
images and ``expected.json`` (per sheet: accepted or rejection reason,
outcomes, marks; and the expected tally of the accepted sheets). The scan
canvas is 220 × 307 mm: a sheet-fed scanner's image is a little wider and
longer than the paper.

Example::

    for sheet in generate_deck(election, 100, seed=1, dpi=200):
        reading = interpret_file_bytes(sheet.data)     # compare with sheet.plan.expected
"""

from __future__ import annotations

import dataclasses
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
from count.ballots.rules import box_ids, outcome_from_boxes
from station.election import Contest, Election

CANVAS_W, CANVAS_H = 220.0, 307.0
MARK_SHAPES = ("filled", "cross", "tick", "dot", "partial")
BAD_SHEETS = ("blank-paper", "photo", "other-station", "torn", "double-feed", "truncated-file")
EXPECTED_REJECTION = {
    "blank-paper": "blank-paper", "photo": "unreadable", "other-station": "wrong-station",
    "torn": "missing-fiducial", "double-feed": "double-feed", "truncated-file": "truncated-image",
}


@dataclass(frozen=True)
class SheetPlan:
    """What one deck sheet is and how it is degraded (all decided from the seed)."""

    index: int
    kind: str                       # "ballot" or one of BAD_SHEETS
    style: str | None
    case: str                       # the rule exercised, e.g. "party+withdrawn-number"
    marks: dict[str, str]           # box id → pen shape
    expected: dict                  # {"accepted", "reason", "outcomes"}
    degradation: dict
    seed: int

    @property
    def name(self) -> str:
        ext = "png" if self.degradation.get("format") == "png" else "jpg"
        return f"sheet-{self.index:05d}.{ext}"

    def to_json(self) -> dict:
        return {"file": self.name, "kind": self.kind, "style": self.style, "case": self.case,
                "marks": self.marks, "degradation": self.degradation, **self.expected}


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


def plan_deck(election: Election, sheets: int, seed: int = 0, dpi: int | None = None,
              hesitation: float = 0.0) -> list[SheetPlan]:
    """The deck's sheets: every rule and every bad sheet in the first pass, then a realistic mix.

    ``hesitation``: the share of ballots with a hesitation dot (0 for L&A decks, whose
    tally must match exactly; the benchmark uses 0.04 to exercise the marginal policy).
    """
    rng = random.Random(seed)
    styles = [s.id for s in election.ballot_styles]
    first: list[tuple[str, str | None, str]] = []
    for sid in styles:
        contest = layout.contest_of(election, sid)
        first += [("ballot", sid, c) for c in _cases(contest)]
    bad = [(b, rng.choice(styles), b) for b in BAD_SHEETS]
    # interleave bad sheets into the first pass so even a small deck has all of them
    order: list[tuple[str, str | None, str]] = []
    step = max(1, len(first) // len(bad))
    for i, item in enumerate(first):
        order.append(item)
        if i % step == step - 1 and bad:
            order.append(bad.pop(0))
    order += bad
    plans: list[SheetPlan] = []
    for i in range(sheets):
        srng = random.Random(rng.getrandbits(64))
        if i < len(order):
            kind, sid, case = order[i]
        elif srng.random() < 0.03:
            kind = srng.choice(BAD_SHEETS)
            sid, case = srng.choice(styles), kind
        else:
            kind, sid = "ballot", srng.choice(styles)
            cases = _cases(layout.contest_of(election, sid))
            case = srng.choices(cases, weights=[_WEIGHTS.get(c, 1) for c in cases])[0]
        plans.append(_plan_one(election, i, kind, sid, case, srng, dpi, hesitation))
    return plans


def _plan_one(election, i, kind, sid, case, rng, dpi, hesitation) -> SheetPlan:
    deg = _degradation(rng, dpi)
    marks: dict[str, str] = {}
    expected: dict
    if kind in ("ballot", "torn", "double-feed", "other-station", "truncated-file"):
        contest = layout.contest_of(election, sid)
        use_case = case if kind == "ballot" else rng.choice(_cases(contest))
        for b in _marked_boxes(contest, use_case, rng):
            marks[b] = rng.choice(MARK_SHAPES)
        if rng.random() < hesitation and kind == "ballot":
            # A hesitation dot: the pen rested on an unmarked box. Not a mark by
            # intent; its fill sits at the blank/marginal border, so the reader may
            # rightly return the sheet for review (never count it as a vote).
            free = [b for b in box_ids(contest) if b not in marks]
            deg["hesitation"] = rng.choice(free)
        if kind == "ballot":
            o = outcome_from_boxes(contest, set(marks))
            expected = {"accepted": True, "reason": None, "outcomes": [_truth_json(o)]}
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
    return SheetPlan(i + 1, kind, sid, case, marks, expected, deg, rng.getrandbits(32))


def _truth_json(o) -> dict:
    j = o.to_json()
    j.pop("marginal")
    return j


# --- rendering ---------------------------------------------------------------------

@lru_cache(maxsize=16)
def _base_page(election: Election, style: str, dpi: int) -> np.ndarray:
    return np.asarray(layout.render_sheet(election, style, dpi))


def _other_station(election: Election) -> Election:
    st = dataclasses.replace(election.station, id=election.station.id + "-other",
                             number=election.station.number + 1000)
    return dataclasses.replace(election, station=st)


def _draw_mark(page: np.ndarray, b: layout.Box, shape: str, k: float, rng: random.Random) -> None:
    ink = rng.randint(15, 120)                # black ballpoint to a pale blue one
    th = max(1, int(round(rng.uniform(0.55, 1.0) * k)))

    def P(fx, fy):           # a point at a fraction of the box, with hand jitter
        return (int(round((b.x + b.w * fx + rng.uniform(-0.25, 0.25)) * k)),
                int(round((b.y + b.h * fy + rng.uniform(-0.25, 0.25)) * k)))

    if shape == "filled":
        pts = np.array([P(0.1, 0.12), P(0.9, 0.08), P(0.92, 0.9), P(0.08, 0.92)], np.int32)
        cv2.fillPoly(page, [pts], ink, lineType=cv2.LINE_AA)
    elif shape == "cross":
        a = rng.uniform(0.08, 0.18)
        cv2.line(page, P(a, a), P(1 - a, 1 - a), ink, th, cv2.LINE_AA)
        cv2.line(page, P(1 - a, a), P(a, 1 - a), ink, th, cv2.LINE_AA)
    elif shape == "tick":
        pts = np.array([P(0.15, 0.5), P(0.42, 0.85), P(0.9, 0.12)], np.int32)
        cv2.polylines(page, [pts], False, ink, th + 1, cv2.LINE_AA)
    elif shape == "dot":
        r = int(round(rng.uniform(0.24, 0.32) * min(b.w, b.h) * k))
        cv2.circle(page, P(0.5, 0.5), r, ink, -1, cv2.LINE_AA)
    elif shape == "partial":
        cx, cy = P(rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6))
        ax = int(b.w * k * rng.uniform(0.25, 0.35))
        ay = int(b.h * k * rng.uniform(0.18, 0.3))
        cv2.ellipse(page, (cx, cy), (ax, ay), rng.uniform(0, 180), 0, 360, ink, -1, cv2.LINE_AA)
    else:
        raise ValueError(shape)


def _draw_hesitation(page: np.ndarray, b: layout.Box, k: float, rng: random.Random) -> None:
    inner = (b.w - 2.4) * (b.h - 2.4)                 # the reader's measured area (mm²)
    r = math.sqrt(rng.uniform(0.04, 0.075) * inner / math.pi)
    cx, cy = b.center
    cv2.circle(page, (int(round(cx * k)), int(round(cy * k))), max(1, int(round(r * k))),
               rng.randint(20, 80), -1, cv2.LINE_AA)


def _draw_stray(page: np.ndarray, geo: layout.SheetGeometry, k: float, rng: random.Random) -> None:
    """A pen stroke somewhere in the text or margins, at least 3 mm from every box."""
    for _ in range(30):
        x, y = rng.uniform(25, 165), rng.uniform(55, 270)
        ln, ang = rng.uniform(4, 25), rng.uniform(0, math.pi)
        x2, y2 = x + ln * math.cos(ang), y + ln * math.sin(ang)
        if all(not _near(b, x, y, x2, y2, 3.0) for b in geo.boxes.values()):
            cv2.line(page, (int(x * k), int(y * k)), (int(x2 * k), int(y2 * k)),
                     rng.randint(20, 120), max(1, int(0.6 * k)), cv2.LINE_AA)
            return


def _near(b: layout.Box, x1, y1, x2, y2, m) -> bool:
    lo_x, hi_x = min(x1, x2), max(x1, x2)
    lo_y, hi_y = min(y1, y2), max(y1, y2)
    return not (hi_x < b.x - m or lo_x > b.x + b.w + m or hi_y < b.y - m or lo_y > b.y + b.h + m)


def _page_affine(deg: dict, k: float, page_w: int, page_h: int, canvas: tuple[int, int]) -> np.ndarray:
    a = math.radians(deg["skew_deg"])
    s = deg["scale"]
    cw, ch = canvas
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]]) * s
    c_page = np.array([page_w / 2, page_h / 2])
    c_canvas = np.array([cw / 2 + deg["shift_mm"][0] * k, layout.PAGE_H * k / 2 + 5 * k
                         + deg["shift_mm"][1] * k])
    t = c_canvas - R @ c_page
    return np.hstack([R, t[:, None]])


def render_plan(plan: SheetPlan, election: Election) -> bytes:
    """The encoded image file of one planned sheet (deterministic)."""
    rng = random.Random(plan.seed)
    deg = plan.degradation
    dpi = deg["dpi"]
    k = dpi / 25.4
    cw, ch = int(round(CANVAS_W * k)), int(round(CANVAS_H * k))
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
                _draw_mark(page, geo.boxes[bid], shape, k, rng)
            if deg.get("hesitation"):
                _draw_hesitation(page, geo.boxes[deg["hesitation"]], k, rng)
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
        M = _page_affine(deg, k, pw, ph, (cw, ch))
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
    warped = cv2.warpAffine(page, M, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
    m = cv2.warpAffine(mask, M, (cw, ch), flags=cv2.INTER_LINEAR, borderValue=0)
    alpha = m.astype(np.float32) / 255.0
    img[:] = (warped * alpha + img * (1 - alpha)).astype(np.uint8)


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


def _scanner_effects(img: np.ndarray, deg: dict, k: float, rng: random.Random) -> np.ndarray:
    if deg.get("uneven_light", 0) > 0:
        # lamp fall-off across the sensor: darker towards one side
        h, w = img.shape
        ramp = 1.0 - deg["uneven_light"] * np.linspace(0, 1, w, dtype=np.float32)
        if rng.random() < 0.5:
            ramp = ramp[::-1]
        img = (img * ramp[None, :]).astype(np.uint8)
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

def generate_deck(election: Election, sheets: int, seed: int = 0,
                  dpi: int | None = None, hesitation: float = 0.0) -> Iterator[DeckSheet]:
    for plan in plan_deck(election, sheets, seed, dpi, hesitation):
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
               seed: int = 0) -> Path:
    """Write the deck's images and expected.json into ``out_dir``; returns expected.json's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plans = plan_deck(election, sheets, seed, dpi)
    for plan in plans:
        (out_dir / plan.name).write_bytes(render_plan(plan, election))
    doc = {
        "election": election.id, "station": election.station.id, "seed": seed, "dpi": dpi,
        "sheets": [p.to_json() for p in plans],
        "tally": expected_tally(election, plans),
    }
    path = out_dir / "expected.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    return path
