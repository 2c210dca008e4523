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
2. Fiducials (count/ballots/layout.py): dark square blobs of the right size in the
   four corner zones of a downscaled copy (~2 px/mm), dark against the local paper
   white (so a lamp that falls off across the page does not hide them). Three solid
   and one ring, judged on their rotated rectangle (a square turned by 6° or seen in
   perspective is still a square); the ring's corner gives the orientation, so an
   upside-down feed is read like any other. The four centres must be where a page
   turned, scaled and moved puts them, each within ``PERSPECTIVE_MM`` (moderate
   perspective and shear are allowed: the homography takes them out). Missing one →
   ``missing-fiducial`` (torn or folded corner); only the top pair on a short image →
   ``truncated-image``; nothing → ``unreadable``.
3. The homography page-mm → image-px from the four centres.
4. The QR code, read from a window rectified at 8 px/mm (zxing-cpp): no code
   → ``no-code``; checksum mismatch → ``bad-code``; other election →
   ``wrong-election``; other station → ``wrong-station``; unknown style →
   ``unknown-style``. The code's four corners then join the four fiducials in a
   least-squares homography when they agree with it (within ``QR_AGREE_MM``).
5. Light: the paper's white over the page (10 mm blocks, a smooth surface fitted
   with the blocks darker than it, such as stains, left out). A fall-off of more than
   ``LIGHT_FALLOFF_MAX`` from the brightest to the darkest part → ``uneven-light``
   (a failing lamp: the sheet goes back rather than being read wrongly).
6. The boxes (count/ballots/marks.py ``read_boxes``): each box and a ring around it at
   8 px/mm; ink measured by darkness levels against the local paper white, inside the
   box (MARKED / BLANK / MARGINAL) and around it (OUTSIDE: a circle, a mark straddling
   two boxes, a mark centred outside its box). docs/ballots.md "The voter's intent".
7. Validity rules with the doubtful-box policy (count/ballots/rules.py ``decide``):
   any contest where a marginal or outside box could change the verdict returns the
   sheet to the voter, never guessed: ``mark-outside-box`` ("mark inside the square")
   when an outside box could change it, else ``marginal-needs-review``.

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
from count.ballots.marks import read_boxes
from count.ballots.reading import SheetReading
from count.ballots.rules import UNMARKED, box_ids, decide
from drivers.scanner.base import ScannerStatus
from station.election import Election
from station.errors import PackageError

QR_PX_PER_MM = 8.0
FIND_WIDTH = 440           # the fiducial search uses the first pyramid level at most 1.5× this wide
MAX_ASPECT = 1.58          # longer than this (height / width): two sheets stuck together
SHORT_ASPECT = 1.30        # shorter than this: a cut-off scan
CANVAS_WIDTH_MM = 220.0    # typical scan width of a sheet-fed scanner for A4
PERSPECTIVE_MM = 7.0       # a fiducial this far from where a turned, scaled, moved page puts it
QR_AGREE_MM = 1.5          # the code's corners join the homography when this close to it
LIGHT_FALLOFF_MAX = 0.35   # more fall-off of the paper's white across the page: uneven-light

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
    # An image pyramid (each level half the previous, pixel i ↔ 2i); the level near
    # 2 px/mm finds the fiducials.
    levels = [img]
    while levels[-1].shape[1] > FIND_WIDTH * 1.5:
        levels.append(cv2.pyrDown(levels[-1]))
    m = len(levels) - 1
    small = levels[m]
    white = float(np.percentile(small[::2, ::2], 95))
    # Blank: almost no ink-dark pixel at ~4 px/mm (where thin print keeps its darkness;
    # creases, lamp fall-off and paper grain are far lighter than ink).
    mid = next((lv for lv in reversed(levels) if lv.shape[1] >= 800), levels[0])
    if white < 60 or (mid[::2, ::2] < white * 0.6).mean() < 0.0005:
        return SheetReading.rejected("blank-paper")
    found = _find_fiducials(small < _local_white(small) * 0.5)
    if isinstance(found, tuple):
        return SheetReading.rejected(_torn_or_unreadable(img, found, 2 ** m))
    if isinstance(found, str):
        return SheetReading.rejected(found)
    dst = found * (2 ** m)                       # level m px → full px
    H = cv2.getPerspectiveTransform(_PAGE_CENTRES, dst.astype(np.float32))

    if _light_falloff(small, H, 2 ** m) > LIGHT_FALLOFF_MAX:
        return SheetReading.rejected("uneven-light")
    qr = _read_qr(img, H)
    if qr is None and raw is not img:
        qr = _read_qr(raw, H)                   # the streak repair cost a module: try as scanned
    if qr is None:
        return SheetReading.rejected("no-code")
    code, corners = qr
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
    H = _with_code(H, dst, corners, np.float64(layout.qr_corners(e_id, style_id, st_id)))

    boxes = read_boxes(img, H, election, style_id)
    outcomes = []
    review = outside = False
    for cid in geo.contests:
        contest = election.contest(cid)
        d = decide(contest, {b: boxes[b].state for b in box_ids(contest)})
        review |= d.needs_review
        outside |= d.needs_review and d.outside
        outcomes.append(d.outcome)
    fills = {b: round(r.fill, 4) for b, r in boxes.items()}
    states = {b: str(r.state) for b, r in boxes.items() if r.state != UNMARKED}
    if review:
        return SheetReading.rejected("mark-outside-box" if outside else "marginal-needs-review",
                                     outcomes=tuple(outcomes), boxes=fills, marks=states, **ids)
    return SheetReading.accepted_with(tuple(outcomes), boxes=fills, marks=states, **ids)


