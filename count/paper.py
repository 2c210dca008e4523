"""Paper documents of the count role: the zero report and the results protocol.

Both are ``drivers.printer.document.Document`` values (rendered to a 1-bit
raster with DejaVu Sans, so the Kyrgyz letters Ң Ө Ү print on any printer:
FIELD-NOTES "Receipt printers and Kyrgyz letters"), every label in Kyrgyz and
Russian (DOMAIN.md "Languages"). The same document renders as a 58 mm
receipt (``save_receipt``) or as an A4 page (``save_a4``, PNG and PDF).

They are pure functions of values (election, tally or protocol body, hash):
printing the same protocol twice gives the same pixels. The hash printed on
the protocol is its envelope hash (docs/protocol.md sections 3 and 10), the
one the centre publishes and ``uchastok verify`` prints.

A remote-voting site's protocol (count/protocol_body.py: a section per district
present) says so under the header with the number of districts, prints each
district's section with the ОИК whose results its votes join, and names the
voters on the list the national list. Ballots issued on a provisional claim
(the protocol's ``provisional`` section: the link to the centre was down) are
printed apart under the voters identified, with the centre's answers so far.

A revision that carries the commission's manual count (count/manual_protocol.py)
prints it after the machine count (``manual_count_blocks``): the official
figures per line beside the machine's and the difference, the control
relations over the manual figures, the commission's explanation and the
revision it corrects. Control relations name their contest by its title.

The A4 protocol also carries the whole signed protocol in a few numbered QR
codes (``verification_codes``: the observer export of the protocol envelope
and the device certificate, canonical JSON, zlib, base45 in QR alphanumeric
mode, docs/protocol.md section 10), which central/portal/static/check.html
reads from a phone's photo and checks offline. The 58 mm receipt leaves them
out: a code that size does not fit its width.

Example::

    doc = protocol_document(election, signed.body, signed.envelope_hash, revision=1)
    save_a4(doc, out_dir / "protocol")   # protocol.png, protocol.pdf
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from base.clock import local, parse_iso
from count.manual_count import LINE_TEXT
from count.protocol_body import RELATION_TEXT
from count.tally import Tally
from drivers.printer.document import (
    Align,
    Cut,
    Document,
    Heading,
    QrCode,
    Row,
    Rule,
    Space,
    Text,
    render_pages,
    save_pages_pdf,
    save_png,
)
from station.election import Contest, Election
from station.errors import PackageError
from sync.canonical import canonical

A4_DPI = 150
A4_WIDTH = 1240          # 210 mm at 150 dpi
A4_HEIGHT = 1754         # 297 mm at 150 dpi
A4_SCALE = 1.5

AGAINST_ALL = ("Баарына каршы", "Против всех")
LABELS = {
    "ballots_read": ("Окулган бюллетендер", "Прочитано бюллетеней"),
    "valid": ("Жарактуу", "Действительных"),
    "invalid": ("Жараксыз", "Недействительных"),
    "blank": ("Белгисиз (бош)", "Без отметок (пустых)"),
    "marginal_sheets": ("Так эмес белгилүү", "С нечёткими отметками"),
    "voters_on_list": ("Тизмедеги шайлоочулар", "Избирателей в списке"),
    "voters_identified": ("Идентификацияланган", "Идентифицировано"),
    "closed_at": ("Добуш берүү жабылды", "Голосование закрыто"),
}
# A remote-voting site (DOMAIN.md "Remote voting"): its list is the national one, its sections are districts'.
REMOTE_SITE = ("Аралыктан добуш берүү пункту: {n} округдун бюллетендери",
               "Пункт дистанционного голосования: бюллетени {n} округов")
NATIONAL_LIST = ("Улуттук тизмедеги шайлоочулар", "Избирателей в национальном списке")
# Ballots issued while the centre could not be asked (issue #14 point 3), counted apart.
PROVISIONAL = {
    "issued": ("Шарттуу берилди", "Выдано по условной заявке"),
    "granted_later": ("борбор кийин уруксат берди", "центр разрешил позже"),
    "refused_later": ("борбор кийин четке какты", "центр отказал позже"),
    "unanswered": ("борбордон жооп жок", "без ответа центра"),
}
DISTRICT_RESULTS = ("Добуштар {district} округунун жыйынтыгына кошулат",
                    "Голоса идут в итоги округа {district}")
# The envelope hash (docs/protocol.md section 3): the centre and `uchastok verify` show the same.
HASH_LABEL = ("Протоколдун хэши (конверттин SHA-256)", "Хэш протокола (SHA-256 конверта)")
NOT_QUEUED = ("жөнөтүүгө коюлган эмес", "не поставлен в очередь отправки")
# The manual count's section (DOMAIN.md "Results": the manual count is official).
MANUAL_TITLE = ("КОЛ МЕНЕН САНОО: РАСМИЙ ЖЫЙЫНТЫК", "РУЧНОЙ ПОДСЧЁТ: ОФИЦИАЛЬНЫЙ ИТОГ")
MANUAL_LEGEND = ("Ар бир сапта: түзмөк · кол менен · айырма", "В каждой строке: устройство · вручную · разница")
MANUAL_RELATIONS = ("Кол менен саноонун катыштары", "Соотношения ручного подсчёта")
MANUAL_PREFERENCES = ("Тизмедеги номерлер боюнча добуштар (башкалары 0 · 0 · 0)",
                      "Голоса по номерам кандидатов (остальные 0 · 0 · 0)")
MANUAL_DIFFERENCES = ("Айырмасы бар саптар", "Строк с разницей")
EXPLANATION = ("Комиссиянын түшүндүрмөсү", "Объяснение комиссии")
NO_EXPLANATION = ("жок", "нет")
SUPERSEDES = ("Оңдолгон редакциянын хэши", "Исправляет редакцию с хэшем")
CODES_LABEL = ("Кол коюлган протокол QR-коддордо (телефон менен текшерүү)",
               "Подписанный протокол в QR-кодах (проверка телефоном)")

# docs/protocol.md section 10, "The protocol on paper": RFC 9285 base45 puts the compressed
# bytes into the QR alphanumeric set (5.5 bits a character instead of 8 in byte mode, and no
# text decoding in the phone's reader to mangle them).
QR_TAG = "UCH1"
QR_PART_CHARS = 1200        # a version 23 code at error level M: 0.5 mm modules on 59 mm
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45(data: bytes) -> str:
    """RFC 9285: each two bytes as three characters (least significant first), a last byte as two."""
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        out += [BASE45[n % 45], BASE45[n // 45 % 45], BASE45[n // 2025]]
    if len(data) % 2:
        out += [BASE45[data[-1] % 45], BASE45[data[-1] // 45]]
    return "".join(out)


def verification_codes(export: dict[str, Any], envelope_hash: str, part_chars: int = QR_PART_CHARS) -> list[str]:
    """The texts of the numbered QR codes that carry ``export`` (one protocol envelope and its certificate).

    Each is ``UCH1:<i>/<n>:<first 8 hex of the envelope hash, upper case>:<part>``; the parts in
    order are base45(zlib(canonical(export))).
    """
    text = base45(zlib.compress(canonical(export), 9))
    n = -(-len(text) // part_chars)
    size = -(-len(text) // n)
    tag = envelope_hash[:8].upper()
    return [f"{QR_TAG}:{i + 1}/{n}:{tag}:{text[i * size:(i + 1) * size]}" for i in range(n)]


def bi(pair: tuple[str, str]) -> str:
    return f"{pair[0]} / {pair[1]}"


def option_label(contest: Contest, option: str) -> str:
    """How an option reads on paper: candidate name and year, party name, "against all"."""
    if option == "against-all":
        return bi(AGAINST_ALL)
    for c in contest.candidates:
        if c.id == option:
            mark = " (чыгып кеткен / выбыл)" if c.withdrawn else ""
            return f"{c.full_name}, {c.birth_year}{mark}"
    for p in contest.parties:
        if p.id == option:
            return p.name.ky if p.name.ky == p.name.ru else f"{p.name.ky} / {p.name.ru}"
    return option


def _relation_line(election: Election, r: dict[str, Any]) -> Text:
    """One control relation as printed: verdict, what it says, the contest's title, the two figures."""
    label = bi(RELATION_TEXT.get(r["relation"], (r["relation"], r["relation"])))
    where = ""
    if r.get("contest"):
        try:
            contest = election.contest(r["contest"])
            where = f" — {contest.title.ky} / {contest.title.ru}"
            party = next((p for p in contest.parties if p.id == r.get("party")), None)
            if party is not None:
                where += f": {party.short}"      # the manual count names each party over its votes
        except PackageError:
            where = f" — {r['contest']}"
    left, right = r.get("values") or ("?", "?")
    op = "≤" if "<=" in r["relation"] else "="
    verdict = "✔" if r["ok"] else "✘ ТУУРА ЭМЕС / НЕ СХОДИТСЯ:"
    return Text(f"{verdict} {label}{where}: {left} {op} {right}", size=16)


