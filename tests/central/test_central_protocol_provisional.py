"""The centre reads a protocol's ``provisional`` section (issue #14 point 3: ballots issued on a
provisional claim, counted apart): shown on the station's report, checked before display; a
protocol without the section (every protocol signed before it existed) is read as before."""

from __future__ import annotations

import pytest
from sync_world import Station, protocol_body, station_entry
from test_aggregate import deliver, enqueue

from central import aggregate
from central.service import Receiver
from central.storage import Storage

PROVISIONAL = {"issued": 3, "granted_later": 1, "refused_later": 1, "unanswered": 1}


@pytest.fixture
def rx(central_db, authority, ack_key):
    r = Receiver(Storage(central_db), ack_key, authority.public_key())
    r.register_stations([dict(station_entry("st-0051", 51), voters_on_list=2500)])
    r.storage.register_election("kg-2025-parl", "2025-11-30", "Asia/Bishkek", "08:00", "20:00")
    yield r
    r.storage.close()


@pytest.fixture
def st(tmp_path, authority):
    s = Station(tmp_path / "st", authority, station_id="st-0051")
    yield s
    s.close()


def report_of(rx, st, provisional):
    st.add_receipts(800)
    body = protocol_body("st-0051", 800, on_list=2500)
    if provisional is not None:
        body["provisional"] = provisional
    enqueue(st, "results-protocol", body)
    deliver(rx, st)
    return aggregate.station_report(rx.storage, "st-0051")


def test_the_provisional_count_is_on_the_station_report(rx, st):
    rep = report_of(rx, st, PROVISIONAL)
    assert rep["status"] == "verified", rep["reasons"]
    assert rep["provisional"] == PROVISIONAL


def test_a_protocol_without_the_section_is_read_as_before(rx, st):
    rep = report_of(rx, st, None)
    assert rep["status"] == "verified" and rep["provisional"] is None


HELD = [
    ("not-a-table", [3, 1, 1, 1], "provisional section malformed"),
    ("a-field-missing", {"issued": 3, "granted_later": 3, "refused_later": 0}, "provisional section malformed"),
    ("negative", PROVISIONAL | {"unanswered": -1, "refused_later": 3}, "provisional section malformed"),
    ("answers-do-not-add-up", PROVISIONAL | {"unanswered": 5}, "do not add up to the 3 issued"),
    ("more-than-identified", {"issued": 801, "granted_later": 801, "refused_later": 0, "unanswered": 0},
     "801 issued but 800 identified"),
]


@pytest.mark.parametrize("provisional,words", [r[1:] for r in HELD], ids=[r[0] for r in HELD])
def test_a_bad_provisional_section_holds_the_protocol(rx, st, provisional, words):
    rep = report_of(rx, st, provisional)
    assert rep["status"] == "held" and any(words in r for r in rep["reasons"]), rep["reasons"]
