"""The portal shows what issue #14 counts apart: ballots issued on a provisional claim and ballots
printed on demand at a remote-voting site.

tests/support/remote_world.py's day, the site RV-9001's protocol carrying a ``provisional``
section (two voters issued while the centre could not be asked: one granted since, one refused)
and, once uploaded, its identification summary's ``ondemand`` counters per ballot style:

- a station's page (and its A4 PDF) shows the provisional section apart from the protocol's lines,
  with what the centre answered since, in Kyrgyz, Russian and English; a protocol without it shows nothing,
  one whose section is not counts shows no figures and is held with the reason in words;
- the national page's remote-voting block and the site's page show printed, issued, voided
  (pending only when there are any) and whether printed = issued + voided + pending holds,
  a clear mark where it does not, and the reason where the summary's section is malformed;
- no page carries a PIN.
"""

from __future__ import annotations

import re

import pytest
import requests
from portal_world import served
from remote_world import (
    CONTESTS,
    NATIONAL,
    SITE,
    build_remote_world,
    candidate,
    party_list,
    protocol,
    utc,
)

from central.portal import pdf, views
from sync.pin import pin_problem

PIN_LIKE = re.compile(r"(?<![0-9])[12][0-9]{13}(?![0-9])")
PROVISIONAL = {"issued": 2, "granted_later": 1, "refused_later": 1, "unanswered": 0}
ONDEMAND = {"bs-district-01": {"printed": 8, "issued": 7, "voided": 1, "pending": 0, "voids": {"printer-jam": 1}},
            "bs-district-02": {"printed": 4, "issued": 4, "voided": 0, "pending": 0, "voids": {}},
            "bs-party-list": {"printed": 13, "issued": 12, "voided": 0, "pending": 1, "voids": {}}}
BALANCED = {k: {**v, "pending": 0} for k, v in ONDEMAND.items()} | {
    "bs-party-list": {"printed": 12, "issued": 12, "voided": 0, "pending": 0, "voids": {}}}


def site_protocol(provisional) -> dict:
    return protocol(SITE, NATIONAL, 12, [candidate("district-01", "OIK-01", [4, 2, 0]),
                                         candidate("district-02", "OIK-02", [1, 2, 0]), party_list([6, 5])],
                    remote_site=True, district="OIK-03", provisional=provisional)


class Day:
    """The day, served: upload the site's summary, read pages (never a PIN on any)."""

    def __init__(self, world, url: str):
        self.world, self.url = world, url

    def summary(self, ondemand, at=utc(14, 3)) -> None:
        ident = self.world.devices[SITE]["identify"]
        body = {"voters_on_list": NATIONAL, "identified": 12, "by_method": {"card+finger": 12},
                "manual_by_reason": {}, "at": at, "ondemand": ondemand}
        self.world.upload(ident, [ident.seal("identification-summary", body, at)])

    def get(self, path: str) -> str:
        r = requests.get(self.url + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code)
        assert not [m for m in PIN_LIKE.findall(r.text) if pin_problem(m) is None], path   # never a PIN
        assert not any(p in r.text for p in self.world.site_pins), path
        return r.text


@pytest.fixture
def day(request, tmp_path):
    """The day served; parametrized indirectly, the site's protocol's ``provisional`` section."""
    provisional = getattr(request, "param", PROVISIONAL)
    world = build_remote_world(tmp_path / "world", site_protocol=site_protocol(provisional))
    with served(world.context(tmp_path / "downloads")) as url:
        yield Day(world, url)
    world.close()


def section(html: str, sid: str) -> str:
    assert f'id="{sid}"' in html, sid
    return html.split(f'id="{sid}"')[1].split("</section>")[0]


def block(html: str, div: str) -> str:
    return html.split(f'id="{div}"')[1].split("</div>")[0]


def lines(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-line="([^"]+)"><td>[^<]*</td><td class="n">([^<]+)</td>', html))


