"""The receiver's trust rules: one spelling per signature, kinds bound to streams and roles,
junk kept apart from signed evidence, real times and PINs, the integer version 1."""

from __future__ import annotations

import json

import pytest
from fixtures_sync import Device
from sync_world import protocol_body, receipt_body

from base.clock import FixedClock
from central import aggregate
from central.service import JunkBudget, Receiver, client_key
from central.storage import Storage
from sync import signing
from sync.canonical import canonical
from sync.envelope import ZERO_HASH, encode_batch, make_batch

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
NOW = "2025-11-30T08:00:00+00:00"


def respell(sig: str) -> str:
    """The same 64 bytes in another base64 spelling: a non-zero unused bit in the last character."""
    return sig[:85] + B64[B64.index(sig[85]) | 1] + "=="


@pytest.fixture
def rx(central_db, authority, ack_key):
    r = Receiver(Storage(central_db), ack_key, authority.public_key(),
                 election_id="kg-2025-parl", clock=FixedClock(NOW))
    yield r
    r.storage.close()


def send(rx, dev, stream, envs, *, client="192.0.2.7", cert=True):
    return rx.handle_batch(encode_batch(make_batch(dev.id, stream, envs, dev.cert if cert else None)),
                           "gzip", client)


def results(reply):
    assert reply.status == 200, reply.body
    return reply.body["signed"]["results"]


def resign(dev, env):
    env = {k: v for k, v in env.items() if k != "signature"}
    env["signature"] = signing.b64(signing.sign(dev.key, canonical(env)))
    return env


# --- finding 4: one spelling per signature --------------------------------------------------


def test_respelled_copy_sent_first_does_not_stick_the_stream(rx, authority):
    dev = Device(authority)
    e1 = dev.signer.seal("identify", 1, ZERO_HASH, "identification-receipt", receipt_body(1))
    copy = dict(e1.envelope, signature=respell(e1.envelope["signature"]))
    assert signing.b64(signing.unb64(e1.envelope["signature"])) == e1.envelope["signature"]
    (r,) = results(send(rx, dev, "identify", [copy]))   # e.g. from an observers' export
    assert r["status"] == "rejected" and r["reason"].startswith("malformed")
    e2 = dev.signer.seal("identify", 2, e1.hash, "identification-receipt", receipt_body(2))
    res = results(send(rx, dev, "identify", [e1.envelope, e2.envelope]))
    assert [x["status"] for x in res] == ["stored", "stored"]
    assert [x["hash"] for x in res] == [e1.hash, e2.hash]
    assert rx.storage.stream_head(dev.id, "identify") == (2, e2.hash)


def test_respelled_certificate_is_refused(rx, authority):
    dev = Device(authority)
    cert = dict(dev.cert, signature=respell(dev.cert["signature"]))
    env = dev.signer.seal("count", 1, ZERO_HASH, "polls-event",
                          {"event": "opened", "at": "2025-11-30T02:00:00Z"}).envelope
    reply = rx.handle_batch(encode_batch(make_batch(dev.id, "count", [env], cert)), "gzip", "192.0.2.7")
    assert reply.status == 403 and reply.body["error"] == "bad-certificate"


# --- finding 6: each kind on its stream, each stream in the certificate's roles -----------------


def test_count_only_device_cannot_store_a_receipt(rx, authority):
    dev = Device(authority, roles=("count",))
    on_identify = resign(dev, {**dev.signer.seal("count", 1, ZERO_HASH, "polls-event", {}).envelope,
                               "kind": "identification-receipt", "stream": "identify",
                               "body": receipt_body(1)})
    (r,) = results(send(rx, dev, "identify", [on_identify]))
    assert r["status"] == "rejected" and r["reason"].startswith("role-not-allowed")
    on_count = resign(dev, dict(on_identify, stream="count"))
    (r,) = results(send(rx, dev, "count", [on_count]))
    assert r["status"] == "rejected" and r["reason"].startswith("malformed")
    assert "travels on stream identify" in r["reason"]
    assert rx.storage.identified_by_station() == {}
    assert aggregate.turnout(rx.storage)["total"]["identified"] == 0


def test_identify_only_device_cannot_store_results(rx, authority):
    dev = Device(authority, roles=("identify",))
    env = resign(dev, {**dev.signer.seal("identify", 1, ZERO_HASH, "polls-event", {}).envelope,
                       "kind": "results-protocol", "body": protocol_body("st-0042", 100)})
    (r,) = results(send(rx, dev, "identify", [env]))
    assert r["status"] == "rejected" and r["reason"].startswith("malformed")
    env = resign(dev, dict(env, stream="count"))
    (r,) = results(send(rx, dev, "count", [env]))
    assert r["status"] == "rejected" and r["reason"].startswith("role-not-allowed")
    assert rx.storage.latest_protocols() == {}
    assert aggregate.results(rx.storage, "uik")["stations_counted"] == 0


def test_the_signer_refuses_a_kind_on_another_stream(authority):
    dev = Device(authority)
    with pytest.raises(Exception, match="travels on stream count"):
        dev.signer.seal("identify", 1, ZERO_HASH, "results-protocol", protocol_body("st-0042", 1))


# --- finding 7: junk is counted per client, signed evidence is always shown -------------------


