"""Printable ballots and their geometry: where every mark box is, in millimetres.

``sheet_geometry(election, style_id)`` is a pure function of the election and
the ballot style: the reader (count/ballots/interpret.py) knows where each box
is without seeing the printed image, and the printer prints exactly that.

The sheet (A4, 210 × 297 mm, origin at the top-left corner, y down) carries:
- four corner fiducials, 10 mm squares centred 14 mm from the edges: three
  solid, the bottom-right one a ring (10 mm square with a 5 mm hole). The ring
  tells orientation, so a sheet fed upside down is recognised and read;
- a QR code (top right) with ``UCH1|<election>|<style>|<station>|<checksum>``
  where the checksum is the first 8 hex digits of SHA-256 over the text before
  it (``qr_payload`` / ``parse_qr_payload``): a sheet of another election or
  station is rejected;
- the contest, DOMAIN.md "Ballots and contests": candidate contests list the
  candidates in lot order with year of birth (withdrawn ones struck through),
  then "against all", the seats noted; the open party-list ballot has part 1
  (parties in lot order, then "against all") and part 2 (the numbered boxes,
  14 per row). Texts are in Kyrgyz and Russian (DOMAIN.md "Languages"), set in
  DejaVu Sans;
- mark boxes: squares 6-9 mm with a thin outline, kept out of the fiducial
  corners and never on a full-height vertical line (scanner streaks are
  vertical: docs/ballots.md).

Example::

    g = sheet_geometry(election, "bs-party-list")
    g.boxes["party-list/#12"]          # Box(x=..., y=..., w=7.0, h=7.0) in mm
    img = render_sheet(election, "bs-party-list", dpi=200)   # PIL "L" image
    write_ballots(election, Path("out"), dpis=(150, 200, 300))
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno
from PIL import Image, ImageDraw, ImageFont

from count.ballots.reading import AGAINST_ALL, box_id
from station.election import Contest, Election

PAGE_W, PAGE_H = 210.0, 297.0
FIDUCIAL_SIZE = 10.0
FIDUCIAL_HOLE = 5.0
FIDUCIAL_INSET = 14.0          # centre distance from the page edges
# Centres in page mm: top-left, top-right, bottom-left (solid), bottom-right (ring).
FIDUCIALS = {
    "tl": (FIDUCIAL_INSET, FIDUCIAL_INSET),
    "tr": (PAGE_W - FIDUCIAL_INSET, FIDUCIAL_INSET),
    "bl": (FIDUCIAL_INSET, PAGE_H - FIDUCIAL_INSET),
    "br": (PAGE_W - FIDUCIAL_INSET, PAGE_H - FIDUCIAL_INSET),
}
QR_RECT = (166.0, 24.0, 24.0)           # x, y, side in mm (the code with its quiet zone inside)
QR_PREFIX = "UCH1"
QR_QUIET = 3                             # modules of quiet zone inside QR_RECT
BOX_LINE = 0.35                          # outline width in mm
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
CONTENT_TOP, CONTENT_BOTTOM = 56.0, 268.0
BOX_X = 172.0                            # left edge of the part-1 boxes


@dataclass(frozen=True)
class Box:
    """A mark box in page millimetres (top-left corner, width, height)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)


@dataclass(frozen=True)
class Row:
    """A printed row of part 1: its option and the rectangle of its text."""

    option: str
    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class SheetGeometry:
    """Everything the reader needs to know about one ballot style's sheet."""

    style: str
    contests: tuple[str, ...]
    boxes: dict[str, Box]
    rows: tuple[Row, ...]
    number_grid_top: float | None     # party-list: top of part 2 (mm), else None


