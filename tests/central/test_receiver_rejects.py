"""The receiver refuses forged, replayed, foreign, oversized and malformed input, and keeps serving."""

from __future__ import annotations

import gzip
import json
import socket

import pytest
import requests
from sync_world import OPERATOR, Central, Station, receipt_body, station_entry

from central.service import JunkBudget
from sync import signing
from sync.canonical import canonical
from sync.envelope import ZERO_HASH, make_batch, signing_bytes


@pytest.fixture
def world(tmp_path, central_db, authority, ack_key):
    st = Station(tmp_path / "st", authority)
    central = Central(central_db, ack_key, authority.public_key())
    yield st, central, authority
    central.close()
    st.close()


def post(central, batch, *, raw=None, headers=None):
    data = raw if raw is not None else json.dumps(batch).encode()
    return requests.post(central.url + "/v1/batches", data=data, timeout=10,
                         headers=headers or {"Content-Type": "application/json"})


def resign(key, env):
    env = {k: v for k, v in env.items() if k != "signature"}
    env["signature"] = signing.b64(signing.sign(key, canonical(env)))
    return env


def sealed(st, seq=1, prev=ZERO_HASH, body=None):
    return st.signer.seal("identify", seq, prev, "identification-receipt",
                          body or receipt_body(seq)).envelope


def one(central, st, env, cert=True):
    r = post(central, make_batch(st.device_id, "identify", [env], st.cert if cert else None))
    assert r.status_code == 200, r.text
    return r.json()["signed"]["results"][0]


def test_forged_signature(world):
    st, central, _ = world
    env = sealed(st)
    env["body"]["pin"] = "29999999999999"
    res = one(central, st, env)
    assert res["status"] == "rejected" and res["reason"].startswith("bad-signature")


def test_valid_envelope_replayed_under_another_seq(world):
    st, central, _ = world
    e1 = sealed(st)
    assert one(central, st, e1)["status"] == "stored"
    replay = dict(e1, seq=7, prev="ab" * 32)
    assert one(central, st, replay)["reason"].startswith("bad-signature")
    assert one(central, st, e1)["status"] == "duplicate"
    assert central.receiver.storage.envelope_count() == 1


def test_fork_same_seq_other_content(world):
    st, central, _ = world
    assert one(central, st, sealed(st))["status"] == "stored"
    res = one(central, st, sealed(st, body=receipt_body(99)))
    assert res["reason"].startswith("fork")


def test_chain_mismatch(world):
    st, central, _ = world
    assert one(central, st, sealed(st))["status"] == "stored"
    assert one(central, st, sealed(st, 2, "cd" * 32))["reason"].startswith("chain-mismatch")


def test_unenrolled_device(world, tmp_path):
    st, central, _ = world
    r = post(central, make_batch(st.device_id, "identify", [sealed(st)], None))
    assert r.status_code == 403 and r.json()["error"] == "unenrolled-device"


def test_certificate_from_another_authority(world, tmp_path):
    st, central, _ = world
    rogue = Station(tmp_path / "rogue", signing.generate_key())
    r = post(central, make_batch(rogue.device_id, "identify", [sealed(rogue)], rogue.cert))
    assert r.status_code == 403 and r.json()["error"] == "bad-certificate"
    rogue.close()


def test_another_station(world, tmp_path):
    st, central, authority = world
    env = resign(st.key, dict(sealed(st), station="st-0999"))
    assert one(central, st, env)["reason"].startswith("wrong-station")
    other = Station(tmp_path / "other", authority, station_id="st-0999")
    central.receiver.register_stations([station_entry("st-0042", 42)])
    assert one(central, other, sealed(other))["reason"].startswith("wrong-station")
    other.close()


def test_wrong_election(tmp_path, world):
    st, central, authority = world
    other = Station(tmp_path / "other", authority, election="kg-2021-pres")
    r = post(central, make_batch(other.device_id, "identify", [sealed(other)], other.cert))
    assert r.status_code == 403  # its certificate is for another election
    env = resign(st.key, dict(sealed(st), election="kg-2021-pres"))
    assert one(central, st, env)["reason"].startswith("wrong-election")
    other.close()


def test_body_over_size_limit(world):
    st, central, _ = world
    body = receipt_body(1) | {"pad": "x" * 70_000}
    env = {"version": 1, "kind": "identification-receipt", "election": "kg-2025-parl",
           "station": st.station_id, "device": st.device_id, "stream": "identify", "seq": 1,
           "prev": ZERO_HASH, "created_at": "2025-11-30T08:00:00Z", "body": body,
           "cert": st.signer.cert_ref}
    env["signature"] = signing.b64(signing.sign(st.key, signing_bytes(env)))
    assert one(central, st, env)["reason"].startswith("too-large")


