"""The results protocol's orchestration: signed, enqueued, stored, completed, printed, exported.

The body and its control relations are pure and live in count/protocol_body.py
(``build_protocol``, ``control_relations``, ``protocol_hash``); the NIST SP
1500-100 rendering in count/nist.py. This module reads what they need (the
real tally from count.db, the last close from the polls history), calls them,
and does the I/O around them.

Signing (``sign_protocol``), across two files without a transaction spanning
them (ARCHITECTURE.md invariant 1):

1. in count.db, one transaction: the protocol row (body, hash, the device's
   signed document) + the outbox entry (stream "count", kind
   "results-protocol") + the ``protocol-signed`` audit record;
2. in station.db: polls action ``sign-protocol`` (closed -> protocol-signed).

A crash between 1 and 2 leaves a signed row while polls are still closed;
``complete_signed_protocol`` (run by the count daemon at start and by
``uchastok count protocol``) finishes step 2 when that row still matches the
real tally and the last close, without enqueuing anything again. If polls
were reopened by a technician and closed again, the old row no longer matches
and signing builds a new revision.

Files (``export_protocol``): the signed JSON, the NIST JSON, the receipt and
A4 renderings, the observers' export (then also carried by the A4 copy in
numbered QR codes, count/paper.py); printed when a printer is given.

Two hashes, two names: ``SignedProtocol.hash`` is the SHA-256 of the body
(``protocol_hash``: it tells a re-signing of the same count apart from a new
revision); ``SignedProtocol.envelope_hash`` is the envelope hash of
docs/protocol.md section 3, the one the centre and ``uchastok verify`` show,
and the only one printed on paper, so an observer matches the paper to the
published copy with the protocol document alone.

Example::

    key, outbox = device_outbox(paths, store.conn, election, clock=clock)
    signed = sign_protocol(store, station_conn, election, key=key, outbox=outbox,
                           voters_on_list=1700, voters_identified=1234, clock=clock)
    verify_protocol(signed.document, device_pub) == signed.body
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.clock import SystemClock, iso
from base.sqlite import atomic
from count.nist import nist_results
from count.paper import protocol_document, save_a4, save_receipt, verification_codes
from count.protocol_body import build_protocol, protocol_hash, tally_hash
from count.store import CountStore
from drivers.printer.document import Document
from station import polls
from station.election import Election
from station.errors import CountingError, ProvisioningError
from station.events import record
from station.polls import PollsState
from sync import signing
from sync.canonical import canonical, parse
from sync.device import load_device
from sync.errors import SyncError
from sync.export import make_export
from sync.outbox import Outbox

KIND = "results-protocol"
STREAM = "count"


# --- signing and the polls transition ----------------------------------------

@dataclass(frozen=True)
class SignedProtocol:
    revision: int
    body: dict[str, Any]
    hash: str                      # SHA-256 of the canonical body (protocol_hash)
    document: dict[str, Any]       # sync.signing signed document over the body, device key
    outbox_seq: int | None
    signed_at: str
    envelope_hash: str | None = None   # docs/protocol.md section 3; None when signed without an outbox

    def to_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "hash": self.hash, "envelope_hash": self.envelope_hash,
                "outbox_seq": self.outbox_seq, "signed_at": self.signed_at, "document": self.document}


def last_close(station_conn: sqlite3.Connection) -> str:
    """When polls were last closed (polls history), the protocol's ``closed_at``."""
    closes = [h for h in polls.history(station_conn) if h["action"] == "close"]
    if not closes:
        raise CountingError("polls were never closed: no protocol yet")
    return closes[-1]["at"]


def latest_protocol(store: CountStore) -> SignedProtocol | None:
    row = store.conn.execute(
        "SELECT p.revision, p.body, p.hash, p.document, p.outbox_seq, p.signed_at, o.hash"
        " FROM protocol p LEFT JOIN outbox o ON o.stream = ? AND o.seq = p.outbox_seq"
        " ORDER BY p.revision DESC LIMIT 1", (STREAM,)).fetchone()
    if row is None:
        return None
    return SignedProtocol(row[0], json.loads(row[1]), row[2], json.loads(row[3]), row[4], row[5],
                          row[6])


def _row_matches(store: CountStore, p: SignedProtocol, station_conn: sqlite3.Connection) -> bool:
    t = tally_hash(store.tally("real"))
    stored = store.conn.execute("SELECT tally_hash FROM protocol WHERE revision = ?",
                                (p.revision,)).fetchone()[0]
    return stored == t and p.body["closed_at"] == last_close(station_conn)


def complete_signed_protocol(store: CountStore, station_conn: sqlite3.Connection, *,
                             clock=None, actor: str = "system") -> SignedProtocol | None:
    """Finish an interrupted signing: polls closed + a matching signed row -> ``sign-protocol``."""
    if polls.current(station_conn) != PollsState.CLOSED:
        return None
    p = latest_protocol(store)
    if p is None or not _row_matches(store, p, station_conn):
        return None
    polls.apply(station_conn, "sign-protocol", actor=actor, clock=clock)
    record(store.conn, "protocol-completed", actor=actor, clock=clock, revision=p.revision, hash=p.hash)
    return p


