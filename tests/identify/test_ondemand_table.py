"""The remote-voting site's table prints each accepted voter's ballots on demand (identify/daemon.py step 6).

The site's package is a real remote-site package (simulation/remote.py: districts 3 and 7,
the demo station's voters with their home UIK-1234 in OIK-07 first); the table is the
simulated one, with the IPP document printer simulator behind the real IPP driver. Claims
are off here (tests/identify/test_station_claims.py has them): this is about the paper.

For every style, at every moment: printed = issued + voided + pending; the sheets of a
voter are issued when handed over (or when the next voter is accepted), voided when the
voter leaves them; a jam voids the jammed sheet and the member prints it again; the table
serves nobody while the ballot printer cannot print.
"""

from __future__ import annotations

from collections import Counter

import pytest
from fixtures_election import site_home

from identify.daemon import build_identify_daemon, manual_identification
from identify.ondemand import PrintState, counters, owed
from simulation.table import MEMBER, SimTable, SimulatedIdentifyFactory, Visit

D, P = "bs-district-07", "bs-party-list"
NOT_ENROLLED = "no-fingerprint-enrolled"




@pytest.fixture
def site(tmp_path, site_pkg, demo_package):
    home = site_home(tmp_path / "site", site_pkg, demo_package)
    with SimTable(home, demo_package.secrets) as table:
        yield table


def home_voters(table) -> list[str]:
    return [v.pin for v in table.voters if v.home_district == "OIK-07"]


def states(table) -> dict[str, tuple[int, int, int, int]]:
    return {s: (c.printed, c.issued, c.voided, c.pending) for s, c in counters(table.daemon.conn).items()
            if s in (D, P)}


def visit(table, pin):
    return table.visit(Visit(pin, manual_reason=NOT_ENROLLED))


def test_an_accepted_voter_gets_the_home_districts_ballots_from_the_printer(site):
    pin = home_voters(site)[0]
    r = visit(site, pin)
    assert r.outcome.accepted and r.outcome.ballots == ("district-07", "party-list")
    assert [(b.style, b.state) for b in r.ballots] == [(D, PrintState.ON_PAPER), (P, PrintState.ON_PAPER)]
    assert len(site.ballot_sim.printed) == 2
    assert states(site) == {D: (1, 0, 0, 1), P: (1, 0, 0, 1)}          # on the tray
    assert site.daemon.hand_over() == [D, P]
    assert states(site) == {D: (1, 1, 0, 0), P: (1, 1, 0, 0)}


def test_the_next_acceptance_hands_over_and_a_voter_who_leaves_voids(site):
    a, b = home_voters(site)[:2]
    visit(site, a)
    visit(site, b)                     # a's sheets were handed over when b was accepted
    assert states(site) == {D: (2, 1, 0, 1), P: (2, 1, 0, 1)}
    assert site.daemon.not_taken("voter-left") == [D, P]
    c = {s: x for s, x in counters(site.daemon.conn).items() if s in (D, P)}
    assert {s: (x.printed, x.issued, x.voided, x.pending, x.voids["voter-left"]) for s, x in c.items()} == {
        D: (2, 1, 1, 0, 1), P: (2, 1, 1, 0, 1)}
    assert all(x.printed == x.issued + x.voided for x in c.values())


def test_a_jam_voids_the_jammed_sheet_and_the_member_prints_it_again(site):
    site.ballot_sim.preset = "jam-next-job"
    r = visit(site, home_voters(site)[0])
    assert r.outcome.accepted
    assert [b.state for b in r.ballots] == [PrintState.VOIDED, PrintState.NOT_PRINTED]
    assert states(site) == {D: (1, 0, 1, 0), P: (0, 0, 0, 0)}
    site.ballot_sim.clear()
    again = site.daemon.print_again()
    assert [(b.style, b.state) for b in again] == [(D, PrintState.ON_PAPER), (P, PrintState.ON_PAPER)]
    site.daemon.hand_over()
    assert states(site) == {D: (2, 1, 1, 0), P: (1, 1, 0, 0)}
    assert site.daemon.print_again() == []                     # nothing left to print


