"""A remote-voting site's page in Debian's headless Chromium (issue #14): its ballots printed on
demand and its ballots issued on a provisional claim, as a reader sees them in Kyrgyz and Russian.

tests/support/remote_world.py's day with the site's protocol carrying a ``provisional`` section and
its identification summary's ``ondemand`` counters (a sheet voided, one not yet decided); the page is
saved as docs/portal/site-remote-ondemand-ky.png and -ru.png for docs/remote-voting.md.
"""

from __future__ import annotations

import pytest
from portal_world import served
from remote_world import SITE, build_remote_world
from selenium.webdriver.common.by import By
from test_portal_browser import Reader
from test_portal_remote_ondemand import ONDEMAND, PROVISIONAL, Day, site_protocol

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site_day(tmp_path_factory):
    world = build_remote_world(tmp_path_factory.mktemp("remote-browser"), site_protocol=site_protocol(PROVISIONAL))
    with served(world.context(tmp_path_factory.mktemp("downloads"))) as url:
        day = Day(world, url)
        day.summary(ONDEMAND)
        yield day
    world.close()


@pytest.mark.parametrize("lang, words", [
    ("ky", {"provisional": ("Шарттуу берилди", "борбор кийин уруксат берди", "борбор кийин четке какты"),
            "site-ondemand": ("Талап боюнча басылган бюллетендер", "Басылды", "Берилди", "Жокко чыгарылды",
                              "Чечиле элек", "басылды = берилди + жокко чыгарылды + чечиле элек"),
            "remote-voting": ("Талап боюнча басылган бюллетендер", "Бардыгы")}),
    ("ru", {"provisional": ("Выдано по условной заявке", "центр разрешил позже", "центр отказал позже"),
            "site-ondemand": ("Бюллетени, напечатанные по запросу", "Напечатано", "Выдано", "Погашено",
                              "Не решено", "напечатано = выдано + погашено + не решено"),
            "remote-voting": ("Бюллетени, напечатанные по запросу", "Всего")}),
], ids=["ky", "ru"])
def test_a_sites_page_with_ballots_printed_on_demand(browser, site_day, lang, words):
    reader = Reader(browser, site_day.url)
    reader.go(f"/{lang}/")
    national = reader.text("#remote-voting")
    assert all(w in national for w in words["remote-voting"]), national
    row = reader.d.find_element(By.CSS_SELECTOR, f'#remote-ondemand tr[data-station="{SITE}"]')
    assert row.text.split()[-5:] == ["25", "23", "1", "1", "✔"], row.text
    reader.go(f"/{lang}/station/{SITE}")
    for box in ("provisional", "site-ondemand"):
        text = reader.text(f"#{box}")
        assert all(w in text for w in words[box]), (box, text)
    mark = reader.find("#ondemand-balance")
    assert mark.get_attribute("data-balanced") == "yes" and mark.value_of_css_property("color") == "rgba(27, 94, 32, 1)"
    issued = reader.d.find_element(By.CSS_SELECTOR, '#provisional tr[data-line="provisional/issued"]')
    assert issued.text.split()[-1] == "2"
    assert not any(p in reader.text() for p in site_day.world.site_pins)
    reader.shot(f"site-remote-ondemand-{lang}")
