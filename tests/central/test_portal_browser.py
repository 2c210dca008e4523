"""The public portal in Debian's headless Chromium (issue #13 scope 4): pages as a reader sees them.

The national day of tests/support/portal_world.py behind the portal's routes on loopback;
each page is opened in the browser, checked (text in the page's language, the charts drawn,
the language switch, the in-browser check of a station's signature and chain), and saved
as a small PNG under docs/portal for docs/portal.md: the national page (ru, ky on a phone's
width, en), a Region, a station verified, a station held with its reasons, a station with
the manual count and its differences, the revisions list, and the protocol's A4 page.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from portal_world import CONTESTS, build_world, served
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from central.portal import views
from central.portal.pdf import protocol_pages

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "portal"
PHONE = (412, 915)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = build_world(tmp_path_factory.mktemp("portal-browser"))
    yield w
    w.close()


@pytest.fixture(scope="module")
def portal(world, tmp_path_factory):
    with served(world.context(tmp_path_factory.mktemp("downloads"))) as url:
        yield url


class Reader:
    """A reader in the browser: opens pages, waits, saves what the page looks like."""

    def __init__(self, driver, url: str):
        self.d = driver
        self.url = url
        SHOTS.mkdir(parents=True, exist_ok=True)

    def go(self, path: str):
        self.d.get(self.url + path)
        return self.find("main")

    def find(self, css: str, timeout: float = 15):
        return WebDriverWait(self.d, timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))

    def text(self, css: str = "body") -> str:
        return self.find(css).text

    def shot(self, name: str, size: tuple[int, int] | None = None) -> Path:
        """The whole page as a small PNG (64 colours), at ``size`` (a phone) or the window's width."""
        path = SHOTS / f"{name}.png"
        width, height = self.d.get_window_size().values()
        w = size[0] if size else width
        self.d.set_window_size(w, size[1] if size else height)
        full = self.d.execute_script("return document.documentElement.scrollHeight")
        self.d.set_window_size(w, max(size[1] if size else height, min(full + 20, 3000)))
        raw = self.d.get_screenshot_as_png()
        self.d.set_window_size(width, height)
        tmp = path.with_suffix(".raw.png")
        tmp.write_bytes(raw)
        with Image.open(tmp) as im:
            im.convert("RGB").quantize(colors=64).save(path, optimize=True)
        tmp.unlink()
        return path


@pytest.fixture
def reader(browser, portal):
    return Reader(browser, portal)


def test_national_page_in_three_languages(reader):
    reader.go("/ru/")
    assert reader.d.execute_script("return document.characterSet") == "UTF-8"
    assert "Явка избирателей" in reader.text("#turnout") and "Итоги" in reader.text("#results")
    assert "Чуйская область" in reader.text("#children")
    bars = reader.d.find_elements(By.CSS_SELECTOR, "svg.chart.bars")
    assert len(bars) == 2 and all(b.size["width"] > 200 and b.size["height"] > 100 for b in bars)
    assert reader.d.find_element(By.CSS_SELECTOR, "svg.chart.hourly").size["height"] > 100
    reader.shot("national-ru")
    reader.d.find_element(By.ID, "lang-ky").click()
    WebDriverWait(reader.d, 10).until(lambda d: d.current_url.endswith("/ky/"))
    assert reader.find("html").get_attribute("lang") == "ky"
    assert "Шайлоочулардын катышуусу" in reader.text("#turnout")
    reader.shot("national-ky-phone", PHONE)
    reader.go("/en/")
    assert "Turnout by hour" in reader.text("#turnout") and "Stations" in reader.text("#stations-status")
    reader.shot("national-en")


def test_region_drill_down(reader):
    reader.go("/ru/")
    reader.d.find_element(By.LINK_TEXT, "Чуйская область").click()
    WebDriverWait(reader.d, 10).until(lambda d: "/ru/region/KG-C" in d.current_url)
    assert reader.text("#area-title") == "Регион: Чуйская область"
    assert "ОИК № 1" in reader.text("#children")
    reader.shot("region-ru")
    reader.go("/ky/region/KG-C")
    assert reader.text("#area-title").startswith("Аймак: ")
    reader.shot("region-ky")
    reader.go("/ky/tik/TIK-C-ALA")
    crumbs = reader.text("#crumbs")
    # Kyrgyz pages name the areas in Kyrgyz (the station list keeps both languages).
    assert crumbs == "Бүткүл өлкө боюнча › Чүй облусу › № 1 округдук шайлоо комиссиясы › Аламүдүн району"
    reader.d.find_element(By.CSS_SELECTOR, '#child-list a[href="/ky/station/UIK-1001"]').click()
    WebDriverWait(reader.d, 10).until(lambda d: d.current_url.endswith("/ky/station/UIK-1001"))


