"""A station's protocol as an A4 PDF: the figures the portal shows, drawn with Pillow and DejaVu Sans.

Kyrgyz and Russian on every label, as on the paper protocol (DOMAIN.md
"Languages"); the Kyrgyz letters Ң Ө Ү are drawn by the font into the page
image (FIELD-NOTES "Receipt printers and Kyrgyz letters"), so no PDF font
embedding is needed and every reader shows the same page. A4 at 150 dpi
(1240 x 1754 px); a long protocol flows onto further pages.

The page holds: the station and its Region/ОИК/ТИК, its status on the portal
(held with the reasons), the latest revision's times, device and envelope
hash, every line of every contest (machine count; with the manual count also
the manual figure and the difference, a flagged difference boxed and marked
"!"), the ballots issued on a provisional claim apart (with what the centre
answered since), the control relations, the commission's explanation and the
preference votes, and where to check the signature. The central side may not
import the station's printing (drivers/printer/document.py), hence this small
renderer of its own. Pages are stored 1-bit (a protocol is ~25 KB, not the
~300 KB of a grey page): a phone on a poor link downloads it.

Example::

    data = protocol_pdf(station, report, names, election="kg-2025", url="https://…/ky/station/UIK-1")
"""

from __future__ import annotations

import datetime as dt
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from base.clock import local, parse_iso
from central.portal.views import protocol_lines, provisional_figures
from central.portal.words import RELATIONS, WORDS, Words, reason_text

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
DPI = 150
WIDTH, HEIGHT = 1240, 1754
MARGIN = 70
COLUMNS = (860, 980, 1110)        # right edges of machine, manual, difference


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False, mono: bool = False) -> ImageFont.FreeTypeFont:
    name = "DejaVuSansMono.ttf" if mono else "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(FONT_DIR / name), size)


def bi(w: Words) -> str:
    """Kyrgyz / Russian, once when they are the same."""
    return w.ky if w.ky == w.ru else f"{w.ky} / {w.ru}"


class _Pages:
    """A flow of lines onto A4 pages."""

    def __init__(self) -> None:
        self.pages: list[Image.Image] = []
        self._new()

    def _new(self) -> None:
        self.page = Image.new("L", (WIDTH, HEIGHT), 255)
        self.draw = ImageDraw.Draw(self.page)
        self.pages.append(self.page)
        self.y = MARGIN

    def room(self, h: int) -> None:
        if self.y + h > HEIGHT - MARGIN:
            self._new()

    def text(self, s: str, size: int = 20, *, bold: bool = False, mono: bool = False,
             x: int = MARGIN, width: int = WIDTH - 2 * MARGIN, fill: int = 0) -> None:
        font = _font(size, bold, mono)
        for line in self._wrap(s, font, width):
            self.room(size + 8)
            self.draw.text((x, self.y), line, font=font, fill=fill)
            self.y += size + 8

    def row(self, label: str, cells: list[str], *, bold: bool = False, mark: bool = False) -> None:
        font = _font(19, bold)
        lines = self._wrap(label, font, COLUMNS[0] - 130 - MARGIN)
        self.room(27 * len(lines))
        if mark:
            self.draw.rectangle((MARGIN - 8, self.y - 3, WIDTH - MARGIN + 8, self.y + 27 * len(lines) - 2),
                                outline=0, width=2)
        for i, line in enumerate(lines):
            self.draw.text((MARGIN, self.y + 27 * i), line, font=font, fill=0)
        for right, cell in zip(COLUMNS, cells, strict=False):
            self.draw.text((right, self.y), cell, font=font, fill=0, anchor="ra")
        self.y += 27 * len(lines)

    def rule(self) -> None:
        self.room(12)
        self.draw.line((MARGIN, self.y + 4, WIDTH - MARGIN, self.y + 4), fill=0, width=2)
        self.y += 12

    def space(self, h: int = 10) -> None:
        self.y += h

    def _wrap(self, s: str, font, width: int) -> list[str]:
        out = []
        for para in s.split("\n"):
            line = ""
            for word in para.split(" "):
                trial = f"{line} {word}" if line else word
                if font.getlength(trial) <= width:
                    line = trial
                    continue
                if line:
                    out.append(line)
                while font.getlength(word) > width:         # a hash: break between characters
                    cut = max(1, int(len(word) * width / font.getlength(word)) - 1)
                    out.append(word[:cut])
                    word = word[cut:]
                line = word
            out.append(line)
        return out

    def pdf(self, when: dt.datetime | None = None) -> bytes:
        """The pages as a PDF, dated ``when`` (the protocol's arrival: the same bytes each time)."""
        buf = io.BytesIO()
        first, *rest = [p.point(lambda v: 255 if v > 150 else 0, "1") for p in self.pages]
        stamp = (when or dt.datetime(2000, 1, 1, tzinfo=dt.UTC)).astimezone(dt.UTC).timetuple()
        first.save(buf, "PDF", resolution=DPI, save_all=True, append_images=rest,
                   creationDate=stamp, modDate=stamp, producer="Uchastok")
        return buf.getvalue()


