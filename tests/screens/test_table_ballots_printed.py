"""The table's screens for ballots printed on demand at a remote-voting site (screens/table.py).

The site is a real remote-site package (simulation/remote.py: districts 3 and 7, the demo
station's voters with their home UIK-1234 in OIK-07 first, no fingerprints: each voter is
identified by the manual route); the table is the simulated one, its A4 printer the IPP
printer simulator behind the real IPP driver (``SimTable.ballot_sim``), served by the
identify role's own application on loopback. Claims are off: this is about the paper.

Over plain HTTP, as the page's forms send them: the ballots handed over, not taken (the
second tap), printed again after a jam, an uncertain job and the tray looked at, sheets a
restart found on the tray, the ballot printer's condition on the status strip with no voter
served meanwhile, and a tap from a page another screen replaced. In the browser: the
panel in Kyrgyz and Russian (docs/screens/table-ballots-printed-ky.png / -ru.png) with large
targets, nothing cut off, the buttons' words in their middle.
"""

from __future__ import annotations

import contextlib
import html
import re
import urllib.parse
import urllib.request

import pytest
from asgi_served import serving
from fixtures_election import site_home as provision_site
from screens_driver import Commission, arrive, leave
from screens_world import get, post, token

from identify.ondemand import counters
from screens.serve import open_screens
from screens.table import wait_for
from simulation.table import MEMBER

D, P = "bs-district-07", "bs-party-list"
NOT_ENROLLED = "no-fingerprint-enrolled"




class Site:
    """The site's table served: ``at(path)``, the session, the simulated table."""

    def __init__(self, paths, url, session):
        self.paths, self.url, self.table, self.sim = paths, url, session, session.sim_table

    def at(self, path: str) -> str:
        return self.url + path

    @property
    def daemon(self):
        return self.sim.daemon

    def home_voters(self) -> list[str]:
        return [v.pin for v in self.sim.voters if v.home_district == "OIK-07"]


@contextlib.contextmanager
def served_site(paths, secrets):
    with open_screens(paths, "identify", sim=True, secrets=secrets) as (app, session), \
            serving(app) as url:
        yield Site(paths, url, session)


@pytest.fixture
def site_home(tmp_path, site_pkg, demo_package):
    home = provision_site(tmp_path / "site", site_pkg, demo_package)
    return home


@pytest.fixture
def site(site_home, demo_package):
    with served_site(site_home, demo_package.secrets) as s:
        yield s





def screen_key(page: str) -> str:
    return html.unescape(re.search(r'name="screen" value="([^"]+)"', page).group(1))


def tap(site, what: str, page: str | None = None) -> str:
    """A tap on the table page's ``what`` (its form's token and the screen it names); the page after."""
    page = page or get(site.at("/table"))
    return post(site.at(f"/table/tap/{what}"), {"token": token(page), "screen": screen_key(page)})


def manual(site, pin: str) -> str:
    """The manual route through the pages (the site's voters have no fingerprint enrolled)."""
    page = get(site.at(f"/table/manual?pin={pin}&reason={NOT_ENROLLED}"))
    return post(site.at("/table/manual"), {"token": token(page), "pin": pin, "member": MEMBER[0],
                                           "member_pin": MEMBER[2], "reason": NOT_ENROLLED})


def sheets(page: str) -> list[tuple[str, str]]:
    return re.findall(r'class="sheet-card [^"]*" id="sheet-\d+" data-style="([^"]+)" data-state="([^"]+)"', page)


def buttons(page: str) -> set[str]:
    known = ("hand-over", "not-taken", "print-again", "tray-yes", "tray-no", "next")
    return {b for b in known if f'id="{b}"' in page}


def states(site) -> dict[str, tuple[int, int, int, int]]:
    return {s: (c.printed, c.issued, c.voided, c.pending) for s, c in counters(site.daemon.conn).items()
            if s in (D, P)}