def check_in_browser(reader) -> str:
    """Press the check button; the result once verify.js has answered ("ok" or "bad") and its text."""
    reader.d.find_element(By.ID, "verify-button").click()
    box = reader.d.find_element(By.ID, "verify")
    WebDriverWait(reader.d, 30).until(lambda d: box.get_attribute("data-result") in ("ok", "bad"))
    return box.get_attribute("data-result")


def test_verified_station_checks_in_the_readers_browser(reader):
    reader.go("/ru/station/UIK-1001")
    assert reader.find("#station-status").get_attribute("data-status") == "verified"
    assert "Протокол проверен и учтён в итогах" in reader.text("#status")
    # the verifier (~30 KB) is fetched only when the reader asks for the check
    assert reader.d.execute_script("return typeof window.uchastokVerify") == "undefined"
    assert check_in_browser(reader) == "ok"
    assert "Подпись и цепочка верны" in reader.text("#verify-result")
    reader.shot("station-verified-ru")
    reader.go("/ky/station/UIK-1001")
    assert check_in_browser(reader) == "ok"
    assert "Кол тамга жана чынжыр туура" in reader.text("#verify-result")
    reader.shot("station-verified-ky")


def test_held_station_shows_its_reasons(reader):
    reader.go("/ru/station/UIK-1003")
    assert reader.find("#station-status").get_attribute("data-status") == "held"
    assert "сумма голосов" in reader.text("#reasons")
    assert check_in_browser(reader) == "ok"             # held for its figures, yet signed as sent
    reader.shot("station-held-ru")
    reader.go("/ky/station/UIK-1003")
    assert "добуштардын суммасы" in reader.text("#reasons")
    reader.shot("station-held-ky")
    reader.go("/en/held")
    assert "UIK-1003" in reader.text("#held-list")
    reader.shot("held-en")


def test_station_with_the_manual_count_and_its_differences(reader):
    reader.go("/ru/station/UIK-1002")
    assert "расхождения в 6 строках" in reader.text("#manual-note")
    flagged = reader.d.find_elements(By.CSS_SELECTOR, "tr.flag")
    assert len(flagged) == 1 and "Развитие" in flagged[0].text and "+3" in flagged[0].text
    assert check_in_browser(reader) == "ok"             # both revisions of the chain
    reader.shot("station-manual-ru")
    reader.go("/ky/station/UIK-1002")
    assert "Өнүгүү" in reader.d.find_element(By.CSS_SELECTOR, "tr.flag").text
    reader.shot("station-manual-ky")


def test_revisions_list(reader):
    reader.go("/ru/revisions")
    sections = reader.d.find_elements(By.CSS_SELECTOR, "section.revised")
    assert [s.get_attribute("data-station") for s in sections] == ["UIK-1002", "UIK-2002"]
    assert "добавлен ручной подсчёт" in sections[0].text
    assert "Недействительных бюллетеней" in sections[1].text
    reader.shot("revisions-ru")
    reader.go("/ky/revisions")
    reader.shot("revisions-ky")


def test_a_protocol_other_than_the_one_shown_is_not_called_verified(browser, world, tmp_path, monkeypatch):
    """The export checks out, but its protocol is not the page's: the box says so, never "ok"."""
    real = views.station_export
    monkeypatch.setattr(views, "station_export", lambda storage, sid: real(storage, "UIK-2001"))
    with served(world.context(tmp_path / "dl")) as url:
        r = Reader(browser, url)
        r.go("/en/station/UIK-1001")
        assert check_in_browser(r) == "bad"
        assert "differs from the one on this page" in r.text("#verify-result")


def test_the_protocol_pdf_page(world):
    """Not a browser page, but the reader's download: its first A4 page for docs/portal.md."""
    snap = views.build_snapshot(world.storage)
    pages = protocol_pages(snap.stations["UIK-1002"], views.station_report(world.storage, "UIK-1002"),
                           views.option_names(CONTESTS), election="kg-2025-parl",
                           url="http://127.0.0.1/ky/station/UIK-1002").pages
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages[0].resize((620, 877)).quantize(colors=16).save(SHOTS / "protocol-pdf.png", optimize=True)
