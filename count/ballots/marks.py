"""Reading the mark boxes of a located sheet: ink by darkness levels, inside and around each box.

``read_boxes(image, H, election, style)`` takes a grey scan and the homography
page-mm → image-px (count/ballots/interpret.py finds it) and returns, for every box
of the style, a ``BoxReading``: its state (count/ballots/rules.py ``Mark``: MARKED,
BLANK, MARGINAL, OUTSIDE) and the measures behind it. Pure: no I/O.
docs/ballots.md "Ink by darkness levels", "Thresholds" and "The voter's intent".

1. The boxes' neighbourhoods (each box with a ``RING_MM`` ring, grouped where they
   touch: a column, a grid) are resampled at ``K`` = 8 px/mm from the
   full-resolution image, so a 0.3 mm ballpoint line keeps what darkness the
   scanner left it.
2. Darkness of a pixel = 1 - its value / the local paper white (a max filter over
   ``WHITE_MM`` of the area-averaged image, smoothed): lamp fall-off, folds and
   tinted paper do not darken the paper, only ink does.
3. Each box is found where it is, within ``SEARCH_MM`` of where the homography puts
   it (the darkness profiles across it matched with the printed template's: paper
   that does not lie flat moves boxes locally); the measured interior is the box
   inset by ``INSET_MM``.
4. Inside: pieces of ink at least ``T_GREY`` dark and ``SPECK_PX`` big. Dark ink is,
   in a wide piece (a 0.6 mm disc fits in it), darkness at least ``T_WIDE``; in a thin
   piece (a pen line), at least ``T_DARK × THIN_SHOWS × p_o`` and never below
   ``THIN_FLOOR``, where ``p_o`` is the darkness the printed 0.35 mm outline shows on
   this scan (blur lightens a thin pen line as it lightens the outline; a thin grey
   erasure stays below the floor). Per box size (``SIZE_TABLE``): MARKED when the
   dark ink has the area and the extent (a 1.4 mm hesitation dot has the area, not the
   extent); BLANK when the grey ink is a speck or a trace; otherwise MARGINAL (an
   erasure, a pale pen, a dark stain: between "a vote" and "not a vote").
5. Around: pen ink (at least ``T_RING`` dark) that is not print (the ballot's print
   file sampled at 8 px/mm, moved with each box, widened by ``PRINT_PAD_MM``, rules
   by ``RULE_PAD_MM``) is grouped into strokes (pieces closer than ~1 mm join); a
   stroke that never leaves the print's edge, or a long straight crease, is not a
   pen. A box is OUTSIDE when a stroke straddles it and a neighbour (ink in both, or
   ink on both shared sides leaning together), when the stroke in it lies mostly
   outside it, when strokes inside no box leave ``OUT_AREA`` in its ring and it is
   not marked, or when a printed number beside it carries ``OVER_PRINT_MM2`` of ink
   beyond its print and no box beside the number is marked. Ink farther than
   ``RING_MM`` from every box (stray strokes, notes in the margin) is not looked at.

Example::

    boxes = read_boxes(grey, H, election, "bs-party-list")
    boxes["party-list/p-03"].state        # Mark.MARKED
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from count.ballots import layout
from count.ballots.rules import MARGINAL, MARKED, OUTSIDE, UNMARKED, Mark
from station.election import Election

K = 8.0                    # px per mm of the resampled neighbourhoods
T_GREY = 0.25              # darkness of a trace: erasures, stains, pale pencil
T_DARK = 0.52              # darkness of pen ink (of a thin line: before the scanner's blur)
THIN_SHOWS = 0.9           # a 0.3-0.5 mm line shows about this share of the darkness the
                           # 0.35 mm printed outline shows on the same scan (blur, resolution)
T_WIDE = 0.50              # darkness of a wide piece of ink (blur does not lighten it)
THIN_FLOOR = 0.44          # never lower: a thin grey line (an erasure of a pen line) stays out
WIDE_SHARE = 0.2           # a piece of ink with this share of "wide" pixels is wide
T_RING = 0.35              # darkness of a stroke around a box
INSET_MM = 0.8             # measured interior: this far inside the box's edge (outline 0.35 mm + blur)
SEARCH_MM = 1.5            # the outline is looked for this far around its expected place
RING_MM = 6.0              # ink this close to a box (and nearer to it than to any other) may be meant for it
PRINT_PAD_MM = 0.2         # printed matter, widened by this, is not ink (the print around
                           # each box is first moved with the box's outline)
OVER_PRINT_MM2 = 0.35      # ink beyond what a printed number next to a box accounts for
RULE_PAD_MM = 0.35         # printed lines longer than 12 mm (rules) are widened by this
SPECK_PX = 5               # smaller pieces of ink are noise (0.08 mm²)
WHITE_MM = 9               # the local paper white: max filter over this many mm

# Per box side (mm): (side, mark area mm², mark extent mm, trace area mm², spot extent mm).
# Between the listed sides the figures are interpolated. docs/ballots.md "Thresholds".
SIZE_TABLE = ((6.0, 0.40, 2.4, 0.9, 2.0), (9.0, 0.50, 3.0, 1.2, 2.2))
STRADDLE_GAP_MM = 6.5      # boxes this close (same row or column) can share a straddling mark
EDGE_PX = 4                # ink within 0.5 mm of a side touches it
EDGE_MIN = 6               # pixels of ink touching the shared sides of both boxes
LEAN = 0.25                # and the ink of both this far (of the half-side) towards each other
CREASE_MM = 25.0           # a stroke this long and under 2 mm wide is a crease or a streak
OUT_AREA = 0.8             # mm² of stroke in a box's ring (no ink inside any box)
OUT_SHARE = 1.0            # a stroke with more ink outside than inside its box is outside
SPAN_AREA = 0.5            # mm² of one stroke's ink inside each of two boxes: straddling


@dataclass(frozen=True)
class BoxReading:
    """One box: its state and the measures behind it (mm², mm)."""

    state: Mark
    fill: float            # share of the measured interior covered by dark ink
    dark_area: float
    dark_extent: float
    grey_area: float
    grey_extent: float
    ring_area: float       # stroke ink around the box attributed to it
    why: str = ""          # "straddle", "centred-outside", "ring" for OUTSIDE boxes
    features: dict | None = None


def thresholds(side: float) -> tuple[float, float, float, float]:
    """(mark area, mark extent, trace area, spot extent) for a box of ``side`` mm."""
    (s0, *a), (s1, *b) = SIZE_TABLE
    t = min(1.0, max(0.0, (side - s0) / (s1 - s0)))
    return tuple(x + t * (y - x) for x, y in zip(a, b, strict=True))


# --- per style: template, groups of boxes, zones (cached) ------------------------------

@dataclass
class _Group:
    x0: int                # top-left in template px (K px/mm)
    y0: int
    w: int
    h: int
    boxes: list[str]
    rects: np.ndarray      # (n, 4) box x0, y0, x1, y1 in group px
    nearest: np.ndarray    # group px → index of the nearest box
    ring: np.ndarray       # group px within RING_MM of a box, outside it (bool)
    inner: np.ndarray      # group px → 1 + index of the box whose interior it is in, else 0
    pairs: list[tuple[int, int, int]]   # neighbours (i above / left of j, axis 0: rows, 1: columns)
    blobs: list[tuple]     # printed numbers and words near boxes: (y0, y1, x0, x1, mass, boxes)


@dataclass
class _Style:
    election: Election     # kept alive: the cache is keyed on its id
    print_zone: np.ndarray  # template px: printed matter widened by PRINT_PAD_MM (bool)
    dark: np.ndarray        # template px: darkness of the print (0..1)
    groups: list[_Group]


_STYLE_CACHE: dict[tuple[int, str], _Style] = {}


def _style(election: Election, style: str) -> _Style:
    hit = _STYLE_CACHE.get((id(election), style))
    if hit is not None and hit.election is election:
        return hit
    geo = layout.sheet_geometry(election, style)
    # The print file's rendering (300 dpi, as the ballots are printed), sampled at K px/mm:
    # text set at another resolution would not fall exactly where the printed text is.
    tpl = cv2.resize(np.asarray(layout.render_sheet(election, style, dpi=300)),
                     (int(layout.PAGE_W * K), int(layout.PAGE_H * K)), interpolation=cv2.INTER_AREA)
    printed = (tpl < 200).view(np.uint8)
    # Printed rules (the row lines) are long: paper that does not lie flat turns them a
    # little against the template, so they are widened more than text and box outlines
    # (each box's outline is found where it is).
    n = int(12 * K)
    rules = cv2.morphologyEx(printed, cv2.MORPH_OPEN, np.ones((1, n), np.uint8)) | cv2.morphologyEx(
        printed, cv2.MORPH_OPEN, np.ones((n, 1), np.uint8))

    def widen(mask, mm):
        r = int(round(mm * K))
        return cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0

    wide_rules = widen(rules, RULE_PAD_MM)
    zone = widen(printed, PRINT_PAD_MM) | wide_rules
    dark = 1.0 - tpl.astype(np.float32) / 255.0
    out = _Style(election, zone, dark, _groups(geo, tpl.shape, printed > 0, wide_rules, dark))
    if len(_STYLE_CACHE) > 16:
        _STYLE_CACHE.clear()
    _STYLE_CACHE[(id(election), style)] = out
    return out


def _groups(geo: layout.SheetGeometry, shape: tuple[int, int], printed: np.ndarray, rules: np.ndarray,
            dark: np.ndarray) -> list[_Group]:
    """Boxes whose neighbourhoods touch, resampled together (a column, a grid)."""
    m = RING_MM + SEARCH_MM + 0.5
    rects = [[b.x - m, b.y - m, b.x + b.w + m, b.y + b.h + m, [bid]] for bid, b in geo.boxes.items()]
    merged = True
    while merged:
        merged = False
        for i, j in itertools.combinations(range(len(rects)), 2):
            a, b = rects[i], rects[j]
            if a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]:
                rects[i] = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]), a[4] + b[4]]
                del rects[j]
                merged = True
                break
    groups = []
    for x0, y0, x1, y1, ids in rects:
        gx0, gy0 = max(0, int(math.floor(x0 * K))), max(0, int(math.floor(y0 * K)))
        gx1, gy1 = min(shape[1], int(math.ceil(x1 * K))), min(shape[0], int(math.ceil(y1 * K)))
        w, h = gx1 - gx0, gy1 - gy0
        r = np.array([[geo.boxes[b].x * K - gx0, geo.boxes[b].y * K - gy0,
                       (geo.boxes[b].x + geo.boxes[b].w) * K - gx0,
                       (geo.boxes[b].y + geo.boxes[b].h) * K - gy0] for b in ids])
        # Nearest box and distance to it for every pixel (boxes as seeds of a distance transform).
        seeds = np.full((h, w), 255, np.uint8)
        inner = np.zeros((h, w), np.int16)
        ins = int(round(1.0 * K))        # the interior for grouping strokes: clear of a moved outline
        for i, (bx0, by0, bx1, by1) in enumerate(r):
            ix0, iy0, ix1, iy1 = int(round(bx0)), int(round(by0)), int(round(bx1)), int(round(by1))
            seeds[iy0:iy1 + 1, ix0:ix1 + 1] = 0
            inner[iy0 + ins:iy1 - ins, ix0 + ins:ix1 - ins] = i + 1
        best, labels = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_CCOMP)
        to_box = np.zeros(labels.max() + 1, np.int16)
        for i, (bx0, by0, bx1, by1) in enumerate(r):
            to_box[labels[int(round((by0 + by1) / 2)), int(round((bx0 + bx1) / 2))]] = i
        nearest = to_box[labels]
        ring = (best > 0.7 * K) & (best <= RING_MM * K)
        pairs = []
        for i, j in itertools.permutations(range(len(ids)), 2):
            a, b = r[i], r[j]
            gap_y, gap_x = b[1] - a[3], b[0] - a[2]
            if 0 < gap_y <= STRADDLE_GAP_MM * K and min(a[2], b[2]) - max(a[0], b[0]) > 0:
                pairs.append((i, j, 0))
            elif 0 < gap_x <= STRADDLE_GAP_MM * K and min(a[3], b[3]) - max(a[1], b[1]) > 0:
                pairs.append((i, j, 1))
        groups.append(_Group(gx0, gy0, w, h, ids, r, nearest, ring, inner, pairs,
                             _print_blobs(printed[gy0:gy1, gx0:gx1], rules[gy0:gy1, gx0:gx1],
                                          dark[gy0:gy1, gx0:gx1], r, nearest, best)))
    return groups


def _print_blobs(printed, rules, dark, rects, nearest, dist) -> list[tuple]:
    """The printed numbers and words beside the boxes (their window within 2.5 mm of a box;
    not outlines, not rules): a pen stroke over one of them hides in its print, but adds
    darkness to it. Each with its window (0.5 mm around the print), the print's darkness
    there and the boxes it lies between."""
    text = printed & ~rules
    outline = np.zeros_like(text)
    pad = int(round(0.7 * K))
    for bx0, by0, bx1, by1 in rects:
        x0, y0, x1, y1 = int(round(bx0)), int(round(by0)), int(round(bx1)), int(round(by1))
        outline[max(0, y0 - pad):y1 + pad + 1, max(0, x0 - pad):x1 + pad + 1] = True
    text &= ~outline & (dist <= RING_MM * K)
    joined = cv2.dilate(text.view(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
    n, lab, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    out = []
    m = int(round(0.5 * K))
    for i in range(1, n):
        x, y, w, h, _area = stats[i]
        if w * h > (20 * K) ** 2:
            continue
        y0, y1 = max(0, y - m), min(text.shape[0], y + h + m)
        x0, x1 = max(0, x - m), min(text.shape[1], x + w + m)
        win = text[y0:y1, x0:x1] & (lab[y0:y1, x0:x1] == i)
        shares = np.bincount(nearest[y0:y1, x0:x1][win], minlength=len(rects))
        # The boxes this print lies between: within 2.5 mm of its window.
        gx = np.maximum(np.maximum(rects[:, 0] - x1, x0 - rects[:, 2]), 0)
        gy = np.maximum(np.maximum(rects[:, 1] - y1, y0 - rects[:, 3]), 0)
        near = tuple(int(j) for j in np.nonzero(np.hypot(gx, gy) <= 2.5 * K)[0])
        if not near:                    # print farther from the boxes (a heading) is left to the rings
            continue
        out.append((y0, y1, x0, x1, float(dark[y0:y1, x0:x1].sum()), near, int(np.argmax(shares))))
    return out


# --- per sheet -------------------------------------------------------------------------

def read_boxes(image: np.ndarray, H: np.ndarray, election: Election, style: str) -> dict[str, BoxReading]:
    """Every box of ``style`` read from ``image`` (grey, full resolution) through ``H``
    (page mm → image px). See the module docstring."""
    st = _style(election, style)
    geo = layout.sheet_geometry(election, style)
    out: dict[str, BoxReading] = {}
    for g in st.groups:
        out.update(_read_group(image, H, g, st, geo))
    return out


def _darkness(v: np.ndarray) -> np.ndarray:
    """1 - value / local paper white, in [0, 1]."""
    h, w = v.shape
    f = int(K)
    small = cv2.resize(v, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    white = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (WHITE_MM, WHITE_MM)))
    white = cv2.GaussianBlur(white, (0, 0), 2.0)
    white = cv2.resize(white, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(1.0 - v / np.maximum(white, 1.0), 0.0, 1.0)


def _read_group(image, H, g: _Group, st: _Style, geo) -> dict[str, BoxReading]:
    A = np.array([[1 / K, 0, (g.x0 + 0.5) / K], [0, 1 / K, (g.y0 + 0.5) / K], [0, 0, 1]])
    v = cv2.warpPerspective(image, H @ A, (g.w, g.h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                            borderValue=255).astype(np.float32)
    D = _darkness(v)
    ink = D >= T_RING
    crop = (slice(g.y0, g.y0 + g.h), slice(g.x0, g.x0 + g.w))
    zone = st.print_zone[crop]
    printed = zone.copy()
    offsets = []
    r = int(round((RING_MM + 3.0) * K))
    tdark = st.dark[crop]
    for (bx0, by0, bx1, by1) in g.rects:
        dx, dy = _box_offset(D, tdark, bx0, by0, bx1, by1)
        offsets.append((dx, dy))
        if dx or dy:
            # the print around a moved box moves with it (where both windows are in the group)
            y0, y1 = max(0, int(by0) - r, dy), min(g.h, int(by1) + r, g.h + dy)
            x0, x1 = max(0, int(bx0) - r, dx), min(g.w, int(bx1) + r, g.w + dx)
            if y1 > y0 and x1 > x0:
                printed[y0:y1, x0:x1] |= zone[y0 - dy:y1 - dy, x0 - dx:x1 - dx]
    # Pen ink where there is no print; slivers one pixel wide are the print a little off.
    stroke = cv2.morphologyEx((ink & ~printed).view(np.uint8), cv2.MORPH_OPEN, _SQUARE2).view(bool)
    p_o = _outline_darkness(D, g.rects, offsets)
    thin_level = max(THIN_FLOOR, T_DARK * THIN_SHOWS * p_o)
    Ds = cv2.GaussianBlur(D, (0, 0), 0.5)
    interiors = [_interior(D, Ds, rect, off, thin_level) for rect, off in zip(g.rects, offsets, strict=True)]
    near_print = cv2.dilate(printed.view(np.uint8), _DISC5).view(bool)
    ring_area, why = _strokes(stroke, g, interiors, near_print)
    over_print = _over_print(D, stroke, g, offsets)
    for i, j, axis in g.pairs:
        fi, fj = interiors[i][1], interiors[j][1]
        # i's far side (bottom / right) and j's near side (top / left) both inked, and the
        # ink of each leaning towards the other: one mark across the gap.
        touch_i, touch_j = fi["edges"][1 if axis == 0 else 3], fj["edges"][0 if axis == 0 else 2]
        lean_i, lean_j = fi["cy" if axis == 0 else "cx"], -fj["cy" if axis == 0 else "cx"]
        if touch_i >= EDGE_MIN and touch_j >= EDGE_MIN and min(lean_i, lean_j) >= LEAN:
            why[i] = why[j] = "straddle"
    out = {}
    states = []
    for i, bid in enumerate(g.boxes):
        side = min(geo.boxes[bid].w, geo.boxes[bid].h)
        a_mark, e_mark, a_trace, e_spot = thresholds(side)
        f = interiors[i][1]
        if f["dA"] >= a_mark and f["dE"] >= e_mark:
            state = MARKED
        elif f["gE"] < e_spot or f["gA"] < a_trace:
            state = UNMARKED
        else:
            state = MARGINAL
        states.append(state)
    # Ink over a number beside a marked box is that mark's stroke (a tick begun on the
    # number); beside unmarked boxes, it may be meant for any of them.
    for extra, near in over_print:
        if not any(states[i] == MARKED for i in near):
            for i in near:
                ring_area[i] += extra / len(near)
                why[i] = why[i] or "ring"
    for i, bid in enumerate(g.boxes):
        f = interiors[i][1]
        state = states[i]
        if why[i] in ("straddle", "centred-outside") or (why[i] == "ring" and state != MARKED):
            state = OUTSIDE
        out[bid] = BoxReading(state, f["fill"], f["dA"], f["dE"], f["gA"], f["gE"], ring_area[i],
                              why[i] if state == OUTSIDE else "", {**f, "po": p_o})
    return out


_DISC5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
_SQUARE2 = np.ones((2, 2), np.uint8)


def _over_print(D, stroke, g: _Group, offsets) -> list[tuple[float, tuple[int, ...]]]:
    """Pen ink over the printed numbers and words beside boxes: (mm² of it, the boxes the
    print lies between) for each where there is some. A stroke over print hides in it
    but adds ink-dark pixels: each window's ink-dark darkness is compared with its print's
    (times the median ratio of the group's windows: how this scan shows print; nearly all
    windows carry no pen ink). Sums do not care where in a window the ink lies, so print
    a pixel or two off does not count."""
    if len(g.blobs) < 3:
        return []
    seen = np.where(D >= 0.3, D, 0.0)
    obs = np.full(len(g.blobs), np.nan)
    masses = np.array([b[4] for b in g.blobs])
    for k, (y0, y1, x0, x1, mass, _near, home) in enumerate(g.blobs):
        dx, dy = offsets[home]
        if y0 + dy >= 0 and x0 + dx >= 0 and y1 + dy <= D.shape[0] and x1 + dx <= D.shape[1] and mass > 0:
            obs[k] = float(seen[y0 + dy:y1 + dy, x0 + dx:x1 + dx].sum())
    ok = np.isfinite(obs)
    if ok.sum() < 3:
        return []
    extra = (obs - float(np.median(obs[ok] / masses[ok])) * masses) / K ** 2
    out = []
    m = int(K)
    for e, (y0, y1, x0, x1, _mass, near, home) in zip(extra, g.blobs, strict=True):
        if not (np.isfinite(e) and e >= OVER_PRINT_MM2):
            continue
        # and some of the pen's ink shows beside the print (a stain's rim, a shade does not)
        dx, dy = offsets[home]
        ys, xs = slice(max(0, y0 + dy - m), y1 + dy + m), slice(max(0, x0 + dx - m), x1 + dx + m)
        if np.count_nonzero(stroke[ys, xs] & (D[ys, xs] >= T_DARK * 0.85)) >= SPECK_PX:
            out.append((float(e), near))
    return out


def _outline_darkness(D: np.ndarray, rects, offsets) -> float:
    """The printed outline's darkness as this scan shows it (a 0.35 mm black line: what
    blur and resolution leave of a thin line): the median over the boxes of the peak of
    the left edge's mean profile."""
    peaks = []
    for (bx0, by0, _bx1, by1), (dx, dy) in zip(rects, offsets, strict=True):
        x0, y0, y1 = int(round(bx0)) + dx, int(round(by0)) + dy + 8, int(round(by1)) + dy - 8
        if x0 < 3 or y1 <= y0:
            continue
        prof = D[y0:y1, x0 - 3:x0 + 6].mean(axis=0)
        peaks.append(float(prof.max()))
    return max(0.3, float(np.median(peaks))) if peaks else 1.0


