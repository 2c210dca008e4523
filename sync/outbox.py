"""The outbox: signed envelopes queued in the same transaction as the state change.

Guarantees (issue "Outbox"; STYLE.md "Outbox in the same transaction"):

- ``enqueue`` seals the body into the stream's next envelope (seq + 1, prev =
  hash of the last one) and inserts it in the caller's open transaction: the
  state change and its envelope commit together or not at all. Called outside
  a transaction it raises ``OutsideTransactionError``.
- seq numbers are per stream, gap-free and never reused: the head row
  (``outbox_head``) is read and advanced under the caller's write lock.
- The queue has an explicit cap. At 80% of it the outbox logs a warning, at 95%
  an error (and repeats every 100 enqueues); ``status().level`` says so for
  ``uchastok status``. At the cap ``enqueue`` raises ``OutboxFullError``: the
  caller's state change is refused and rolled back, nothing is dropped.
- Rows leave the queue only on a verified ack (sync/envelope.py ``open_ack``):
  they are then marked delivered and kept as the archive that observers'
  exports are made from. An ack that contradicts the local chain raises
  ``ForkError`` and marks nothing. Rejected envelopes stay queued with their
  reason and count as an alarm.

Add ``Migration("outbox-v1", OUTBOX_SCHEMA)`` to the role file's migrations.

Example::

    outbox = Outbox(conn, signer, "identify")
    with atomic(conn):
        conn.execute("INSERT INTO identifications ...")
        outbox.enqueue("identification-receipt", body)
    batch = outbox.pending(200)
    ...
    outbox.acknowledge(ack_doc, ack_pub)
"""

from __future__ import annotations

import enum
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any

from base.clock import iso
from base.sqlite import atomic
from sync import signing
from sync.canonical import parse
from sync.envelope import PRIORITY, STREAMS, ZERO_HASH, DeviceSigner, open_ack
from sync.errors import ForkError, OutboxFullError, OutsideTransactionError, SyncError

__all__ = ["OUTBOX_SCHEMA", "DeviceSigner", "Enqueued", "Outbox", "OutboxLevel", "OutboxStatus",
           "Pending", "AckOutcome"]

OUTBOX_SCHEMA = """
CREATE TABLE outbox (
    stream      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    priority    INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    envelope    BLOB NOT NULL,           -- canonical bytes of the signed envelope
    created_at  TEXT NOT NULL,
    acked_at    TEXT,                    -- set only by a verified ack
    rejected    TEXT,                    -- last rejection reason from the receiver
    PRIMARY KEY (stream, seq)
);
CREATE INDEX outbox_pending ON outbox (stream, priority, seq) WHERE acked_at IS NULL;
CREATE TABLE outbox_head (
    stream      TEXT PRIMARY KEY,
    seq         INTEGER NOT NULL,        -- last seq enqueued
    hash        TEXT NOT NULL,           -- its envelope hash
    pending     INTEGER NOT NULL,        -- rows not yet acked
    acked_seq   INTEGER NOT NULL,        -- highest contiguous seq the receiver acked
    acked_hash  TEXT NOT NULL,
    last_ack_at TEXT
);
"""

WARN_FRACTION = 0.80
CRITICAL_FRACTION = 0.95
log = logging.getLogger("uchastok.sync.outbox")


class OutboxLevel(enum.StrEnum):
    """How full the queue is, from fine to refusing."""

    OK = "ok"
    WARNING = "warning"      # >= 80% of the cap
    CRITICAL = "critical"    # >= 95% of the cap
    FULL = "full"            # state changes are being refused


_RANK = {lvl: i for i, lvl in enumerate(OutboxLevel)}


@dataclass(frozen=True)
class Enqueued:
    seq: int
    hash: str


@dataclass(frozen=True)
class Pending:
    seq: int
    kind: str
    priority: int
    hash: str
    data: bytes
    rejected: str | None

    @property
    def envelope(self) -> dict[str, Any]:
        return parse(self.data)


@dataclass(frozen=True)
class OutboxStatus:
    stream: str
    depth: int
    cap: int
    level: OutboxLevel
    head_seq: int
    acked_seq: int
    rejected: int
    last_ack_at: str | None

    def to_json(self) -> dict[str, Any]:
        return {"stream": self.stream, "depth": self.depth, "cap": self.cap,
                "level": str(self.level), "head_seq": self.head_seq, "acked_seq": self.acked_seq,
                "rejected": self.rejected, "last_ack_at": self.last_ack_at}


