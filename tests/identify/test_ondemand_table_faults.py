"""Faults around the ballots printed on demand at a remote-voting site's table (identify/daemon.py step 6).

The invariant checked after each fault: every sheet the counters hold as ``pending`` is one the
table holds too (on the tray, or a job whose fate the member must say), so nothing printed is
left where no tap can settle it; and a fault is a condition on the screen, never an exception
out of the daemon's turn after the voter's identification committed.
"""

from __future__ import annotations

from collections import Counter

import pytest
from fixtures_election import site_home

from identify.daemon import build_identify_daemon
from identify.ondemand import PrintState, counters
from simulation.table import SimTable, SimulatedIdentifyFactory, Visit

D, P = "bs-district-07", "bs-party-list"
NOT_ENROLLED = "no-fingerprint-enrolled"




@pytest.fixture
def site(tmp_path, site_pkg, demo_package):
    home = site_home(tmp_path / "site", site_pkg, demo_package)
    with SimTable(home, demo_package.secrets) as table:
        yield table


def home_voters(table) -> list[str]:
    return [v.pin for v in table.voters if v.home_district == "OIK-07"]


def visit(table, pin):
    return table.visit(Visit(pin, manual_reason=NOT_ENROLLED))


def pending(daemon) -> dict[str, int]:
    return {s: c.pending for s, c in counters(daemon.conn).items() if c.pending}


def held(daemon) -> dict[str, int]:
    """The sheets the table can still settle with a tap: on the tray, or of unknown fate."""
    return dict(Counter(daemon.on_tray + daemon.uncertain))


def test_a_printer_that_raises_leaves_no_counted_sheet_the_table_cannot_settle(site):
    """The driver raising (every answer malformed) after the counters of the ballot in flight went
    up: that sheet is one whose fate the member says (did it come out?), not a pending sheet that
    no tap reaches and that a restart would put on the tray as if printed."""
    site.ballot_sim.preset = "bad-response"
    r = visit(site, home_voters(site)[0])
    assert r.outcome.accepted
    assert [b.state for b in r.ballots] == [PrintState.UNCERTAIN, PrintState.NOT_PRINTED]
    assert pending(site.daemon) == held(site.daemon) == {D: 1}
    site.ballot_sim.clear()
    site.daemon.tray_checked(came_out=False)           # nothing came out: the print is undone
    assert pending(site.daemon) == held(site.daemon) == {}
    assert [b.state for b in site.daemon.print_again()] == [PrintState.ON_PAPER, PrintState.ON_PAPER]
    assert pending(site.daemon) == held(site.daemon) == {D: 1, P: 1}
    site.daemon.hand_over()
    assert {s: (c.printed, c.issued, c.voided, c.pending) for s, c in counters(site.daemon.conn).items()
            if s in (D, P)} == {D: (1, 1, 0, 0), P: (1, 1, 0, 0)}


def test_a_sheet_another_table_settled_does_not_stop_the_next_voters_ballots(site, demo_package):
    """Two tables on one identify.db: table 2's restart finds table 1's sheets pending and its
    commission voids them ("interrupted"); table 1's tray then names sheets that are no longer
    pending. Its next acceptance (which hands over the tray first) still prints that voter's
    ballots: the stale sheet is dropped from the tray and said, not an OnDemandError out of the
    turn after the voter's identification committed (the voter would have no ballot, ever)."""
    a, b = home_voters(site)[:2]
    visit(site, a)
    assert sorted(site.daemon.on_tray) == [D, P]
    with SimTable(site.paths, demo_package.secrets, table="2") as other:
        other.daemon.start()
        other.daemon.not_taken("interrupted")
    r = visit(site, b)
    assert r.outcome.accepted
    assert [(x.style, x.state) for x in r.ballots] == [(D, PrintState.ON_PAPER), (P, PrintState.ON_PAPER)]
    assert sorted(site.daemon.on_tray) == [D, P] and pending(site.daemon) == held(site.daemon)
    assert site.daemon.not_taken("voter-left") == [D, P]
    assert pending(site.daemon) == held(site.daemon) == {}


class NoBallotPrinter(SimulatedIdentifyFactory):
    """A site's table whose uchastok.toml names no ``[identify] ballot_printer``."""

    def ballot_printer(self):
        return None


def test_a_site_without_a_ballot_printer_serves_nobody(site, tmp_path):
    """At a remote-voting site the ballot printed on demand is the only ballot a voter of another
    district can get: a table with no ballot printer configured must not identify voters (each
    would be marked identified, claimed at the centre, and get no ballot), it waits as for a
    printer that is off, and the status names what is missing."""
    daemon = build_identify_daemon(site.paths, NoBallotPrinter(tmp_path / "receipts"), table="2")
    try:
        conditions = daemon.device_conditions()
        assert "ballot_printer" in str(conditions.get("ballot-printer"))
        assert not daemon.devices_ready(conditions)
        assert daemon.step() == "waiting"
    finally:
        daemon.close()