def _bi_name(v: Any) -> str:
    if isinstance(v, dict):
        ky, ru = v.get("ky"), v.get("ru")
        if ky and ru and ky != ru:
            return f"{ky} / {ru}"
        return ky or ru or ""
    return "" if v is None else str(v)


def line_label(kind: str, option: str | None, contest: str | None, names: dict) -> str:
    if option is not None:
        if option == "against-all":
            return bi(WORDS["against-all"])
        return _bi_name((names.get(contest) or {}).get("options", {}).get(option)) or option
    w = WORDS.get(kind)
    return bi(w) if w is not None else kind


def protocol_pdf(station: dict, report: dict, names: dict, *, election: str | None, url: str,
                 tz: str = "Asia/Bishkek") -> bytes:
    """The PDF of ``report`` (views.station_report) of ``station`` (a views.Snapshot station), option
    names from ``names`` (views.option_names)."""
    try:
        when = parse_iso(report.get("received_at") or "")
    except ValueError:
        when = None
    return protocol_pages(station, report, names, election=election, url=url, tz=tz).pdf(when)


def protocol_pages(station: dict, report: dict, names: dict, *, election: str | None, url: str,
                   tz: str = "Asia/Bishkek") -> _Pages:
    """The pages of ``protocol_pdf`` (``.pages``: grey images, before the 1-bit PDF); times in ``tz``."""

    def when(text: str | None) -> str:
        try:
            return f"{local(parse_iso(text or ''), tz):%Y-%m-%d %H:%M}"
        except ValueError:
            return text or "—"

    p = _Pages()
    st = station
    p.text(bi(WORDS["protocol"]), 30, bold=True)
    p.text(bi(WORDS["preliminary-note"]), 17)
    p.space()
    title = Words(*(WORDS["station-no"].of(lang).format(number=st.get("number") or st["id"])
                    for lang in ("ky", "ru", "en")))
    p.text(f"{bi(title)} ({st['id']})", 24, bold=True)
    if st.get("name"):
        p.text(_bi_name(st["name"]), 20)
    for level, code, name in st.get("path", [])[1:]:
        p.text(f"{bi(WORDS[level])}: {_bi_name(name) or code} ({code})", 18)
    if election:
        p.text(f"{election}", 18)
    p.rule()
    status = report["status"]
    p.text(f"{bi(WORDS['status'])}: {bi(WORDS['status-' + status])}", 20, bold=True)
    for r in report["reasons"]:
        p.text(f"• {reason_text(r, 'ky')}" + (f" / {reason_text(r, 'ru')}"
                                              if reason_text(r, 'ky') != reason_text(r, 'ru') else ""), 18)
    body = report["protocol"]
    if body is None:
        p.text(bi(WORDS["no-protocol"]), 20)
        return p
    revs = report["revisions"]
    p.text(f"{bi(WORDS['revision'])}: {len(revs)} · {bi(WORDS['closed_at'])}: {when(body.get('closed_at'))}"
           f" · {bi(WORDS['received-at'])}: {when(report.get('received_at'))}"
           f" ({bi(WORDS['local-time'])})", 18)
    p.text(f"{bi(WORDS['device'])}: {report['device']} · seq {report['seq']}", 18)
    p.text(bi(WORDS["hash"]) + ":", 18)
    p.text(report["hash"], 18, mono=True)
    p.rule()
    manual = report["manual"] if report["comparison"] is not None else None
    if manual is None:
        p.text(bi(WORDS["machine"]), 18, bold=True)
    else:
        p.text(f"{bi(WORDS['machine'])} | {bi(WORDS['manual'])} | {bi(WORDS['difference'])}", 18, bold=True)
        p.text(bi(WORDS["flag-note"]), 16)
    groups = protocol_lines(body, report["comparison"])
    provisional = provisional_figures(report)
    if provisional and not (groups and groups[0]["contest"] is None):
        _provisional(p, provisional)
    for group in groups:
        cid = group["contest"]
        if cid is not None:
            p.space(6)
            p.text(_bi_name((names.get(cid) or {}).get("title")) or cid, 21, bold=True)
        for r in group["rows"]:
            cells = [_n(r["machine"])]
            if manual is not None:
                cells += [_n(r["manual"]), _diff(r["difference"]) + (" !" if r["flagged"] else "")]
            label = line_label(r["kind"], r["option"], cid, names)
            p.row(f"{label} · № {r['number']}" if r.get("number") else label, cells, mark=r["flagged"])
        if provisional and cid is None:
            _provisional(p, provisional)
    p.rule()
    p.text(bi(WORDS["relations"]), 20, bold=True)
    for rel in (manual or {}).get("control") or body.get("control") or []:
        if isinstance(rel, dict):
            w = RELATIONS.get(str(rel.get("relation")))
            label = bi(w) if w is not None else str(rel.get("relation"))
            where = f" ({rel['contest']})" if rel.get("contest") else ""
            p.text(f"{'✔' if rel.get('ok') else '✘'} {label}{where}", 18)
    if manual is not None and manual.get("explanation"):
        p.text(f"{bi(WORDS['explanation'])}: {manual['explanation']}", 18)
    prefs = [(c.get("contest"), party, votes) for c in body.get("contests") or [] if isinstance(c, dict)
             for party, votes in (c.get("preferences") or {}).items() if isinstance(votes, dict)]
    if prefs:
        p.rule()
        p.text("Артыкчылык добуштар / Голоса за кандидатов списков", 20, bold=True)
        for cid, party, votes in prefs:
            name = _bi_name((names.get(cid) or {}).get("options", {}).get(party)) or party
            p.text(f"{name}: " + ", ".join(f"№{k}: {v}" for k, v in votes.items()), 16)
    p.rule()
    p.text(bi(WORDS["verify"]) + ": " + url, 17)
    p.text(WORDS["verify-offline"].ky, 16, mono=True)
    return p


def _provisional(p: _Pages, figures: dict[str, int]) -> None:
    """The ballots issued on a provisional claim, apart, under the voters identified (as on paper)."""
    p.space(6)
    p.text(bi(WORDS["provisional-title"]), 20, bold=True)
    p.row(bi(WORDS["provisional"]), [str(figures["issued"])], bold=True)
    for k in ("granted_later", "refused_later", "unanswered"):
        p.row("· " + bi(WORDS[f"provisional-{k}"]), [str(figures[k])])
    p.space(6)


def _n(v: Any) -> str:
    return "—" if v is None else str(v)


def _diff(v: Any) -> str:
    if not isinstance(v, int):
        return "—"
    return f"{v:+d}" if v else "0"
