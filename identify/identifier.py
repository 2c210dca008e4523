"""Identifying a voter at the table: the rules, and the one transaction that records the result.

A voter is identified at most once at this station. Whatever the route (ID
card + finger, typed document number + finger, fingerprint search confirmed
by the commission, or a commission member's manual identification with a
recorded reason), the outcome is a value (``Outcome``): accepted with the
ballots to issue, a refusal with a reason code and a message in Kyrgyz and
Russian, a request to press the finger again, or (1:N search) candidates for
the commission to confirm on screen.

Rules (pure functions, ``refusal_before_match`` then ``decide``), in order:

1. ``polls-not-open``: identification happens only while polls are open
   (station/polls.py; ARCHITECTURE.md invariant 6);
2. ``card-not-authentic``: an ID card whose EF.SOD does not verify against the
   package's document signers (passive authentication) is refused;
3. ``not-on-list``: the voter is not on this station's list;
4. ``already-identified``: identified here before, at the local time shown
   (Asia/Bishkek: "already identified here at 10:42");
5. ``no-fingerprint-enrolled`` / ``fingerprint-mismatch``: the live finger
   must match one of the voter's enrolled templates (any finger, any press)
   at the threshold of the two-finger rule (biometrics/match.py
   ``decide_attempt``: each comparison held to the target FMR divided by
   templates x captures); both offer the manual route. A poor capture is not
   a refusal: ``retry``. **Two fingers**: when the voter has two enrolled
   fingers (the templates.csv ``finger`` column is the ISO position x 10 +
   the press) and the first capture does not match, the outcome is
   ``other-finger`` (nothing recorded but a ``second-finger-asked`` audit
   line; ``Outcome.attempt`` keeps the first capture) and the caller
   captures the other finger and calls again with ``previous=``; that second
   capture is the last (match: accepted; no match: ``fingerprint-mismatch``).
   The same finger placed again is a retry (``same-finger``). A 1:N search
   that finds nobody asks for another finger the same way when any voter of
   the list has two fingers enrolled;
6. ``not-eligible``: eligibility (identify/eligibility.py, DOMAIN.md "Voter
   lists and eligibility") grants no contest at all;
7. otherwise accepted, with one ballot per eligible contest (R4).

Recording (``Identifier``): ONE transaction in identify.db inserts the
identification (``pin`` UNIQUE: two tables racing on one voter cannot both
win; the loser gets ``already-identified``), its receipt (number gap-free per
station, verification code), the receipt's place in the print queue, the
outbox envelope (kind ``identification-receipt``, stream ``identify``) and
the audit record. Printing happens after the commit (identify/receipts.py
``print_pending``): a printer out of paper leaves the identification standing
and the receipt queued. The threshold and its target false-match rate are
stored with every fingerprint identification.

Remote voting (``claim``, identify/claims.py): before that transaction the
voter is claimed at the centre; a refusal ("already identified at UIK-… at
09:12") or no answer ("no-link", for the commission to decide) records
nothing; a granted (or provisional) claim gives the receipt its number and is
tied to the identification inside the same transaction.

Secrecy (ARCHITECTURE.md invariant 2): nothing here knows about marks or
votes; logs carry reason codes, methods and receipt numbers only.

Example::

    ident = Identifier(conn, station_conn, election, signer=signer, clock=clock)
    out = ident.by_card(document_read, capture.image)
    if out.accepted:
        print_pending(conn, printer, election)
    else:
        show(out.message.ky, out.message.ru)
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from base.clock import SystemClock, iso, parse_iso
from base.sqlite import atomic
from biometrics.extract import CAPTURE_MIN_QUALITY, extract
from biometrics.iso19794 import decode
from biometrics.match import (
    Calibration,
    Gallery,
    compare,
    cylinders,
    decide_attempt,
    default_calibration,
)
from identify import voters
from identify.rules import (
    MANUAL_REASONS,
    MESSAGES,
    METHODS,
    STREAM,
    Candidate,
    FingerAttempt,
    Fingerprint,
    Identified,
    Outcome,
    Reason,
    Receipt,
    Status,
    decide,
    receipt_body,
    receipt_label,
    refusal,
    refusal_before_match,
    verification_code,
)
from identify.voters import Voter
from station import polls
from station.election import Election
from station.errors import IdentificationError
from station.events import record
from sync.outbox import Outbox


class Matcher:
    """The biometric engine as this module uses it (biometrics).

    ``extract(image)`` -> (template or None, retry reason); ``verify(probe, records,
    captures)`` -> ``Fingerprint`` (best enrolled template, the two-finger rule's
    threshold: biometrics/match.py ``decide_attempt``); ``same_finger(a, b)``: two
    captures of one finger; ``search(probe, top)`` -> [(pin, score)] over the
    station's gallery (every enrolled template of every finger), built on first use
    by ``gallery_loader`` (the 1:N fallback only).
    """

    def __init__(self, gallery_loader: Callable[[], Any] | None = None, *, target_fmr: float | None = None,
                 calibration: Calibration | None = None):
        self._gallery_loader = gallery_loader
        self._gallery = None
        self._lock = threading.Lock()
        self.target_fmr = target_fmr
        self.calibration = calibration  # None: the engine's shipped calibration (real impostors)

    def __repr__(self) -> str:
        return f"Matcher(gallery={'built' if self._gallery is not None else 'lazy'})"

    def extract(self, image) -> tuple[Any | None, str]:
        """The live capture's template, or None and why the voter must press again: a capture under
        the station's quality gate (biometrics/extract.py ``CAPTURE_MIN_QUALITY``) is refused
        before any matching."""
        result = extract(image, min_quality=CAPTURE_MIN_QUALITY)
        return (result.template, "") if result.ok else (None, result.reason or "poor capture")

    def _calibration(self) -> Calibration:
        cal = self.calibration or default_calibration()
        return cal if self.target_fmr is None else replace(cal, target_fmr=float(self.target_fmr))

    def _decide(self, value: float):
        cal = self._calibration()
        return cal.decide(value, cal.target_fmr)

    def verify(self, probe, records: Sequence[bytes], captures: int = 1) -> Fingerprint:
        """The best score of ``probe`` against ``records``, held to the threshold of a voter
        with ``len(records)`` templates who may present ``captures`` fingers."""
        cal = self._calibration()
        if not records:
            return Fingerprint(False, 0.0, cal.threshold(), cal.target_fmr, "no-templates")
        pc = cylinders(probe)
        best = max(compare(pc, cylinders(decode(r))) for r in records)
        d = decide_attempt(best, len(records), captures, cal)
        return Fingerprint(d.match, d.score, d.threshold, d.target_fmr, d.reason)

    def same_finger(self, probe, earlier) -> bool:
        """Whether two captures are of one finger (the calibrated threshold between them)."""
        return self._decide(compare(cylinders(probe), cylinders(earlier))).match

    def gallery(self):
        with self._lock:
            if self._gallery is None:
                if self._gallery_loader is None:
                    raise IdentificationError("no fingerprint gallery for the 1:N search")
                self._gallery = self._gallery_loader()
            return self._gallery

    def search(self, probe, top: int = 5) -> list[tuple[str, Fingerprint]]:
        found = self.gallery().search(probe, top=top)
        out = []
        for c in found:
            d = self._decide(c.score)
            out.append((c.key, Fingerprint(d.match, d.score, d.threshold, d.target_fmr, d.reason)))
        return out


def station_gallery(conn: sqlite3.Connection):
    """The 1:N gallery of every enrolled template (every finger) on this station's list, keyed by PIN."""

    return Gallery.build([(pin, decode(rec)) for pin, _finger, rec in voters.station_templates(conn)])