def figures_triple(row: dict[str, Any]) -> str:
    """A manual-count line's figures as printed: machine · manual · difference ("—": no machine figure)."""
    machine = "—" if row.get("machine") is None else str(row["machine"])
    d = row.get("difference")
    diff = "—" if d is None else ("0" if d == 0 else f"{d:+d}")
    return f"{machine} · {row['manual']} · {diff}"


def manual_line_label(election: Election, key: str) -> str:
    """What a manual-count line (count/manual_count.py ``form_lines`` keys) says on paper, both languages."""
    if key in LINE_TEXT:
        return bi(LINE_TEXT[key])
    cid, _, line = key.partition("/")
    if line in LINE_TEXT:
        return bi(LINE_TEXT[line])
    if line.startswith("votes:"):
        try:
            return option_label(election.contest(cid), line[len("votes:"):])
        except PackageError:
            return line
    return key


def manual_count_blocks(election: Election, body: dict[str, Any]) -> list:
    """The manual count's section of a protocol revision (``body["manual_count"]``), both languages.

    Per line: the machine's figure, the manual one, the difference; contests in the form's order;
    preference lines (``<contest>/pref:<party>:<number>``) as one line per party, only the numbers
    where either count is not zero. Then the relations over the manual figures, the explanation,
    and the hash of the revision this one corrects.
    """
    m = body["manual_count"]
    out: list = [Rule(), Heading(MANUAL_TITLE[0], size=24), Heading(MANUAL_TITLE[1], size=24),
                 Text(bi(MANUAL_LEGEND), size=16, align=Align.CENTER)]
    contest = None
    prefs: dict[str, list[str]] = {}

    def flush_prefs() -> None:
        if not prefs:
            return
        out.append(Text(bi(MANUAL_PREFERENCES) + ":", size=18, bold=True))
        c = election.contest(contest)
        shorts = {p.id: p.short for p in c.parties}
        for party, items in prefs.items():
            out.append(Text(f"{shorts.get(party, party)}: " + ", ".join(items), size=18))
        prefs.clear()

    for row in m["lines"]:
        if row.get("contest") != contest:
            flush_prefs()
            contest = row.get("contest")
            if contest is not None:
                title = election.contest(contest).title
                out.append(Text(f"{title.ky}\n{title.ru}", size=20, bold=True))
        _, _, line = row["line"].partition("/")
        if line.startswith("pref:"):
            party, _, number = line[len("pref:"):].rpartition(":")
            items = prefs.setdefault(party, [])
            if row["manual"] or row.get("machine") or row.get("difference"):
                items.append(f"№{number}: {figures_triple(row)}")
            continue
        out.append(Row(manual_line_label(election, row["line"]), figures_triple(row), size=18))
    flush_prefs()
    out.append(Row(bi(MANUAL_DIFFERENCES), str(m.get("differences", 0)), size=18))
    out.append(Text(bi(MANUAL_RELATIONS) + ":", size=20, bold=True))
    out += [_relation_line(election, r) for r in m.get("control") or []]
    out.append(Text(f"{bi(EXPLANATION)}: {m.get('explanation') or bi(NO_EXPLANATION)}", size=18))
    if body.get("supersedes"):
        h = body["supersedes"]
        out.append(Row(bi(SUPERSEDES), f"{h[:16]}…", size=16))
    return out