@pytest.mark.parametrize("preset", ["media-empty", "door-open", "offline"])
def test_the_table_serves_nobody_while_the_ballot_printer_cannot_print(site, preset):
    site.ballot_sim.preset = preset
    conditions = site.daemon.device_conditions()
    assert "ballot-printer" in conditions
    assert not site.daemon.devices_ready(conditions)
    assert site.daemon.step() == "waiting"
    site.ballot_sim.clear()
    assert site.daemon.devices_ready(site.daemon.device_conditions())


def test_an_uncertain_job_waits_for_the_member_to_look_in_the_tray(site):
    site.ballot_sim.preset = "silent-after-job"
    site.daemon.ballot_printer.job_timeout_s = 0.5
    r = visit(site, home_voters(site)[0])
    assert r.ballots[0].state is PrintState.UNCERTAIN
    site.ballot_sim.clear()
    site.daemon.tray_checked(came_out=False)          # nothing there: withdrawn, printed again
    assert states(site)[D][0] == 0
    again = site.daemon.print_again()
    assert [b.state for b in again] == [PrintState.ON_PAPER, PrintState.ON_PAPER]


def test_a_restart_puts_what_an_interruption_left_back_on_the_tray(site, demo_package):
    visit(site, home_voters(site)[0])
    paths = site.paths
    site.close()
    with SimTable(paths, demo_package.secrets) as again:
        again.daemon.start()
        assert sorted(again.daemon.on_tray) == [D, P]
        assert again.daemon.not_taken("interrupted") == [D, P]
        c = counters(again.daemon.conn)
        assert (c[D].voided, c[D].voids["interrupted"], c[D].pending) == (1, 1, 0)


class Crash(Exception):
    """The process dies here (kill -9 right after the identification committed)."""


def test_a_crash_between_the_identification_and_the_printer_leaves_the_sheets_owed(
        tmp_path, site_pkg, demo_package):
    """The voter's sheets are owed in the identification's own transaction: after a crash before
    the printer the restart has them to print again (they are not lost), and once printed nothing
    is owed."""
    home = site_home(tmp_path / "crash", site_pkg, demo_package)

    def crash(_out):
        raise Crash

    with SimTable(home, demo_package.secrets, after_commit=crash) as table:
        pin = home_voters(table)[0]
        with pytest.raises(Crash):
            visit(table, pin)
        assert owed(table.daemon.conn) == {D: 1, P: 1} and table.ballot_sim.printed == []
    with SimTable(home, demo_package.secrets) as again:
        again.daemon.start()
        assert sorted(again.daemon.not_out) == [D, P]
        assert [b.state for b in again.daemon.print_again()] == [PrintState.ON_PAPER, PrintState.ON_PAPER]
        assert owed(again.daemon.conn) == {}
        again.daemon.hand_over()
        assert states(again) == {D: (1, 1, 0, 0), P: (1, 1, 0, 0)}


def test_a_jammed_sheet_stays_owed_and_a_voter_who_leaves_owes_nothing(site):
    site.ballot_sim.preset = "jam-next-job"
    visit(site, home_voters(site)[0])
    assert owed(site.daemon.conn) == {D: 1, P: 1}          # the jammed one and the one not tried
    site.ballot_sim.clear()
    site.daemon.not_taken("voter-left")
    assert owed(site.daemon.conn) == {}


def test_identify_manual_at_a_site_leaves_the_sheets_owed_to_the_table(tmp_path, site_pkg, demo_package):
    """`uchastok identify manual` has no ballot printer: the sheets are owed, and the table offers them."""
    home = site_home(tmp_path / "cli", site_pkg, demo_package)
    with SimTable(home, demo_package.secrets) as table:
        pin = home_voters(table)[0]
    out = manual_identification(home, pin, MEMBER[0], MEMBER[2], NOT_ENROLLED).outcome
    assert out.accepted
    with SimTable(home, demo_package.secrets) as table:
        table.daemon.start()
        assert sorted(table.daemon.not_out) == [D, P]


# --- faults ------------------------------------------------------------------------------
# Faults around the ballots printed on demand at a remote-voting site's table (identify/daemon.py step 6).
#
# The invariant checked after each fault: every sheet the counters hold as ``pending`` is one the
# table holds too (on the tray, or a job whose fate the member must say), so nothing printed is
# left where no tap can settle it; and a fault is a condition on the screen, never an exception
# out of the daemon's turn after the voter's identification committed.


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