def finger_positions(rows: Sequence[tuple[int, bytes]]) -> tuple[int, ...]:
    """The enrolled fingers of ``(finger, record)`` rows: the templates.csv ``finger`` column is
    the ISO finger position x 10 + the press (docs/election-package.md)."""
    return tuple(sorted({int(finger) // 10 for finger, _ in rows}))


def second_finger_possible(conn: sqlite3.Connection) -> bool:
    """Whether any voter of this station's list has two enrolled fingers (1:N may ask for another)."""
    return conn.execute("SELECT 1 FROM template GROUP BY pin HAVING count(DISTINCT finger / 10) > 1"
                        " LIMIT 1").fetchone() is not None


def _attempt_of(previous: Outcome | None, pin: str | None) -> FingerAttempt | None:
    """The first capture an ``other-finger`` outcome carries (None for a first capture);
    an outcome of another voter, or one that asked for no other finger, is a caller's bug."""
    if previous is None:
        return None
    attempt = previous.attempt
    if attempt is None or previous.status not in (Status.OTHER_FINGER, Status.RETRY):
        raise IdentificationError(f"previous outcome {previous.status} did not ask for another finger")
    if attempt.pin != pin:
        raise IdentificationError("the other finger's previous outcome is of another voter")
    return attempt


# --- records -----------------------------------------------------------------

def identified(conn: sqlite3.Connection, pin: str) -> Identified | None:
    r = conn.execute("SELECT i.pin, i.identified_at, i.method, i.table_id, r.number FROM identification i"
                     " JOIN receipt r ON r.identification = i.seq WHERE i.pin = ?", (pin,)).fetchone()
    if r is None:
        return None
    at = parse_iso(r[1])
    return Identified(r[0], at, r[2], r[4], r[3])


def counts(conn: sqlite3.Connection) -> dict[str, Any]:
    """Identifications so far, by method, with manual ones by reason (counted separately)."""
    by_method = {m: 0 for m in METHODS}
    for m, n in conn.execute("SELECT method, count(*) FROM identification GROUP BY method"):
        by_method[m] = n
    manual = {code: n for code, n in conn.execute(
        "SELECT manual_reason, count(*) FROM identification WHERE method = 'manual' GROUP BY manual_reason")}
    return {"identified": sum(by_method.values()), "by_method": by_method, "manual_by_reason": manual}


class Identifier:
    """One identification table: the routes to an identification, and its recording.

    ``conn`` is this table's own connection to identify.db (two tables: two
    connections); ``station_conn`` reads the polls state; ``signer`` is the
    device's ``sync.envelope.DeviceSigner`` (or pass ``outbox``); ``calibration``
    the fingerprint thresholds the election package carries (None: the engine's).
    """

    def __init__(self, conn: sqlite3.Connection, station_conn: sqlite3.Connection, election: Election, *,
                 signer=None, outbox=None, matcher: Matcher | None = None, clock=None,
                 logger: logging.Logger | None = None, table: str = "1",
                 calibration: Calibration | None = None, claim: Callable[..., Any] | None = None):

        if outbox is None:
            if signer is None:
                raise IdentificationError("an Identifier needs the device signer (or an outbox)")
            outbox = Outbox(conn, signer, STREAM)
        self.conn = conn
        self.station_conn = station_conn
        self.election = election
        self.outbox = outbox
        self.matcher = matcher or Matcher(lambda: station_gallery(self.conn), calibration=calibration)
        self.clock = clock or SystemClock()
        self.log = logger or logging.getLogger("uchastok.identify")
        self.table = str(table)
        self.tz = election.time_zone or "Asia/Bishkek"
        self._search: dict[str, Fingerprint] = {}
        self._search_lock = threading.Lock()
        # Remote voting: identify/claims.py ``ClaimClient``, asked in ``_commit`` before anything counts.
        self.claim = claim
        # Called as on_commit(conn, outcome) inside an identification's transaction (the remote-voting
        # site's daemon records the ballots the voter is owed there: identify/ondemand.py ``owe``).
        self.on_commit: Callable[[sqlite3.Connection, Outcome], None] | None = None

    def __repr__(self) -> str:
        return f"Identifier(table={self.table}, station={self.election.station.id})"

    # -- entry points --------------------------------------------------------

    def _card_voter(self, document) -> tuple[bool, Voter | None]:
        authentic = bool(document.passive_auth.ok)
        mrz = document.mrz
        voter = None
        if authentic:
            voter = voters.by_pin(self.conn, mrz.pin) if mrz.pin else None
            if voter is None:
                voter = voters.by_document(self.conn, mrz.document_number)
        return authentic, voter

    def check_card(self, document) -> Outcome | None:
        """Rules 1-4 for a card just read, before the voter is asked for a finger: the refusal
        (recorded), or None to go on to ``by_card``."""
        authentic, voter = self._card_voter(document)
        pin = document.mrz.pin if authentic else None
        early = refusal_before_match(polls_state=polls.current(self.station_conn), voter=voter,
                                     earlier=identified(self.conn, voter.pin) if voter else None,
                                     card_authentic=authentic, method="card+finger", tz=self.tz, pin=pin)
        if early is None:
            return None
        audit = {"card_check": document.passive_auth.reason} if not authentic else {}
        return self._refused(early, **audit)

    def by_card(self, document, probe_image, *, previous: Outcome | None = None) -> Outcome:
        """An ID card read by the driver (``drivers.idcard.DocumentRead``) + a live finger image.

        ``previous``: the ``other-finger`` outcome of this voter's first finger, when
        ``probe_image`` is the second finger (module docstring, rule 5).
        """
        authentic, voter = self._card_voter(document)
        mrz = document.mrz
        return self._identify("card+finger", voter, probe_image, card_authentic=authentic,
                              pin=mrz.pin if authentic else None, previous=previous,
                              audit={"card_check": document.passive_auth.reason} if not authentic else {})

    def by_document_number(self, document_number: str, probe_image, *,
                           previous: Outcome | None = None) -> Outcome:
        """A document number typed by the commission + a live finger image (``previous`` as ``by_card``)."""
        voter = voters.by_document(self.conn, document_number.strip().upper())
        return self._identify("document+finger", voter, probe_image, previous=previous)

    def by_fingerprint(self, probe_image, top: int = 5, *, previous: Outcome | None = None) -> Outcome:
        """1:N search when no document is presented: candidates for the commission to confirm.

        The gallery holds every enrolled finger of every voter. When the first finger
        finds nobody and some voter of the list has two fingers enrolled, the voter is
        asked for another finger (``other-finger``); the second search (``previous``) is
        the last.
        """
        state = polls.current(self.station_conn)
        if state is not polls.PollsState.OPEN:
            return self._refused(refusal(Reason.POLLS_NOT_OPEN, method="finger-search"))
        attempt = _attempt_of(previous, None)
        probe, why = self.matcher.extract(probe_image)
        if probe is None:
            return refusal(Reason.POOR_CAPTURE, method="finger-search", detail=why, attempt=attempt)
        if attempt is not None and self.matcher.same_finger(probe, attempt.probe):
            return refusal(Reason.SAME_FINGER, method="finger-search", attempt=attempt)
        searched = self.matcher.search(probe, top=top)
        found = [(pin, fp) for pin, fp in searched if fp.match]
        if not found and attempt is None and second_finger_possible(self.conn):
            best = searched[0][1].score if searched else 0.0
            return self._other_finger(refusal(Reason.OTHER_FINGER, method="finger-search",
                                              attempt=FingerAttempt(probe, best)))
        if not found:
            return self._refused(refusal(Reason.NO_CANDIDATE, method="finger-search"))
        cands = []
        with self._lock_search():
            self._search = {}
            for pin, fp in found:
                v = voters.by_pin(self.conn, pin)
                if v is None:
                    continue
                self._search[pin] = fp
                cands.append(Candidate(pin, v.full_name, v.birth_date.isoformat(), fp.score,
                                       identified(self.conn, pin) is not None))
        return Outcome(Status.CONFIRM, None, MESSAGES["confirm"], method="finger-search", candidates=tuple(cands),
                       offer_manual=True)

    def confirm_candidate(self, pin: str, member: str) -> Outcome:
        """The commission confirmed candidate ``pin`` of the last search on screen."""
        with self._lock_search():
            fp = self._search.pop(pin, None)
            if fp is None:
                raise IdentificationError(f"{pin} is not a candidate of the last fingerprint search")
            self._search = {}
        voter = voters.by_pin(self.conn, pin)
        return self._identify("finger-search", voter, None, fingerprint=fp, member=member)

    def manual(self, pin: str, member_id: str, reason_code: str) -> Outcome:
        """Manual identification by a commission member (authorised by the caller) with a reason."""
        if reason_code not in MANUAL_REASONS:
            raise IdentificationError(f"unknown manual reason {reason_code!r}; known: {', '.join(MANUAL_REASONS)}")
        if not member_id:
            raise IdentificationError("a manual identification needs the commission member's id")
        voter = voters.by_pin(self.conn, pin)
        return self._identify("manual", voter, None, member=member_id, manual_reason=reason_code, pin=pin)

    # -- the flow -------------------------------------------------------------

    def _lock_search(self):
        return self._search_lock

    def _identify(self, method: str, voter: Voter | None, probe_image, *, card_authentic: bool | None = None,
                  fingerprint: Fingerprint | None = None, member: str | None = None,
                  manual_reason: str | None = None, pin: str | None = None,
                  audit: dict | None = None, previous: Outcome | None = None) -> Outcome:
        state = polls.current(self.station_conn)
        earlier = identified(self.conn, voter.pin) if voter else None
        early = refusal_before_match(polls_state=state, voter=voter, earlier=earlier,
                                     card_authentic=card_authentic, method=method, tz=self.tz, pin=pin)
        if early is not None:
            return self._refused(early, **(audit or {}))
        assert voter is not None
        if method in ("card+finger", "document+finger"):
            fingerprint = None
            attempt = _attempt_of(previous, voter.pin)
            rows = voters.templates_for(self.conn, voter.pin)
            fingers = finger_positions(rows)
            # Rule 5: two enrolled fingers give the voter two captures (the second only
            # after the first did not match); every comparison is held to the target
            # FMR / (templates x captures) (biometrics/match.py decide_attempt).
            captures = 2 if len(fingers) >= 2 else 1
            probe, why = self.matcher.extract(probe_image)
            if probe is None:
                return refusal(Reason.POOR_CAPTURE, method=method, voter=voter, detail=why, attempt=attempt)
            if attempt is not None and self.matcher.same_finger(probe, attempt.probe):
                return refusal(Reason.SAME_FINGER, method=method, voter=voter, attempt=attempt)
            fingerprint = self.matcher.verify(probe, [r for _, r in rows], captures=captures)
            if not fingerprint.match and fingerprint.reason != "no-templates" and captures == 2 \
                    and attempt is None:
                return self._other_finger(refusal(
                    Reason.OTHER_FINGER, method=method, voter=voter, fingerprint=fingerprint,
                    attempt=FingerAttempt(probe, fingerprint.score, fingers, voter.pin)))
        out = decide(polls_state=state, voter=voter, earlier=None, election=self.election, method=method,
                     card_authentic=card_authentic, fingerprint=fingerprint)
        if not out.accepted:
            return self._refused(out)
        return self._commit(out, member=member, manual_reason=manual_reason)

    def finger_mismatch(self, previous: Outcome) -> Outcome:
        """The voter asked for another finger (``previous``) did not give one that can be
        compared: the first finger's verdict stands (recorded as a refusal, manual offered)."""
        attempt = _attempt_of(previous, previous.pin)
        if attempt is None:
            raise IdentificationError("finger_mismatch needs an other-finger outcome")
        reason = Reason.FINGERPRINT_MISMATCH if previous.voter is not None else Reason.NO_CANDIDATE
        return self._refused(refusal(reason, method=previous.method, voter=previous.voter,
                                     fingerprint=previous.fingerprint), second_finger="not-given")

    def _other_finger(self, out: Outcome) -> Outcome:
        fp = out.fingerprint
        try:
            record(self.conn, "second-finger-asked", "failure", actor=f"table:{self.table}", clock=self.clock,
                   method=out.method, score=round(fp.score, 4) if fp else None,
                   threshold=fp.threshold if fp else None)
        except sqlite3.Error as e:  # the question stands even if its audit line cannot be written
            self.log.error("cannot audit a second-finger request: %s", e)
        self.log.info("table %s: first finger did not match, other finger asked (%s)", self.table, out.method)
        return out

    def _refused(self, out: Outcome, **details: Any) -> Outcome:
        try:
            record(self.conn, "identification-refused", "refused", actor=f"table:{self.table}",
                   clock=self.clock, reason=out.reason, method=out.method, **details)
        except sqlite3.Error as e:  # the refusal stands even if its audit line cannot be written
            self.log.error("cannot audit a refusal: %s", e)
        self.log.info("table %s: refused (%s, %s)", self.table, out.reason, out.method)
        return out

    def _commit(self, out: Outcome, *, member: str | None, manual_reason: str | None) -> Outcome:

        voter = out.voter
        assert voter is not None and out.method is not None
        claimed = self.claim(self, out, member=member, manual_reason=manual_reason) if self.claim else None
        if claimed is not None and claimed.outcome is not None:
            # Refused by the centre, or no answer ("no-link": the commission decides): nothing recorded.
            out_claim = claimed.outcome
            return self._refused(out_claim, claim=claimed.state) if out_claim.status is Status.REFUSED \
                else out_claim
        fp = out.fingerprint
        now = self.clock.now().replace(microsecond=0)
        at = iso(now)
        try:
            with atomic(self.conn):
                cur = self.conn.execute(
                    "INSERT INTO identification(pin, method, manual_reason, member, table_id, identified_at,"
                    " ballots, match_score, match_threshold, match_fmr) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (voter.pin, out.method, manual_reason, member, self.table, at, json.dumps(list(out.ballots)),
                     fp.score if fp else None, fp.threshold if fp else None, fp.target_fmr if fp else None))
                seq = cur.lastrowid
                # A claim reserved its receipt number; receipts and claims share the numbers.
                number = claimed.receipt if claimed is not None else self.conn.execute(
                    "SELECT max(coalesce((SELECT max(number) FROM receipt), 0),"
                    " coalesce((SELECT max(receipt) FROM claim), 0)) + 1").fetchone()[0]
                body = receipt_body(number=number, pin=voter.pin, method=out.method, manual_reason=manual_reason,
                                    identified_at=at, ballots=out.ballots, table=self.table)
                code = verification_code(self.election.id, self.election.station.id, body)
                body["verification_code"] = code
                self.conn.execute("INSERT INTO receipt(number, identification, code, issued_at) VALUES (?,?,?,?)",
                                  (number, seq, code, at))
                self.conn.execute("INSERT INTO print_queue(receipt, queued_at) VALUES (?, ?)", (number, at))
                self.outbox.enqueue("identification-receipt", body)
                if claimed is not None:
                    claimed.settle(self.conn, seq)
                if self.on_commit is not None:
                    self.on_commit(self.conn, out)
                record(self.conn, "voter-identified", actor=member and f"member:{member}" or f"table:{self.table}",
                       clock=self.clock, receipt=receipt_label(number), method=out.method,
                       manual_reason=manual_reason, table=self.table)
        except sqlite3.IntegrityError:
            # Another table identified this voter between our check and our commit: it won.
            earlier = identified(self.conn, voter.pin)
            if earlier is None:
                raise
            return self._refused(refusal(Reason.ALREADY_IDENTIFIED, method=out.method, voter=voter,
                                         tz=self.tz, earlier=earlier), race=True)
        self.log.info("table %s: identified, receipt %s (%s)", self.table, receipt_label(number), out.method)
        return replace(out, receipt=Receipt(number, code, now, out.method, out.ballots, self.table))
