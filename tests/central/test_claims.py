"""Online claims (issue #14 point 2): the centre grants each voter at most once across all stations,
by a database constraint; the answer is signed and bound to the claim; bad claims change nothing."""

from __future__ import annotations

import json
import multiprocessing

import pytest
import requests
from sync_world import Central, Station, station_entry
from test_aggregate import deliver

from central.claims import ClaimDesk
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.certificate import cert_ref
from sync.claims import make_claim, open_answer
from sync.errors import VerificationError

VOTER = "21501199000123"           # home station st-0041, home district OIK-1


def site_entry(sid: str, n: int, district: str, remote: bool) -> dict:
    e = station_entry(sid, n)
    return {**e, "kind": "remote-site" if remote else "station", "district": district,
            "oik": {"code": district, "name": district}}


@pytest.fixture
def world(tmp_path, central_db, authority, ack_key):
    rx = Receiver(Storage(central_db), ack_key, authority.public_key())
    rx.register_stations([site_entry("st-0041", 41, "OIK-1", False), site_entry("st-0042", 42, "OIK-2", False),
                          site_entry("rv-01", 901, "OIK-2", True), site_entry("rv-02", 902, "OIK-3", True),
                          site_entry("rv-03", 903, "OIK-1", True), site_entry("rv-04", 904, "OIK-4", True)])
    rx.storage.register_national_voters([(VOTER, "st-0041", "OIK-1"), ("11203198500042", "st-0042", "OIK-2")])
    devices = {sid: Station(tmp_path / sid, authority, station_id=sid)
               for sid in ("st-0041", "st-0042", "rv-01", "rv-02", "rv-03", "rv-04")}
    for d in devices.values():
        rx.enroll(d.cert)
    yield rx, devices
    for d in devices.values():
        d.close()
    rx.storage.close()


def claim(dev: Station, pin: str = VOTER, receipt: str = "R-000001", at: str = "2025-11-30T05:00:00Z",
          **kw) -> dict:
    return make_claim(dev.key, cert_ref(dev.cert), election=dev.signer.election_id, station=dev.station_id,
                      device=dev.device_id, pin=pin, receipt=receipt, at=at, **kw)


def ask(rx, doc) -> dict:
    reply = ClaimDesk(rx).handle(json.dumps(doc).encode(), "10.0.0.1")
    assert reply.status == 200, reply.body
    return open_answer(reply.body, rx.ack_key.public_key(), doc)


def test_granted_once_then_already_identified_elsewhere(world):
    rx, d = world
    first = ask(rx, claim(d["rv-01"]))
    assert first["decision"] == "granted" and first["reason"] is None
    second = ask(rx, claim(d["rv-02"], receipt="R-000077", at="2025-11-30T07:30:00Z"))
    assert second["decision"] == "refused" and second["reason"] == "already-identified"
    assert second["first"] == {"station": "rv-01", "at": "2025-11-30T05:00:00Z", "receipt": "R-000001"}
    home = ask(rx, claim(d["st-0041"], receipt="R-000002"))        # voted remotely: refused at home
    assert home["decision"] == "refused" and home["first"]["station"] == "rv-01"
    codes = [a["code"] for a in rx.storage.anomalies()]
    assert codes.count("claim-refused") == 2


def test_a_replayed_claim_gets_the_same_grant_and_counts_once(world):
    rx, d = world
    doc = claim(d["rv-01"])
    assert ask(rx, doc)["decision"] == "granted"
    assert ask(rx, doc)["decision"] == "granted"           # the link dropped before the answer
    assert rx.storage.identified_by_station() == {"rv-01": 1}


@pytest.mark.parametrize("site, why", [("rv-03", "home-district"), ("st-0042", "not-a-remote-site")])
def test_the_home_district_rule(world, site, why):
    rx, d = world
    a = ask(rx, claim(d[site]))
    assert (a["decision"], a["reason"]) == ("refused", why)
    assert rx.storage.identified_by_station() == {}


def test_a_voter_not_on_the_national_list(world):
    rx, d = world
    a = ask(rx, claim(d["rv-01"], pin="21501199000999"))
    assert (a["decision"], a["reason"]) == ("refused", "not-on-national-list")


def test_the_home_station_is_granted_its_own_voter(world):
    rx, d = world
    assert ask(rx, claim(d["st-0041"]))["decision"] == "granted"


