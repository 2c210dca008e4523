"""A role's outbox over a local socket: the wire, and the uploader's side (``OutboxClient``).

Why: on the appliance the uploader (``uchastok-sync``, the only process with
network access) runs as its own user and can open neither role file nor key
(docs/technician-guide.md "Who can read what"). Each role serves its outbox
on ``Paths.role(R).outbox_socket`` from a small service running as the role's
user (station/outbox_service.py, ``uchastok-outbox --role R``); the uploader
talks to it through ``OutboxClient``, which offers what the uploader uses of
``sync.outbox.Outbox``.

Why a socket and not a spool file the uploader may read: the outbox stays in
the role's own SQLite file and its rows are written in the transaction of the
state change (ARCHITECTURE.md invariant 1: SQLite gives no atomic commit across
files in WAL mode, so an outbox in another file could not share it, and a copy
made after commit would need a reconciliation of its own). Over the socket the
networked process can read pending envelopes (signed already: public by
design), hand in acks, and ask for a heartbeat; the role verifies each ack with
its own pinned ack key before a row moves, so a subverted uploader can neither
mark anything delivered nor make the role sign anything but a rate-limited
heartbeat. Nothing lost, nothing twice holds as before: an ack whose answer is
lost (service killed) leaves rows pending, they are sent again, and the
receiver answers ``duplicate`` (docs/protocol.md section 7).

Wire: on a stream socket, one request per line and one answer per line, each
a JSON object in UTF-8 (no newline inside: JSON escapes it)::

    {"op": "hello"}                 -> {"ok": true, "stream": S, "device_id": D, "certificate": {...}}
    {"op": "status"}                -> {"ok": true, "status": {OutboxStatus}, "best_priority": P|null}
    {"op": "pending", "limit": N}   -> {"ok": true, "pending": [{"seq", "kind", "priority", "hash",
                                                                  "data": base64, "rejected"}]}
    {"op": "ack", "ack": {signed}}  -> {"ok": true, "acked": N, "contiguous_seq": Q,
                                        "rejected": [[seq, reason], ...]}
    {"op": "heartbeat", "body": {}} -> {"ok": true, "seq": Q}

A refusal is ``{"ok": false, "error": CODE, "detail": TEXT}``; ``CODE`` names
the exception raised on the client side (``ERRORS``); ``unavailable`` (the
role is not provisioned yet, or its file has no outbox) and any broken
connection raise ``OutboxUnavailable``, a transport fault the uploader retries
with backoff.

Example::

    box = OutboxClient(paths.role("identify").outbox_socket, "identify")
    box.depth(); box.pending(200); box.acknowledge(ack_doc, None)
"""

from __future__ import annotations

import base64
import json
import os
import socket
from pathlib import Path
from typing import Any

from sync import signing
from sync.envelope import STREAMS
from sync.errors import (
    EnvelopeError,
    ForkError,
    OutboxFullError,
    OutboxUnavailable,
    SyncError,
    VerificationError,
)
from sync.outbox import AckOutcome, Enqueued, OutboxLevel, OutboxStatus, Pending

MAX_REQUEST_BYTES = 2 << 20     # an ack is capped at 1 MiB (sync/uploader.py MAX_RESPONSE_BYTES)
MAX_ANSWER_BYTES = 64 << 20     # a page of pending envelopes
MAX_PENDING = 500               # sync/envelope.py MAX_BATCH_ENVELOPES

# error code on the wire -> the exception the client raises (the uploader's send_once sorts them)
ERRORS: dict[str, type[SyncError]] = {
    "fork": ForkError,
    "verification": VerificationError,
    "envelope": EnvelopeError,
    "outbox-full": OutboxFullError,
    "unavailable": OutboxUnavailable,
    "bad-request": SyncError,
}


def error_code(e: SyncError) -> str:
    """The wire code of a refusal (most specific class first)."""
    for code, cls in ERRORS.items():
        if code != "bad-request" and isinstance(e, cls):
            return code
    return "bad-request"