def checksum(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def qr_payload(election_id: str, style_id: str, station_id: str) -> str:
    """The text of the sheet's QR code (see module docstring)."""
    body = "|".join((QR_PREFIX, election_id, style_id, station_id))
    return f"{body}|{checksum(body)}"


def parse_qr_payload(text: str) -> tuple[str, str, str] | None:
    """(election, style, station) from a QR text, or None when malformed or the checksum fails."""
    parts = text.split("|")
    if len(parts) != 5 or parts[0] != QR_PREFIX:
        return None
    body = "|".join(parts[:4])
    if checksum(body) != parts[4]:
        return None
    return parts[1], parts[2], parts[3]


@lru_cache(maxsize=64)
def qr_corners(election_id: str, style_id: str, station_id: str) -> tuple[tuple[float, float], ...]:
    """The printed QR symbol's corners in page mm (top-left, top-right, bottom-right,
    bottom-left, clear of the quiet zone): the reader adds them to the fiducials."""
    n = len(list(_qr_symbol(election_id, style_id, station_id).matrix))
    qx, qy, qs = QR_RECT
    mod = qs / (n + 2 * QR_QUIET)
    a, b = QR_QUIET * mod, (QR_QUIET + n) * mod
    return ((qx + a, qy + a), (qx + b, qy + a), (qx + b, qy + b), (qx + a, qy + b))


def _qr_symbol(election_id: str, style_id: str, station_id: str):
    return segno.make(qr_payload(election_id, style_id, station_id), error="m", micro=False)


_GEOMETRY_CACHE: dict[tuple[int, str], tuple[Election, SheetGeometry]] = {}


def sheet_geometry(election: Election, style_id: str) -> SheetGeometry:
    """Box positions of a ballot style (pure; cached per election object and style)."""
    # Keyed on the object's identity (hashing a whole election per sheet costs more
    # than reading it); the entry keeps the election alive so the id cannot be reused.
    hit = _GEOMETRY_CACHE.get((id(election), style_id))
    if hit is not None and hit[0] is election:
        return hit[1]
    geo = _geometry(election, style_id)
    if len(_GEOMETRY_CACHE) > 64:
        _GEOMETRY_CACHE.clear()
    _GEOMETRY_CACHE[(id(election), style_id)] = (election, geo)
    return geo


def _geometry(election: Election, style_id: str) -> SheetGeometry:
    style = election.ballot_style(style_id)
    if len(style.contests) != 1:
        # One contest per sheet (DOMAIN.md "Ballots and contests" 3: one ballot per contest).
        raise ValueError(f"ballot style {style_id!r}: exactly one contest per sheet is supported")
    contest = election.contest(style.contests[0])
    boxes: dict[str, Box] = {}
    rows: list[Row] = []
    grid_top = None
    if contest.kind == "candidate":
        part1_bottom = CONTENT_BOTTOM
    else:
        n_rows = -(-contest.number_boxes // 14)
        grid_top = CONTENT_BOTTOM - 10.0 - n_rows * 11.0
        part1_bottom = grid_top - 2.0
        for n in range(1, contest.number_boxes + 1):
            r, c = divmod(n - 1, 14)
            boxes[box_id(contest.id, n)] = Box(31.0 + c * 10.5 + 4.2, grid_top + 9.0 + r * 11.0,
                                               6.0, 6.0)
    options = contest.options()
    row_h = min(24.0, (part1_bottom - CONTENT_TOP) / len(options))
    side = max(6.0, min(9.0, row_h - 3.0))
    for i, opt in enumerate(options):
        y = CONTENT_TOP + i * row_h
        rows.append(Row(opt, 20.0, y, 150.0, row_h))
        boxes[box_id(contest.id, opt)] = Box(BOX_X, y + (row_h - side) / 2, side, side)
    return SheetGeometry(style_id, style.contests, boxes, tuple(rows), grid_top)


# --- rendering -----------------------------------------------------------------

@lru_cache(maxsize=32)
def _font(bold: bool, px: int):

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), max(6, px))