def _header(election: Election, title: tuple[str, str]) -> list:
    st = election.station
    return [Heading(title[0], size=26), Heading(title[1], size=26),
            Text(f"{election.name.ky}\n{election.name.ru}", size=20, align=Align.CENTER),
            Text(f"{st.name.ky}\n{st.name.ru}", size=20, bold=True, align=Align.CENTER),
            Text(f"{st.oik.name.ky} · {st.tik.name.ky} · {st.region.name.ky}", size=18,
                 align=Align.CENTER),
            Rule()]


def zero_report_document(election: Election, tally: Tally, *, at: str, device_id: str | None = None) -> Document:
    """Every counter of the real tally, per contest (all zero before polls open)."""
    doc = Document(title=f"zero report {election.station.id}")
    doc.add(*_header(election, ("НӨЛДҮК ОТЧЁТ", "НУЛЕВОЙ ОТЧЁТ")))
    doc.add(Row("Убакыт / Время", _when(at, election), size=20))
    if device_id:
        doc.add(Row("Түзмөк / Устройство", device_id, size=18))
    for ct in tally.contests:
        contest = election.contest(ct.contest)
        doc.add(Space(8), Text(f"{contest.title.ky}\n{contest.title.ru}", size=20, bold=True))
        for k in ("ballots_read", "valid", "invalid", "blank", "marginal_sheets"):
            doc.add(Row(bi(LABELS[k]), str(getattr(ct, k)), size=18))
        for o, n in ct.votes.items():
            doc.add(Row(option_label(contest, o), str(n), size=18))
        prefs = sum(n for p in ct.preferences.values() for n in p.values())
        if contest.kind == "party-list":
            doc.add(Row("Артыкчылык добуштар / Голоса за кандидатов списков", str(prefs), size=18))
        doc.add(Rule(dashed=True))
    zero = tally.is_zero()
    doc.add(Space(8), Heading("БАРДЫК ЭСЕПТЕГИЧТЕР НӨЛДӨ" if zero else "ЭСЕПТЕГИЧТЕР НӨЛ ЭМЕС", size=22),
            Heading("ВСЕ СЧЁТЧИКИ НА НУЛЕ" if zero else "СЧЁТЧИКИ НЕ НА НУЛЕ", size=22),
            Space(24), Text("Комиссия мүчөлөрүнүн колдору / Подписи членов комиссии:", size=18),
            Space(60), Rule(), Cut())
    return doc


