"""Screen states the scripted day does not reach, in the browser, each with its screenshot for the guide.

- the ballot box's jam, double feed and box full (the simulated sheet feeder's failure
  presets, drivers/scanner/simulator.py; the disk guard with a floor above the free space);
- the battery banner (the kernel's power-supply class, as provisioning/status.py reads it);
- an identification recovered after a restart (its receipt was still queued);
- the top bar stays one row at 1024 px in both languages and every polls state;
- a refused "not on the list" shows the card's number in its own field, not as the name;
- control relations name their contest by its title, never by its id.
"""

from __future__ import annotations

import re
import urllib.parse
import urllib.request

import pytest
from screens_driver import Commission, arrive, leave
from screens_world import free_port, get, served, serving
from test_box_screens import PresetBox, ballots

from screens.app import make_app
from screens.box import BoxSession
from simulation.ballot_box import SimulatedCountFactory
from simulation.table import MEMBER, mrz_name, outsider, provision_home
from station import polls
from station.db import open_station_db
from station.health import DiskPolicy
from station.package import current_package
from station.polls_rules import STATE_TEXT, PollsState

pytestmark = pytest.mark.browser



def drive_polls(paths, *actions: str) -> None:
    conn = open_station_db(paths.station_db)
    try:
        for a in actions:
            polls.apply(conn, a, actor=f"member:{MEMBER[0]}", counters_zero=True if a == "print-zero-report" else None)
    finally:
        conn.close()


class BoxOnly:
    """A ballot box's screens alone (one turn at a time: the screen shows exactly that turn)."""

    def __init__(self, url):
        self.box_url = url

    def at(self, path: str) -> str:
        return self.box_url + path


@pytest.fixture
def open_home(tmp_path, demo_package):
    return provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")


@pytest.mark.parametrize("preset,screen,shot", [
    ("jam", "jam", "box-jam"),
    ("double-feed", "double-feed", "box-double-feed"),
    ("full", "full", "box-full"),
], ids=["jam", "double-feed", "box-full"])
def test_box_fault_screens(open_home, tmp_path, browser, shots, preset, screen, shot):
    if preset == "full":
        factory = SimulatedCountFactory(tmp_path / "feeder", tmp_path / "printer")
    else:
        factory = PresetBox(ballots(open_home, 2), preset, tmp_path / "printer")
    box = BoxSession(open_home, factory)
    try:
        if preset == "full":
            # The disk guard (station/health.py) with a floor above any free space: counting stops.
            box.daemon.disk_policy = DiskPolicy(warn_mb=1e12, floor_mb=1e12)
        box.turn()
        assert box.screen.name == screen
        with serving(make_app(open_home, box=box), free_port()) as url:
            c = Commission(browser, BoxOnly(url), shots)
            c.go("/lang/ky?next=/box")                 # the language cookie outlives a test
            c.wait_screen(screen)
            text = c.text("#screen")
            assert box.screen.message.ky in text
            c.tap("#lang-ru")
            c.wait_screen(screen)
            assert box.screen.message.ru in c.text("#screen")
            c.tap("#lang-ky")
            c.wait_screen(screen)
            c.shot(shot)
    finally:
        box.close()


@pytest.fixture
def on_battery(tmp_path):
    """The kernel's power-supply class of a device on battery at 37 % (mains unplugged)."""
    root = tmp_path / "power_supply"
    for name, files in {"AC": {"type": "Mains", "online": "0"},
                        "BAT0": {"type": "Battery", "capacity": "37", "status": "Discharging"}}.items():
        (root / name).mkdir(parents=True)
        for k, v in files.items():
            (root / name / k).write_text(v + "\n")
    return root


@pytest.fixture
def battery_station(tmp_path, demo_package, on_battery):
    paths = provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")
    with served(paths, demo_package.secrets, tmp_path / "feeder", power_supply=str(on_battery)) as st:
        yield st


def test_the_battery_banner(battery_station, browser, shots):
    c = Commission(browser, battery_station, shots)
    c.go("/lang/ky?next=/table")
    c.wait_screen("waiting")
    banner = c.text(".banner.warn")
    assert "Батареядан иштейт: 37%" in banner
    c.go("/box")
    assert "Батареядан иштейт: 37%" in c.text(".banner.warn")
    c.tap("#lang-ru")
    assert "Работа от батареи: 37%" in c.text(".banner.warn")
    c.tap("#lang-ky")
    c.go("/table")
    c.wait_screen("waiting")
    c.shot("table-battery")


