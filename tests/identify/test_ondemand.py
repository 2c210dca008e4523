"""Ballots printed on demand: the states of a print and the counters printed = issued + voided.

The printer is the simulated IPP printer on a socket (drivers/docprinter/simulator.py), driven
by the real driver; identify.db is a real file with the role's migrations.
"""

from __future__ import annotations

import sqlite3

import pytest

from drivers.docprinter.ipp_printer import IppPrinter
from drivers.docprinter.simulator import DocPrinterSimulator
from identify.ondemand import (
    VOID_REASONS,
    OnDemandBallots,
    OnDemandError,
    PrintState,
    counters,
    pending,
    record_totals,
)
from identify.store import open_identify_db
from station.events import verify_chain

D, P = "bs-district-07", "bs-party-list"


@pytest.fixture
def sim(tmp_path):
    with DocPrinterSimulator(tmp_path / "paper") as simulator:
        yield simulator


@pytest.fixture
def db(tmp_path):
    conn = open_identify_db(tmp_path / "identify.db")
    yield conn
    conn.close()


@pytest.fixture
def ballots(db, election, sim):
    with IppPrinter(sim.uri, poll_s=0.01) as printer:
        yield OnDemandBallots(db, election, printer)


def table(conn: sqlite3.Connection) -> dict:
    return {s: (c.printed, c.issued, c.voided, c.pending) for s, c in counters(conn).items()}


def test_every_counter_exists_at_zero_before_the_first_ballot(ballots, db, election):
    assert table(db) == {s.id: (0, 0, 0, 0) for s in election.ballot_styles}
    assert {c.style: c.voids for c in counters(db).values()} == {
        s.id: dict.fromkeys(VOID_REASONS, 0) for s in election.ballot_styles}


def test_print_then_issue(ballots, db, sim):
    [d, p] = ballots.print_ballots([D, P])
    assert (d.state, p.state) == (PrintState.ON_PAPER, PrintState.ON_PAPER)
    assert [x.png.name for x in sim.printed] == ["job-0001-page-1.png", "job-0002-page-1.png"]
    assert table(db) == {D: (1, 0, 0, 1), P: (1, 0, 0, 1)}
    assert pending(db) == {D: 1, P: 1}
    ballots.issue(D)
    ballots.issue(P)
    assert table(db) == {D: (1, 1, 0, 0), P: (1, 1, 0, 0)}


def test_a_ballot_not_taken_is_voided_with_its_reason(ballots, db):
    ballots.print_ballots([D])
    ballots.void(D, "voter-left")
    assert table(db)[D] == (1, 0, 1, 0)
    assert counters(db)[D].voids["voter-left"] == 1


@pytest.mark.parametrize("preset", ["media-empty", "door-open", "offline", "unreachable"])
def test_a_printer_not_ready_prints_nothing_and_counts_nothing(ballots, db, sim, preset):
    sim.preset = preset
    [d, p] = ballots.print_ballots([D, P])
    assert d.state is PrintState.NOT_PRINTED and d.result is not None
    assert p.state is PrintState.NOT_PRINTED and p.result is None and "not tried" in p.detail
    assert table(db) == {D: (0, 0, 0, 0), P: (0, 0, 0, 0)}
    assert sim.printed == []


def test_a_jam_voids_the_jammed_sheet_and_stops_the_request(ballots, db, sim):
    sim.preset = "jam-next-job"
    [d, p] = ballots.print_ballots([D, P])
    assert d.state is PrintState.VOIDED and d.result.status.value == "media-jam"
    assert p.state is PrintState.NOT_PRINTED
    assert table(db)[D] == (1, 0, 1, 0) and counters(db)[D].voids["printer-jam"] == 1
    assert [x.jammed for x in sim.printed] == [True]
    sim.clear()
    [d2, p2] = ballots.print_ballots([D, P])          # the member asks again once it is cleared
    assert (d2.state, p2.state) == (PrintState.ON_PAPER, PrintState.ON_PAPER)
    ballots.issue(D)
    ballots.issue(P)
    assert table(db) == {D: (2, 1, 1, 0), P: (1, 1, 0, 0)}
    assert [x.jammed for x in sim.printed] == [True, False, False]   # no sheet nobody ordered


