"""Central aggregation: checked totals, held stations, turnout, gaps, double identification."""

from __future__ import annotations

import pytest
from sync_world import Station, protocol_body, receipt_body, station_entry

from base.sqlite import atomic
from central import aggregate
from central.service import Receiver
from central.storage import Storage
from sync.canonical import parse
from sync.envelope import encode_batch, make_batch


@pytest.fixture
def rx(central_db, authority, ack_key):
    r = Receiver(Storage(central_db), ack_key, authority.public_key())
    r.register_stations([station_entry(f"st-{n:04d}", n) for n in (41, 42, 43, 44)])
    yield r
    r.storage.close()


@pytest.fixture
def make_station(tmp_path, authority):
    made = []

    def make(sid):
        s = Station(tmp_path / sid, authority, station_id=sid)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


def deliver(rx, st, stream=None, skip=()):
    """Send every pending envelope (but ``skip``) straight to the receiver and acknowledge."""
    for s in [stream] if stream else ["identify", "count"]:
        while envs := [p.data for p in st.outboxes[s].pending(1000) if p.seq not in skip][:400]:
            batch = make_batch(st.device_id, s, [parse(d) for d in envs], st.cert)
            reply = rx.handle_batch(encode_batch(batch), "gzip")
            assert reply.status == 200, reply.body
            st.outboxes[s].acknowledge(reply.body, rx.ack_key.public_key())


def enqueue(st, kind, body, stream="count"):
    with atomic(st.conns[stream]):
        st.outboxes[stream].enqueue(kind, body)


def test_totals_from_checked_protocols_only(rx, make_station):
    good, bad_sum, too_many, test = (make_station(f"st-{n:04d}") for n in (41, 42, 43, 44))
    for st, n in ((good, 500), (bad_sum, 400), (too_many, 300), (test, 100)):
        st.add_receipts(n)
    good.add_protocol(500)
    p = protocol_body("st-0042", 400)
    p["contests"][0]["valid"] += 1  # valid + invalid + blank no longer equals ballots read
    enqueue(bad_sum, "results-protocol", p)
    p = protocol_body("st-0043", 300)
    p["voters_identified"] = None  # fall back to receipts: 300 receipts, 301 ballots
    p["contests"][1]["ballots_read"] = 301
    p["contests"][1]["invalid"] += 1
    enqueue(too_many, "results-protocol", p)
    p = protocol_body("st-0044", 100)
    p["test_mode"] = True
    enqueue(test, "results-protocol", p)
    for st in (good, bad_sum, too_many, test):
        deliver(rx, st)
    res = aggregate.results(rx.storage, "uik")
    assert [g["code"] for g in res["groups"] if g["stations"]] == ["st-0041"]
    assert {g["code"]: g["held"] for g in res["groups"]} == {"st-0041": 0, "st-0042": 1, "st-0043": 1,
                                                               "st-0044": 0}
    held = {h["station"]: h["reasons"] for h in res["held"]}
    assert set(held) == {"st-0042", "st-0043"}
    assert any("!= read" in r for r in held["st-0042"])
    assert any("301 ballots but 300 identified" in r for r in held["st-0043"])
    region = aggregate.results(rx.storage, "region")
    total = sum(g["contests"]["party-list"]["valid"] for g in region["groups"] if g["stations"])
    assert total == protocol_body("st-0041", 500)["contests"][1]["valid"]
    assert all(0 <= s <= 1 for g in region["groups"] for c in g["contests"].values()
               for s in c["shares"].values())
    st = aggregate.stations(rx.storage)
    assert [v["station"] for v in st["verified"]] == ["st-0041"]
    assert st["missing"] == ["st-0044"]  # its only protocol is a test-mode one


def test_share_above_100_percent_is_held(rx, make_station):
    st = make_station("st-0041")
    st.add_receipts(10)
    rx.register_stations([dict(station_entry("st-0041", 41), voters_on_list=5)])
    p = protocol_body("st-0041", 10, on_list=5)
    enqueue(st, "results-protocol", p)
    deliver(rx, st)
    res = aggregate.results(rx.storage, "oik")
    assert sum(g["stations"] for g in res["groups"]) == 0
    assert "share above 100%" in res["held"][0]["reasons"][0]


def test_turnout_series_and_flag(rx, make_station):
    st = make_station("st-0041")
    st.add_receipts(1300)
    deliver(rx, st, "identify")
    t = aggregate.turnout(rx.storage, "hour")
    s = t["stations"][0]
    assert s["identified"] == 1300 and s["series"][-1]["cumulative"] == 1300
    assert [x["t"][-2:] for x in s["series"]] == ["08", "09", "10"]
    assert s["share"] == 0.65 and t["total"]["share"] == 0.65
    rx.register_stations([dict(station_entry("st-0041", 41), voters_on_list=1000)])
    s = aggregate.turnout(rx.storage)["stations"][0]
    assert s["share"] is None and s["flags"]


def test_same_voter_at_two_stations(rx, make_station):
    a, b = make_station("st-0041"), make_station("st-0042")
    a.add_receipts(3)
    with atomic(b.conns["identify"]):
        b.outboxes["identify"].enqueue("identification-receipt", receipt_body(1))  # same pin
    deliver(rx, a)
    deliver(rx, b)
    d = aggregate.anomalies(rx.storage)["double_identification"]
    assert [{k: x[k] for k in ("pin", "stations", "receipts")} for x in d] == \
        [{"pin": receipt_body(1)["pin"], "stations": ["st-0041", "st-0042"], "receipts": 2}]
    # Both identifications named: station, time and receipt of each, the first first.
    assert [(i["station"], i["receipt"], i["at"]) for i in d[0]["identifications"]] == \
        [("st-0041", "R-000001", receipt_body(1)["identified_at"]),
         ("st-0042", "R-000001", receipt_body(1)["identified_at"])]


def test_gaps_reported_then_closed_and_protocol_verified_only_when_whole(rx, make_station):
    st = make_station("st-0041")
    st.add_receipts(20)
    st.add_protocol(20)  # count seq 1 polls-event, seq 2 protocol
    deliver(rx, st, "identify", skip={3, 4})
    deliver(rx, st, "count", skip={1})
    an = aggregate.anomalies(rx.storage)
    gaps = {g["stream"]: g["missing"] for g in an["gaps"]}
    assert gaps == {"identify": [3, 4], "count": [1]}
    assert aggregate.stations(rx.storage)["verified"] == []
    deliver(rx, st)
    assert aggregate.anomalies(rx.storage)["gaps"] == []
    assert [v["station"] for v in aggregate.stations(rx.storage)["verified"]] == ["st-0041"]


def test_malformed_body_is_an_anomaly_not_a_crash(rx, make_station):
    st = make_station("st-0041")
    enqueue(st, "identification-receipt", {"receipt": 5}, stream="identify")
    enqueue(st, "results-protocol", {"contests": "many"})
    deliver(rx, st)
    codes = [a["code"] for a in aggregate.anomalies(rx.storage)["stored"]]
    assert codes.count("bad-body") == 2
    assert rx.storage.envelope_count() == 2  # signed and chained: stored, not aggregated