def bar(browser) -> dict:
    return browser.execute_script("""
        const h = document.querySelector('header');
        const items = [...h.querySelectorAll('.tab, .lang')];
        const cs = getComputedStyle(h);
        return {height: h.getBoundingClientRect().height,
                inner: h.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom),
                tops: items.map(e => Math.round(e.getBoundingClientRect().top)),
                tab: Math.round(items[0].getBoundingClientRect().height),
                width: document.documentElement.clientWidth,
                overflow: h.scrollWidth > h.clientWidth};
    """)


def test_the_top_bar_is_one_row_at_1024_px_in_both_languages(station, browser, shots):
    """Every polls state's words, both roles' bars (each with the other's tabs), Kyrgyz and Russian."""
    c = Commission(browser, station, shots)
    steps = {PollsState.PROVISIONED: (), PollsState.TEST_MODE: ("enter-test-mode",),
             PollsState.ZERO_REPORT: ("print-zero-report",), PollsState.OPEN: ("open",),
             PollsState.PAUSED: ("pause",), PollsState.CLOSED: ("close",),
             PollsState.PROTOCOL_SIGNED: ("sign-protocol",)}
    assert set(steps) == set(STATE_TEXT)
    for st, actions in steps.items():
        drive_polls(station.paths, *actions)
        for lang in ("ru", "ky"):
            for page in ("/polls", "/table"):
                c.go(f"/lang/{lang}?next={page}")
                c.find(f'body[data-polls="{st}"]')
                b = bar(browser)
                assert b["width"] == 1024
                assert len(b["tops"]) == 6 and len(set(b["tops"])) == 1, (st, lang, page, b)
                assert abs(b["inner"] - b["tab"]) < 1.5 and not b["overflow"], (st, lang, page, b)   # one row
                words = STATE_TEXT[st].ru if lang == "ru" else STATE_TEXT[st].ky
                assert c.text("#polls-state") == words


def test_not_on_the_list_shows_the_document_number_in_its_own_field(station, browser, shots):
    drive_polls(station.paths, "enter-test-mode", "print-zero-report", "open")
    c = Commission(browser, station, shots)
    c.go("/lang/ky?next=/table")
    c.wait_screen("waiting")
    stranger = outsider()
    arrive(station.sim, stranger, finger_of=station.sim.voters[1].pin)
    c.wait_screen("refused")
    number = c.text("#voter-document b")
    assert number == stranger.document_number
    assert number not in c.text("#voter-name")
    assert mrz_name(stranger.surname) in c.text("#voter-name")          # the card holder's name, from the MRZ
    leave(station.sim)


def test_relations_name_the_contest_by_its_title(station, browser, shots):
    drive_polls(station.paths, "enter-test-mode", "print-zero-report", "open", "close")
    election = current_package(station.paths).election
    c = Commission(browser, station, shots)
    # Figures typed on the manual count's form (the relations are computed over what is typed).
    keys = re.findall(r'name="f:([^"]+)"', get(station.at("/count")))
    data = urllib.parse.urlencode({f"f:{k}": "0" for k in keys} | {"go": "check"}).encode()
    urllib.request.urlopen(urllib.request.Request(station.at("/count"), data=data), timeout=60).read()
    for page in ("/protocol", "/count"):
        c.go(page)
        c.find(".relations li")
        shown = [e.text for e in browser.find_elements("css selector", ".relations .where")]
        assert shown and all(any(ct.title.ky in s for ct in election.contests) for s in shown), shown
        text = c.text(".relations") if page == "/protocol" else c.text("#relations")
        assert not any(re.search(rf"\b{re.escape(ct.id)}\b", text) for ct in election.contests), text


def test_an_identification_recovered_after_a_restart(tmp_path, demo_package, browser, shots):
    paths = provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")
    with served(paths, demo_package.secrets, tmp_path / "feeder") as st:
        voter = st.sim.voters[2]
        st.sim.printer.set_preset("paper-out")          # the receipt stays queued
        screen = st.table.manual(voter.pin, MEMBER[0], MEMBER[2], "card-unreadable")
        assert screen.name == "accepted" and screen.printed == "queued"
    with served(paths, demo_package.secrets, tmp_path / "feeder") as st:     # the server again
        c = Commission(browser, st, shots)
        c.go("/lang/ky?next=/table")
        c.wait_screen("recovered")
        assert voter.surname in c.text("#voter") and int(c.text("#handout b")) == len(st.sim.election.contests)
        assert "R-000001" in c.text("#receipt")
        c.shot("table-recovered")
