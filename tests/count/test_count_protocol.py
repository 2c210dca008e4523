"""The results protocol: pure builder, control relations, signing order across two files."""

from __future__ import annotations

import pytest
from countkit import device_public, make_home, reading
from election_values import build_election, candidate_contest, party_list_contest

from base.clock import FixedClock
from count.protocol import (
    complete_signed_protocol,
    device_outbox,
    latest_protocol,
    sign_protocol,
    verify_protocol,
)
from count.protocol_body import build_protocol, control_relations, counting_order, protocol_hash
from count.store import CountStore
from count.tally import Tally, fold
from station import polls
from station.db import open_station_db
from station.errors import PollsError
from station.polls import PollsState
from sync import signing
from sync.envelope import verify_envelope
from sync.errors import VerificationError

CLOSED_AT = "2026-11-29T14:00:00Z"
SHEETS = [reading("district-07", choice="c-01"), reading("district-07", choice="c-01"),
          reading("district-07", choice="against-all"), reading("district-07", "blank"),
          reading("party-list", choice="p-02", preference=3), reading("party-list", choice="p-02"),
          reading("party-list", "invalid", reason="number-without-party"),
          reading("party-list", choice="p-07", marginal=("party-list/#9",))]


def test_body_shape_and_order(election):
    body = build_protocol(election, fold(election, SHEETS), 1700, 1234, CLOSED_AT)
    assert set(body) == {"election", "station", "closed_at", "voters_on_list", "voters_identified",
                         "contests", "control", "test_mode"}
    assert [c["kind"] for c in body["contests"]] == ["candidate", "party-list"]
    assert counting_order(election) == ["district-07", "party-list"]
    d, p = body["contests"]
    assert (d["ballots_read"], d["valid"], d["invalid"], d["blank"]) == (4, 3, 0, 1)
    assert d["votes"]["c-01"] == 2 and d["votes"]["against-all"] == 1 and d["preferences"] == {}
    assert (p["ballots_read"], p["valid"], p["invalid"], p["marginal_sheets"]) == (4, 3, 1, 1)
    assert p["votes"]["p-02"] == 2 and p["preferences"]["p-02"]["3"] == 1
    assert all(r["ok"] for r in body["control"])
    assert body["test_mode"] is False
    # Pure: the same values give the same bytes, hence the same hash.
    assert protocol_hash(body) == protocol_hash(build_protocol(election, fold(election, SHEETS), 1700,
                                                               1234, CLOSED_AT))


DISTRICT_07 = candidate_contest("district-07", ["c-01", "c-02"])
DISTRICT_08 = candidate_contest("district-08", ["c-11", "c-12"])
PARTY_LIST = party_list_contest("party-list", {"p-01": 10})
# DOMAIN.md "Ballots and contests": candidate contests are counted first, then party
# lists, whatever order the package lists them in.
ORDER = [
    ("candidate-listed-first", [DISTRICT_07, PARTY_LIST], ["district-07", "party-list"]),
    ("party-list-listed-first", [PARTY_LIST, DISTRICT_07], ["district-07", "party-list"]),
    ("two-districts-around-the-list", [DISTRICT_08, PARTY_LIST, DISTRICT_07],
     ["district-08", "district-07", "party-list"]),
]


@pytest.mark.parametrize("contests,order", [c[1:] for c in ORDER], ids=[c[0] for c in ORDER])
def test_counting_order(contests, order):
    assert counting_order(build_election(*contests)) == order


# Control relations (DOMAIN.md "Identification at the station": the receipts are the control
# of the ballots found in the box; "Results"): (id, on list, identified, ballots read, all hold)
CONTROL = [
    ("all-ok", 10, 8, 5, True),
    ("more-ballots-than-identified", 10, 3, 5, False),
    ("more-ballots-than-on-list", 4, None, 5, False),
    ("identify-summary-absent", 10, None, 5, True),
    ("identified-exceeds-list", 5, 6, 2, False),
]


@pytest.mark.parametrize("on_list,identified,ballots,ok", [c[1:] for c in CONTROL],
                         ids=[c[0] for c in CONTROL])
def test_control_relations(on_list, identified, ballots, ok):
    contest = {"contest": "d", "ballots_read": ballots, "valid": ballots, "invalid": 0, "blank": 0,
               "votes": {"a": ballots}, "preferences": {}}
    rels = control_relations([contest], on_list, identified)
    assert all(r["ok"] for r in rels) is ok
    assert any(r["relation"] == "ballots<=identified" for r in rels) is (identified is not None)


