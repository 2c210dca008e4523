"""Outbox: same-transaction enqueue, per-stream chain, cap with alarms, acks only when verified."""

from __future__ import annotations

import logging

import pytest

from base.sqlite import Migration, atomic, open_db
from sync import signing
from sync.envelope import ZERO_HASH, envelope_hash, sign_ack, verify_envelope
from sync.errors import (
    ForkError,
    OutboxFullError,
    OutsideTransactionError,
    VerificationError,
)
from sync.outbox import OUTBOX_SCHEMA, Outbox, OutboxLevel

MIGRATIONS = [Migration("state-v1", "CREATE TABLE things (id INTEGER PRIMARY KEY, v TEXT);"),
              Migration("outbox-v1", OUTBOX_SCHEMA)]
BODY = {"event": "opened", "at": "2025-11-30T02:00:00Z"}


@pytest.fixture
def conn(tmp_path):
    c = open_db(tmp_path / "count.db", MIGRATIONS)
    yield c
    c.close()


def ack_for(ack_key, device, stream, contiguous, results=()):
    cs, ch = contiguous
    return sign_ack(ack_key, device.id, stream, cs, ch, list(results), "2025-11-30T03:00:00Z")


def test_enqueue_chains_and_commits_with_state(conn, device):
    ob = Outbox(conn, device.signer, "count")
    with atomic(conn):
        conn.execute("INSERT INTO things (v) VALUES ('a')")
        e1 = ob.enqueue("polls-event", BODY)
    with atomic(conn):
        e2 = ob.enqueue("heartbeat", {"power": "mains", "battery_pct": None, "disk_free_mb": 1,
                                      "queue_depth": 1, "clock": "2025-11-30T02:00:00Z"})
    assert (e1.seq, e2.seq) == (1, 2)
    p = ob.pending(10)
    assert [x.seq for x in p] == [1, 2]
    env1, env2 = p[0].envelope, p[1].envelope
    assert env1["prev"] == ZERO_HASH and env2["prev"] == e1.hash == envelope_hash(env1)
    assert verify_envelope(env2, device.pub) == e2.hash


def test_rollback_takes_the_envelope_with_it(conn, device):
    ob = Outbox(conn, device.signer, "count")
    with pytest.raises(RuntimeError), atomic(conn):
        ob.enqueue("polls-event", BODY)
        raise RuntimeError("state change failed")
    assert ob.depth() == 0
    with atomic(conn):
        assert ob.enqueue("polls-event", BODY).seq == 1


def test_enqueue_outside_transaction_refused(conn, device):
    with pytest.raises(OutsideTransactionError):
        Outbox(conn, device.signer, "count").enqueue("polls-event", BODY)


def test_priority_results_before_receipts(conn, device):
    ob = Outbox(conn, device.signer, "count")
    with atomic(conn):
        ob.enqueue("heartbeat", {"x": 1})
        ob.enqueue("polls-event", BODY)
        ob.enqueue("results-protocol", {"r": 1})
    assert [p.kind for p in ob.pending(10)] == ["results-protocol", "polls-event", "heartbeat"]


def test_cap_alarms_then_refuses_without_dropping(conn, device, caplog):
    ob = Outbox(conn, device.signer, "count", cap=20)
    caplog.set_level(logging.WARNING, "uchastok.sync.outbox")
    levels = []
    for _ in range(20):
        with atomic(conn):
            ob.enqueue("polls-event", BODY)
        levels.append(ob.status().level)
    assert levels[14] is OutboxLevel.OK and levels[15] is OutboxLevel.WARNING
    assert levels[18] is OutboxLevel.CRITICAL and levels[19] is OutboxLevel.FULL
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    assert any(r.levelno == logging.ERROR for r in caplog.records)
    with pytest.raises(OutboxFullError), atomic(conn):
        conn.execute("INSERT INTO things (v) VALUES ('refused')")
        ob.enqueue("polls-event", BODY)
    assert conn.execute("SELECT count(*) FROM things").fetchone()[0] == 0
    assert ob.depth() == 20 and [p.seq for p in ob.pending(100)] == list(range(1, 21))


def test_verified_ack_releases_rows(conn, device, ack_key):
    ob = Outbox(conn, device.signer, "count")
    with atomic(conn):
        es = [ob.enqueue("polls-event", BODY) for _ in range(5)]
    out = ob.acknowledge(ack_for(ack_key, device, "count", (3, es[2].hash),
                                 [{"seq": 5, "hash": es[4].hash, "status": "stored", "reason": None}]),
                         ack_key.public_key())
    assert out.acked == 4 and [p.seq for p in ob.pending(10)] == [4]
    assert ob.status().acked_seq == 3 and ob.depth() == 1
    assert ob.envelope(1) is not None  # archived for exports


BAD_ACKS = [
    ("other-key", lambda k, d, es: (ack_for(signing.generate_key(), d, "count", (2, es[1].hash)), k),
     VerificationError),
    ("other-device", lambda k, d, es: (sign_ack(k, "dev-0000000000000000", "count", 2, es[1].hash,
                                                [], "2025-11-30T03:00:00Z"), k), VerificationError),
    ("other-stream", lambda k, d, es: (ack_for(k, d, "identify", (2, es[1].hash)), k),
     VerificationError),
    ("fork-hash", lambda k, d, es: (ack_for(k, d, "count", (2, es[0].hash)), k), ForkError),
    ("beyond-head", lambda k, d, es: (ack_for(k, d, "count", (9, es[0].hash)), k), ForkError),
]


@pytest.mark.parametrize("make", [b[1] for b in BAD_ACKS], ids=[b[0] for b in BAD_ACKS])
def test_unverified_ack_releases_nothing(conn, device, ack_key, make):
    ob = Outbox(conn, device.signer, "count")
    with atomic(conn):
        es = [ob.enqueue("polls-event", BODY) for _ in range(3)]
    error = dict((b[0], b[2]) for b in BAD_ACKS)
    doc, key = make(ack_key, device, es)
    with pytest.raises(error[[b[0] for b in BAD_ACKS if b[1] is make][0]]):
        ob.acknowledge(doc, key.public_key())
    assert ob.depth() == 3


def test_rejection_kept_and_flagged(conn, device, ack_key):
    ob = Outbox(conn, device.signer, "count")
    with atomic(conn):
        e = ob.enqueue("polls-event", BODY)
    out = ob.acknowledge(ack_for(ack_key, device, "count", (0, ZERO_HASH),
                                 [{"seq": 1, "hash": e.hash, "status": "rejected",
                                   "reason": "wrong-station: x"}]), ack_key.public_key())
    assert out.rejected == ((1, "wrong-station: x"),)
    assert ob.depth() == 1 and ob.status().rejected == 1
