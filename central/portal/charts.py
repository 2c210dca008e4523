"""Charts drawn by the server as inline SVG: no chart library, no script, a few hundred bytes each.

``bars``: one horizontal bar per option (its share of the valid ballots), the
label above the bar and the figure after it, in the order given (the results
table's order). ``hourly``: one column per hour, the cumulative turnout as a
share of the list (or a count where no list is known), the hour under it.

Both scale with the page (``viewBox``, width 100%), carry a ``<title>`` for
screen readers, and escape every text they draw. Numbers are written the
reader's way (``number``, ``percent``): a space between thousands and a
decimal comma in Kyrgyz and Russian, a comma and a point in English.

Example::

    bars([("Party A", 412, 0.41), ("Party B", 300, 0.30)], "Vote shares", "en")
"""

from __future__ import annotations

from html import escape

from markupsafe import Markup

WIDTH = 400         # about a phone's width: the labels keep their size there and on a desktop
ROW = 40
COLOURS = ("#1d3557", "#457b9d", "#2a9d8f", "#e9c46a", "#f4a261", "#e76f51", "#6d597a", "#b56576")


def number(n: int | None, lang: str) -> str:
    if n is None:
        return "—"
    text = f"{n:,}"
    return text if lang == "en" else text.replace(",", "\u00a0")


def percent(share: float | None, lang: str, digits: int = 1) -> str:
    if share is None:
        return "—"
    text = f"{share * 100:.{digits}f}"
    return f"{text}%" if lang == "en" else f"{text.replace('.', ',')}\u00a0%"


def bars(rows: list[tuple[str, int, float | None]], title: str, lang: str) -> Markup:
    """Horizontal bars: ``rows`` of (label, votes, share of valid ballots)."""
    height = ROW * len(rows) + 8
    top = max((s or 0 for _, _, s in rows), default=0) or 1
    out = [f'<svg class="chart bars" viewBox="0 0 {WIDTH} {height}" width="100%" role="img"'
           f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, votes, share) in enumerate(rows):
        y = i * ROW
        w = int(round((WIDTH - 120) * (share or 0) / top))
        colour = COLOURS[i % len(COLOURS)]
        out.append(f'<text x="0" y="{y + 14}" class="l">{escape(label[:80])}</text>'
                   f'<rect x="0" y="{y + 19}" width="{max(w, 1)}" height="14" fill="{colour}"/>'
                   f'<text x="{max(w, 1) + 6}" y="{y + 31}" class="v">'
                   f'{escape(percent(share, lang))} · {escape(number(votes, lang))}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def hourly(hours: list[dict], title: str, lang: str) -> Markup:
    """Columns of cumulative turnout per hour (``hours`` of views.Area: hour, cumulative, share);
    the tallest column fills the height, its label gives the scale."""
    height, base, n = 170, 145, max(len(hours), 1)
    step = WIDTH / n
    shares = all(h.get("share") is not None for h in hours)
    top = max(((h["share"] if shares else h["cumulative"]) for h in hours), default=1) or 1
    out = [f'<svg class="chart hourly" viewBox="0 0 {WIDTH} {height}" width="100%" role="img"'
           f' xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
           f'<line x1="0" y1="{base}" x2="{WIDTH}" y2="{base}" stroke="#888"/>']
    for i, h in enumerate(hours):
        value = h["share"] if shares else h["cumulative"]
        bar = int(round((base - 20) * value / top))
        x = int(i * step + step * 0.15)
        w = max(int(step * 0.7), 2)
        label = percent(value, lang, 0) if shares else number(value, lang)
        out.append(f'<rect x="{x}" y="{base - bar}" width="{w}" height="{bar}" fill="#457b9d"/>'
                   f'<text x="{x + w / 2:.0f}" y="{base - bar - 4}" class="v" text-anchor="middle">'
                   f'{escape(label)}</text>'
                   f'<text x="{x + w / 2:.0f}" y="{base + 18}" class="l" text-anchor="middle">'
                   f'{escape(h["hour"][:2])}</text>')
    out.append("</svg>")
    return Markup("".join(out))
