"""Bad input at the screens: a clear message on screen, nothing recorded wrongly (issue 12 "Bad input").

Over plain HTTP against the served screens (no browser needed): a wrong member PIN
and the lockout, double taps (the same form sent twice), two tables racing on one
voter, a page reloaded mid-action, the server restarted mid-day, manual-count figures
that are not numbers, negative, or do not add up.
"""

from __future__ import annotations

import re
import sqlite3
import threading

from screens_world import get, post, served, token

from screens.table import TableSession
from simulation.table import MEMBER, SimTable, provision_home
from station import polls
from station.db import open_station_db


def drive_polls(paths, *actions: str) -> None:
    conn = open_station_db(paths.station_db)
    try:
        for a in actions:
            polls.apply(conn, a, actor=f"member:{MEMBER[0]}", counters_zero=True if a == "print-zero-report" else None)
    finally:
        conn.close()


def state(paths) -> str:
    conn = open_station_db(paths.station_db)
    try:
        return str(polls.current(conn))
    finally:
        conn.close()


def identified(paths) -> int:
    conn = sqlite3.connect(f"file:{paths.identify_db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM identification").fetchone()[0]
    finally:
        conn.close()


def test_a_wrong_pin_says_so_and_locks_as_the_cli_does(station):
    page = get(station.at("/polls/do/enter-test-mode"))
    answer = post(station.at("/polls/do/enter-test-mode"),
                  {"token": token(page), "member": MEMBER[0], "member_pin": "000000"})
    assert "PIN-код туура эмес" in answer and f"{polls.MAX_PIN_FAILURES - 1}" in answer
    assert state(station.paths) == "provisioned"
    for _ in range(polls.MAX_PIN_FAILURES - 1):
        answer = post(station.at("/polls/do/enter-test-mode"),
                      {"token": token(get(station.at("/polls/do/enter-test-mode"))), "member": MEMBER[0],
                       "member_pin": "000000"})
    assert "бөгөттөлдү" in answer                      # locked: call the technician
    answer = post(station.at("/polls/do/enter-test-mode"),
                  {"token": token(get(station.at("/polls/do/enter-test-mode"))), "member": MEMBER[0],
                   "member_pin": MEMBER[2]})               # even the right PIN, once locked
    assert "бөгөттөлдү" in answer and state(station.paths) == "provisioned"


def test_a_double_tap_identifies_once(station):
    drive_polls(station.paths, "enter-test-mode", "print-zero-report", "open")
    voter = station.sim.voters[0]
    page = get(station.at(f"/table/manual?pin={voter.pin}&reason=fingerprint-unreadable"))
    form = {"token": token(page), "pin": voter.pin, "reason": "fingerprint-unreadable", "member": MEMBER[0],
            "member_pin": MEMBER[2]}
    first = post(station.at("/table/manual"), form)
    second = post(station.at("/table/manual"), form)          # the same tap again: ignored
    assert 'data-screen="accepted"' in first and 'data-screen="accepted"' in second
    assert identified(station.paths) == 1
    # A second tap from a reloaded page (a new token): refused as already identified, still one.
    page = get(station.at(f"/table/manual?pin={voter.pin}&reason=fingerprint-unreadable"))
    third = post(station.at("/table/manual"), form | {"token": token(page)})
    assert 'data-screen="refused"' in third and identified(station.paths) == 1


def test_two_tables_racing_on_one_voter_identify_once(station, demo_package):
    drive_polls(station.paths, "enter-test-mode", "print-zero-report", "open")
    voter = station.sim.voters[1]
    with SimTable(station.paths, demo_package.secrets, table="2") as other:
        second = TableSession(other.daemon, station.paths)
        screens = {}
        barrier = threading.Barrier(2)

        def run(name, session):
            barrier.wait()
            screens[name] = session.manual(voter.pin, MEMBER[0], MEMBER[2], "sensor-failure")

        threads = [threading.Thread(target=run, args=(n, s)) for n, s in (("1", station.table), ("2", second))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert sorted(s.name for s in screens.values()) == ["accepted", "refused"]
    assert next(s for s in screens.values() if s.name == "refused").reason == "already-identified"
    assert identified(station.paths) == 1


def test_a_reloaded_page_repeats_nothing(station):
    before = get(station.at("/polls/do/enter-test-mode"))
    again = get(station.at("/polls/do/enter-test-mode"))      # the PIN pad reloaded: no action
    assert token(before) != token(again) and state(station.paths) == "provisioned"
    post(station.at("/polls/do/enter-test-mode"), {"token": token(again), "member": MEMBER[0],
                                                      "member_pin": MEMBER[2]})
    assert state(station.paths) == "test-mode"
    # The same form sent again (a browser's "resend" after a reload): nothing more happens.
    post(station.at("/polls/do/enter-test-mode"), {"token": token(again), "member": MEMBER[0],
                                                      "member_pin": MEMBER[2]})
    assert state(station.paths) == "test-mode"
    conn = open_station_db(station.paths.station_db)
    try:
        assert [h["action"] for h in polls.history(conn)].count("enter-test-mode") == 1
    finally:
        conn.close()


def test_the_screen_recovers_after_the_server_restarts(tmp_path, demo_package):
    paths = provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")
    with served(paths, demo_package.secrets, tmp_path / "feeder") as st:
        voter = st.sim.voters[2]
        st.table.manual(voter.pin, MEMBER[0], MEMBER[2], "card-unreadable")
    with served(paths, demo_package.secrets, tmp_path / "feeder") as st:    # killed and started again
        page = get(st.at("/table"))
        assert re.search(r'id="count-identified">1<', page)
        assert 'data-screen="waiting"' in page and identified(paths) == 1


def protocol_revisions(paths) -> int:
    conn = sqlite3.connect(f"file:{paths.count_db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT count(*) FROM protocol").fetchone()[0]
    finally:
        conn.close()


def test_manual_count_figures_that_do_not_add_up_are_not_signed(station):
    drive_polls(station.paths, "enter-test-mode", "print-zero-report", "open", "close")
    page = get(station.at("/count"))
    keys = re.findall(r'name="f:([^"]+)"', page)
    figures = {f"f:{k}": "0" for k in keys}
    shown = post(station.at("/count"), figures | {f"f:{keys[1]}": "abc", f"f:{keys[2]}": "-5", "go": "check"})
    assert "Сан эмес" in shown and "Терс сан болбойт" in shown         # not a number; negative
    shown = post(station.at("/count"), figures | {f"f:{keys[1]}": "3", "go": "sign"})
    assert "Катыштар аткарылган жок" in shown                            # fix the figures or explain
    assert protocol_revisions(station.paths) == 0
    pad = get(station.at("/count/sign"))                                # the PIN pad is not even offered
    assert 'id="pinpad"' not in pad and protocol_revisions(station.paths) == 0
    # With the commission's explanation recorded, it is signed (both counts, the difference shown).
    post(station.at("/count"), figures | {f"f:{keys[1]}": "3", "explanation": "3 бюллетень / 3 бюллетеня",
                                            "go": "sign"})
    pad = get(station.at("/count/sign"))
    done = post(station.at("/count/sign"), {"token": token(pad), "member": MEMBER[0], "member_pin": MEMBER[2]})
    assert 'id="manual-vs-machine"' in done and "+3" in done
    assert protocol_revisions(station.paths) == 2          # the machine count, then the manual count