def sign_protocol(store: CountStore, station_conn: sqlite3.Connection, election: Election, *,
                  key: signing.PrivateKey, outbox=None, voters_on_list: int,
                  voters_identified: int | None, clock=None, actor: str = "system",
                  crash_after_enqueue: bool = False,
                  provisional: dict[str, Any] | None = None) -> SignedProtocol:
    """Build, sign and enqueue the protocol, then move polls to protocol-signed (order above).

    ``outbox`` is a ``sync.outbox.Outbox`` on ``store.conn`` (stream "count"), or
    None where no upload is configured. ``provisional``: the identification summary's
    provisional counters (count/protocol_body.py ``build_protocol``). Idempotent: once signed, returns the
    signed protocol. ``crash_after_enqueue`` stops between the two files (tests).
    """
    clock = clock or SystemClock()
    state = polls.current(station_conn)
    if state == PollsState.PROTOCOL_SIGNED:
        p = latest_protocol(store)
        if p is None:
            raise CountingError("polls say protocol-signed but count.db holds no protocol")
        return p
    polls.require(station_conn, PollsState.CLOSED)
    tally = store.tally("real")
    body = build_protocol(election, tally, voters_on_list, voters_identified, last_close(station_conn),
                          provisional=provisional)
    h = protocol_hash(body)
    with atomic(store.conn):
        prev = latest_protocol(store)
        if prev is not None and prev.hash == h:
            signed = prev         # signed before an interruption: never enqueue twice
        else:
            revision = prev.revision + 1 if prev else 1
            doc = signing.sign_document(key, body)
            queued = outbox.enqueue(KIND, body) if outbox is not None else None
            seq = queued.seq if queued is not None else None
            at = iso(clock.now())
            store.conn.execute(
                "INSERT INTO protocol(revision, tally_hash, body, hash, document, outbox_seq, signed_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (revision, tally_hash(tally), canonical(body).decode(), h,
                 json.dumps(doc, ensure_ascii=False), seq, at))
            record(store.conn, "protocol-signed", actor=actor, clock=clock, revision=revision,
                   hash=h, outbox_seq=seq)
            signed = SignedProtocol(revision, body, h, doc, seq, at,
                                    queued.hash if queued is not None else None)
    if crash_after_enqueue:
        return signed
    polls.apply(station_conn, "sign-protocol", actor=actor, clock=clock)
    store.compact()
    return signed


def device_outbox(paths, conn: sqlite3.Connection, election: Election, *,
                  clock=None) -> tuple[signing.PrivateKey, Outbox]:
    """The device key and the count stream's outbox on ``conn`` (key + installed certificate)."""

    try:
        role = paths.role("count")
        device = load_device(role.key, role.cert, election_id=election.id,
                             station_id=election.station.id, clock=clock)
    except SyncError as e:
        raise ProvisioningError(str(e)) from e
    return device.key, Outbox(conn, device.signer, STREAM)


def verify_protocol(document: dict[str, Any], device_pub: signing.PublicKey) -> dict[str, Any]:
    """The protocol body, after its signature verified against the device's public key."""
    return signing.open_document(document, device_pub)


# --- printing and export ------------------------------------------------------

def paper_protocol(election: Election, signed: SignedProtocol, codes: Sequence[str] = ()) -> Document:
    """The paper document of ``signed`` (count/paper.py), showing its envelope hash (and ``codes``)."""
    return protocol_document(election, signed.body, signed.envelope_hash, revision=signed.revision,
                             signer=signed.document.get("signer"), codes=codes)


def export_protocol(election: Election, signed: SignedProtocol, out_dir, *, printer=None,
                    store: CountStore | None = None, clock=None, actor: str = "system",
                    certificate: dict[str, Any] | None = None) -> dict[str, str]:
    """Write the protocol's files (signed JSON, NIST JSON, receipt PNG, A4 PNG + PDF); print it.

    With ``certificate`` (the device's) and the ``store`` holding the protocol's envelope, also
    the observers' export (``*.export.json``: the signed envelope + the device certificate, which
    ``uchastok verify`` checks offline against the provisioning authority's key; docs/protocol.md).

    Returns {"json": path, "nist": path, "receipt": path, "a4_png": path, "a4_pdf": path,
    ["export": path,] "printed": "yes"|"no: <status>"}.
    """


    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"protocol-{signed.body['station']}-r{signed.revision}"
    doc = paper_protocol(election, signed)
    files: dict[str, str] = {}
    j = out / f"{stem}.json"
    j.write_text(json.dumps({"protocol": signed.document, "hash": signed.hash,
                             "envelope_hash": signed.envelope_hash, "revision": signed.revision},
                            ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    files["json"] = str(j)
    n = out / f"{stem}.nist-1500-100.json"
    n.write_text(json.dumps(nist_results(election, signed.body, protocol_hash_hex=signed.hash,
                                        envelope_hash_hex=signed.envelope_hash),
                            ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    files["nist"] = str(n)
    files["receipt"] = str(save_receipt(doc, out / f"{stem}-receipt.png"))
    export = None
    if certificate is not None and store is not None and signed.outbox_seq is not None:
        row = store.conn.execute("SELECT envelope FROM outbox WHERE stream = ? AND seq = ?",
                                 (STREAM, signed.outbox_seq)).fetchone()
        if row is not None:
            export = make_export(certificate, [parse(bytes(row[0]))])
            x = out / f"{stem}.export.json"
            x.write_text(json.dumps(export, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            files["export"] = str(x)
    # The A4 copy carries the signed protocol itself in QR codes (count/paper.py); the receipt cannot.
    a4 = doc if export is None else paper_protocol(
        election, signed, verification_codes(export, signed.envelope_hash or ""))
    png, pdf = save_a4(a4, out / f"{stem}-a4")
    files["a4_png"], files["a4_pdf"] = str(png), str(pdf)
    files["printed"] = "no printer"
    if printer is not None:
        result = printer.print_document(doc)
        files["printed"] = "yes" if result.printed else f"no: {result.status.value}"
    if store is not None:
        record(store.conn, "protocol-printed", actor=actor, clock=clock, revision=signed.revision,
               hash=signed.hash, printed=files["printed"])
    return files