def test_a_claim_then_its_receipt_is_one_identification_and_another_station_is_a_double(world, tmp_path):
    rx, d = world
    home = d["st-0041"]
    home.add_receipts(1)            # sync_world receipt 0: R-000000 of PIN receipt_pin(0, 42)
    body_pin = json.loads(home.outboxes["identify"].pending(1)[0].data)["body"]["pin"]
    rx.storage.register_national_voters([(body_pin, "st-0041", "OIK-1")])
    assert ask(rx, claim(home, pin=body_pin, receipt="R-000000"))["decision"] == "granted"
    deliver(rx, home)               # the receipt behind the claim arrives: the same identification
    assert rx.storage.identified_by_station() == {"st-0041": 1}
    assert rx.storage.double_identifications() == []
    other = d["st-0042"]
    other.add_receipts(1)           # issued offline (provisional) elsewhere with the same PIN
    deliver(rx, other)
    assert rx.storage.double_identifications() == [(body_pin, ["st-0041", "st-0042"], 2)]


def test_bad_claims_change_nothing(world, authority):
    rx, d = world
    desk = ClaimDesk(rx)
    forged = claim(d["rv-01"])
    forged["signed"]["pin"] = "11203198500042"            # signature no longer covers it
    rogue = Station(d["rv-01"].home.parent / "rogue", signing.generate_key(), station_id="rv-01")
    cases = [(b"{not json", 400), (json.dumps({"signed": {}}).encode(), 400),
             (json.dumps(forged).encode(), 403), (json.dumps(claim(rogue)).encode(), 403),
             (b"x" * 5000, 413)]
    for data, status in cases:
        assert desk.handle(data, "10.0.0.9").status == status
    assert rx.storage.identified_by_station() == {}
    rogue.close()


def test_an_answer_for_another_claim_or_voter_or_key_is_refused(world):
    rx, d = world
    mine, other = claim(d["rv-01"]), claim(d["rv-02"], pin="11203198500042", receipt="R-9")
    answer = ClaimDesk(rx).handle(json.dumps(other).encode()).body
    with pytest.raises(VerificationError, match="another claim"):
        open_answer(answer, rx.ack_key.public_key(), mine)
    good = ClaimDesk(rx).handle(json.dumps(mine).encode()).body
    with pytest.raises(VerificationError):
        open_answer(good, signing.generate_key().public_key(), mine)
    tampered = json.loads(json.dumps(good))
    tampered["signed"]["decision"] = "granted" if good["signed"]["decision"] == "refused" else "refused"
    with pytest.raises(VerificationError):
        open_answer(tampered, rx.ack_key.public_key(), mine)


def _claim_in_process(db, ack_key, authority_pub, barrier, data, out):
    rx = Receiver(Storage(db), ack_key, authority_pub)
    barrier.wait(timeout=60)
    out.put(ClaimDesk(rx).handle(data).body["signed"]["decision"])
    rx.storage.close()


def test_four_sites_claim_one_voter_at_once_one_grant(world, central_db, ack_key, authority):
    rx, d = world
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(4), ctx.Queue()
    docs = [claim(d[s], receipt=f"R-{k}") for k, s in enumerate(("rv-01", "rv-02", "rv-04", "st-0041"))]
    procs = [ctx.Process(target=_claim_in_process, args=(central_db, ack_key, authority.public_key(),
                                                         barrier, json.dumps(doc).encode(), out))
             for doc in docs]
    for p in procs:
        p.start()
    decisions = sorted(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert decisions == ["granted", "refused", "refused", "refused"]
    assert sum(rx.storage.identified_by_station().values()) == 1


def test_claims_over_http(tmp_path, central_db, authority, ack_key):
    central = Central(central_db, ack_key, authority.public_key(), election=None)
    rx = central.receiver
    rx.register_stations([site_entry("st-0041", 41, "OIK-1", False), site_entry("rv-02", 902, "OIK-3", True)])
    rx.storage.register_national_voters([(VOTER, "st-0041", "OIK-1")])
    site = Station(tmp_path / "rv", authority, station_id="rv-02")
    rx.enroll(site.cert)
    try:
        doc = claim(site)
        r = requests.post(central.url + "/v1/claims", data=json.dumps(doc), timeout=10)
        assert r.status_code == 200
        assert open_answer(r.json(), ack_key.public_key(), doc)["decision"] == "granted"
        again = requests.post(central.url + "/v1/claims", data=json.dumps(claim(site, receipt="R-2")), timeout=10)
        assert open_answer(again.json(), ack_key.public_key(), claim(site, receipt="R-2"))["reason"] == \
            "already-identified"
        assert requests.post(central.url + "/v1/claims", data=b"[1,", timeout=10).status_code == 400
        assert requests.post(central.url + "/v1/claims", data=b"x" * 6000, timeout=10).status_code == 413
    finally:
        site.close()
        central.close()