def _interior(D: np.ndarray, Ds: np.ndarray, rect, off, thin_level: float) -> tuple:
    """(pixel slice, measures) of one box's interior (module docstring, step 4)."""
    bx0, by0, bx1, by1 = rect
    dx, dy = off
    ins = INSET_MM * K
    x0, y0 = max(0, int(round(bx0 + ins)) + dx), max(0, int(round(by0 + ins)) + dy)
    x1, y1 = int(round(bx1 - ins)) + dx, int(round(by1 - ins)) + dy
    sl = (slice(y0, y1), slice(x0, x1))
    win = D[sl]
    f = {"fill": 0.0, "dA": 0.0, "dE": 0.0, "gA": 0.0, "gE": 0.0, "cx": 0.0, "cy": 0.0,
         "edges": (0, 0, 0, 0)}
    if win.size == 0 or win.max() < T_GREY:
        return sl, f
    grey = (win >= T_GREY).view(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(grey, connectivity=8)
    big = stats[:, 4] >= SPECK_PX
    big[0] = False
    if not big.any():
        return sl, f
    st = stats[big]
    f["gE"] = max((st[:, 0] + st[:, 2]).max() - st[:, 0].min(), (st[:, 1] + st[:, 3]).max() - st[:, 1].min()) / K
    f["gA"] = float(st[:, 4].sum()) / K ** 2
    # A piece of ink is wide where a 0.6 mm disc fits in it: its darkness is its own. A thin
    # piece (a pen line) shows the darkness blur leaves of it, like the printed outline does.
    opened = cv2.morphologyEx(grey, cv2.MORPH_OPEN, _DISC5)
    wide = np.bincount(lab[opened > 0], minlength=n) >= WIDE_SHARE * stats[:, 4]
    level = np.where(wide, 2.0, thin_level)                      # per piece: thin threshold
    level[~big] = 9.0
    dark = (Ds[sl] >= level[lab]) | ((Ds[sl] >= T_WIDE) & wide[lab] & big[lab])
    nd = int(np.count_nonzero(dark))
    if nd:
        ys, xs = np.nonzero(dark)
        f["dA"] = nd / K ** 2
        f["dE"] = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) / K
    f["fill"] = nd / win.size
    # Where the ink sits (centroid, -1..1 across the interior) and how much of it touches
    # each side (top, bottom, left, right): a mark straddling two boxes leans on the
    # sides they share.
    inked = big[lab]
    ys, xs = np.nonzero(inked)
    hh, ww = win.shape
    f["cx"] = float(xs.mean() / max(1, ww - 1) * 2 - 1)
    f["cy"] = float(ys.mean() / max(1, hh - 1) * 2 - 1)
    e = EDGE_PX
    f["edges"] = (int(inked[:e].sum()), int(inked[-e:].sum()), int(inked[:, :e].sum()), int(inked[:, -e:].sum()))
    return sl, f


