"""The ballot box's screen states from the count daemon's turns (screens/box.py ``BoxSession``).

The scanner is the simulated sheet feeder with its named failure presets
(drivers/scanner/simulator.py): a jam shows "jam" until the sheet is taken out, a
double feed returns both sheets with the reason, test mode is marked on the screen.
"""

from __future__ import annotations

import pytest

from drivers.scanner.simulator import SimulatedScanner
from screens.box import BoxSession
from simulation.ballot_box import SimulatedCountFactory
from simulation.ballots import demo_ballot
from simulation.table import provision_home
from station import polls
from station.db import open_station_db
from station.package import current_package


class PresetBox(SimulatedCountFactory):
    """The simulated ballot box with the sheet feeder's failure presets."""

    def __init__(self, sheets, preset, printer_dir):
        super().__init__(None, printer_dir)
        self.sheets, self.preset = sheets, preset
        self.feeder_sim: SimulatedScanner | None = None

    def scanner(self):
        self.feeder_sim = self.keep(SimulatedScanner(self.sheets, preset=self.preset, fault_at=0))
        return self.feeder_sim


@pytest.fixture
def home(tmp_path, demo_package):
    return provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="open")


def ballots(paths, n):
    election = current_package(paths).election
    cid = election.contests[0].id
    return [demo_ballot(election, cid, 10 + i, 150)[0] for i in range(n)]


def test_a_jam_shows_until_the_sheet_is_taken_out(home, tmp_path):
    factory = PresetBox(ballots(home, 1), "jam", tmp_path / "printer")
    box = BoxSession(home, factory)
    try:
        box.turn()
        assert box.screen.name == "jam" and box.screen.message.ru.startswith("Замятие")
        factory.feeder_sim.clear()               # the commission opened the path
        box.daemon.recovered()
        box.turn()
        assert box.screen.name == "accepted" and box.counters()["real"] == 1
    finally:
        box.close()


def test_a_double_feed_returns_both_sheets_with_the_reason(home, tmp_path):
    box = BoxSession(home, PresetBox(ballots(home, 2), "double-feed", tmp_path / "printer"))
    try:
        box.turn()
        assert box.screen.name == "double-feed" and box.screen.message.ky and box.screen.message.ru
        assert box.counters() == {"real": 0, "test": 0, "returned": 1}
    finally:
        box.close()


def test_test_mode_is_marked_and_closed_polls_take_no_sheet(home, tmp_path):
    conn = open_station_db(home.station_db)
    try:
        polls.apply(conn, "close", actor="member:m1")
    finally:
        conn.close()
    box = BoxSession(home, PresetBox(ballots(home, 1), None, tmp_path / "printer"))
    try:
        box.turn()
        assert box.screen.name == "closed" and box.counters()["real"] == 0
    finally:
        box.close()