def encode_line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def decode_line(line: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise SyncError(f"not a JSON line: {e}") from e
    if not isinstance(obj, dict):
        raise SyncError("a message is a JSON object")
    return obj


def pending_to_wire(p: Pending) -> dict[str, Any]:
    return {"seq": p.seq, "kind": p.kind, "priority": p.priority, "hash": p.hash,
            "data": base64.b64encode(p.data).decode(), "rejected": p.rejected}


def pending_from_wire(d: dict[str, Any]) -> Pending:
    try:
        return Pending(int(d["seq"]), str(d["kind"]), int(d["priority"]), str(d["hash"]),
                       base64.b64decode(d["data"], validate=True), d.get("rejected"))
    except (KeyError, TypeError, ValueError) as e:
        raise OutboxUnavailable(f"outbox service sent a malformed envelope: {e}") from e


def status_from_wire(d: dict[str, Any]) -> OutboxStatus:
    return OutboxStatus(d["stream"], d["depth"], d["cap"], OutboxLevel(d["level"]), d["head_seq"],
                        d["acked_seq"], d["rejected"], d["last_ack_at"])


class OutboxClient:
    """The uploader's side of one role's outbox service; connects lazily, reconnects after a fault."""

    def __init__(self, path: str | os.PathLike, stream: str, *, timeout: float = 60.0):
        if stream not in STREAMS:
            raise SyncError(f"unknown stream {stream!r} (expected one of {STREAMS})")
        self.path = Path(path)
        self.stream = stream
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._file = None
        self._hello: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"OutboxClient({self.stream!r}, {str(self.path)!r})"

    # --- connection ----------------------------------------------------------------------

    def _connect(self) -> None:
        if len(os.fsencode(self.path)) > 107:
            raise SyncError(f"{self.path}: socket path longer than 107 bytes (AF_UNIX limit)")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(str(self.path))
        except OSError as e:
            s.close()
            raise OutboxUnavailable(f"{self.stream} outbox service at {self.path}: {e.strerror or e}") from e
        self._sock, self._file = s, s.makefile("rb")
        hello = self._exchange({"op": "hello"})
        if hello.get("stream") != self.stream:
            self.close()
            raise OutboxUnavailable(f"{self.path} serves stream {hello.get('stream')!r}, not {self.stream}")
        self._hello = hello

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            self._sock.sendall(encode_line(request))
            line = self._file.readline(MAX_ANSWER_BYTES + 1)
        except OSError as e:
            self.close()
            raise OutboxUnavailable(f"{self.stream} outbox service: {e}") from e
        if not line.endswith(b"\n"):
            self.close()
            raise OutboxUnavailable(f"{self.stream} outbox service closed the connection"
                                    if not line else f"{self.stream} outbox service: answer too long")
        try:
            answer = decode_line(line)
        except SyncError as e:
            self.close()
            raise OutboxUnavailable(f"{self.stream} outbox service: {e}") from e
        if answer.get("ok") is not True:
            cls = ERRORS.get(str(answer.get("error")), SyncError)
            if cls is OutboxUnavailable:
                self.close()
            raise cls(f"{self.stream} outbox: {answer.get('detail')}")
        return answer

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        if self._sock is None:
            self._connect()
        return self._exchange(request)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._sock is not None:
            self._sock.close()
        self._sock = self._file = self._hello = None

    # --- what the uploader uses of an Outbox ------------------------------------------------

    @property
    def device_id(self) -> str:
        if self._hello is None:
            self._connect()
        return self._hello["device_id"]

    @property
    def certificate(self) -> dict[str, Any] | None:
        if self._hello is None:
            self._connect()
        return self._hello.get("certificate")

    def status(self) -> OutboxStatus:
        return status_from_wire(self.call({"op": "status"})["status"])

    def depth(self) -> int:
        return self.status().depth

    def best_priority(self) -> int | None:
        return self.call({"op": "status"}).get("best_priority")

    def pending(self, limit: int) -> list[Pending]:
        answer = self.call({"op": "pending", "limit": min(int(limit), MAX_PENDING)})
        return [pending_from_wire(d) for d in answer.get("pending", [])]

    def acknowledge(self, ack_doc: Any, ack_pub: signing.PublicKey | None = None) -> AckOutcome:
        """Hand the receiver's ack to the role, which verifies it with its own pinned key
        (``ack_pub`` is not used: the uploader's copy is not the one that counts)."""
        a = self.call({"op": "ack", "ack": ack_doc})
        return AckOutcome(int(a["acked"]), int(a["contiguous_seq"]),
                          tuple((int(s), str(r)) for s, r in a.get("rejected", [])))

    def enqueue_heartbeat(self, body: dict[str, Any]) -> Enqueued:
        a = self.call({"op": "heartbeat", "body": body})
        return Enqueued(int(a["seq"]), str(a.get("hash", "")))