def test_over_budget_junk_gets_429_but_signed_batches_still_get_acks(rx, authority):
    rx.junk_budget = JunkBudget(capacity=3, per_second=0.25)
    dev = Device(authority)
    replies = [rx.handle_batch(b"[]", None, "192.0.2.1") for _ in range(5)]
    assert [r.status for r in replies] == [400, 400, 400, 429, 429]
    assert replies[-1].headers["Retry-After"] == "4"
    assert rx.handle_batch(b"[]", None, "192.0.2.2").status == 400   # another client has its own
    e1 = dev.signer.seal("identify", 1, ZERO_HASH, "identification-receipt", receipt_body(1))
    res = results(send(rx, dev, "identify", [e1.envelope, {"junk": 1}], client="192.0.2.1"))
    assert [r["status"] for r in res] == ["stored", "rejected"]
    assert send(rx, dev, "identify", [{"junk": 1}], client="192.0.2.1").status == 429
    rx.clock.advance(4)
    assert rx.handle_batch(b"[]", None, "192.0.2.1").status == 400
    counts = {(j["client"], j["code"]): j["events"] for j in rx.storage.junk()}
    assert counts[("192.0.2.1", "rate-limited")] == 4 and counts[("192.0.2.1", "batch-malformed")] == 4


def test_unenrolled_and_foreign_certificates_are_junk(rx, authority):
    dev = Device(authority)
    rogue = Device(signing.generate_key())
    env = dev.signer.seal("count", 1, ZERO_HASH, "polls-event", {}).envelope
    assert send(rx, dev, "count", [env], cert=False).status == 403
    assert send(rx, rogue, "count", [env]).status == 403
    an = aggregate.anomalies(rx.storage)
    assert an["stored"] == []
    assert {j["code"] for j in an["unauthenticated"]["clients"]} == {"unenrolled-device",
                                                                      "bad-certificate"}


@pytest.mark.parametrize("address,key", [("192.0.2.7", "192.0.2.7"),
                                         ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
                                         ("::ffff:192.0.2.7", "192.0.2.7"), (None, "-")],
                         ids=["ipv4", "ipv6-64", "ipv4-mapped", "none"])
def test_client_key(address, key):
    assert client_key(address) == key


# --- finding 9: real times, real PINs, the integer version 1 -----------------------------------


def test_impossible_created_at_is_malformed(rx, authority):
    dev = Device(authority)
    env = resign(dev, dict(dev.signer.seal("identify", 1, ZERO_HASH, "identification-receipt",
                                           receipt_body(1)).envelope, created_at="2026-13-45T99:99:99Z"))
    (r,) = results(send(rx, dev, "identify", [env]))
    assert r["status"] == "rejected" and r["reason"].startswith("malformed")


def test_created_at_outside_the_certificate(rx, authority):
    dev = Device(authority)
    env = resign(dev, dict(dev.signer.seal("identify", 1, ZERO_HASH, "identification-receipt",
                                           receipt_body(1)).envelope, created_at="2026-01-01T00:00:00Z"))
    (r,) = results(send(rx, dev, "identify", [env]))
    assert r["reason"].startswith("certificate-expired")
    assert [a["code"] for a in aggregate.anomalies(rx.storage)["stored"]] == ["certificate-expired"]


LOOKALIKES = [("13-digits", "2010119901234"), ("15-digits", "201011990123456"),
              ("trailing-space", "20101199012345 "), ("fullwidth", "２0101199012345"),
              ("sex-digit", "30101199012345"), ("no-such-date", "23113199012345"),
              ("not-a-string", 20101199012345)]


@pytest.mark.parametrize("pin", [x[1] for x in LOOKALIKES], ids=[x[0] for x in LOOKALIKES])
def test_lookalike_pins_are_not_counted(rx, authority, pin):
    dev = Device(authority)
    env = dev.signer.seal("identify", 1, ZERO_HASH, "identification-receipt",
                          receipt_body(1) | {"pin": pin}).envelope
    (r,) = results(send(rx, dev, "identify", [env]))
    assert r["status"] == "stored"                      # signed and chained: kept as evidence
    assert rx.storage.identified_by_station() == {}     # but never counted as a voter
    assert [a["code"] for a in aggregate.anomalies(rx.storage)["stored"]] == ["bad-body"]


@pytest.mark.parametrize("field,value", [("identified_at", "2025-11-31T08:00:00Z"),
                                         ("identified_at", "2025-11-30 08:00:00")])
def test_impossible_body_times_are_not_counted(rx, authority, field, value):
    dev = Device(authority)
    env = dev.signer.seal("identify", 1, ZERO_HASH, "identification-receipt",
                          receipt_body(1) | {field: value}).envelope
    assert results(send(rx, dev, "identify", [env]))[0]["status"] == "stored"
    assert rx.storage.identified_by_station() == {}


@pytest.mark.parametrize("version", [1.0, True, "1"], ids=["float", "bool", "text"])
def test_batch_version_is_the_integer_one(rx, authority, version):
    dev = Device(authority)
    env = dev.signer.seal("count", 1, ZERO_HASH, "polls-event", {}).envelope
    batch = make_batch(dev.id, "count", [env], dev.cert) | {"version": version}
    reply = rx.handle_batch(json.dumps(batch).encode(), None, "192.0.2.7")
    assert reply.status == 400 and reply.body["error"] == "malformed"
    assert rx.storage.envelope_count() == 0
