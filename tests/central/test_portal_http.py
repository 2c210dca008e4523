"""The public portal over plain HTTP (issue #13 scope 4): every route, every language, bad input.

The national day of tests/support/portal_world.py is uploaded through the receiver; the
portal alone (``Starlette(routes=portal_routes(ctx))``) runs under uvicorn on loopback.
Figures on the pages are checked against central.aggregate, downloads against the
keys that sign them, and every page and download against the PINs of the day.
"""

from __future__ import annotations

import gzip
import json
import re

import pytest
import requests
from markupsafe import escape as html_escape
from portal_world import CONTESTS, STATIONS, build_world, served

from central import aggregate
from central.portal import pdf, views
from central.portal.app import PortalContext, portal_routes
from central.portal.bulk import BulkFile
from central.portal.pdf import protocol_pages
from central.portal.words import LANGUAGES, WORDS, reason_text
from sync import signing
from sync.canonical import parse
from sync.export import verify_export
from sync.pin import pin_problem

AREAS = [("region", "KG-C"), ("region", "KG-O"), ("oik", "OIK-01"), ("oik", "OIK-02"),
         ("oik", "OIK-03"), ("tik", "TIK-C-ALA"), ("tik", "TIK-C-SOK"), ("tik", "TIK-O-CITY"),
         ("tik", "TIK-O-KSU")]
EXPECTED = {"UIK-1001": "verified", "UIK-1002": "verified", "UIK-1003": "held", "UIK-1004": "reporting",
            "UIK-2001": "verified", "UIK-2002": "verified", "UIK-2003": "verified", "UIK-2004": "missing"}
PIN_LIKE = re.compile(rb"(?<![0-9])[12][0-9]{13}(?![0-9])")


