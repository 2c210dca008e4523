"""Envelope sealing, verification and the rejection of every malformed variant."""

from __future__ import annotations

import gzip

import pytest

from sync import signing
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