@dataclass(frozen=True)
class AckOutcome:
    acked: int
    contiguous_seq: int
    rejected: tuple[tuple[int, str], ...]


class Outbox:
    """The queue of one stream in one role file (contract: "Outbox and envelopes")."""

    def __init__(self, conn: sqlite3.Connection, signer: DeviceSigner, stream: str,
                 cap: int = 100_000, logger: logging.Logger | None = None):
        if stream not in STREAMS:
            raise SyncError(f"unknown stream {stream!r} (expected one of {STREAMS})")
        if cap < 1:
            raise SyncError("outbox cap must be positive")
        self.conn = conn
        self.signer = signer
        self.stream = stream
        self.cap = cap
        self.log = logger or log
        self._enqueues_in_alarm = 0
        self._level = OutboxLevel.OK

    def __repr__(self) -> str:
        return f"Outbox({self.stream!r}, device={self.signer.device_id}, cap={self.cap})"

    @property
    def device_id(self) -> str:
        """The device (role key) whose stream this is: each role signs with its own key."""
        return self.signer.device_id

    # --- writing -------------------------------------------------------------------------

    def _head(self) -> tuple[int, str, int]:
        row = self.conn.execute("SELECT seq, hash, pending FROM outbox_head WHERE stream=?",
                                (self.stream,)).fetchone()
        if row is None:
            self.conn.execute(
                "INSERT INTO outbox_head (stream, seq, hash, pending, acked_seq, acked_hash)"
                " VALUES (?, 0, ?, 0, 0, ?)", (self.stream, ZERO_HASH, ZERO_HASH))
            return 0, ZERO_HASH, 0
        return row[0], row[1], row[2]

    def level_for(self, depth: int) -> OutboxLevel:
        if depth >= self.cap:
            return OutboxLevel.FULL
        if depth >= self.cap * CRITICAL_FRACTION:
            return OutboxLevel.CRITICAL
        if depth >= self.cap * WARN_FRACTION:
            return OutboxLevel.WARNING
        return OutboxLevel.OK

    def enqueue(self, kind: str, body: dict[str, Any]) -> Enqueued:
        """Seal ``body`` as the stream's next envelope, inside the caller's transaction."""
        if not self.conn.in_transaction:
            raise OutsideTransactionError(
                "Outbox.enqueue must run inside the transaction of the state change (atomic(conn))")
        if kind not in PRIORITY:
            raise SyncError(f"unknown envelope kind {kind!r}")
        seq, prev, pending = self._head()
        if pending >= self.cap:
            self.log.error("outbox %s FULL (%d of %d): refusing %s; the link must drain it",
                           self.stream, pending, self.cap, kind)
            raise OutboxFullError(
                f"outbox {self.stream} holds {pending} undelivered envelopes (cap {self.cap});"
                " refusing the change until the link drains it")
        sealed = self.signer.seal(self.stream, seq + 1, prev, kind, body)
        self.conn.execute(
            "INSERT INTO outbox (stream, seq, kind, priority, hash, envelope, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.stream, seq + 1, kind, PRIORITY[kind], sealed.hash, sealed.data,
             sealed.envelope["created_at"]))
        self.conn.execute("UPDATE outbox_head SET seq=?, hash=?, pending=pending+1 WHERE stream=?",
                          (seq + 1, sealed.hash, self.stream))
        self._alarm(pending + 1)
        return Enqueued(seq + 1, sealed.hash)

    def enqueue_heartbeat(self, body: dict[str, Any]) -> Enqueued:
        """Queue a heartbeat (device status) in its own transaction: it changes no state."""
        with atomic(self.conn):
            return self.enqueue("heartbeat", body)

    def _alarm(self, depth: int) -> None:
        level = self.level_for(depth)
        rose, self._level = _RANK[level] > _RANK[self._level], level
        if level is OutboxLevel.OK:
            self._enqueues_in_alarm = 0
            return
        if rose or self._enqueues_in_alarm % 100 == 0:
            emit = self.log.warning if level is OutboxLevel.WARNING else self.log.error
            emit("outbox %s at %d of %d undelivered envelopes (%s): check the link",
                 self.stream, depth, self.cap, level)
        self._enqueues_in_alarm += 1

    # --- reading -------------------------------------------------------------------------

    def depth(self) -> int:
        row = self.conn.execute("SELECT pending FROM outbox_head WHERE stream=?",
                                (self.stream,)).fetchone()
        return row[0] if row else 0

    def pending(self, limit: int) -> list[Pending]:
        """Undelivered envelopes, highest priority first, then oldest; rejected ones last."""
        rows = self.conn.execute(
            "SELECT seq, kind, priority, hash, envelope, rejected FROM outbox"
            " WHERE stream=? AND acked_at IS NULL"
            " ORDER BY rejected IS NOT NULL, priority, seq LIMIT ?", (self.stream, limit))
        return [Pending(r[0], r[1], r[2], r[3], bytes(r[4]), r[5]) for r in rows]

    def best_priority(self) -> int | None:
        row = self.conn.execute(
            "SELECT min(priority) FROM outbox WHERE stream=? AND acked_at IS NULL AND rejected IS NULL",
            (self.stream,)).fetchone()
        return row[0]

    def envelope(self, seq: int) -> bytes | None:
        """The stored canonical bytes of envelope ``seq`` (delivered or not), for exports."""
        row = self.conn.execute("SELECT envelope FROM outbox WHERE stream=? AND seq=?",
                                (self.stream, seq)).fetchone()
        return bytes(row[0]) if row else None

    def status(self) -> OutboxStatus:
        row = self.conn.execute(
            "SELECT seq, pending, acked_seq, last_ack_at FROM outbox_head WHERE stream=?",
            (self.stream,)).fetchone()
        head, depth, acked, last = row if row else (0, 0, 0, None)
        rejected = self.conn.execute(
            "SELECT count(*) FROM outbox WHERE stream=? AND acked_at IS NULL AND rejected IS NOT NULL",
            (self.stream,)).fetchone()[0]
        return OutboxStatus(self.stream, depth, self.cap, self.level_for(depth), head, acked,
                            rejected, last)

    # --- acks ----------------------------------------------------------------------------

    def acknowledge(self, ack_doc: Any, ack_pub: signing.PublicKey) -> AckOutcome:
        """Verify the receiver's signed ack, then mark what it proves delivered."""
        a = open_ack(ack_doc, ack_pub, device=self.signer.device_id, stream=self.stream)
        cs, ch = a["contiguous_seq"], a["contiguous_hash"]
        now = iso(self.signer.clock.now())
        with atomic(self.conn):
            head_seq = self._head()[0]
            if cs > head_seq:
                raise ForkError(f"ack claims seq {cs} of stream {self.stream}, which holds {head_seq}")
            if cs > 0:
                row = self.conn.execute("SELECT hash FROM outbox WHERE stream=? AND seq=?",
                                        (self.stream, cs)).fetchone()
                if row is not None and row[0] != ch:
                    raise ForkError(f"ack names hash {ch[:12]}… at seq {cs}; ours is {row[0][:12]}…")
            n = self.conn.execute(
                "UPDATE outbox SET acked_at=?, rejected=NULL"
                " WHERE stream=? AND seq<=? AND acked_at IS NULL", (now, self.stream, cs)).rowcount
            rejected = []
            for r in a["results"]:
                if type(r["seq"]) is not int or not isinstance(r["hash"], str):
                    continue
                if r["status"] in ("stored", "duplicate"):
                    n += self.conn.execute(
                        "UPDATE outbox SET acked_at=?, rejected=NULL WHERE stream=? AND seq=?"
                        " AND hash=? AND acked_at IS NULL",
                        (now, self.stream, r["seq"], r["hash"])).rowcount
                elif self.conn.execute(
                        "UPDATE outbox SET rejected=? WHERE stream=? AND seq=? AND hash=?"
                        " AND acked_at IS NULL",
                        (str(r["reason"])[:500], self.stream, r["seq"], r["hash"])).rowcount:
                    rejected.append((r["seq"], str(r["reason"])))
            self.conn.execute(
                "UPDATE outbox_head SET pending=pending-?, acked_seq=max(acked_seq, ?),"
                " acked_hash=CASE WHEN ? > acked_seq THEN ? ELSE acked_hash END, last_ack_at=?"
                " WHERE stream=?", (n, cs, cs, ch, now, self.stream))
        for seq, reason in rejected:
            self.log.error("receiver rejected %s envelope %d: %s", self.stream, seq, reason)
        if n:
            self._alarm(self.depth())
        return AckOutcome(n, cs, tuple(rejected))