def test_control_detects_inconsistent_counts():
    contest = {"contest": "pl", "ballots_read": 5, "valid": 3, "invalid": 1, "blank": 0,
               "votes": {"p": 2}, "preferences": {"p": {"1": 3}}}
    bad = {r["relation"] for r in control_relations([contest], 100, None) if not r["ok"]}
    assert bad == {"statuses=ballots", "votes=valid", "preferences<=party-votes"}


@pytest.fixture
def closed(tmp_path, manifest, election):
    paths = make_home(tmp_path / "st", manifest, state="open")
    store = CountStore.open(paths.count_db, election)
    for r in SHEETS:
        store.record_sheet(r, mode="real")
    sconn = open_station_db(paths.station_db)
    clock = FixedClock("2026-11-29T14:00:00+00:00")
    polls.apply(sconn, "close", clock=clock)
    yield paths, store, sconn, clock
    store.close()
    sconn.close()


def test_sign_verifies_with_device_key_and_enqueues(closed, election):
    paths, store, sconn, clock = closed
    key, outbox = device_outbox(paths, store.conn, election, clock=clock)
    sp = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                       voters_identified=9, clock=clock)
    assert polls.current(sconn) == PollsState.PROTOCOL_SIGNED
    assert verify_protocol(sp.document, device_public()) == sp.body
    assert sp.body["closed_at"] == CLOSED_AT and sp.hash == protocol_hash(sp.body)
    (pending,) = outbox.pending(10)
    env = pending.envelope
    assert env["kind"] == "results-protocol" and env["stream"] == "count" and env["body"] == sp.body
    verify_envelope(env, device_public())
    with pytest.raises(VerificationError):
        verify_protocol(sp.document, signing.public_key(signing.generate_key()))
    # Idempotent once signed: same protocol, nothing enqueued again.
    assert sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                         voters_identified=9, clock=clock) == sp
    assert outbox.depth() == 1


def test_crash_between_files_is_completed_once(closed, election):
    paths, store, sconn, clock = closed
    key, outbox = device_outbox(paths, store.conn, election, clock=clock)
    sp = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                       voters_identified=9, clock=clock, crash_after_enqueue=True)
    assert polls.current(sconn) == PollsState.CLOSED and outbox.depth() == 1
    # Signing again (the commission presses again) reuses the signed row: no second envelope.
    assert complete_signed_protocol(store, sconn, clock=clock) == sp
    assert polls.current(sconn) == PollsState.PROTOCOL_SIGNED
    assert outbox.depth() == 1 and latest_protocol(store) == sp
    assert complete_signed_protocol(store, sconn, clock=clock) is None


def test_retry_after_crash_does_not_enqueue_twice(closed, election):
    paths, store, sconn, clock = closed
    key, outbox = device_outbox(paths, store.conn, election, clock=clock)
    sp = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                       voters_identified=9, clock=clock, crash_after_enqueue=True)
    again = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                          voters_identified=9, clock=clock)
    assert again == sp and outbox.depth() == 1
    assert polls.current(sconn) == PollsState.PROTOCOL_SIGNED


def test_reopened_polls_make_a_new_revision(closed, election):
    paths, store, sconn, clock = closed
    key, outbox = device_outbox(paths, store.conn, election, clock=clock)
    sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                  voters_identified=9, clock=clock, crash_after_enqueue=True)
    polls.apply(sconn, "reopen", actor_role="technician", reason="box found unscanned", clock=clock)
    store.record_sheet(reading("district-07", choice="c-02"), mode="real")
    clock.advance(600)
    assert complete_signed_protocol(store, sconn, clock=clock) is None   # polls are open
    polls.apply(sconn, "close", clock=clock)
    assert complete_signed_protocol(store, sconn, clock=clock) is None   # stale row: not completed
    sp2 = sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1700,
                        voters_identified=10, clock=clock)
    assert sp2.revision == 2 and sp2.body["contests"][0]["ballots_read"] == 5
    assert outbox.depth() == 2


def test_sign_needs_closed_polls(tmp_path, manifest, election):
    paths = make_home(tmp_path / "st", manifest, state="open")
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    key, outbox = device_outbox(paths, store.conn, election)
    with pytest.raises(PollsError):
        sign_protocol(store, sconn, election, key=key, outbox=outbox, voters_on_list=1,
                      voters_identified=None)
    assert latest_protocol(store) is None and outbox.depth() == 0


def test_test_mode_protocol_flagged(election):
    body = build_protocol(election, Tally.empty(election), 0, None, CLOSED_AT, test_mode=True)
    assert body["test_mode"] is True and all(c["ballots_read"] == 0 for c in body["contests"])