def render_sheet(election: Election, style_id: str, dpi: int = 200):
    """The printable sheet of one ballot style as a PIL "L" image at ``dpi``."""

    k = dpi / 25.4                                  # pixels per mm

    def px(v: float) -> int:
        return int(round(v * k))

    geo = sheet_geometry(election, style_id)
    contest = election.contest(geo.contests[0])
    img = Image.new("L", (px(PAGE_W), px(PAGE_H)), 255)
    d = ImageDraw.Draw(img)

    def text(x, y, s, size_mm, bold=False, fill=0):
        d.text((px(x), px(y)), s, font=_font(bold, px(size_mm)), fill=fill)

    for name, (cx, cy) in FIDUCIALS.items():
        h = FIDUCIAL_SIZE / 2
        d.rectangle([px(cx - h), px(cy - h), px(cx + h) - 1, px(cy + h) - 1], fill=0)
        if name == "br":
            g = FIDUCIAL_HOLE / 2
            d.rectangle([px(cx - g), px(cy - g), px(cx + g) - 1, px(cy + g) - 1], fill=255)

    qx, qy, qs = QR_RECT
    matrix = list(_qr_symbol(election.id, style_id, election.station.id).matrix)
    n = len(matrix)
    quiet = QR_QUIET
    mod = qs / (n + 2 * quiet)
    for r, row in enumerate(matrix):
        for c, v in enumerate(row):
            if v:
                x0, y0 = qx + (c + quiet) * mod, qy + (r + quiet) * mod
                d.rectangle([px(x0), px(y0), px(x0 + mod) - 1, px(y0 + mod) - 1], fill=0)

    # Header: election, contest, station, instruction (Kyrgyz first, then Russian).
    text(28, 9, "ШАЙЛООЧУНУН БЮЛЛЕТЕНИ / ИЗБИРАТЕЛЬНЫЙ БЮЛЛЕТЕНЬ", 4.2, bold=True)
    text(28, 15.5, election.name.ky, 3.2, bold=True)
    text(28, 20, election.name.ru, 3.2)
    text(28, 25.5, contest.title.ky, 3.2, bold=True)
    text(28, 30, contest.title.ru, 3.2)
    text(28, 35.5, f"{election.station.name.ky} / {election.station.name.ru}", 2.8)
    if contest.kind == "candidate":
        text(28, 40.5, f"Шайлана турган депутаттардын саны: {contest.seats}. "
                       f"Бир гана белги коюңуз.", 2.4)
        text(28, 44.5, f"Число избираемых депутатов: {contest.seats}. "
                       f"Поставьте одну отметку.", 2.4)
    else:
        text(28, 40.5, "1-бөлүк: бир партияны белгилеңиз. "
                       "2-бөлүк: каалоо боюнча бир номерди белгилеңиз.", 2.4)
        text(28, 44.5, "Часть 1: отметьте одну партию. "
                       "Часть 2: по желанию — один номер кандидата.", 2.4)
    text(28, 49, f"{contest.id} · {style_id}", 2.2, fill=90)

    for row in geo.rows:
        b = geo.boxes[box_id(contest.id, row.option)]
        d.line([px(row.x), px(row.y + row.h), px(BOX_X + 16), px(row.y + row.h)], fill=110,
               width=max(1, px(0.2)))
        size = min(4.0, row.h * 0.30)
        ty = row.y + max(0.5, (row.h - 2.3 * size) / 2)
        if row.option == AGAINST_ALL:
            text(row.x, ty, "Баарына каршы", size, bold=True)
            text(row.x, ty + 1.15 * size, "Против всех", size * 0.85)
        elif contest.kind == "candidate":
            cand = next(c for c in contest.candidates if c.id == row.option)
            text(row.x, ty, cand.full_name, size, bold=True)
            note = f"Туулган жылы / Год рождения: {cand.birth_year}"
            if cand.withdrawn:
                note += "  — талапкерликтен чыкты / выбыл"
                w = d.textlength(cand.full_name, font=_font(True, px(size)))
                mid = px(ty + size * 0.75)
                d.line([px(row.x), mid, px(row.x) + int(w), mid], fill=0, width=max(1, px(0.4)))
            text(row.x, ty + 1.15 * size, note, size * 0.75)
        else:
            party = next(p for p in contest.parties if p.id == row.option)
            text(row.x, ty, party.name.ky, size, bold=True)
            text(row.x, ty + 1.15 * size, party.name.ru, size * 0.85)
        _box(d, b, px)
    if geo.number_grid_top is not None:
        text(28, geo.number_grid_top + 1, "2-бөлүк. Талапкердин партиялык тизмедеги номери / "
                                          "Часть 2. Номер кандидата в списке партии", 2.8, bold=True)
        for n in range(1, contest.number_boxes + 1):
            b = geo.boxes[box_id(contest.id, n)]
            label = str(n)
            f = _font(False, px(2.5))
            tw = d.textlength(label, font=f)
            d.text((px(b.x - 0.7) - int(tw), px(b.y + 1.6)), label, font=f, fill=0)
            _box(d, b, px)
    return img


def _box(d, b: Box, px) -> None:
    d.rectangle([px(b.x), px(b.y), px(b.x + b.w), px(b.y + b.h)], outline=0,
                width=max(1, px(BOX_LINE)))


def write_ballots(election: Election, out_dir: Path, dpis: tuple[int, ...] = (150, 200, 300),
                  pdf_dpi: int = 300) -> list[Path]:
    """Write every ballot style as PNG at each dpi and one PDF (a page per style)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for style in election.ballot_styles:
        for dpi in dpis:
            p = out_dir / f"{style.id}-{dpi}dpi.png"
            render_sheet(election, style.id, dpi).save(p, dpi=(dpi, dpi))
            written.append(p)
    pages = [render_sheet(election, s.id, pdf_dpi) for s in election.ballot_styles]
    pdf = out_dir / "ballots.pdf"
    pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=float(pdf_dpi))
    written.append(pdf)
    return written


def contest_of(election: Election, style_id: str) -> Contest:
    return election.contest(sheet_geometry(election, style_id).contests[0])