def test_the_ballots_handed_over(site):
    page = manual(site, site.home_voters()[0])
    assert 'data-screen="accepted"' in page
    assert sheets(page) == [(D, "on-paper"), (P, "on-paper")]
    assert buttons(page) == {"hand-over", "not-taken"}          # no "next voter" while sheets wait
    # Each card names its contest in both languages, from the election.
    for style in (D, P):
        contest = site.sim.election.contest(site.sim.election.ballot_style(style).contests[0])
        assert html.escape(contest.title.ky) in page and html.escape(contest.title.ru) in page
    assert "Бюллетендер: басылды 2 · берилди 0 · жокко чыгарылды 0" in page
    page = tap(site, "hand-over", page)
    assert 'data-screen="waiting"' in page and "Бюллетендер берилди: 2" in page
    assert states(site) == {D: (1, 1, 0, 0), P: (1, 1, 0, 0)}


def test_not_taken_needs_a_second_tap(site):
    page = manual(site, site.home_voters()[0])
    confirm = get(site.at("/table/not-taken?" + urllib.parse.urlencode({"screen": screen_key(page)})))
    assert "Шайлоочу бюллетендерди алган жокпу?" in confirm and 'id="not-taken-confirm"' in confirm
    assert states(site) == {D: (1, 0, 0, 1), P: (1, 0, 0, 1)}              # the first tap changed nothing
    page = post(site.at("/table/tap/not-taken"), {"token": token(confirm), "screen": screen_key(confirm)})
    assert 'data-screen="waiting"' in page and "Жокко чыгарылды: 2" in page
    c = counters(site.daemon.conn)
    assert (c[D].voided, c[D].voids["voter-left"], c[P].voids["voter-left"]) == (1, 1, 1)
    # The confirmation page of a screen that is gone: back to the table, nothing done.
    assert "Барак эскирип калган" in get(site.at("/table/not-taken?screen=accepted%3AR-000001"))


def test_print_again_after_a_jam(site):
    site.sim.ballot_sim.preset = "jam-next-job"
    page = manual(site, site.home_voters()[0])
    assert sheets(page) == [(D, "voided"), (P, "not-printed")]
    assert buttons(page) == {"print-again", "not-taken"}
    assert states(site) == {D: (1, 0, 1, 0), P: (0, 0, 0, 0)}
    # The printer stays jammed until the sheet is taken out: the strip says so, no voter is served.
    assert wait_for(lambda: not site.table.serving)
    page = get(site.at("/table"))
    assert "Бюллетень принтеринде барак тыгылып калды" in page and 'id="cannot-serve"' in page
    site.sim.ballot_sim.clear()
    assert wait_for(lambda: site.table.serving)
    page = tap(site, "print-again")
    assert sheets(page) == [(D, "on-paper"), (P, "on-paper")]
    assert buttons(page) == {"hand-over", "not-taken"} and 'id="cannot-serve"' not in page
    tap(site, "hand-over")
    assert states(site) == {D: (2, 1, 1, 0), P: (1, 1, 0, 0)}


@pytest.mark.parametrize("came_out", [True, False], ids=["sheet-there", "nothing-there"])
def test_an_uncertain_job_asks_whether_the_sheet_came_out(site, came_out):
    site.sim.ballot_sim.preset = "silent-after-job"
    site.daemon.ballot_printer.job_timeout_s = 0.5
    page = manual(site, site.home_voters()[0])
    assert sheets(page) == [(D, "uncertain"), (P, "not-printed")]
    assert buttons(page) == {"tray-yes", "tray-no"} and "Баракча чыктыбы?" in page     # asked first
    site.sim.ballot_sim.clear()
    page = tap(site, "tray-yes" if came_out else "tray-no", page)
    assert sheets(page) == [(D, "on-paper" if came_out else "not-printed"), (P, "not-printed")]
    assert buttons(page) == {"print-again", "not-taken"}
    page = tap(site, "print-again", page)
    assert sheets(page) == [(D, "on-paper"), (P, "on-paper")]
    tap(site, "hand-over", page)
    assert states(site) == {D: (1, 1, 0, 0), P: (1, 1, 0, 0)}