def _strokes(stroke: np.ndarray, g: _Group, interiors, near_print: np.ndarray) -> tuple[list[float], list[str]]:
    """Ink around the boxes grouped into strokes: per box, the ring ink attributed to it
    and why it is OUTSIDE ("straddle", "centred-outside", "ring") or ""."""
    n = len(g.boxes)
    ring_area = [0.0] * n
    why = [""] * n
    if not stroke.any():
        return ring_area, why
    # Strokes are grouped at half resolution (pieces less than ~1 mm apart join): as good
    # for grouping, four times fewer pixels to label.
    h2, w2 = (stroke.shape[0] + 1) // 2, (stroke.shape[1] + 1) // 2
    half = np.zeros((h2, w2), np.uint8)
    ys, xs = np.nonzero(stroke)
    half[ys // 2, xs // 2] = 1
    bridge = cv2.dilate(half, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    ncomp, lab, cst, _ = cv2.connectedComponentsWithStats(bridge, connectivity=8)
    comp = lab[ys // 2, xs // 2]
    # A long straight thin line (a fold's crease, what is left of a scanner streak) is
    # no pen mark meant for a box.
    long_side, short_side = np.maximum(cst[:, 2], cst[:, 3]), np.minimum(cst[:, 2], cst[:, 3])
    crease = (long_side >= CREASE_MM * K / 2) & (short_side <= K)
    # A stroke that never leaves the print's edge (0.3 mm) is the print a little off, not a pen.
    clear = np.bincount(comp[~near_print[ys, xs]], minlength=ncomp)
    drop = crease | (clear < SPECK_PX)
    if drop[1:].any():
        keep = ~drop[comp]
        ys, xs, comp = ys[keep], xs[keep], comp[keep]
    inner = g.inner[ys, xs].astype(np.int64)          # 1 + box index, or 0
    # Ink inside each box per stroke: measured on the box's own (moved) interior too,
    # so a mark counts inside even where the outline moved.
    inside = np.zeros((ncomp, n + 1), np.int64)
    np.add.at(inside, (comp, inner), 1)
    for i, (sl, *_rest) in enumerate(interiors):
        sub = (ys >= sl[0].start) & (ys < sl[0].stop) & (xs >= sl[1].start) & (xs < sl[1].stop)
        if sub.any():
            cnt = np.bincount(comp[sub], minlength=ncomp)
            inside[:, i + 1] = np.maximum(inside[:, i + 1], cnt)
    total = np.bincount(comp, minlength=ncomp)
    in_ring = g.ring[ys, xs]
    near = g.nearest[ys, xs].astype(np.int64)
    px = K ** 2
    for c in range(1, ncomp):
        ins = inside[c, 1:]
        if total[c] == 0:
            continue
        holders = np.nonzero(ins >= SPAN_AREA * px)[0]
        if len(holders) >= 2:
            for i in holders:
                why[i] = "straddle"
            continue
        sel = (comp == c) & in_ring
        if ins.max() >= SPECK_PX:
            home = int(np.argmax(ins))
            outside = total[c] - ins.sum()
            ring_area[home] += float(np.count_nonzero(sel)) / px
            if outside >= OUT_AREA * px and outside > OUT_SHARE * ins[home]:
                why[home] = why[home] or "centred-outside"
            continue
        if sel.any():
            shares = np.bincount(near[sel], minlength=n)
            for i, cnt in enumerate(shares):
                ring_area[i] += cnt / px
            # One stroke between boxes (over a number, across a gap): each box with a
            # fair share of it may be the one meant.
            if shares.sum() >= OUT_AREA * px:
                for i in np.nonzero(shares >= 0.25 * shares.sum())[0]:
                    why[i] = why[i] or "ring"
    for i in range(n):
        if not why[i] and ring_area[i] >= OUT_AREA:
            why[i] = "ring"
    return ring_area, why


def _box_offset(D: np.ndarray, T: np.ndarray, bx0, by0, bx1, by1) -> tuple[int, int]:
    """Where the printed box really is, within ±SEARCH_MM of where the homography says.

    Paper that does not lie flat, and printers, move a box locally by up to a
    millimetre or so; the homography cannot know. The darkness summed along the
    box's span gives a profile across it (outline, number); sliding the template's
    profile along it, the best match is the box's place (to the nearest pixel).
    """
    r, m = int(round(SEARCH_MM * K)), 5
    x0, y0, x1, y1 = int(round(bx0)), int(round(by0)), int(round(bx1)), int(round(by1))
    if y0 - r - m < 0 or x0 - r - m < 0 or y1 + r + m > D.shape[0] or x1 + r + m > D.shape[1]:
        return 0, 0
    dx = _match(D[y0:y1, x0 - r - m:x1 + r + m].sum(axis=0), T[y0:y1, x0 - m:x1 + m].sum(axis=0), r)
    dy = _match(D[y0 - r - m:y1 + r + m, x0:x1].sum(axis=1), T[y0 - m:y1 + m, x0:x1].sum(axis=1), r)
    return dx, dy


def _match(seen: np.ndarray, printed: np.ndarray, r: int) -> int:
    """The shift (-r..r) of ``printed`` that best matches ``seen`` (normalised correlation)."""
    c = np.correlate(seen, printed, mode="valid")                      # 2r + 1 shifts
    energy = np.sqrt(np.convolve(seen ** 2, np.ones(len(printed)), mode="valid") * float(printed @ printed))
    score = c / np.maximum(energy, 1e-6)
    best = int(np.argmax(score))
    if score[best] < 0.5 or score[r] >= score[best] - 0.005:   # no outline seen, or no better place
        return 0
    shift = float(best - r)
    if 0 < best < len(score) - 1:
        a, b, cc = score[best - 1], score[best], score[best + 1]
        den = a - 2 * b + cc
        if den < 0:
            shift += 0.5 * (a - cc) / den
    return int(round(shift))