def rows(table: str, attr: str) -> dict[str, list[str]]:
    """A table's rows by their ``data-<attr>``: the cells' text after the first (tags dropped)."""
    out = {}
    for key, row in re.findall(rf'<tr[^>]* data-{attr}="([^"]*)">(.*?)</tr>', table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        out[key] = [re.sub(r"<[^>]+>", "", c).strip() for c in cells[1:]]
    return out


# --- ballots issued on a provisional claim, on the station page ----------------------------------

@pytest.mark.parametrize("lang, words", [
    ("ru", ("Выдача по условной заявке", "Выдано по условной заявке", "центр разрешил позже", "центр отказал позже", "без ответа центра",
            "входят в число идентифицированных")),
    ("ky", ("Шарттуу берүү", "Шарттуу берилди", "борбор кийин уруксат берди", "борбор кийин четке какты", "борбордон жооп жок",
            "идентификацияланган шайлоочулардын санына кирет")),
    ("en", ("Issued on a provisional claim", "the centre granted later", "the centre refused later",
            "no answer from the centre")),
], ids=["ru", "ky", "en"])
def test_the_station_page_shows_the_provisional_section_apart(day, lang, words):
    html = day.get(f"/{lang}/station/{SITE}")
    assert 'data-status="verified"' in html
    box = block(html, "provisional")
    for w in words:
        assert w in box, w
    assert lines(box) == {"provisional/issued": "2", "provisional/granted_later": "1",
                          "provisional/refused_later": "1", "provisional/unanswered": "0"}
    # apart from the protocol's own lines: voters identified stays one line of its table
    general = html.split('id="lines-general"')[1].split("</table>")[0]
    assert "provisional" not in general and lines(general)["voters_identified"] == "12"


def test_the_protocol_pdf_has_the_section_too(day, monkeypatch):
    """The A4 download shows what the page shows: the section under the voters identified, both languages."""
    r = requests.get(f"{day.url}/station/{SITE}/protocol.pdf", timeout=30)
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    drawn = []
    monkeypatch.setattr(pdf._Pages, "row", lambda self, label, cells, **kw: drawn.append((label.lstrip("· "), cells)))
    snap = views.build_snapshot(day.world.storage)
    pdf.protocol_pages(snap.stations[SITE], views.station_report(day.world.storage, SITE),
                       views.option_names(CONTESTS), election="kg", url="http://x")
    labels = [label for label, _ in drawn]
    at = labels.index("Шарттуу берилди / Выдано по условной заявке")
    assert labels[at - 1] == "Идентификацияланган шайлоочулар / Идентифицировано избирателей"
    assert drawn[at:at + 4] == [("Шарттуу берилди / Выдано по условной заявке", ["2"]),
                                ("борбор кийин уруксат берди / центр разрешил позже", ["1"]),
                                ("борбор кийин четке какты / центр отказал позже", ["1"]),
                                ("борбордон жооп жок / без ответа центра", ["0"])]
    drawn.clear()
    pdf.protocol_pages(snap.stations["UIK-1001"], views.station_report(day.world.storage, "UIK-1001"),
                       views.option_names(CONTESTS), election="kg", url="http://x")
    assert drawn and not any("Шарттуу" in label for label, _ in drawn)


def test_a_station_without_the_section_shows_none(day):
    for path in ("/ru/station/UIK-1001", "/ky/station/UIK-2001"):
        assert 'id="provisional"' not in day.get(path)


@pytest.mark.parametrize("day", [{"issued": 2, "granted_later": 2, "refused_later": 1, "unanswered": 0}],
                         indirect=True, ids=["2-issued-3-answers"])
@pytest.mark.parametrize("lang, words", [
    ("ru", "выдано по условной заявке 2, а ответы центра в сумме дают другое число"),
    ("ky", "шарттуу берилди 2, бирок борбордун жоопторунун суммасы башка"),
], ids=["ru", "ky"])
def test_answers_that_do_not_add_up_hold_the_protocol_in_words(day, lang, words):
    html = day.get(f"/{lang}/station/{SITE}")
    assert 'data-status="held"' in html and words in section(html, "status")
    assert 'id="provisional"' in html                  # four counts: shown beside the reason


@pytest.mark.parametrize("day", [{"issued": 2, "granted_later": "1", "refused_later": 1, "unanswered": 0}],
                         indirect=True, ids=["a-count-as-text"])
def test_a_malformed_section_shows_no_figures_and_says_why(day):
    html = day.get(f"/ru/station/{SITE}")
    assert 'data-status="held"' in html
    assert "раздел о выданных по условной заявке повреждён" in section(html, "status")
    assert 'id="provisional"' not in html


def test_the_control_relation_is_named_in_words(day):
    """The site's count role adds provisional<=identified (count/protocol_body.py): named, not coded."""
    body = site_protocol(PROVISIONAL)
    body["control"].append({"relation": "provisional<=identified", "ok": True, "detail": ""})
    count = day.world.devices[SITE]["count"]
    day.world.upload(count, [count.seal("results-protocol", body, utc(14, 8))])
    relations = section(day.get(f"/ru/station/{SITE}"), "protocol").split('id="relations"')[1]
    assert "выдано по условной заявке ≤ идентифицировано" in relations
    assert "provisional&lt;=identified" not in relations


# --- ballots printed on demand: the national block and the site's page ---------------------------

@pytest.mark.parametrize("lang, head", [
    ("ru", ["Напечатано", "Выдано", "Погашено", "Не решено", "Проверка"]),
    ("ky", ["Басылды", "Берилди", "Жокко чыгарылды", "Чечиле элек", "Текшерүү"]),
    ("en", ["Printed", "Issued", "Voided", "Pending", "Check"]),
], ids=["ru", "ky", "en"])
def test_the_national_block_shows_each_sites_printed_issued_voided(day, lang, head):
    day.summary(ONDEMAND)
    remote = section(day.get(f"/{lang}/"), "remote-voting")
    table = remote.split('id="remote-ondemand"')[1].split("</table>")[0]
    assert re.findall(r"<th[^>]*>([^<]+)</th>", table)[1:] == head
    assert rows(table, "station") == {SITE: ["25", "23", "1", "1", "✔"], "": ["25", "23", "1", "1", "✔"]}
    assert 'data-balanced="yes"' in remote.split('id="ondemand-balance"')[1].split("</p>")[0]
    assert f'href="/{lang}/station/{SITE}"' in table


def test_without_pending_sheets_there_is_no_pending_column(day):
    day.summary(BALANCED)
    remote = section(day.get("/ru/"), "remote-voting")
    assert "Не решено" not in remote
    assert rows(remote.split('id="remote-ondemand"')[1], "station")[SITE] == ["24", "23", "1", "✔"]
    site = section(day.get(f"/ru/station/{SITE}"), "site-ondemand")
    assert "Не решено" not in site and rows(site, "style")[""] == ["24", "23", "1", "✔"]


@pytest.mark.parametrize("lang, note", [
    ("ru", "напечатано = выдано + погашено + не решено"),
    ("ky", "басылды = берилди + жокко чыгарылды + чечиле элек"),
], ids=["ru", "ky"])
def test_the_sites_page_shows_them_per_ballot_style(day, lang, note):
    day.summary(ONDEMAND)
    site = section(day.get(f"/{lang}/station/{SITE}"), "site-ondemand")
    assert rows(site, "style") == {"bs-district-01": ["8", "7", "1", "0", "✔"],
                                   "bs-district-02": ["4", "4", "0", "0", "✔"],
                                   "bs-party-list": ["13", "12", "0", "1", "✔"], "": ["25", "23", "1", "1", "✔"]}
    assert note in site and "✘" not in site


@pytest.mark.parametrize("lang, words", [
    ("ru", ("не сходится", "не сходится: напечатано ≠ выдано + погашено + не решено")),
    ("ky", ("дал келбейт", "дал келбейт: басылды ≠ берилди + жокко чыгарылды + чечиле элек")),
], ids=["ru", "ky"])
def test_counters_that_do_not_add_up_are_marked(day, lang, words):
    day.summary({**BALANCED, "bs-party-list": {"printed": 14, "issued": 12, "voided": 0, "pending": 0}})
    remote = section(day.get(f"/{lang}/"), "remote-voting")
    assert rows(remote.split('id="remote-ondemand"')[1], "station")[SITE] == ["26", "23", "1", f"✘ {words[0]}"]
    assert 'data-balanced="no"' in remote and words[1] in remote
    site = section(day.get(f"/{lang}/station/{SITE}"), "site-ondemand")
    styles = rows(site, "style")
    assert styles["bs-party-list"][-1] == f"✘ {words[0]}" and styles["bs-district-01"][-1] == "✔"
    assert styles[""][-1] == f"✘ {words[0]}" and words[1] in site


@pytest.mark.parametrize("ondemand, ru, ky", [
    (["bs-party-list"], "раздел о бюллетенях, напечатанных по запросу, повреждён",
     "талап боюнча басылган бюллетендердин бөлүгү бузук"),
    ({"bs-party-list": {"printed": -1, "issued": 0, "voided": 0, "pending": 0}},
     "счётчики вида 'bs-party-list' не являются числами", "'bs-party-list' түрүнүн сандары бузук"),
], ids=["not-a-table", "negative"])
def test_a_malformed_section_says_so(day, ondemand, ru, ky):
    day.summary(ondemand)
    for lang, words in (("ru", ru), ("ky", ky)):
        remote = section(day.get(f"/{lang}/"), "remote-voting")
        table = rows(remote.split('id="remote-ondemand"')[1], "station")
        row = table[SITE]
        assert len(row) == 1 and row[0].startswith("⚠ ") and words.replace("'", "&#39;") in row[0], row
        # the total leaves the site out and says so: never a 0 = 0 + 0 + 0 ✔
        assert table[""] == ["0", "0", "0", "⚠"] and 'id="ondemand-balance"' not in remote
        assert {"ru": "В итог не вошли пункты (1)", "ky": "Жыйынтыкка 1 пункт кирген жок"}[lang] in remote
        site = section(day.get(f"/{lang}/station/{SITE}"), "site-ondemand")
        assert 'id="ondemand-problem"' in site and words.replace("'", "&#39;") in site
        assert 'id="site-ondemand-styles"' not in site


def test_before_the_summary_the_pages_say_none_arrived(day):
    remote = section(day.get("/ru/"), "remote-voting")
    assert 'id="remote-ondemand"' not in remote and "Итоги идентификации ещё не поступили" in remote
    site = section(day.get(f"/ru/station/{SITE}"), "site-ondemand")
    assert 'id="ondemand-none"' in site
    assert 'id="site-ondemand"' not in day.get("/ru/station/UIK-1001")      # a regular station has none


def test_no_page_names_a_voter(day):
    day.summary(ONDEMAND)
    for path in ("/ru/", "/ky/", "/en/", f"/ru/station/{SITE}", f"/ky/station/{SITE}", f"/en/station/{SITE}",
                 "/ru/held", "/ru/oik/OIK-01"):
        day.get(path)                                    # Day.get: no PIN, no site voter's PIN