def test_the_next_voter_takes_over_the_screen_and_the_tray(site):
    a, b = site.home_voters()[:2]
    first = manual(site, a)
    page = manual(site, b)                      # a's sheets were handed over when b was accepted
    assert sheets(page) == [(D, "on-paper"), (P, "on-paper")] and "R-000002" in page
    assert states(site) == {D: (2, 1, 0, 1), P: (2, 1, 0, 1)}
    # A tap from a's page (another screen now): nothing done, the page says it was stale.
    page = tap(site, "hand-over", first)
    assert "Барак эскирип калган" in page
    assert states(site) == {D: (2, 1, 0, 1), P: (2, 1, 0, 1)}


def test_sheets_a_restart_found_on_the_tray_come_first(site_home, demo_package):
    with served_site(site_home, demo_package.secrets) as s:
        manual(s, s.home_voters()[0])
    with served_site(site_home, demo_package.secrets) as s:      # the server again: 2 sheets pending
        page = get(s.at("/table"))
        assert 'data-screen="tray"' in page and sheets(page) == [(D, "on-paper"), (P, "on-paper")]
        assert buttons(page) == {"hand-over", "not-taken"} and "Алынган жок (иш үзүлгөн)" in page
        confirm = get(s.at("/table/not-taken?" + urllib.parse.urlencode({"screen": screen_key(page)})))
        page = post(s.at("/table/tap/not-taken"), {"token": token(confirm), "screen": screen_key(confirm)})
        assert 'data-screen="waiting"' in page
        c = counters(s.daemon.conn)
        assert (c[D].voids["interrupted"], c[P].voids["interrupted"], c[D].pending) == (1, 1, 0)


@pytest.mark.parametrize("preset,words", [
    ("media-empty", "кагаз түгөндү"), ("door-open", "капкагы ачык"),
    ("media-jam", "барак тыгылып калды"), ("offline", "иштебей турат (offline)"),
], ids=["media-empty", "door-open", "media-jam", "offline"])
def test_the_ballot_printers_condition_in_words_and_no_voter_served(site, preset, words):
    site.sim.ballot_sim.preset = preset
    assert wait_for(lambda: not site.table.serving)
    page = get(site.at("/table"))
    assert words in page and 'id="cannot-serve"' in page
    voter = site.sim.voter(site.home_voters()[0])
    arrive(site.sim, voter)
    try:
        assert [site.table.turn() for _ in range(3)] == ["idle"] * 3     # the card waits in the reader
        assert site.table.screen.name == "waiting"
        assert site.daemon.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 0
        site.sim.ballot_sim.clear()
        assert wait_for(lambda: site.table.screen.name not in ("waiting", "reading"), timeout=20)
    finally:
        leave(site.sim)
    assert words not in get(site.at("/table"))


@pytest.mark.browser
def test_the_printed_ballots_panel_in_both_languages(site, browser, shots):
    c = Commission(browser, site, shots)
    manual(site, site.home_voters()[0])
    for lang in ("ky", "ru"):
        c.go(f"/lang/{lang}?next=/table")
        c.wait_screen("accepted")
        text = c.text("#sheets")
        for style in (D, P):
            title = site.sim.election.contest(site.sim.election.ballot_style(style).contests[0]).title
            assert title.ky in text and title.ru in text
        assert ("Басылып чыкты" if lang == "ky" else "Напечатан") in text
        assert ("Бюллетендер берилди" if lang == "ky" else "Бюллетени выданы") in c.text("#hand-over")
        assert ("Шайлоочу алган жок" if lang == "ky" else "Избиратель не взял") in c.text("#not-taken")
        g = geometry(browser)
        assert not g["overflow"], g
        assert all(b["h"] >= 96 and b["w"] >= 220 for b in g["targets"]), g       # large targets
        assert all(b["right"] <= g["width"] for b in g["targets"] + g["cards"]), g  # nothing cut off
        assert all(abs(b["dy"]) <= 2 and abs(b["dx"]) <= 2 for b in g["targets"]), g   # words in the middle
        assert all(card["h"] >= 150 for card in g["cards"]), g
        c.shot(f"table-ballots-printed-{lang}")
    c.go("/lang/ky?next=/table")


