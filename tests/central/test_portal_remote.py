"""The portal's remote voting (issue #14 point 5): the national block, a site's page, districts' results.

tests/support/remote_world.py: a remote-voting site in OIK-03 whose protocol has the
sections of district-01 (OIK-01) and district-02 (OIK-02). The national page shows
the sites and the voters identified at them per home district; an ОИК's page counts
its district's ballots cast at sites (and says from how many); a site's page shows
its districts. Every area's figures equal central.aggregate's, and no page carries a PIN.
"""

from __future__ import annotations

import re

import pytest
import requests
from portal_world import served
from remote_world import SITE, STRANGER, build_remote_world

from central import aggregate
from central.portal import views
from sync.pin import pin_problem

AREAS = [("national", ""), ("region", "KG-C"), ("region", "KG-O"), ("oik", "OIK-01"), ("oik", "OIK-02"),
         ("oik", "OIK-03"), ("tik", "TIK-C-ALA"), ("tik", "TIK-O-CITY"), ("tik", "TIK-O-KSU")]
PIN_LIKE = re.compile(r"(?<![0-9])[12][0-9]{13}(?![0-9])")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_remote_world(tmp_path_factory.mktemp("remote-world"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def portal(world, tmp_path_factory):
    with served(world.context(tmp_path_factory.mktemp("downloads"))) as url:
        yield url


def get(url: str) -> str:
    r = requests.get(url, timeout=30)
    assert r.status_code == 200, (url, r.status_code)
    assert not [m for m in PIN_LIKE.findall(r.text) if pin_problem(m) is None], url     # never a PIN
    return r.text


def section(html: str, sid: str) -> str:
    return html.split(f'id="{sid}"')[1].split("</section>")[0]


def test_each_area_has_the_figures_of_central_aggregate(world):
    snap = views.build_snapshot(world.storage)
    for level, code in AREAS:
        area = snap.area(level, code)
        groups = aggregate.results(world.storage, level, code or None)["groups"]
        want = groups[0]["contests"] if groups else {}
        assert {cid: c["votes"] for cid, c in area.contests.items()} == \
            {cid: c["votes"] for cid, c in want.items()}, (level, code)
        t = aggregate.turnout_series(world.storage, level, code or None)
        assert (area.turnout["identified"], area.turnout["voters_on_list"]) == \
            (t["identified"], t["voters_on_list"]), (level, code)
    assert (snap.area("oik", "OIK-01").remote_sites, snap.area("region", "KG-C").remote_sites,
            snap.area("oik", "OIK-03").remote_sites, snap.area("tik", "TIK-O-KSU").remote_sites) == (1, 1, 0, 0)
    assert snap.stations[SITE]["remote_site"] and snap.stations[SITE]["voters_on_list"] is None


@pytest.mark.parametrize("lang, words", [
    ("ru", ("Дистанционное голосование", "На 1 пунктах дистанционного голосования", "Нет в национальном списке")),
    ("ky", ("Аралыктан добуш берүү", "1 аралыктан добуш берүү пунктунда", "Улуттук тизмеде жок")),
    ("en", ("Remote voting", "Voters identified at 1 remote-voting sites: 12", "Not on the national list")),
])
def test_the_national_page_has_a_remote_voting_block(portal, lang, words):
    block = section(get(f"{portal}/{lang}/"), "remote-voting")
    for w in words:
        assert w in block, w
    rows = dict(re.findall(r'data-district="([^"]*)"><td>.*?</td><td class="n">([^<]+)</td>', block))
    assert rows == {"OIK-01": "7", "OIK-02": "4", "": "1"}
    assert f'href="/{lang}/oik/OIK-01"' in block and f'href="/{lang}/station/{SITE}"' in block


def test_an_oik_page_counts_its_districts_ballots_from_sites(portal):
    html = get(f"{portal}/ru/oik/OIK-01")
    assert "В том числе бюллетени этого округа с 1 пунктов дистанционного голосования" in html
    table = html.split('id="results-district-01"')[1].split("</table>")[0]
    assert re.search(r'data-option="c-01"><td>[^<]*</td><td class="n">40</td>', table)
    tik = get(f"{portal}/ru/tik/TIK-O-KSU")                  # where the site stands: not district-01's
    assert 'id="results-district-01"' not in tik and 'id="results-district-03"' in tik
    assert 'id="remote-in-area"' not in get(f"{portal}/ru/oik/OIK-03")


def test_a_sites_page_shows_its_districts(portal):
    html = get(f"{portal}/ru/station/{SITE}")
    block = section(html, "site-districts")
    assert "Пункт находится в округе ОИК OIK-03" in block
    rows = re.findall(r'data-district="([^"]*)"><td>.*?</td><td class="n">([^<]+)</td><td class="n">([^<]*)</td>',
                      block)
    assert rows == [("OIK-01", "7", "7"), ("OIK-02", "4", "4"), ("", "1", "")]
    assert 'href="/ru/oik/OIK-02"' in block and "Избирательный округ № 2" in block
    assert 'id="site-districts"' not in get(f"{portal}/ru/station/UIK-1001")   # a regular station has none


def test_no_page_names_a_remote_voter(portal, world):
    for path in ("/ru/", "/ky/", "/en/", f"/ru/station/{SITE}", "/ru/oik/OIK-01", "/ru/region/KG-O"):
        html = get(portal + path)
        assert STRANGER not in html and not any(p in html for p in world.site_pins)
