"""Optical mark reading: one scanned sheet image in, one ``SheetReading`` out.

``interpret_sheet(image, election)`` is pure (no I/O, no tally). In order:

1. Scanner streaks (thin dark columns running the whole image height, the
   typical dirty-glass fault of sheet-fed scanners) are detected and painted
   over from their neighbours, so they hide neither a fiducial, nor the code,
   nor a box. Shape checks: an image much longer than one sheet is a ``double-feed``
   (two sheets stuck together); an image with almost no ink-dark pixel is
   ``blank-paper`` (creases and lamp fall-off are far lighter than ink); a tail of
   constant grey rows (what decoders fill a cut-off file with) is
   ``truncated-image``.
2. Fiducials (count/ballots/layout.py): dark square blobs of the right size
   in the four corner zones of a downscaled copy (~2 px/mm). Three solid and
   one ring; the ring's corner gives the orientation, so an upside-down feed is
   read like any other. The four centres must form the expected rectangle
   (side ratio within 6 %, right angles within 4°). Missing one →
   ``missing-fiducial`` (torn or folded corner); only the top pair on a short
   image → ``truncated-image``; nothing → ``unreadable``.
3. The homography page-mm → image-px from the four centres.
4. The QR code, read from a window rectified at 8 px/mm (zxing-cpp): no code
   → ``no-code``; checksum mismatch → ``bad-code``; other election →
   ``wrong-election``; other station → ``wrong-station``; unknown style →
   ``unknown-style``.
5. The page is rectified at 4 px/mm. Each box's printed outline is looked for
   within 1.5 mm of its expected place (paper that does not lie flat moves
   boxes locally); its fill ratio is the share of ink pixels (darker than 70 %
   of the paper's white) inside the box inset by 1.2 mm (clear of the outline). Classification (docs/ballots.md
   "Thresholds"): fill < ``FILL_BLANK_MAX`` blank, ≥ ``FILL_MARK_MIN`` marked,
   between marginal.
6. Validity rules with the marginal policy (count/ballots/rules.py
   ``decide``): any contest where a marginal box could change the verdict
   makes the sheet ``marginal-needs-review`` (returned to the voter, never
   guessed).

``interpret_file(path, election)`` decodes a file first: a truncated or
undecodable file is a rejection (``truncated-image`` / ``unreadable``), never
an exception. ``read_scanned(sheet, election)`` maps a scanner ``Sheet`` whose
status is not READY (jam, double feed, disconnected mid-sheet) to a rejection.

Example::

    r = interpret_file(Path("deck/sheet-0001.jpg"), election)
    print(r.accepted, r.reason, [o.to_json() for o in r.outcomes])
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from PIL import Image, UnidentifiedImageError

from count.ballots import layout
from count.ballots.reading import SheetReading
from count.ballots.rules import MARGINAL, MARKED, UNMARKED, box_ids, decide
from drivers.scanner.base import ScannerStatus
from station.election import Election
from station.errors import PackageError

FILL_BLANK_MAX = 0.06      # below: blank
FILL_MARK_MIN = 0.14       # at or above: marked; between: marginal
BOX_INSET_MM = 1.2         # measured area starts this far inside the printed outline
BOX_SEARCH_MM = 1.5        # a box's outline is looked for this far around its expected place
INK_LEVEL = 0.70           # a pixel is ink when darker than this share of the paper white
WARP_PX_PER_MM = 4.0
QR_PX_PER_MM = 8.0
FIND_WIDTH = 440           # the fiducial search uses the first pyramid level at most 1.5× this wide
MAX_ASPECT = 1.58          # longer than this (height / width): two sheets stuck together
SHORT_ASPECT = 1.30        # shorter than this: a cut-off scan
CANVAS_WIDTH_MM = 220.0    # typical scan width of a sheet-fed scanner for A4

_PAGE_CENTRES = np.float32([layout.FIDUCIALS[k] for k in ("tl", "tr", "bl", "br")])


def interpret_sheet(image: np.ndarray, election: Election) -> SheetReading:
    """Read one sheet image (grey or BGR uint8) against the election (see module docstring)."""
    img = _gray(image)
    if img is None:
        return SheetReading.rejected("unreadable", detail="not an image")
    h, w = img.shape
    if min(h, w) < 300:
        return SheetReading.rejected("unreadable", detail=f"image too small: {w}x{h}")
    if _constant_tail(img):
        return SheetReading.rejected("truncated-image")
    if h / w > MAX_ASPECT:
        return SheetReading.rejected("double-feed", detail=f"sheet length {h / w:.2f} × width")
    # ~0.6 mm either side of a column: wider than any streak, narrower than a box
    raw, img = img, _remove_streaks(img, max(3, int(round(0.6 * w / CANVAS_WIDTH_MM))))
    # An image pyramid (each level half the previous, pixel i ↔ 2i): one level near
    # 4 px/mm to measure boxes, one near 2 px/mm to find the fiducials.
    levels = [img]
    while levels[-1].shape[1] > FIND_WIDTH * 1.5:
        levels.append(cv2.pyrDown(levels[-1]))
    m = len(levels) - 1
    small = levels[m]
    white = float(np.percentile(small[::2, ::2], 95))
    dark = small < white * 0.5
    # Blank: almost no ink-dark pixel at ~4 px/mm (where thin print keeps its darkness;
    # creases, lamp fall-off and paper grain are far lighter than ink).
    mid = next((lv for lv in reversed(levels) if lv.shape[1] >= 800), levels[0])
    if white < 60 or (mid[::2, ::2] < white * 0.6).mean() < 0.0005:
        return SheetReading.rejected("blank-paper")
    found = _find_fiducials(dark)
    if isinstance(found, tuple):
        return SheetReading.rejected(_torn_or_unreadable(img, found, 2 ** m))
    if isinstance(found, str):
        return SheetReading.rejected(found)
    dst = found * (2 ** m)                       # level m px → full px
    H = cv2.getPerspectiveTransform(_PAGE_CENTRES, dst.astype(np.float32))
    k = float(np.linalg.norm(dst[1] - dst[0]) / (_PAGE_CENTRES[1, 0] - _PAGE_CENTRES[0, 0]))
    n = 0
    while n + 1 < len(levels) and k / 2 ** (n + 1) >= WARP_PX_PER_MM * 0.9:
        n += 1

    code = _read_qr(img, H)
    if code is None and raw is not img:
        code = _read_qr(raw, H)                 # the streak repair cost a module: try as scanned
    if code is None:
        return SheetReading.rejected("no-code")
    parsed = layout.parse_qr_payload(code)
    if parsed is None:
        return SheetReading.rejected("bad-code")
    e_id, style_id, st_id = parsed
    ids = dict(election=e_id, station=st_id, ballot_style=style_id)
    if e_id != election.id:
        return SheetReading.rejected("wrong-election", detail=e_id, **ids)
    if st_id != election.station.id:
        return SheetReading.rejected("wrong-station", detail=st_id, **ids)
    try:
        geo = layout.sheet_geometry(election, style_id)
    except (PackageError, ValueError):        # a style this election does not print
        return SheetReading.rejected("unknown-style", detail=style_id, **ids)

    fills = _box_fills(levels[n], 2 ** n, H, geo)
    outcomes = []
    review = False
    for cid in geo.contests:
        contest = election.contest(cid)
        marks = {b: _classify(fills[b]) for b in box_ids(contest)}
        d = decide(contest, marks)
        review |= d.needs_review
        outcomes.append(d.outcome)
    boxes = {b: round(v, 4) for b, v in fills.items()}
    if review:
        return SheetReading.rejected("marginal-needs-review", outcomes=tuple(outcomes),
                                     boxes=boxes, **ids)
    return SheetReading.accepted_with(tuple(outcomes), boxes=boxes, **ids)


def _classify(fill: float):
    if fill >= FILL_MARK_MIN:
        return MARKED
    if fill < FILL_BLANK_MAX:
        return UNMARKED
    return MARGINAL


def _gray(image) -> np.ndarray | None:
    if not isinstance(image, np.ndarray) or image.size == 0:
        return None
    if image.ndim == 3 and image.shape[2] in (3, 4):
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if image.ndim != 2:
        return None
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    return image


def _constant_tail(img: np.ndarray) -> bool:
    """Decoders fill the missing rows of a cut-off file with one flat grey."""
    tail = img[-8:, ::7]
    v = int(tail[0, 0])
    return v <= 170 and bool((tail == v).all())


def _find_fiducials(dark: np.ndarray) -> np.ndarray | str | tuple:
    """Fiducial centres (tl, tr, bl, br in page terms) in small-image px, or a rejection
    code, or (page corners present, their centres) when exactly three are found."""
    hs, ws = dark.shape
    lo, hi = 0.025 * ws, 0.075 * ws
    zw, zh = int(0.3 * ws), int(0.3 * hs)
    zones: dict[str, list[tuple[np.ndarray, str, float]]] = {}
    for zone, x0, y0 in (("tl", 0, 0), ("tr", ws - zw, 0), ("bl", 0, hs - zh), ("br", ws - zw, hs - zh)):
        crop = dark[y0:y0 + zh, x0:x0 + zw]
        n, _, stats, cents = cv2.connectedComponentsWithStats(crop.view(np.uint8), connectivity=8)
        bw, bh, area = stats[:, 2], stats[:, 3], stats[:, 4]
        ok = (bw >= lo) & (bw <= hi) & (bh >= lo) & (bh <= hi) & (bw <= 1.33 * bh) & (bh <= 1.33 * bw)
        ok[0] = False
        zones[zone] = []
        for i in np.nonzero(ok)[0]:
            extent = area[i] / float(bw[i] * bh[i])
            # A fiducial stands alone: no other ink within 40 % of its size around it
            # (letters, table lines and picture blobs touch their neighbours).
            x, y = stats[i, 0], stats[i, 1]
            mg = int(0.4 * max(bw[i], bh[i])) + 1
            around = crop[max(0, y - mg):y + bh[i] + mg, max(0, x - mg):x + bw[i] + mg]
            if int(np.count_nonzero(around)) - int(area[i]) > 0.08 * area[i]:
                continue
            cx, cy = cents[i]
            ix, iy = int(round(cx)), int(round(cy))
            core = crop[max(0, iy - 1):iy + 2, max(0, ix - 1):ix + 2].mean()
            if core >= 0.5 and extent >= 0.8:
                kind = "solid"
            elif core < 0.5 and 0.5 <= extent <= 0.88:
                kind = "ring"
            else:
                continue
            zones[zone].append((np.array([cx + x0, cy + y0]), kind, (bw[i] + bh[i]) / 2.0))
    # Page corners as seen in each orientation: upright, and fed upside down.
    orientations = [
        {"tl": "tl", "tr": "tr", "bl": "bl", "br": "br"},
        {"tl": "br", "tr": "bl", "bl": "tr", "br": "tl"},
    ]
    best, best_err = None, 1e9
    three = None
    for o in orientations:
        per = []
        for page_corner in ("tl", "tr", "bl", "br"):
            want = "ring" if page_corner == "br" else "solid"
            per.append([c for c in zones[o[page_corner]] if c[1] == want][:4])
        present = [i for i, p in enumerate(per) if p]
        if len(present) == 3:
            for combo in itertools.product(*(per[i] for i in present)):
                if three is None and _triangle_ok(present, combo, ws):
                    three = (present, np.array([c[0] for c in combo]))
        if len(present) < 4:
            continue
        for combo in itertools.product(*per):
            err = _rectangle_error([c[0] for c in combo], [c[2] for c in combo], ws)
            if err < best_err:
                best, best_err = combo, err
    if best is not None and best_err < 1.0:
        return np.array([c[0] for c in best])
    if hs / ws < SHORT_ASPECT and (zones["tl"] or zones["tr"]) and not (zones["bl"] or zones["br"]):
        return "truncated-image"
    if three is not None:
        return three
    return "unreadable"


def _torn_or_unreadable(img: np.ndarray, three, scale: int) -> str:
    """Three fiducials: a torn ballot if its code confirms it (or the torn corner took the
    code with it), else a pattern that only looks like three fiducials."""
    present, pts = three
    A = cv2.getAffineTransform(_PAGE_CENTRES[present], (pts * scale).astype(np.float32))
    H = np.vstack([A, [0, 0, 1]])
    code = _read_qr(img, H)
    if code is not None and code.startswith(layout.QR_PREFIX + "|"):
        return "missing-fiducial"
    return "missing-fiducial" if 1 not in present else "unreadable"    # 1: top right, by the code


def _plausible_scale(k: float, width: int) -> bool:
    """px/mm of the fiducials against the image width: a scan is about one sheet wide
    (210 mm page-cropped to ~225 mm with the scanner's margins), printed at 97-103 %."""
    return 0.85 <= k / (width / CANVAS_WIDTH_MM) <= 1.12


def _triangle_ok(corners: list[int], combo, width: int) -> bool:
    """Three fiducials where the printed ones would be (one corner torn away)."""
    src = _PAGE_CENTRES[corners]
    dst = np.float32([c[0] for c in combo])
    A = cv2.getAffineTransform(src, dst)
    lin = A[:, :2]
    sv = np.linalg.svd(lin, compute_uv=False)
    if np.linalg.det(lin) <= 0 or sv[0] / sv[1] > 1.08:
        return False
    k = float(sv.mean())
    if not _plausible_scale(k, width):
        return False
    return all(abs(c[2] / (k * layout.FIDUCIAL_SIZE) - 1) < 0.35 for c in combo)


def _rectangle_error(pts, sizes, width: int) -> float:
    """0 for the printed fiducial rectangle; ≥ 1 when outside tolerance."""
    tl, tr, bl, br = pts
    top, left = tr - tl, bl - tl
    bottom, right = br - bl, br - tr
    lt, ll = np.linalg.norm(top), np.linalg.norm(left)
    if lt < 1 or ll < 1:
        return 1e9
    page_w = layout.FIDUCIALS["tr"][0] - layout.FIDUCIALS["tl"][0]
    page_h = layout.FIDUCIALS["bl"][1] - layout.FIDUCIALS["tl"][1]
    ratio = abs((ll / lt) / (page_h / page_w) - 1) / 0.06
    cos = abs(float(top @ left) / (lt * ll)) / np.sin(np.radians(4))
    par = (np.linalg.norm(bottom - top) + np.linalg.norm(right - left)) / (0.04 * lt)
    k = lt / page_w
    if not _plausible_scale(k, width):
        return 1e9
    size = max(abs(sz / (k * layout.FIDUCIAL_SIZE) - 1) for sz in sizes) / 0.35
    return max(ratio, cos, par, size)


def _read_qr(img: np.ndarray, H: np.ndarray) -> str | None:

    qx, qy, qs = layout.QR_RECT
    margin = 1.0
    for q in (QR_PX_PER_MM, 11.0):
        side = int(round((qs + 2 * margin) * q))
        # canonical px → mm → image px
        A = np.array([[1 / q, 0, qx - margin + 0.5 / q], [0, 1 / q, qy - margin + 0.5 / q], [0, 0, 1]])
        M = H @ A
        win = cv2.warpPerspective(img, M, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                  borderValue=255)
        # Plain first; smoothing helps when noise or a repaired streak breaks module edges.
        soft = cv2.GaussianBlur(win, (0, 0), 0.12 * q)
        binary = cv2.threshold(soft, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
        for cand in (win, soft, binary):
            res = zxingcpp.read_barcodes(cand, formats=zxingcpp.BarcodeFormat.QRCode)
            if res:
                return res[0].text
    return None


def _remove_streaks(img: np.ndarray, d: int) -> np.ndarray:
    """Paint over thin dark columns that run the whole image height (dirty scanner glass).

    A column is a streak when, in more than 80 % of rows, it is darker than both
    columns ``d`` pixels away: no printed line or pen mark runs the whole height.
    """
    a = img[::8].astype(np.int16)
    centre = a[:, d:-d]
    neigh = np.minimum(a[:, :-2 * d], a[:, 2 * d:])
    frac = ((neigh - centre) > 18).mean(axis=0)
    cols = np.nonzero(frac > 0.8)[0] + d
    if cols.size == 0:
        return img
    out = img.copy()
    last = img.shape[1] - 1
    # Each run of streak columns is bridged from the clean columns either side of it,
    # which keeps print and marks crossing the streak (and the code's modules) intact.
    for run in np.split(cols, np.nonzero(np.diff(cols) > 1)[0] + 1):
        lo, hi = max(0, int(run[0]) - 1), min(last, int(run[-1]) + 1)
        left, right = img[:, lo].astype(np.float32), img[:, hi].astype(np.float32)
        for c in run:
            t = (c - lo) / max(1, hi - lo)
            out[:, c] = ((1 - t) * left + t * right + 0.5).astype(np.uint8)
    return out


def _box_fills(pre: np.ndarray, scale: int, H: np.ndarray, geo: layout.SheetGeometry) -> dict[str, float]:
    """Fill ratio of every box, from a pyramid level ``scale`` times smaller than the image."""
    K = WARP_PX_PER_MM
    f = 1.0 / scale
    # canonical px → mm → full px → pre px (pixel-centre conventions on both ends)
    A = np.array([[1 / K, 0, 0.5 / K], [0, 1 / K, 0.5 / K], [0, 0, 1]])
    P = np.array([[f, 0, 0], [0, f, 0], [0, 0, 1]])
    M = P @ H @ A
    W, Hh = int(layout.PAGE_W * K), int(layout.PAGE_H * K)
    page = cv2.warpPerspective(pre, M, (W, Hh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderValue=255)
    white = float(np.percentile(page[::5, ::5], 90))
    ink = (page < white * INK_LEVEL).view(np.uint8)
    integ = cv2.integral(ink)
    fills = {}
    for bid, b in geo.boxes.items():
        dx, dy = _box_offset(ink, b, K)
        x0 = int(round((b.x + BOX_INSET_MM) * K)) + dx
        y0 = int(round((b.y + BOX_INSET_MM) * K)) + dy
        x1 = int(round((b.x + b.w - BOX_INSET_MM) * K)) + dx
        y1 = int(round((b.y + b.h - BOX_INSET_MM) * K)) + dy
        area = max(1, (x1 - x0) * (y1 - y0))
        s = integ[y1, x1] - integ[y0, x1] - integ[y1, x0] + integ[y0, x0]
        fills[bid] = float(s) / area
    return fills


def _box_offset(ink: np.ndarray, b: layout.Box, K: float) -> tuple[int, int]:
    """Where the printed outline really is, within ±BOX_SEARCH_MM of where the corners say.

    Paper that does not lie flat, and printers, move a box locally by up to a
    millimetre or so; the corner homography cannot know. The outline's two
    vertical edges (columns) and two horizontal edges (rows) are looked for at
    the printed distance apart; a shift is taken only when both edges of the
    pair are clearly stronger there than at the expected place.
    """
    r = int(round(BOX_SEARCH_MM * K))
    bx0, by0 = int(round(b.x * K)), int(round(b.y * K))
    bw, bh = int(round(b.w * K)), int(round(b.h * K))
    y_lo, x_lo = by0 - r, bx0 - r
    win = ink[max(0, y_lo):by0 + bh + r + 2, max(0, x_lo):bx0 + bw + r + 2]
    if y_lo < 0 or x_lo < 0 or win.shape != (bh + 2 * r + 2, bw + 2 * r + 2):
        return 0, 0
    # Edge strength over the box's own span (± the search range), per column and per row.
    cols = win[r:r + bh + 2].sum(axis=0).astype(np.int32)
    rows = win[:, r:r + bw + 2].sum(axis=1).astype(np.int32)
    return _pair_shift(cols, bw, r, bh), _pair_shift(rows, bh, r, bw)


def _pair_shift(profile: np.ndarray, span: int, r: int, length: int) -> int:
    p = np.maximum(profile[:-1], profile[1:])          # outline ~1.4 px wide at 4 px/mm
    shifts = np.arange(-r, r + 1)
    first = p[r + shifts]
    second = p[np.minimum(len(p) - 1, r + shifts + span - 1)]
    score = np.minimum(first, second)
    best = int(np.argmax(score))
    here = int(score[r])
    # Keep the expected place unless a clearly better pair of edges exists elsewhere.
    if score[best] >= 0.6 * length and score[best] > here * 1.25 + 2:
        return int(shifts[best])
    return 0


# --- files and scanner sheets ----------------------------------------------------

def decode_image(data: bytes) -> np.ndarray | str:
    """Grey pixels of an image file's bytes, or a rejection code ("truncated-image", "unreadable")."""

    try:
        im = Image.open(io.BytesIO(data))
        if im.format == "JPEG":
            im.draft("L", im.size)
        im.load()
    except UnidentifiedImageError:
        return "unreadable"
    except (OSError, SyntaxError, ValueError) as e:
        if "truncated" in str(e).lower() or "broken" in str(e).lower() or "EOF" in str(e):
            return "truncated-image"
        return "unreadable"
    if im.mode != "L":
        im = im.convert("L")
    return np.asarray(im)


def interpret_file(path: Path | str, election: Election) -> SheetReading:
    """Read an image file: decoding faults are rejections, not exceptions."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return SheetReading.rejected("unreadable", detail=e.strerror or "cannot read file")
    img = decode_image(data)
    if isinstance(img, str):
        return SheetReading.rejected(img)
    return interpret_sheet(img, election)


def read_scanned(sheet, election: Election) -> SheetReading:
    """Reading of a ``drivers.scanner.base.Sheet``: a faulty feed is a rejection, never counted."""

    if sheet.status == ScannerStatus.DOUBLE_FEED:
        return SheetReading.rejected("double-feed")
    if sheet.status != ScannerStatus.READY or sheet.image is None:
        return SheetReading.rejected("scanner-fault", detail=f"{sheet.status}: {sheet.detail}")
    return interpret_sheet(sheet.image, election)