MALFORMED = [
    ("not-json", b"{not json", {}),
    ("json-array", b"[1,2]", {}),
    ("not-utf8", b"\xff\xfe\x00", {}),
    ("bad-gzip", b"\x1f\x8bgarbage", {"Content-Encoding": "gzip"}),
    ("gzip-bomb", gzip.compress(b" " * (6 * 1024 * 1024)), {"Content-Encoding": "gzip"}),
    ("unknown-encoding", b"{}", {"Content-Encoding": "br"}),
    ("envelopes-not-list", json.dumps({"type": "uchastok-batch", "version": 1, "device": "dev-1",
                                       "stream": "identify", "certificate": None,
                                       "envelopes": {}}).encode(), {}),
]


@pytest.mark.parametrize("data,headers", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_batches(world, data, headers):
    st, central, _ = world
    r = post(central, None, raw=data, headers={"Content-Type": "application/json", **headers})
    assert r.status_code in (400, 413)
    assert requests.get(central.url + "/v1/health", timeout=5).status_code == 200


def test_malformed_envelopes_inside_a_good_batch(world):
    st, central, _ = world
    good = sealed(st)
    bad = [None, 5, "x", {}, dict(good, seq="1"), dict(good, seq=2**60), dict(good, body=[1]),
           dict(good, extra=1), dict(good, created_at="yesterday"), dict(good, body={"x": 1.5})]
    r = post(central, make_batch(st.device_id, "identify", [*bad, good], st.cert))
    res = r.json()["signed"]["results"]
    assert [x["status"] for x in res] == ["rejected"] * len(bad) + ["stored"]


def test_raw_socket_abuse_never_kills_the_server(world):
    st, central, _ = world
    for payload in [b"GARBAGE\r\n\r\n", b"POST /v1/batches HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                    b"POST /v1/batches HTTP/1.1\r\n\r\n", b"POST /v1/batches HTTP/1.1\r\nContent-Length: 100\r\n\r\n{"]:
        with socket.create_connection(("127.0.0.1", central.port), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            s.recv(4096)
    assert one(central, st, sealed(st))["status"] == "stored"
    anomalies = requests.get(central.url + "/v1/anomalies", timeout=5, headers=OPERATOR).json()
    assert isinstance(anomalies["stored"], list)


def test_junk_over_http_is_counted_per_address_and_rate_limited(world):
    st, central, _ = world
    central.receiver.junk_budget = JunkBudget(capacity=2, per_second=0.01)
    codes = [post(central, None, raw=b"{}").status_code for _ in range(3)]
    r = post(central, None, raw=b"{}")
    assert codes == [400, 400, 429] and r.status_code == 429 and r.headers["Retry-After"] == "100"
    assert one(central, st, sealed(st))["status"] == "stored"      # a station behind it still gets acks
    an = requests.get(central.url + "/v1/anomalies", timeout=5, headers=OPERATOR).json()
    assert an["stored"] == [] and an["unauthenticated"]["clients"][0]["client"] == "127.0.0.1"


def test_a_flood_of_junk_never_hides_a_real_fork(world):
    st, central, _ = world
    assert one(central, st, sealed(st))["status"] == "stored"
    assert one(central, st, sealed(st, body=receipt_body(99)))["reason"].startswith("fork")
    statuses = {post(central, None, raw=b"{}").status_code for _ in range(1000)}   # no key needed
    assert statuses == {400, 429}
    an = requests.get(central.url + "/v1/anomalies", timeout=5, headers=OPERATOR).json()
    assert [(a["code"], a["device"], a["station"]) for a in an["stored"]] == [
        ("fork", st.device_id, "st-0042")]
    assert [(e["code"], e["count"]) for e in an["evidence"]] == [("fork", 1)]
    junk = an["unauthenticated"]["clients"]     # over the budget, counted in memory until next time
    assert {(j["client"], j["code"]) for j in junk} <= {("127.0.0.1", "batch-malformed"),
                                                        ("127.0.0.1", "rate-limited")}
    assert an["unauthenticated"]["total"] + central.receiver.junk_budget.suppressed["127.0.0.1"] == 1000


def test_junk_naming_a_real_device_is_not_charged_to_it(world):
    st, central, _ = world
    e1 = sealed(st)
    assert one(central, st, e1)["status"] == "stored"                  # enrolled, seq 1 stored
    forged = [dict(e1, seq=s, prev="ab" * 32) for s in range(2, 52)]   # device ids are public
    r = post(central, make_batch(st.device_id, "identify", forged, None))
    assert {x["reason"].split(":")[0] for x in r.json()["signed"]["results"]} == {"bad-signature"}
    an = requests.get(central.url + "/v1/anomalies", timeout=5, headers=OPERATOR).json()
    assert [a for a in an["stored"] if a["device"] == st.device_id or a["station"] == "st-0042"] == []
    (junk,) = an["unauthenticated"]["clients"]
    assert (junk["client"], junk["code"], junk["events"]) == ("127.0.0.1", "bad-signature", 50)
