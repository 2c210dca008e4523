"""Checks before display (issue #13 scope 3): a protocol is held, with its reason, when its own
numbers disagree with what the centre knows; revisions are ordered by arrival and listed with
what changed; the official manual count is used when it arrived, its differences flagged."""

from __future__ import annotations

import copy

import pytest
from sync_world import Station, protocol_body, receipt_pin, station_entry
from test_aggregate import deliver, enqueue

from central import aggregate
from central.portal.views import protocol_lines
from central.service import Receiver
from central.storage import Storage


@pytest.fixture
def rx(central_db, authority, ack_key):
    r = Receiver(Storage(central_db), ack_key, authority.public_key())
    r.register_stations([dict(station_entry("st-0041", 41), voters_on_list=2500)])
    r.storage.register_election("kg-2025-parl", "2025-11-30", "Asia/Bishkek", "08:00", "20:00")
    yield r
    r.storage.close()


@pytest.fixture
def st(tmp_path, authority):
    s = Station(tmp_path / "st", authority, station_id="st-0041")
    yield s
    s.close()


def held(rx) -> list[str]:
    rep = aggregate.station_report(rx.storage, "st-0041")
    assert rep["status"] == "held"
    return rep["reasons"]


def test_a_protocol_cannot_bring_its_own_list(rx, st):
    st.add_receipts(800)
    enqueue(st, "results-protocol", protocol_body("st-0041", 800, on_list=9000))
    deliver(rx, st)
    assert any("9000 in the protocol, 2500 registered" in r for r in held(rx))
    assert aggregate.results(rx.storage, "national")["stations_counted"] == 0


def test_identified_without_receipts_behind_it_is_held(rx, st):
    st.add_receipts(100)
    enqueue(st, "results-protocol", protocol_body("st-0041", 2000, on_list=2500))
    deliver(rx, st)
    assert any("2000 identified in the protocol but 100 receipts" in r for r in held(rx))


def test_within_tolerance_is_shown(rx, st):
    st.add_receipts(797)        # 800 identified, tolerance max(3, 1%) = 8
    enqueue(st, "results-protocol", protocol_body("st-0041", 800, on_list=2500))
    deliver(rx, st)
    assert aggregate.station_report(rx.storage, "st-0041")["status"] == "verified"


def test_a_failed_control_relation_is_held(rx, st):
    st.add_receipts(800)
    p = protocol_body("st-0041", 800, on_list=2500)
    p["control"] = [{"relation": "ballots<=identified", "ok": False, "detail": "901 > 900"}]
    enqueue(st, "results-protocol", p)
    deliver(rx, st)
    assert any("ballots<=identified fails" in r for r in held(rx))


@pytest.mark.parametrize("closed_at, why", [
    ("9999-12-31T23:59:59Z", "outside the election's window"),
    ("2025-11-28T20:00:00Z", "outside the election's window"),
])
def test_dates_outside_the_day_are_held(rx, st, closed_at, why):
    st.add_receipts(800)
    p = protocol_body("st-0041", 800, on_list=2500)
    p["closed_at"] = closed_at
    enqueue(st, "results-protocol", p)
    deliver(rx, st)
    reasons = held(rx)
    assert any(why in r for r in reasons)
    if closed_at.startswith("9999"):
        assert any("certificate's validity" in r for r in reasons)


def test_a_far_future_closed_at_does_not_hide_a_later_revision(rx, st):
    st.add_receipts(800)
    p = protocol_body("st-0041", 800, on_list=2500)
    first = copy.deepcopy(p)
    first["closed_at"] = "9999-12-31T23:59:59Z"
    enqueue(st, "results-protocol", first)
    enqueue(st, "results-protocol", p)        # the correction arrives later, with a true date
    deliver(rx, st)
    rep = aggregate.station_report(rx.storage, "st-0041")
    assert rep["status"] == "verified" and rep["protocol"]["closed_at"] == p["closed_at"]
    assert [r["n"] for r in rep["revisions"]] == [1, 2]
    assert rep["revisions"][1]["changes"] == [{"line": "closed_at", "from": "9999-12-31T23:59:59Z",
                                               "to": p["closed_at"]}]


def manual_revision(machine: dict, changes: dict[str, int], explanation: str | None = None) -> dict:
    """A later revision carrying the commission's manual count (count/manual_count.py's shape)."""
    lines = [{"line": "voters_identified", "contest": None, "machine": machine["voters_identified"]}]
    for c in machine["contests"]:
        cid = c["contest"]
        lines += [{"line": f"{cid}/ballots_found", "contest": cid, "machine": c["ballots_read"]},
                  {"line": f"{cid}/valid", "contest": cid, "machine": c["valid"]},
                  {"line": f"{cid}/invalid", "contest": cid, "machine": c["invalid"] + c["blank"]}]
        lines += [{"line": f"{cid}/votes:{o}", "contest": cid, "machine": n} for o, n in c["votes"].items()]
    for line in lines:
        line["manual"] = changes.get(line["line"], line["machine"])
        line["difference"] = line["manual"] - line["machine"]
    body = copy.deepcopy(machine)
    body["manual_count"] = {"lines": lines, "control": [{"relation": "votes=valid", "ok": True}],
                            "explanation": explanation,
                            "differences": sum(1 for x in lines if x["difference"])}
    body["supersedes"] = "0" * 64
    return body