def test_paper_running_out_before_the_page_counts_nothing(ballots, db, sim):
    sim.preset = "media-runs-out"
    [d] = ballots.print_ballots([D])
    assert d.state is PrintState.NOT_PRINTED
    assert table(db)[D] == (0, 0, 0, 0) and sim.printed == []


def test_an_uncertain_job_stays_pending_until_the_member_looks(ballots, db, sim, election):
    ballots.printer.capabilities()
    sim.preset = "silent-after-job"
    [d] = ballots.print_ballots([D])
    assert d.state is PrintState.UNCERTAIN
    assert table(db)[D] == (1, 0, 0, 1)
    # After a restart the pending ballot is still there for the commission to settle.
    with IppPrinter(sim.uri) as printer:
        again = OnDemandBallots(db, election, printer)
        assert again.pending() == {D: 1}
        again.void(D, "interrupted")          # found in the tray, the voter gone
    assert table(db)[D] == (1, 0, 1, 0)


def test_an_uncertain_job_that_printed_nothing_is_withdrawn(ballots, db, sim):
    ballots.printer.capabilities()
    sim.preset = "unreachable"
    # The printer goes away after the capabilities were read: nothing reached it.
    [d] = ballots.print_ballots([D])
    assert d.state is PrintState.NOT_PRINTED
    sim.preset = "silent-after-job"
    [d] = ballots.print_ballots([D])
    assert d.state is PrintState.UNCERTAIN
    ballots.withdraw(D)                          # e.g. the tray was empty
    assert table(db)[D] == (0, 0, 0, 0)


BAD_STYLES = [
    ("empty", [], "no ballot style"),
    ("one-string", D, "not one string"),
    ("unknown", ["bs-district-99"], "bs-district-99"),
    ("twice", [D, D], "asked twice"),
    ("unknown-after-good", [D, "nope"], "nope"),
]


@pytest.mark.parametrize("styles,fragment", [b[1:] for b in BAD_STYLES], ids=[b[0] for b in BAD_STYLES])
def test_a_bad_style_list_changes_nothing(ballots, db, sim, styles, fragment):
    with pytest.raises(OnDemandError, match=fragment):
        ballots.print_ballots(styles)
    assert all(v == (0, 0, 0, 0) for v in table(db).values())
    assert sim.jobs == {}


@pytest.mark.parametrize("call,fragment", [
    (lambda b: b.issue(D), "no bs-district-07 ballot is waiting"),
    (lambda b: b.void(D, "voter-left"), "no bs-district-07 ballot is waiting"),
    (lambda b: b.withdraw(D), "no bs-district-07 ballot is waiting"),
    (lambda b: b.issue("bs-other"), "not one of this election's"),
    (lambda b: b.void(D, "lost"), "void reason 'lost'"),
], ids=["issue", "void", "withdraw", "unknown-style", "unknown-reason"])
def test_nothing_pending_or_a_bad_reason_is_refused(ballots, db, call, fragment):
    with pytest.raises(OnDemandError, match=fragment):
        call(ballots)
    assert all(v == (0, 0, 0, 0) for v in table(db).values())


def test_the_table_refuses_counters_that_do_not_add_up(db, ballots):
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE ondemand_ballots SET printed = printed + 1 WHERE style = ?", (D,))


def test_totals_are_one_audit_record_at_the_close(ballots, db):
    before = db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    ballots.print_ballots([D, P])
    ballots.issue(D)
    ballots.void(P, "misprint")
    assert db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == before   # none per ballot
    record_totals(db, actor="member:1")
    event, details = db.execute("SELECT event, details FROM audit_log ORDER BY seq DESC LIMIT 1"
                                ).fetchone()
    assert event == "ondemand-ballots-counted"
    assert '"bs-party-list":{"issued":0,"pending":0,"printed":1,"voided":1,"voids":{"misprint":1}}' \
        in details
    assert verify_chain(db).ok