def _when(at: str, election: Election) -> str:
    t = parse_iso(at)
    return local(t, election.time_zone).strftime("%Y-%m-%d %H:%M")


def protocol_document(election: Election, body: dict[str, Any], envelope_hash: str | None, *,
                      revision: int = 1, signer: str | None = None, codes: Sequence[str] = ()) -> Document:
    """The results protocol on paper: counts, control relations, the hash to check it by.

    ``envelope_hash`` is the hash of the protocol's signed envelope (None: not queued for upload);
    ``codes`` the texts of ``verification_codes``, printed as numbered QR codes (A4 only).
    """
    test = body.get("test_mode")
    title = ("ЖЫЙЫНТЫК ПРОТОКОЛУ", "ПРОТОКОЛ ОБ ИТОГАХ ГОЛОСОВАНИЯ")
    doc = Document(title=f"results protocol {body['station']} r{revision}")
    doc.add(*_header(election, title))
    if test:
        doc.add(Heading("СЫНОО / ТЕСТ", size=30))
    doc.add(Text("Алдын ала маалымат (автоматтык эсеп) / Предварительные данные (автоматический подсчёт)",
                 size=18, align=Align.CENTER))
    remote = bool(body.get("remote_site"))
    if remote:
        n = sum(1 for c in body["contests"] if c.get("district"))
        doc.add(Text("\n".join(t.format(n=n) for t in REMOTE_SITE), size=20, bold=True, align=Align.CENTER))
    doc.add(Row(bi(LABELS["closed_at"]), _when(body["closed_at"], election), size=18))
    doc.add(Row(bi(NATIONAL_LIST if remote else LABELS["voters_on_list"]), str(body["voters_on_list"]), size=20))
    vi = body["voters_identified"]
    doc.add(Row(bi(LABELS["voters_identified"]), "—" if vi is None else str(vi), size=20))
    if body.get("provisional"):
        for k, pair in PROVISIONAL.items():     # the centre's answers so far, under the figure
            main = k == "issued"
            doc.add(Row(bi(pair) if main else "  " + bi(pair), str(body["provisional"][k]),
                        size=20 if main else 18))
    for c in body["contests"]:
        contest = election.contest(c["contest"])
        doc.add(Rule(), Text(f"{contest.title.ky}\n{contest.title.ru}", size=22, bold=True))
        if remote and c.get("district"):
            doc.add(Text("\n".join(t.format(district=c["district"]) for t in DISTRICT_RESULTS), size=18))
        for k in ("ballots_read", "valid", "invalid", "blank", "marginal_sheets"):
            doc.add(Row(bi(LABELS[k]), str(c[k]), size=20))
        doc.add(Text("Добуштар / Голоса:", size=20, bold=True))
        for o, n in c["votes"].items():
            doc.add(Row(option_label(contest, o), str(n), size=20))
        if c["preferences"]:
            doc.add(Text("Тизмедеги номерлер боюнча добуштар / Голоса по номерам кандидатов"
                         " (башкалары 0 / остальные 0):", size=18, bold=True))
            for p in contest.parties:
                nums = c["preferences"].get(p.id, {})
                nz = [(int(k), v) for k, v in nums.items() if v]
                if nz:
                    doc.add(Text(f"{p.short}: " + ", ".join(f"№{k} — {v}" for k, v in sorted(nz)), size=18))
    doc.add(Rule(), Text("Текшерүү / Контрольные соотношения:", size=20, bold=True))
    doc.add(*[_relation_line(election, r) for r in body["control"]])
    if body.get("manual_count"):
        doc.add(*manual_count_blocks(election, body))
    doc.add(Rule(), Text(bi(HASH_LABEL) + ":", size=18, bold=True))
    if envelope_hash is None:
        doc.add(Text(f"— ({bi(NOT_QUEUED)})", size=18, align=Align.CENTER))
    else:
        doc.add(Text("\n".join(envelope_hash[i:i + 16] for i in range(0, 64, 16)), size=24, bold=True,
                     align=Align.CENTER))
        doc.add(QrCode(f"uchastok-protocol:{body['station']}:{revision}:{envelope_hash}", module_dots=3))
    if signer:
        doc.add(Row("Кол койгон ачкыч / Ключ подписи", signer, size=16))
    if codes:
        doc.add(Rule(), Text(bi(CODES_LABEL) + ":", size=18, bold=True))
        for i, code in enumerate(codes, start=1):
            doc.add(Text(f"{i} / {len(codes)}", size=18, bold=True, align=Align.CENTER),
                    QrCode(code, module_dots=3, error="m"), Space(12))
    doc.add(Row("Редакция / Редакция", str(revision), size=16),
            Space(24), Text("Комиссия мүчөлөрүнүн колдору / Подписи членов комиссии:", size=18),
            Space(80), Rule(), Cut())
    return doc