def test_the_manual_count_is_official_and_its_differences_flagged(rx, st):
    st.add_receipts(800)
    machine = protocol_body("st-0041", 800, on_list=2500)
    enqueue(st, "results-protocol", machine)
    c0 = machine["contests"][0]
    # The commission found 10 more votes for cand-1 and 10 more valid ballots, 10 fewer invalid.
    manual = manual_revision(machine, {"district-07/votes:cand-1": c0["votes"]["cand-1"] + 10,
                                       "district-07/valid": c0["valid"] + 10,
                                       "district-07/invalid": c0["invalid"] + c0["blank"] - 10})
    enqueue(st, "results-protocol", manual)
    deliver(rx, st)
    rep = aggregate.station_report(rx.storage, "st-0041")
    assert rep["status"] == "verified" and rep["official"]["source"] == "manual"
    flagged = {x["line"] for x in rep["comparison"] if x["flagged"]}
    assert flagged == {"district-07/votes:cand-1", "district-07/valid", "district-07/invalid"}
    res = aggregate.results(rx.storage, "national")["groups"][0]
    assert res["manual"] == 1
    assert res["contests"]["district-07"]["votes"]["cand-1"] == c0["votes"]["cand-1"] + 10
    assert res["contests"]["district-07"]["blank"] == 0       # no mark is invalid in the manual form
    changes = {c["line"] for c in rep["revisions"][1]["changes"]}
    assert "manual district-07/votes:cand-1" in changes


def test_manual_relations_failing_without_explanation_are_held(rx, st):
    st.add_receipts(800)
    machine = protocol_body("st-0041", 800, on_list=2500)
    manual = manual_revision(machine, {})
    manual["manual_count"]["control"] = [{"relation": "votes=valid", "ok": False}]
    enqueue(st, "results-protocol", manual)
    deliver(rx, st)
    assert any("fails with no explanation" in r for r in held(rx))


def test_a_package_manifest_registers_the_list_and_the_day(rx):
    manifest = {"election": {"id": "kg-2026", "voting_day": "2026-03-01", "time_zone": "Asia/Bishkek"},
                "station": {**station_entry("UIK-9", 9), "voters_on_list": None} | {"id": "UIK-9"},
                "voters": {"file": "voters.csv", "rows": 300}}
    del manifest["station"]["voters_on_list"]
    rx.register_stations(manifest)
    assert rx.storage.station("UIK-9")["voters_on_list"] == 300
    assert rx.storage.elections()["kg-2026"]["voting_day"] == "2026-03-01"


def test_public_anomalies_carry_no_pin(rx, st, tmp_path, authority):
    other = Station(tmp_path / "b", authority, station_id="st-0041")
    st.add_receipts(3)
    other.add_receipts(3)         # the same PINs from a second device
    deliver(rx, st)
    deliver(rx, other)
    assert aggregate.public_anomalies(rx.storage)["double_identifications"] == 0  # same station
    assert len(aggregate.anomalies(rx.storage)["double_identification"]) == 0
    text = str(aggregate.public_anomalies(rx.storage))
    assert not any(receipt_pin(i) in text for i in range(3)) and "R-0000" not in text
    other.close()


def test_hierarchy_and_breadcrumbs(rx):
    rx.register_stations([station_entry(f"st-{n:04d}", n) for n in (41, 42, 43)])
    tree = aggregate.hierarchy(rx.storage)
    assert [r["code"] for r in tree["children"]] == ["R1", "R0"]
    crumbs = aggregate.parents(rx.storage, "tik", "TIK-1")
    assert [c["level"] for c in crumbs] == ["region", "oik", "tik"]
    assert aggregate.turnout_series(rx.storage, "region", "R1")["stations"] == 2


def test_preference_lines_of_the_manual_count_show_only_where_counted():
    body = protocol_body("st-0041", 800, on_list=2500)
    manual = manual_revision(body, {})
    manual["manual_count"]["lines"] += [
        {"line": "party-list/pref:party-1:3", "contest": "party-list", "machine": 3, "manual": 4,
         "difference": 1},
        {"line": "party-list/pref:party-1:4", "contest": "party-list", "machine": 0, "manual": 0,
         "difference": 0}]
    rows = {r["key"]: r for g in protocol_lines(manual, aggregate.manual_comparison(manual)) for r in g["rows"]}
    assert rows["party-list/pref:party-1:3"]["option"] == "party-1"
    assert rows["party-list/pref:party-1:3"]["number"] == "3"
    assert "party-list/pref:party-1:4" not in rows
    assert aggregate.official_figures(manual)[2]["party-list"]["votes"] == body["contests"][1]["votes"]
