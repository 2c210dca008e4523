"""Envelope sealing, verification and the rejection of every malformed variant."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from sync import signing
from sync.certificate import verify_certificate
from sync.envelope import (
    MAX_BODY_BYTES,
    ZERO_HASH,
    check_shape,
    decompress,
    encode_batch,
    envelope_hash,
    make_batch,
    open_ack,
    parse_batch,
    sign_ack,
    verify_envelope,
)
from sync.errors import EnvelopeError, SyncError, VerificationError

BODY = {"event": "opened", "at": "2025-11-30T02:00:00Z"}
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def respell(text: str) -> str:
    """The same bytes in another base64 spelling: a non-zero unused bit before the padding."""
    i = len(text.rstrip("=")) - 1
    return text[:i] + B64[B64.index(text[i]) | 1] + text[i + 1:]


def test_seal_verify_and_hash(device):
    s = device.signer.seal("count", 1, ZERO_HASH, "polls-event", BODY)
    assert verify_envelope(s.envelope, device.pub) == s.hash == envelope_hash(s.envelope)
    s2 = device.signer.seal("count", 2, s.hash, "polls-event", BODY)
    assert s2.envelope["prev"] == s.hash


MUTATIONS = [
    ("seq-changed", lambda e: e.update(seq=e["seq"] + 1), VerificationError),
    ("body-changed", lambda e: e["body"].update(event="closed"), VerificationError),
    ("station-changed", lambda e: e.update(station="st-9999"), VerificationError),
    ("extra-field", lambda e: e.update(extra=1), EnvelopeError),
    ("missing-field", lambda e: e.pop("cert"), EnvelopeError),
    ("unknown-kind", lambda e: e.update(kind="ballot"), EnvelopeError),
    ("float-in-body", lambda e: e["body"].update(x=1.5), EnvelopeError),
    ("seq-zero", lambda e: e.update(seq=0), EnvelopeError),
    ("seq-bool", lambda e: e.update(seq=True), EnvelopeError),
    ("prev-not-hex", lambda e: e.update(prev="x" * 64), EnvelopeError),
    ("zero-prev-at-seq-2", lambda e: e.update(prev=ZERO_HASH), EnvelopeError),
    ("bad-time", lambda e: e.update(created_at="2025-11-30 02:00"), EnvelopeError),
    ("signature-not-b64", lambda e: e.update(signature="!" * 88), EnvelopeError),
    ("signature-respelled", lambda e: e.update(signature=respell(e["signature"])), EnvelopeError),
    ("impossible-time", lambda e: e.update(created_at="2026-13-45T99:99:99Z"), EnvelopeError),
    ("february-30", lambda e: e.update(created_at="2025-02-30T02:00:00Z"), EnvelopeError),
    ("receipt-on-count", lambda e: e.update(kind="identification-receipt"), EnvelopeError),
    ("results-on-identify", lambda e: e.update(kind="results-protocol", stream="identify"), EnvelopeError),
    ("kind-not-text", lambda e: e.update(kind=["polls-event"]), EnvelopeError),
    ("version-bool", lambda e: e.update(version=True), EnvelopeError),
    ("body-not-object", lambda e: e.update(body=[1]), EnvelopeError),
    ("body-too-large", lambda e: e["body"].update(pad="a" * MAX_BODY_BYTES), EnvelopeError),
]


@pytest.mark.parametrize("mutate,error", [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_mutated_envelope_rejected(device, mutate, error):
    s = device.signer.seal("count", 2, "ab" * 32, "polls-event", dict(BODY))
    env = {**s.envelope, "body": dict(s.envelope["body"])}
    mutate(env)
    with pytest.raises(error):
        verify_envelope(env, device.pub)


def test_other_key_rejected(device):
    s = device.signer.seal("count", 1, ZERO_HASH, "polls-event", BODY)
    with pytest.raises(VerificationError):
        verify_envelope(s.envelope, signing.generate_key().public_key())


def test_batch_roundtrip_and_gzip_bomb(device):
    s = device.signer.seal("count", 1, ZERO_HASH, "polls-event", BODY)
    raw = encode_batch(make_batch(device.id, "count", [s.envelope], device.cert))
    b = parse_batch(decompress(raw, "gzip"))
    assert b["envelopes"][0] == s.envelope
    bomb = gzip.compress(b"[" * (8 * 1024 * 1024))
    with pytest.raises(EnvelopeError):
        decompress(bomb, "gzip")
    with pytest.raises(EnvelopeError):
        decompress(raw[:-5], "gzip")


@pytest.mark.parametrize("data", [b"{", b"[]", b'{"type":"uchastok-batch"}', b"\xff\xfe",
                                  b'{"a":1,"a":2}', b"NaN"],
                         ids=["truncated", "array", "missing-fields", "not-utf8", "dup-key", "nan"])
def test_bad_batches(data):
    with pytest.raises(EnvelopeError):
        parse_batch(data)


def test_ack_verify(ack_key):
    doc = sign_ack(ack_key, "dev-1", "count", 0, ZERO_HASH, [], "2025-11-30T02:00:00Z")
    assert open_ack(doc, ack_key.public_key(), device="dev-1", stream="count")["contiguous_seq"] == 0
    with pytest.raises(VerificationError):
        open_ack(doc, ack_key.public_key(), device="dev-2")
    with pytest.raises(SyncError):
        open_ack(doc, signing.generate_key().public_key())
    doc["signed"]["contiguous_seq"] = 5
    with pytest.raises(VerificationError):
        open_ack(doc, ack_key.public_key())


def test_check_shape_rejects_non_object():
    with pytest.raises(EnvelopeError):
        check_shape([])


def test_one_spelling_per_signature(device):
    """Decoding ignores the unused bits: a respelled copy verifies with the old code, and hashes apart."""
    s = device.signer.seal("count", 1, ZERO_HASH, "polls-event", BODY)
    other = respell(s.envelope["signature"])
    assert base64.b64decode(other) == base64.b64decode(s.envelope["signature"])
    assert envelope_hash(dict(s.envelope, signature=other)) != s.hash
    with pytest.raises(EnvelopeError, match="canonical base64"):
        verify_envelope(dict(s.envelope, signature=other), device.pub)
    with pytest.raises(VerificationError, match="canonical"):
        signing.unb64(other, "signature")
    assert signing.unb64(s.envelope["signature"]) == base64.b64decode(other)


def test_signed_documents_and_keys_have_one_spelling(device, authority):
    doc = signing.sign_document(authority, {"x": 1})
    with pytest.raises(VerificationError, match="canonical"):
        signing.open_document(dict(doc, signature=respell(doc["signature"])), authority.public_key())
    text = signing.public_text(device.pub)
    assert base64.b64decode(respell(text.split()[1])) == signing.public_bytes(device.pub)
    with pytest.raises(VerificationError, match="canonical"):
        signing.public_from_text("ed25519 " + respell(text.split()[1]))


@pytest.mark.parametrize("version", [1.0, True, "1", 2], ids=["float", "bool", "text", "two"])
def test_batch_version_is_the_integer_one(device, version):
    s = device.signer.seal("count", 1, ZERO_HASH, "polls-event", BODY)
    batch = make_batch(device.id, "count", [s.envelope], device.cert) | {"version": version}
    with pytest.raises(EnvelopeError, match="version 1"):
        parse_batch(json.dumps(batch).encode())


def test_ack_version_is_the_integer_one(ack_key):
    doc = signing.sign_document(ack_key, {"type": "uchastok-ack", "version": True, "device": "dev-1",
                                          "stream": "count", "contiguous_seq": 0,
                                          "contiguous_hash": ZERO_HASH, "results": [],
                                          "at": "2025-11-30T02:00:00Z"})
    with pytest.raises(VerificationError, match="version 1"):
        open_ack(doc, ack_key.public_key())


CERT_FLAWS = [("version-bool", {"version": True}), ("roles-text", {"roles": "count"}),
              ("roles-unknown", {"roles": ["count", "ballots"]}), ("roles-twice", {"roles": ["count", "count"]}),
              ("roles-empty", {"roles": []}), ("time-unreal", {"not_after": "2025-12-32T00:00:00Z"}),
              ("time-loose", {"not_before": "2025-1-1T0:0:0Z"}), ("station-number", {"station_id": 42})]


@pytest.mark.parametrize("change", [f[1] for f in CERT_FLAWS], ids=[f[0] for f in CERT_FLAWS])
def test_certificate_fields_are_checked(device, authority, change):
    signed = dict(device.cert["signed"]) | change
    with pytest.raises(VerificationError):
        verify_certificate(signing.sign_document(authority, signed), authority.public_key())
    assert verify_certificate(device.cert, authority.public_key()).roles == ("identify", "count")