def save_receipt(doc: Document, path: str | Path) -> Path:
    """The 58 mm receipt rendering as a PNG (what the simulated printer would print)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_png(doc, path)


def a4_pages(doc: Document) -> list:
    """The document laid out on A4 pages at 150 dpi (long documents continue on further pages)."""

    (strip, *_rest) = render_pages(Document([b for b in doc.blocks if not isinstance(b, Cut)]),
                                   A4_WIDTH, margin_dots=90, scale=A4_SCALE)
    pages, top, usable = [], 0, A4_HEIGHT - 160
    ink = (np.asarray(strip.convert("L")) < 128).any(axis=1)
    while top < strip.height:
        end = min(top + usable, strip.height)
        if end < strip.height:
            # Break the page on a blank row, never through a line of text or a QR code (up to
            # 420 dots tall: a verification code with its number above it).
            blank = [y for y in range(end - 1, max(top, end - 420), -1) if not ink[y]]
            end = blank[0] + 1 if blank else end
        page = Image.new("1", (A4_WIDTH, A4_HEIGHT), 1)
        page.paste(strip.crop((0, top, A4_WIDTH, end)), (0, 80))
        pages.append(page)
        top = end
    return pages


def save_a4(doc: Document, stem: str | Path) -> tuple[Path, Path]:
    """``stem.png`` (first page) and ``stem.pdf`` (all pages) on A4."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    pages = a4_pages(doc)
    png = stem.with_suffix(".png")
    pages[0].save(png)
    pdf = save_pages_pdf(pages, stem.with_suffix(".pdf"), dpi=A4_DPI, title=doc.title)
    return png, pdf