@pytest.mark.browser
def test_a_links_words_sit_in_the_middle_of_its_button(site, browser):
    """The table's "search / manual" is a link: its words sat at the top of the button (CSS)."""
    c = Commission(browser, site, None)
    c.go("/lang/ky?next=/table")
    c.wait_screen("waiting")
    g = geometry(browser, "#manual, #finger-search, #reprint")
    assert len(g["targets"]) == 3
    assert all(abs(b["dy"]) <= 2 for b in g["targets"]), g


@pytest.mark.browser
def test_the_pin_pads_keys_hold_their_words(site, browser):
    """"Тазалоо" / "Ырастоо" / "Подтвердить" ran out of their 96 px keys (CSS)."""
    c = Commission(browser, site, None)
    for lang in ("ky", "ru"):
        c.go(f"/lang/{lang}?next=/table")
        c.go(f"/table/manual?pin={site.home_voters()[0]}&reason={NOT_ENROLLED}")
        c.find("#pinpad")
        keys = browser.execute_script("""
            return [...document.querySelectorAll('.keypad .key')].map(e => ({
                id: e.id, text: e.textContent, fits: e.scrollWidth <= e.clientWidth, h: e.offsetHeight}));
        """)
        assert len(keys) == 12 and all(k["fits"] and k["h"] >= 64 for k in keys), (lang, keys)
        g = geometry(browser, ".keypad .key")
        assert all(abs(b["dy"]) <= 2 and abs(b["dx"]) <= 2 for b in g["targets"]), g
    c.go("/lang/ky?next=/table")


def geometry(browser, targets: str = ".sheet-actions .btn") -> dict:
    """Where the page's targets and sheet cards are, and how far each target's words are off its middle."""
    return browser.execute_script("""
        const box = (e) => e.getBoundingClientRect();
        const words = (e) => { const r = document.createRange(); r.selectNodeContents(e); return r.getBoundingClientRect(); };
        const targets = [...document.querySelectorAll(arguments[0])].map(e => {
            const b = box(e), w = words(e);
            return {id: e.id, h: b.height, w: b.width, right: b.right,
                    dy: (w.top + w.bottom) / 2 - (b.top + b.bottom) / 2,
                    dx: (w.left + w.right) / 2 - (b.left + b.right) / 2};
        });
        const cards = [...document.querySelectorAll('.sheet-card')].map(e => ({h: box(e).height, right: box(e).right}));
        return {targets, cards, width: document.documentElement.clientWidth,
                overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth};
    """, targets)


def test_sheets_owed_after_a_crash_before_the_printer_are_offered_again(site_home, demo_package):
    """kill -9 between the identification's commit and the printer (identify/ondemand.py ``owe``):
    the restart shows the voter's sheets as not printed, with "print again"."""
    with served_site(site_home, demo_package.secrets) as s:
        pin = s.home_voters()[0]
        s.sim.ballot_sim.preset = "offline"          # nothing is served while the printer is down:
        s.daemon.identifier.manual(pin, MEMBER[0], NOT_ENROLLED)    # the commit, then the "crash"
    with served_site(site_home, demo_package.secrets) as s:
        page = get(s.at("/table"))
        assert 'data-screen="tray"' in page and sheets(page) == [(D, "not-printed"), (P, "not-printed")]
        assert "print-again" in buttons(page)
        page = tap(s, "print-again", page)
        assert sheets(page) == [(D, "on-paper"), (P, "on-paper")]
        assert s.daemon.ondemand.owed() == {}


def test_the_next_card_waits_while_the_last_voters_sheets_are_to_be_printed_again(site):
    site.sim.ballot_sim.preset = "jam-next-job"
    manual(site, site.home_voters()[0])
    site.sim.ballot_sim.clear()
    assert wait_for(lambda: site.table.serving)
    voter = site.sim.voter(site.home_voters()[1])
    arrive(site.sim, voter)
    try:
        assert [site.table.turn() for _ in range(3)] == ["idle"] * 3       # the card waits in the reader
        assert site.daemon.conn.execute("SELECT count(*) FROM identification").fetchone()[0] == 1
        tap(site, "print-again")
        tap(site, "hand-over")
        # then the card is read (this voter has no fingerprint enrolled: the manual route is offered)
        assert wait_for(lambda: site.table.screen.name not in ("waiting", "reading", "accepted"), timeout=20)
    finally:
        leave(site.sim)