def pins_in(body: bytes) -> list[str]:
    """Every run of 14 digits in ``body`` that is a valid PIN (sync/pin.py), whoever's it is."""
    return [m.decode() for m in PIN_LIKE.findall(body) if pin_problem(m.decode()) is None]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("portal-world"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def portal(world, tmp_path_factory):
    with served(world.context(tmp_path_factory.mktemp("downloads"))) as url:
        yield url


def get(url: str, **kw) -> requests.Response:
    return requests.get(url, timeout=30, **kw)


def every_page(lang: str) -> list[str]:
    return ([f"/{lang}/", f"/{lang}/held", f"/{lang}/revisions"]
            + [f"/{lang}/{level}/{code}" for level, code in AREAS]
            + [f"/{lang}/station/{sid}" for sid in STATIONS])


def downloads() -> list[str]:
    with_protocol = [s for s, st in EXPECTED.items() if st in ("verified", "held")]
    return (["/downloads/all.json", "/downloads/authority.pub", "/downloads/centre.pub"]
            + [f"/station/{s}/export.json" for s in with_protocol]
            + [f"/station/{s}/protocol.pdf" for s in with_protocol])


# --- pages -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_renders_in_every_language(portal, lang):
    for path in every_page(lang):
        r = get(portal + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert f'<html lang="{lang}">' in r.text
        assert WORDS["portal"].of(lang) in r.text            # the frame in the page's language
        for other in LANGUAGES:                              # a switch to each language, same page
            assert f'href="/{other}{path[len(lang) + 1:]}"' in r.text


def test_national_page_counts_and_results_are_the_aggregates(portal, world):
    r = get(portal + "/ru/")
    html = r.text
    for key, n in (("registered", 8), ("reporting", 7), ("verified", 5), ("held", 1), ("missing", 1)):
        assert re.search(rf'id="n-{key}">.*?<b>([^<]*)</b>', html, re.S).group(1) == str(n), key
    national = aggregate.results(world.storage, "national")["groups"][0]
    for cid, c in national["contests"].items():
        for option, votes in c["votes"].items():
            row = re.search(rf'<tr data-option="{re.escape(option)}"><td>[^<]*</td><td class="n">([^<]*)</td>',
                            html.split(f'id="results-{cid}"')[1])
            assert row and int(row.group(1).replace("\u00a0", "")) == votes, (cid, option)
    assert html.count("<svg") >= 3          # a bar chart per contest and the turnout by hour
    assert "Партийные списки" in html and "Жаңы Доор" not in html and "Новая эра" in html
    assert "Чуйская область" in html and 'href="/ru/region/KG-C"' in html


def test_each_area_has_the_figures_of_central_aggregate(world):
    """The snapshot's sums up the tree equal aggregate.results and aggregate.turnout_series."""
    snap = views.build_snapshot(world.storage)
    for level, code in [("national", ""), *AREAS]:
        area = snap.area(level, code)
        groups = aggregate.results(world.storage, level, code or None)["groups"]
        want = groups[0]["contests"] if groups else {}
        assert {cid: c["votes"] for cid, c in area.contests.items()} == \
            {cid: c["votes"] for cid, c in want.items()}, (level, code)
        t = aggregate.turnout_series(world.storage, level, code or None)
        assert (area.turnout["identified"], area.turnout["voters_on_list"], area.turnout["share"]) == \
            (t["identified"], t["voters_on_list"], t["share"]), (level, code)
        assert [h["cumulative"] for h in area.hours] == [p["cumulative"] for p in t["series"]]
        assert area.counts["registered"] == len([s for s in area.stations if snap.stations[s]["registered"]])


def test_drill_down_has_breadcrumbs_and_children(portal):
    html = get(portal + "/ky/tik/TIK-C-ALA").text
    crumbs = html.split('id="crumbs"')[1].split("</nav>")[0]
    assert 'href="/ky/"' in crumbs and 'href="/ky/region/KG-C"' in crumbs and 'href="/ky/oik/OIK-01"' in crumbs
    assert "Бүткүл өлкө боюнча" in crumbs
    children = html.split('id="child-list"')[1]
    assert 'href="/ky/station/UIK-1001"' in children and 'href="/ky/station/UIK-1002"' in children
    assert 'href="/ky/station/UIK-1003"' not in children                  # another ТИК
    region = get(portal + "/en/region/KG-O").text.split('id="child-list"')[1]
    assert 'href="/en/oik/OIK-02"' in region and 'href="/en/oik/OIK-03"' in region


@pytest.mark.parametrize("sid,status", EXPECTED.items())
def test_station_page_says_its_status(portal, sid, status):
    html = get(portal + f"/en/station/{sid}").text
    assert f'data-status="{status}"' in html
    if status in ("verified", "held"):
        assert 'id="protocol-hash"' in html and 'id="verify"' in html
        assert f'data-export="/station/{sid}/export.json"' in html
    else:
        assert 'id="no-protocol"' in html


def test_held_station_shows_its_reasons_in_each_language(portal, world):
    reasons = aggregate.station_report(world.storage, "UIK-1003")["reasons"]
    assert reasons and any("votes add up to" in r for r in reasons)
    for lang, words in (("ru", "сумма голосов"), ("ky", "добуштардын суммасы"), ("en", "votes add up to")):
        html = get(portal + f"/{lang}/station/UIK-1003").text
        assert words in html.split('id="reasons"')[1].split("</ul>")[0], lang
    held = get(portal + "/ru/held").text
    assert 'data-station="UIK-1003"' in held and "сумма голосов" in held
    assert 'data-station="UIK-1001"' not in held


def test_manual_count_lines_differences_and_flags(portal, world):
    html = get(portal + "/ru/station/UIK-1002").text
    comparison = aggregate.station_report(world.storage, "UIK-1002")["comparison"]
    assert 'id="manual-note"' in html and "расхождения в 6 строках" in html
    flagged = [c["line"] for c in comparison if c["flagged"]]
    assert flagged == ["party-list/votes:p-onugu"]
    rows = re.findall(r'<tr class="(flag|)" data-line="([^"]+)"', html)
    assert len(rows) == len(comparison)
    assert [key for cls, key in rows if cls == "flag"] == flagged
    row = html.split('data-line="party-list/votes:p-onugu"')[1].split("</tr>")[0]
    assert "+3" in row and "большое расхождение" in row
    assert "Ручной подсчёт (официальный)" in html
    assert 'id="manual-pending"' in get(portal + "/ru/station/UIK-1001").text


def test_every_revision_is_listed_with_what_changed(portal):
    html = get(portal + "/ru/station/UIK-2002").text
    revs = html.split('id="revision-list"')[1].split("</table>")[0]
    assert 'data-revision="1"' in revs and 'data-revision="2"' in revs
    second = revs.split('data-revision="2"')[1]
    assert "Избирательный округ № 7: Недействительных бюллетеней" in second and "→" in second
    manual = get(portal + "/en/station/UIK-1002").text.split('data-revision="2"')[1].split("</tr>")[0]
    assert "manual count added" in manual
    public = get(portal + "/en/revisions").text
    assert 'data-station="UIK-1002"' in public and 'data-station="UIK-2002"' in public
    assert 'data-station="UIK-1001"' not in public
    assert "4 stations have a single revision" in public


def test_names_from_the_package_and_kyrgyz_letters(portal):
    html = get(portal + "/ky/station/UIK-1002").text
    for name in ("Үсөнов Бакыт Эңсебекович", "Өнүгүү", "Жаңы Доор", "№ 7 шайлоо округу"):
        assert name in html
    assert "Лебединовка, маданият үйү" in html


# --- downloads -------------------------------------------------------------------------------------

def test_observer_export_verifies_against_the_authority(portal, world):
    for sid in ("UIK-1001", "UIK-1002", "UIK-1003"):
        r = get(portal + f"/station/{sid}/export.json")
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        report = verify_export(parse(r.content), world.authority.public_key())
        assert report.ok and report.station == sid
        assert world.protocol_hashes[sid][-1] in [e["hash"] for e in report.envelopes]


def test_export_without_a_protocol_is_404_and_unknown_station_is_404(portal):
    r = get(portal + "/station/UIK-1004/export.json")
    assert r.status_code == 404 and r.json()["error"] == "no-protocol"
    assert get(portal + "/station/UIK-9999/export.json").status_code == 404
    assert get(portal + "/station/UIK-9999/protocol.pdf").status_code == 404
    assert get(portal + "/station/UIK-1004/protocol.pdf").status_code == 404


def test_export_route_is_503_until_the_export_module_exists(world, tmp_path, monkeypatch):
    monkeypatch.setattr(views, "station_export", None)
    with served(world.context(tmp_path / "dl")) as url:
        r = get(url + "/station/UIK-1001/export.json")
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
        assert get(url + "/downloads/all.json").status_code == 503
        html = get(url + "/en/station/UIK-1001").text
        assert str(html_escape(WORDS["export-unavailable"].en)) in html and 'id="verify-button"' not in html


def test_protocol_pdf_is_a4_with_kyrgyz_letters(portal, world):
    r = get(portal + "/station/UIK-1002/protocol.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF") and len(r.content) < 120_000     # 1-bit pages: light on a 2G link
    assert re.search(rb"/MediaBox \[ ?0 0 595\.2 841\.92 ?\]", r.content)          # A4 in points
    snap = views.build_snapshot(world.storage)
    pages = protocol_pages(snap.stations["UIK-1002"], views.station_report(world.storage, "UIK-1002"),
                           views.option_names(CONTESTS), election="kg", url="http://x").pages
    assert pages[0].size == (1240, 1754)
    font = pdf._font(20)
    for ch in "ҢӨҮңөү":
        assert font.getmask(ch).getbbox() != font.getmask("\uffff").getbbox()
        assert sum(font.getmask(ch)) > 0


def test_all_json_is_signed_by_the_centre_and_holds_every_protocol(portal, world):
    r = get(portal + "/downloads/all.json")
    assert r.status_code == 200
    doc = json.loads(r.content)
    signed = signing.open_document(doc, world.centre_key.public_key())
    assert signed["type"] == "uchastok-bulk" and signed["election"] == "kg-2025-parl"
    by_station = {e["station"]: e for e in signed["stations"]}
    assert set(by_station) == {s for s, st in EXPECTED.items() if st in ("verified", "held")}
    assert by_station["UIK-1003"]["status"] == "held" and by_station["UIK-1003"]["reasons"]
    for sid, e in by_station.items():
        assert verify_export(e["export"], world.authority.public_key()).ok, sid
    z = get(portal + "/downloads/all.json", headers={"Accept-Encoding": "gzip"}, stream=True)
    assert z.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(z.raw.read())) == doc


def test_all_json_is_rebuilt_at_most_once_a_minute(world, tmp_path):
    bulk = BulkFile(tmp_path / "dl", world.storage, world.centre_key, "kg-2025-parl",
                    lambda: [("UIK-1001", "verified", [])], clock=world.clock, every=60)
    bulk.current()
    assert bulk.builds == 1
    first = bulk.path.read_bytes()
    for _ in range(5):
        world.clock.advance(10)
        bulk.current()                                  # 50 s old at most: the same file
    bulk.wait()
    assert bulk.builds == 1 and bulk.path.read_bytes() == first
    world.clock.advance(11)                             # 61 s: one rebuild, in the background
    bulk.current()
    bulk.current()
    bulk.wait()
    assert bulk.builds == 2 and bulk.path.read_bytes() != first
    assert not list((tmp_path / "dl").glob(".*.tmp"))   # written by atomic_write: no leftovers
    world.clock.advance(-71)


def test_keys_are_published(portal, world):
    a = signing.public_from_text(get(portal + "/downloads/authority.pub").text)
    c = signing.public_from_text(get(portal + "/downloads/centre.pub").text)
    assert signing.public_bytes(a) == signing.public_bytes(world.authority.public_key())
    assert signing.public_bytes(c) == signing.public_bytes(world.centre_key.public_key())
    html = get(portal + "/ru/station/UIK-1001").text
    assert f'data-authority="{signing.b64(signing.public_bytes(world.authority.public_key()))}"' in html


# --- the frame -------------------------------------------------------------------------------------

@pytest.mark.parametrize("header,lang", [("en-US,en;q=0.9", "en"), ("ru-RU,ru;q=0.9,en;q=0.5", "ru"),
                                         ("ky-KG", "ky"), ("fr-FR,de", "ky"), ("", "ky"),
                                         ("\u00ff" * 50, "ky")])
def test_root_sends_the_reader_to_a_language(portal, header, lang):
    r = get(portal + "/", headers={"Accept-Language": header.encode("latin-1")}, allow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == f"/{lang}/"


def test_pages_are_compressed_and_small(portal):
    r = get(portal + "/ru/", headers={"Accept-Encoding": "gzip"}, stream=True)
    raw = r.raw.read()
    assert r.headers["content-encoding"] == "gzip"
    assert len(raw) < 12_000                            # a phone on 2G: a page in a few seconds
    assert "cache-control" in r.headers


# --- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path,status", [
    ("/ru/station/UIK-9999", 404),
    ("/ru/station/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404),   # %2F: another path, no such page
    ("/ru/station/%3Cscript%3Ealert(1)", 400),
    ("/ru/station/UIK-1001%00", 400),
    ("/ru/station/" + "A" * 65, 400),
    ("/ru/station/%D9%A1%D9%A0", 400),                   # Arabic-Indic digits
    ("/ru/region/KG-X", 404),
    ("/ru/region/OIK-01", 404),                         # a code of another level
    ("/ru/oik/%27%20OR%201%3D1--", 400),
    ("/ru/tik/" + "%E2%80%AE" * 10, 400),
    ("/ru/uik/UIK-1001", 404),                          # stations live under /station/
    ("/fr/", 404),
    ("/ru/held?page=0", 400),
    ("/ru/held?page=-1", 400),
    ("/ru/held?page=abc", 400),
    ("/ru/held?page=" + "9" * 5000, 400),
    ("/ru/revisions?page=1e9", 400),
    ("/ru/held?page=999999", 200),
    ("/ru/held?page=1&page=2", 200),
    ("/ru/?q=%00%ff%fe&x=" + "%" * 3, 200),
    ("/en/station/UIK-1001?lang=<script>", 200),
    ("/station/%3Cx%3E/export.json", 400),
    ("/station/UIK-9999/protocol.pdf", 404),
    ("/static/../app.py", 404),
    ("/static/%2e%2e/app.py", 404),
])
def test_bad_input_is_a_clear_4xx_never_a_500(portal, path, status):
    r = get(portal + path)
    assert r.status_code == status, (path, r.status_code, r.text[:300])
    if status != 200:
        assert "Traceback" not in r.text
    if path.startswith("/ru/") and status in (400, 404):
        assert f'data-status="{status}"' in r.text       # the page says what went wrong, in Russian
        assert "<script>" not in r.text


def test_methods_other_than_get_are_refused(portal):
    assert requests.post(portal + "/ru/", timeout=10).status_code == 405
    assert requests.delete(portal + "/downloads/all.json", timeout=10).status_code == 405
    assert requests.head(portal + "/ru/station/UIK-1001", timeout=10).status_code == 200


def test_hostile_names_in_the_station_list_are_escaped(tmp_path):
    world = build_world(tmp_path)
    world.receiver.register_stations([{"id": "UIK-3001", "number": 3001,
                                       "name": {"ky": "<script>alert(1)</script>", "ru": "<img src=x onerror=alert(1)>"},
                                       "region": {"code": "KG-Z", "name": "<b>R</b>"},
                                       "oik": {"code": "OIK-Z", "name": "\"onmouseover=\""},
                                       "tik": {"code": "TIK-Z", "name": "T"}, "voters_on_list": 10}])
    try:
        with served(world.context(tmp_path / "dl")) as url:
            for path in ("/ky/station/UIK-3001", "/ru/station/UIK-3001", "/ru/region/KG-Z", "/ru/"):
                html = get(url + path).text
                assert "<script>alert" not in html and "<img src=x" not in html and "<b>R</b>" not in html
            assert "&lt;script&gt;" in get(url + "/ky/station/UIK-3001").text
    finally:
        world.close()


# --- secrecy -----------------------------------------------------------------------------------

def test_no_page_or_download_carries_a_pin(portal, world):
    """Every page in every language and every download, against every PIN of the day's receipts."""
    assert len(world.pins) == sum(n for _, _, n, _ in STATIONS.values())
    pins = {p.encode() for p in world.pins}
    paths = [p for lang in LANGUAGES for p in every_page(lang)] + downloads() + \
        ["/ru/held?page=2", "/ru/revisions?page=2", "/static/portal.css", "/static/portal.js"]
    for path in paths:
        body = get(portal + path).content
        assert not any(p in body for p in pins), path
        assert not pins_in(body), (path, pins_in(body))


def test_every_page_on_both_backends(central_db, tmp_path):
    """The same pages and downloads on SQLite and on PostgreSQL (the central store's two backends)."""
    w = build_world(tmp_path, central_db)
    try:
        with served(w.context(tmp_path / "dl")) as url:
            for path in every_page("ru") + downloads():
                r = get(url + path)
                assert r.status_code == 200, path
                assert not pins_in(r.content), path
            assert 'data-status="held"' in get(url + "/ru/station/UIK-1003").text
    finally:
        w.close()


def test_snapshot_is_built_at_most_once_per_refresh_in_the_background(world):
    cache = views.SnapshotCache(world.storage, seconds=5, clock=world.clock)
    first = cache.get()
    world.clock.advance(4)
    assert cache.get() is first and cache.builds == 1
    world.clock.advance(1)
    assert cache.get() is first             # stale: served at once while one rebuild runs
    cache.get()
    cache.wait()
    assert cache.builds == 2 and cache.get() is not first
    world.clock.advance(-5)


def test_routes_build_without_a_running_server(world, tmp_path):
    routes = portal_routes(PortalContext(world.storage, world.authority.public_key(), world.centre_key,
                                         None, downloads=tmp_path))
    paths = {getattr(r, "path", None) for r in routes}
    assert {"/", "/ky/", "/ru/", "/en/", "/station/{id}/export.json", "/downloads/all.json"} <= paths


def test_every_reason_the_checks_give_is_said_in_kyrgyz_and_russian():
    """Each reason central/aggregate.py can hold a protocol for has its words in the catalogue."""
    contest = {"contest": "party-list", "ballots_read": 10, "valid": 8, "invalid": 1, "blank": 1,
               "votes": {"p": 8}}
    good = {"closed_at": "2025-11-30T14:00:00Z", "voters_on_list": 100, "voters_identified": 10,
            "contests": [contest], "control": []}
    election = {"voting_day": "2025-11-30", "time_zone": "Asia/Bishkek"}
    variants = [
        {"voters_identified": "x"}, {"voters_identified": 50}, {"voters_on_list": 9000},
        {"voters_on_list": "x"}, {"voters_on_list": 100, "voters_identified": 150},
        {"closed_at": "9999-12-31T00:00:00Z"}, {"closed_at": "junk"},
        {"control": [{"relation": "votes=valid", "ok": False}]}, {"contests": []}, {"contests": [1]},
        {"contests": [{**contest, "valid": -1}]}, {"contests": [{**contest, "blank": 5}]},
        {"contests": [{**contest, "votes": {"p": 7}}]}, {"contests": [{**contest, "ballots_read": 30,
                                                                        "valid": 28, "votes": {"p": 28}}]},
        {"voters_identified": None, "contests": [contest]},
        {"manual_count": "x"}, {"manual_count": {"lines": [{"line": "valid", "manual": -1}]}},
        {"manual_count": {"lines": [], "control": [{"relation": "votes=valid", "ok": False}],
                          "explanation": ""}},
    ]
    reasons = {"count stream has gaps before the protocol", "station is not on the station list"}
    for v in variants:
        body = {**good, **v}
        got = aggregate.check_protocol(body, identified_receipts=None if "voters_identified" in v
                                       and v["voters_identified"] is None else 10,
                                       voters_on_list=100, election=election,
                                       validity=("2025-11-01T00:00:00Z", "2025-12-31T00:00:00Z"))
        assert got, v
        reasons.update(got)
    for r in sorted(reasons):
        for lang in ("ky", "ru"):
            assert reason_text(r, lang) != r, (lang, r)
        assert reason_text(r, "en")
    assert "«сумма голосов = действительные»" in reason_text(
        "control relation votes=valid fails in the protocol", "ru")
