"""The official manual count, signed: a new revision of the results protocol carrying both counts.

The rules (form lines, figures, control relations, when signing is refused) are
pure and live in count/manual_count.py; this module reads the signed machine
protocol, asks them, and signs what they return (ARCHITECTURE.md invariant 1):

1. polls must be closed (or the protocol already signed): the manual count
   follows the close (DOMAIN.md "Results");
2. if the machine count's protocol is not signed yet, it is signed first
   (count/protocol.py ``sign_protocol``: revision 1, polls -> protocol-signed);
3. ONE transaction in count.db: the new revision's row (the latest body with
   its ``manual_count`` section: per line machine, manual, difference; the
   relations; the commission's explanation; ``supersedes``: the hash of the
   revision it corrects) + its outbox entry (stream "count", kind
   "results-protocol") + the ``manual-count-signed`` audit record;
4. the files are exported and the paper printed as for every signed
   revision (count/role.py ``results_protocol``: the latest revision).

A correction after signing is one more revision: earlier revisions are never
changed, and ``revisions`` lists them all.

Example::

    form = manual_count_form(paths)                   # lines with the machine's figures
    out = sign_manual_count(paths, typed, "", member="1", pin="258013", printer=printer)
    out["revision"], out["manual_count"]["differences"]
"""

from __future__ import annotations

import json
from typing import Any

from base.clock import SystemClock, iso
from base.sqlite import atomic
from count import manual_count
from count.protocol import (
    KIND,
    SignedProtocol,
    device_outbox,
    last_close,
    latest_protocol,
    sign_protocol,
)
from count.protocol_body import build_protocol, protocol_hash, tally_hash
from count.role import count_files, identify_summary, relay_polls, results_protocol
from station import polls
from station.errors import CountingError
from station.events import record
from station.polls import PollsState
from sync import signing
from sync.canonical import canonical


class ManualCountRefused(CountingError):
    """Raised when the figures cannot be signed: a line missing or not a number, or relations that
    do not hold with no explanation recorded (``text``: what the commission is told, both languages)."""

    def __init__(self, text):
        super().__init__(text.ru)
        self.text = text


def _machine_body(f, summary: dict[str, Any] | None) -> dict[str, Any]:
    """The signed machine protocol's body, or (not signed yet) the one signing would produce."""
    p = latest_protocol(f.store)
    if p is not None:
        return p.body
    return build_protocol(f.election, f.store.tally("real"), f.voters_on_list,
                          summary["identified"] if summary else None, last_close(f.station_conn),
                          provisional=summary.get("provisional") if summary else None)


def manual_count_form(paths, *, clock=None) -> dict[str, Any]:
    """The form for the screen: its lines with the machine's figures, voters on the list, revisions."""
    with count_files(paths, clock=clock) as f:
        polls.require(f.station_conn, PollsState.CLOSED, PollsState.PROTOCOL_SIGNED)
        summary = identify_summary(paths)
        body = _machine_body(f, summary)
        return {"lines": manual_count.form_lines(f.election, body), "voters_on_list": body["voters_on_list"],
                "revisions": revisions(f.store)}


def revisions(store) -> list[dict[str, Any]]:
    """Every signed revision, oldest first: revision, hash, signed_at, manual count or not, differences."""
    out = []
    for rev, body, h, at in store.conn.execute("SELECT revision, body, hash, signed_at FROM protocol"
                                               " ORDER BY revision"):
        m = json.loads(body).get("manual_count")
        out.append({"revision": rev, "hash": h, "signed_at": at, "manual": m is not None,
                    "differences": m["differences"] if m else None,
                    "explanation": m["explanation"] if m else None})
    return out


def sign_manual_revision(store, election, body: dict[str, Any], *, key, outbox, clock=None,
                         actor: str = "system") -> SignedProtocol:
    """Step 3: the revision's row, its outbox entry and its audit record in one transaction."""
    clock = clock or SystemClock()
    h = protocol_hash(body)
    with atomic(store.conn):
        prev = latest_protocol(store)
        if prev is not None and prev.hash == h:
            return prev             # the same figures signed already (a double tap): nothing twice
        revision = prev.revision + 1 if prev else 1
        doc = signing.sign_document(key, body)
        seq = outbox.enqueue(KIND, body).seq if outbox is not None else None
        at = iso(clock.now())
        store.conn.execute(
            "INSERT INTO protocol(revision, tally_hash, body, hash, document, outbox_seq, signed_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (revision, tally_hash(store.tally("real")), canonical(body).decode(), h,
             json.dumps(doc, ensure_ascii=False), seq, at))
        record(store.conn, "manual-count-signed", actor=actor, clock=clock, revision=revision, hash=h,
               differences=body["manual_count"]["differences"],
               explained=body["manual_count"]["explanation"] is not None)
        return SignedProtocol(revision, body, h, doc, seq, at)


def sign_manual_count(paths, typed: dict[str, str], explanation: str | None, *, member: str, pin: str,
                      printer=None, out_dir=None, clock=None) -> dict[str, Any]:
    """Check the typed figures, then sign, enqueue, export and print the protocol revision with them.

    Raises ``ManualCountRefused`` (nothing written) when count/manual_count.py refuses the figures,
    and PollsError for a wrong member PIN (the lockout of ``polls.authorize``).
    """
    clock = clock or SystemClock()
    with count_files(paths, clock=clock) as f:
        polls.require(f.station_conn, PollsState.CLOSED, PollsState.PROTOCOL_SIGNED)
        summary = identify_summary(paths)
        identified = summary["identified"] if summary else None
        body = _machine_body(f, summary)
        lines = manual_count.form_lines(f.election, body)
        c = manual_count.check(lines, typed, body["voters_on_list"])
        why = manual_count.refusal(c, explanation)
        if why is not None:
            raise ManualCountRefused(why)
        role = polls.authorize(f.station_conn, member, pin, clock=clock)
        actor = f"{role}:{member}"
        key, outbox = device_outbox(paths, f.store.conn, f.election, clock=clock)
        if latest_protocol(f.store) is None:
            relay_polls(paths, f, clock)
            sign_protocol(f.store, f.station_conn, f.election, key=key, outbox=outbox,
                          voters_on_list=body["voters_on_list"], voters_identified=identified,
                          clock=clock, actor=actor, provisional=summary.get("provisional") if summary else None)
            relay_polls(paths, f, clock)
        prev = latest_protocol(f.store)
        assert prev is not None
        section = manual_count.manual_section(lines, c, explanation)
        if prev.body.get("manual_count") == section:
            signed = prev            # the same figures signed already (a double tap): nothing twice
        else:
            new_body = {k: v for k, v in prev.body.items() if k not in ("manual_count", "supersedes")}
            new_body["manual_count"] = section
            new_body["supersedes"] = prev.hash
            signed = sign_manual_revision(f.store, f.election, new_body, key=key, outbox=outbox, clock=clock,
                                          actor=actor)
    # Exported and printed as every signed protocol is (count/role.py: the latest revision).
    shown = results_protocol(paths, out_dir=out_dir, clock=clock, printer=printer)
    return {"revision": signed.revision, "hash": signed.hash, "outbox_seq": signed.outbox_seq,
            "manual_count": section, "files": shown.get("files")}