def _gray(image) -> np.ndarray | None:
    """Grey uint8 from a grey, BGR or BGRA image of any numeric depth; None for anything else."""
    if not isinstance(image, np.ndarray) or image.size == 0 or image.dtype.kind not in "biuf":
        return None
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype != np.uint8:
        # Depth first: OpenCV's colour conversions take 8-bit, 16-bit and float32 only.
        image = np.clip(np.nan_to_num(image.astype(np.float64)), 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if image.ndim != 2:
        return None
    return image


def _constant_tail(img: np.ndarray) -> bool:
    """Decoders fill the missing rows of a cut-off file with one flat grey."""
    # The last 5 % of the rows (a scan's own margin of flat backing below the sheet, as a
    # JPEG flattens it, is shorter than that).
    tail = img[-max(8, img.shape[0] * 5 // 100):, ::7]
    v = int(tail[0, 0])
    return v <= 170 and bool((tail == v).all())


def _local_white(small: np.ndarray) -> np.ndarray:
    """The paper's white around each pixel (max over ~15 mm, smoothed): fiducials are dark
    against it even where the lamp falls off."""
    k = max(3, int(round(small.shape[1] / CANVAS_WIDTH_MM * 15)) | 1)
    white = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return cv2.blur(white, (k, k)).astype(np.float32)


def _square_kind(comp: np.ndarray, area: int) -> str | None:
    """"solid", "ring" or None for a blob (its own mask), judged on its rotated rectangle."""
    pts = cv2.findNonZero(comp)
    (cx, cy), (rw, rh), _ = cv2.minAreaRect(pts)
    if rw < 2 or rh < 2 or max(rw, rh) > 1.3 * min(rw, rh):
        return None
    extent = area / float((rw + 1) * (rh + 1))
    ix, iy = int(round(cx)), int(round(cy))
    core = comp[max(0, iy - 1):iy + 2, max(0, ix - 1):ix + 2].mean()
    if core >= 0.5 and extent >= 0.72:
        return "solid"
    if core < 0.5 and 0.45 <= extent <= 0.9:
        return "ring"
    return None


def _find_fiducials(dark: np.ndarray) -> np.ndarray | str | tuple:
    """Fiducial centres (tl, tr, bl, br in page terms) in small-image px, or a rejection
    code, or (page corners present, their centres) when exactly three are found."""
    hs, ws = dark.shape
    lo, hi = 0.025 * ws, 0.085 * ws
    zw, zh = int(0.3 * ws), int(0.3 * hs)
    zones: dict[str, list[tuple[np.ndarray, str, float]]] = {}
    for zone, x0, y0 in (("tl", 0, 0), ("tr", ws - zw, 0), ("bl", 0, hs - zh), ("br", ws - zw, hs - zh)):
        crop = dark[y0:y0 + zh, x0:x0 + zw]
        n, lab, stats, cents = cv2.connectedComponentsWithStats(crop.view(np.uint8), connectivity=8)
        bw, bh, area = stats[:, 2], stats[:, 3], stats[:, 4]
        ok = (bw >= lo) & (bw <= hi) & (bh >= lo) & (bh <= hi) & (bw <= 1.4 * bh) & (bh <= 1.4 * bw)
        ok[0] = False
        zones[zone] = []
        for i in np.nonzero(ok)[0]:
            # A fiducial stands alone: no other ink within 40 % of its size around it
            # (letters, table lines and picture blobs touch their neighbours).
            x, y = stats[i, 0], stats[i, 1]
            mg = int(0.4 * max(bw[i], bh[i])) + 1
            around = crop[max(0, y - mg):y + bh[i] + mg, max(0, x - mg):x + bw[i] + mg]
            if int(np.count_nonzero(around)) - int(area[i]) > 0.08 * area[i]:
                continue
            comp = (lab[y:y + bh[i], x:x + bw[i]] == i).view(np.uint8)
            kind = _square_kind(comp, int(area[i]))
            if kind is None:
                continue
            cx, cy = cents[i]
            size = float(np.sqrt(area[i] / (1.0 if kind == "solid" else 0.75)))
            zones[zone].append((np.array([cx + x0, cy + y0]), kind, size))
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
        # Three where the printed ones would be (a blob in the fourth corner that is no
        # fiducial does not hide a torn corner).
        for trio in itertools.combinations(present, 3):
            for combo in itertools.product(*(per[i] for i in trio)):
                if three is None and _triangle_ok(list(trio), combo, ws):
                    three = (list(trio), np.array([c[0] for c in combo]))
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
    qr = _read_qr(img, H)
    if qr is not None and qr[0].startswith(layout.QR_PREFIX + "|"):
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
    """0 for the printed fiducial rectangle; ≥ 1 when outside tolerance: each centre within
    ``PERSPECTIVE_MM`` of a turned, scaled and moved page (perspective and shear allowed),
    not mirrored, at a plausible scale, the fiducials of the right size."""
    pts = np.float64(pts)
    src = _PAGE_CENTRES.astype(np.float64)
    # Least-squares similarity page mm → image px (Umeyama, no reflection).
    ms, md = src.mean(axis=0), pts.mean(axis=0)
    a, b = src - ms, pts - md
    sa = (a ** 2).sum()
    c = (a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1]).sum() / sa
    s_ = (a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum() / sa
    k = float(np.hypot(c, s_))
    if k <= 0 or not _plausible_scale(k, width):
        return 1e9
    fit = md + np.stack([c * a[:, 0] - s_ * a[:, 1], s_ * a[:, 0] + c * a[:, 1]], axis=1)
    resid = float(np.hypot(*(fit - pts).T).max()) / k
    (ax, ay), (bx, by) = pts[1] - pts[0], pts[2] - pts[0]
    if ax * by - ay * bx <= 0:                    # mirrored: not a sheet seen from the front
        return 1e9
    size = max(abs(sz / (k * layout.FIDUCIAL_SIZE) - 1) for sz in sizes) / 0.35
    return max(resid / PERSPECTIVE_MM, size)


def _light_falloff(small: np.ndarray, H: np.ndarray, scale: int) -> float:
    """Fall-off of the paper's white across the page, 0 (even) to 1: a smooth surface
    (quadratic in x, y, of the log white) fitted to the 10 mm blocks' 90th percentiles,
    blocks darker than it (a stain, a filled area, the fiducials) left out."""
    A = np.array([[1.0, 0, 0.5], [0, 1.0, 0.5], [0, 0, 1]])         # 1 px/mm page grid
    P = np.diag([1.0 / scale, 1.0 / scale, 1.0])
    W, Hh = int(layout.PAGE_W), int(layout.PAGE_H)
    page = cv2.warpPerspective(small, P @ H @ A, (W, Hh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderValue=0)
    bw, bh = W // 10, Hh // 10
    blocks = page[:bh * 10, :bw * 10].reshape(bh, 10, bw, 10).transpose(0, 2, 1, 3).reshape(bh * bw, 100)
    white = np.percentile(blocks, 90, axis=1)
    yy, xx = np.mgrid[0:bh, 0:bw]
    x, y = (xx.ravel() + 0.5) / bw * 2 - 1, (yy.ravel() + 0.5) / bh * 2 - 1
    X = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    z = np.log(np.maximum(white, 1.0))
    use = white > 0.2 * white.max()
    coef = np.zeros(6)
    for _ in range(3):
        if use.sum() < 12:
            return 0.0
        coef = np.linalg.lstsq(X[use], z[use], rcond=None)[0]
        model = X @ coef
        use = use & (z > model - 0.08) & (z < model + 0.08)
    # The surface over the whole page, to its edges and corners.
    gy, gx = np.mgrid[-1:1:11j, -1:1:11j]
    gx, gy = gx.ravel(), gy.ravel()
    surface = np.stack([np.ones_like(gx), gx, gy, gx * gx, gx * gy, gy * gy], axis=1) @ coef
    return float(1.0 - np.exp(surface.min() - surface.max()))


def _with_code(H: np.ndarray, fid_px: np.ndarray, qr_px: np.ndarray | None, qr_mm: np.ndarray) -> np.ndarray:
    """The homography from the four fiducials and the code's four corners (least squares),
    when the corners agree with the fiducials' homography; else that homography."""
    if qr_px is None:
        return H
    proj = cv2.perspectiveTransform(qr_mm.reshape(-1, 1, 2).astype(np.float32), H).reshape(-1, 2)
    k = float(np.linalg.norm(fid_px[1] - fid_px[0]) / (_PAGE_CENTRES[1, 0] - _PAGE_CENTRES[0, 0]))
    if np.hypot(*(proj - qr_px).T).max() / k > QR_AGREE_MM:
        return H
    src = np.vstack([_PAGE_CENTRES, qr_mm]).astype(np.float32)
    dst = np.vstack([fid_px, qr_px]).astype(np.float32)
    H2, _ = cv2.findHomography(src, dst, 0)
    return H if H2 is None else H2


def _read_qr(img: np.ndarray, H: np.ndarray) -> tuple[str, np.ndarray | None] | None:
    """(text, the symbol's corners tl, tr, br, bl in image px) of the code, or None."""

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
                p = res[0].position
                # zxing's corners are pixel edges: the window pixel centre is 0.5 px in
                corners = np.float64([[c.x - 0.5, c.y - 0.5] for c in
                                      (p.top_left, p.top_right, p.bottom_right, p.bottom_left)])
                pts = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), M).reshape(-1, 2)
                return res[0].text, pts
    return None


def _remove_streaks(img: np.ndarray, d: int) -> np.ndarray:
    """Paint over thin dark columns that run the whole image height (dirty scanner glass).

    A column is a streak when, in more than 60 % of rows, it is darker than both
    columns ``d`` pixels away: no printed line or pen mark runs that far (the longest
    printed vertical line, the outlines of the part-1 boxes, covers under 40 % of a
    scan; a streak is hidden where it crosses darker print).
    """
    a = img[::8].astype(np.int16)
    centre = a[:, d:-d]
    neigh = np.minimum(a[:, :-2 * d], a[:, 2 * d:])
    frac = ((neigh - centre) > 18).mean(axis=0)
    cols = np.nonzero(frac > 0.6)[0] + d
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


# --- files and scanner sheets ----------------------------------------------------

# An A4 sheet at 600 dpi is 35 Mpx: a file claiming more is no ballot scan (and could exhaust memory).
MAX_SHEET_PIXELS = 64_000_000


def decode_image(data: bytes) -> np.ndarray | str:
    """Grey pixels of an image file's bytes, or a rejection code ("truncated-image", "unreadable").

    A complete JPEG or PNG (its end marker present) is decoded by OpenCV (faster); anything
    else goes through Pillow, whose errors tell a cut-off file from one that is no image.
    """
    complete = (data[:2] == b"\xff\xd8" and data.rstrip(b"\x00")[-2:] == b"\xff\xd9") or (
        data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" in data[-16:])
    if complete:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE | cv2.IMREAD_IGNORE_ORIENTATION)
        if img is not None:
            return img
    try:
        im = Image.open(io.BytesIO(data))
        if im.size[0] * im.size[1] > MAX_SHEET_PIXELS:
            return "unreadable"             # a header claiming more than any scan of a sheet
        if im.format == "JPEG":
            im.draft("L", im.size)
        im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError):
        return "unreadable"
    except (OSError, SyntaxError, ValueError) as e:
        if "truncated" in str(e).lower() or "broken" in str(e).lower() or "EOF" in str(e):
            return "truncated-image"
        return "unreadable"
    except Exception:  # noqa: BLE001 - Pillow's format plugins raise TypeError, IndexError... on
        return "unreadable"  # malformed headers (a TIFF tag of the wrong type): no sheet image either way
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
