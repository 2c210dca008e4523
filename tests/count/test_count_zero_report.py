"""The zero report: gating on the real tally, test mode, the printer; both languages."""

from __future__ import annotations

import json

import pytest
from countkit import make_home, reading
from PIL import Image

from base.clock import FixedClock
from base.sqlite import atomic
from count.paper import zero_report_document
from count.role import identifications_recorded, zero_report
from count.store import CountStore
from count.tally import Tally
from count.zero_report import nonzero_counters, print_zero_report
from drivers.printer.simulator import SimulatedPrinter
from identify.store import open_identify_db
from station import polls
from station.db import open_station_db
from station.election import Election
from station.errors import ConfigError, PollsError
from station.polls import PollsState


@pytest.fixture
def test_mode(tmp_path, manifest, election):
    paths = make_home(tmp_path / "st", manifest, state="test-mode")
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    yield paths, store, sconn
    store.close()
    sconn.close()


def _events(store, event):
    return store.conn.execute("SELECT count(*) FROM audit_log WHERE event = ?", (event,)).fetchone()[0]


def test_prints_and_moves_polls(test_mode, election, tmp_path):
    paths, store, sconn = test_mode
    store.record_sheet(reading("district-07", choice="c-01"), mode="test")     # the L&A deck
    rep = print_zero_report(store, sconn, election, out_dir=tmp_path / "out", clock=FixedClock())
    assert rep.counters_zero and rep.printed and rep.state == "zero-report-printed"
    assert polls.current(sconn) == PollsState.ZERO_REPORT
    assert len(rep.files) == 3 and all(p for p in rep.files)
    assert Image.open(rep.files[0]).width == 384
    assert _events(store, "zero-report-printed") == 1
    polls.apply(sconn, "open")                   # now polls may open


def test_refused_when_the_real_tally_is_not_zero(test_mode, election, tmp_path):
    paths, store, sconn = test_mode
    store.record_sheet(reading("party-list", choice="p-03", preference=2), mode="real")
    rep = print_zero_report(store, sconn, election, out_dir=tmp_path / "out", clock=FixedClock())
    assert not rep.counters_zero and not rep.printed and rep.files == ()
    assert "party-list/vote:p-03" in rep.nonzero and "party-list/pref:p-03:2" in rep.nonzero
    assert polls.current(sconn) == PollsState.TEST_MODE
    assert _events(store, "zero-report-refused") == 1
    with pytest.raises(PollsError):
        polls.apply(sconn, "open")


@pytest.mark.parametrize("state", ["provisioned", "open"])
def test_refused_outside_test_mode(tmp_path, manifest, election, state):
    paths = make_home(tmp_path / "st", manifest, state=state)
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    with pytest.raises(PollsError):
        print_zero_report(store, sconn, election, clock=FixedClock())
    assert polls.current(sconn) == PollsState(state)
    store.close()
    sconn.close()


def test_printer_out_of_paper_keeps_polls_in_test_mode(test_mode, election, tmp_path):
    paths, store, sconn = test_mode
    with SimulatedPrinter(tmp_path / "printer") as printer:
        printer.preset = "paper-out"
        rep = print_zero_report(store, sconn, election, printer=printer, clock=FixedClock())
        assert rep.counters_zero and not rep.printed and "paper-out" in rep.detail
        assert polls.current(sconn) == PollsState.TEST_MODE
        printer.preset = None
        rep = print_zero_report(store, sconn, election, printer=printer, clock=FixedClock())
        assert rep.printed and polls.current(sconn) == PollsState.ZERO_REPORT
        assert list((tmp_path / "printer").glob("print-*.png"))


def test_document_is_bilingual_and_lists_every_option(election):
    doc = zero_report_document(election, Tally.empty(election), at="2026-11-29T01:30:00Z")
    text = "\n".join(getattr(b, "text", "") + getattr(b, "key", "") for b in doc.blocks)
    assert "НӨЛДҮК ОТЧЁТ" in text and "НУЛЕВОЙ ОТЧЁТ" in text
    assert "Баарына каршы / Против всех" in text
    for c in election.contest("district-07").candidates:
        assert c.surname in text
    assert nonzero_counters(Tally.empty(election)) == []


def _identify_one(paths) -> None:
    """A voter identified in this device's identify.db (as the identify role records it)."""
    conn = open_identify_db(paths.identify_db)
    with atomic(conn):
        conn.execute("INSERT INTO voter(pin, document_number, surname, name, patronymic, birth_date, sex,"
                     " overseas, remote) VALUES ('21234567890123', 'ID0000001', 'А', 'Б', 'В', '1990-01-01',"
                     " 'F', 0, 0)")
        conn.execute("INSERT INTO identification(pin, method, manual_reason, member, table_id, identified_at,"
                     " ballots) VALUES ('21234567890123', 'manual', 'sensor-failure', 'm1', '1',"
                     " '2026-11-29T02:00:00Z', '[]')")
    conn.close()


IDENTIFY_DB = [
    # (id, this device's identify.db, what the zero report does): DOMAIN.md "Identification at the
    # station": the receipts are the control of the ballots in the box, so both start at zero.
    ("no-voter-identified", "empty", "printed"),
    ("a-voter-identified", "one", "identified voter"),
    ("identify-role-on-another-device", "absent", "printed"),
    ("identify-db-unreadable", "garbage", "cannot be read"),
]


@pytest.mark.parametrize("identify_db,outcome", [r[1:] for r in IDENTIFY_DB], ids=[r[0] for r in IDENTIFY_DB])
def test_the_zero_report_checks_that_no_voter_is_identified(tmp_path, manifest, identify_db, outcome):
    paths = make_home(tmp_path / "st", manifest, state="test-mode")
    if identify_db == "one":
        _identify_one(paths)
    elif identify_db == "absent":
        paths.identify_db.unlink()
    elif identify_db == "garbage":
        paths.identify_db.write_bytes(b"not a database at all" * 100)
    if outcome == "printed":
        assert zero_report(paths)["state"] == "zero-report-printed"
        return
    with pytest.raises(PollsError if identify_db == "one" else ConfigError, match=outcome):
        zero_report(paths)
    sconn = open_station_db(paths.station_db)
    assert polls.current(sconn) == PollsState.TEST_MODE
    sconn.close()
    if identify_db == "one":
        store = CountStore.open(paths.count_db, Election.from_manifest(manifest))
        (details,) = store.conn.execute("SELECT details FROM audit_log WHERE event = 'zero-report-refused'"
                                        ).fetchone()
        store.close()
        assert json.loads(details)["reason"] == "voters identified"


def test_identifications_are_counted_read_only(tmp_path, manifest):
    paths = make_home(tmp_path / "st", manifest, state="test-mode")
    _identify_one(paths)
    before = paths.identify_db.read_bytes()
    assert identifications_recorded(paths) == 1
    assert paths.identify_db.read_bytes() == before


def test_an_identify_directory_the_count_role_may_not_enter_is_no_identification(tmp_path, manifest, monkeypatch):
    """The appliance's count unit cannot look into the identify role's directory (InaccessiblePaths=):
    stat raises PermissionError there; the zero report goes on as with no identify.db."""
    paths = make_home(tmp_path / "st", manifest, state="test-mode")
    real_exists = type(paths.identify_db).exists

    def inaccessible(self, *a, **k):
        if self == paths.identify_db:
            raise PermissionError(13, "Permission denied", str(self))
        return real_exists(self, *a, **k)

    monkeypatch.setattr(type(paths.identify_db), "exists", inaccessible)
    assert identifications_recorded(paths) is None
