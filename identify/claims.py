"""The station's online claim before a ballot is issued (remote voting; issue #14 points 2-3).

Law No. 113 of 9 June 2025 (DOMAIN.md "Remote voting"; seed ``002_…`` item 3.4):
a voter identified at a remote-voting site (or at home, while the link is up)
is asked about at the centre before a ballot is issued; the centre grants each
voter at most once across all stations (central/claims.py). This module is the
device's side: the ``claim`` hook of ``identify.identifier.Identifier``, called
in its ``_commit`` once the rules accepted the voter and before anything is
recorded as issued.

One claim, in this order:

1. **Reserve and record** (one transaction in identify.db, table ``claim``,
   identify/store.py ``claims-v1``): the next receipt number (over receipts and
   claims together: a refused claim's number is never issued), the claim
   signed with the identify role's device key and certificate reference
   (sync/claims.py ``make_claim``), audit ``claim-sent``. A voter who already
   has an unsettled claim here (the daemon was killed between the claim and
   its answer, the commission declined to issue, a second table) re-sends
   THAT claim: same receipt, same signed bytes, and the centre (idempotent by
   station and receipt) gives the same decision; an earlier answer recorded
   here is used again without asking.
2. **Send** it to the centre's ``POST /v1/claims`` over the uploader's transport
   (sync/uploader.py: the same URL, TLS against the pinned CA bundle, http only
   to loopback, sockets cut by a watchdog at the deadline) and wait at most
   ``wait_s`` (uchastok.toml ``[claims] wait_s``, default ``DEFAULT_WAIT_S`` =
   5 s: a claim and its answer are under 1 KB, one round trip on a kept-alive
   connection; bench/bench_claims.py measures p95 0.2 s on 3G and 1.3 s on the
   2G profile, 2.3 s at worst, so 5 s lets a working 2G link answer while a
   dead one costs each voter at most 5 s before the commission decides).
3. **Verify** the answer (sync/claims.py ``open_answer``: the centre's ack key
   from the package's trust, bound to this claim's hash, voter, station and
   receipt). A forged answer, one for another voter or claim, a 4xx, a 5xx,
   a timeout: no answer. Nothing is issued on anything but a verified
   "granted".
4. **Record the outcome** with the identification's state: a granted claim is
   tied to the identification in the identification's own transaction
   (``Claimed.settle``); a refusal is recorded with the centre's signed answer
   and returned as a refusal ``Outcome`` ("already identified at UIK-1234 at
   09:12, receipt R-000017", in Kyrgyz and Russian); audit ``claim-answered``.

Modes (``[claims] mode``): ``always`` at a remote-voting site (every voter is
claimed; the default when the package's station is a remote site),
``when-online`` at a home station (claimed while the link answers; with no
answer the voter is identified as without claims and the receipt envelope is
the later check at the centre; after a failure the station does not ask again
for ``HOME_QUIET_S`` so that voters do not each wait out a dead link),
``off`` (no URL configured).

**Offline fallback** (mode ``always``): with no answer in time, the outcome is
``Status.CONFIRM`` with reason ``no-link`` (nothing recorded as issued): the
screen asks "no link: issue provisionally?". A commission member's PIN
(station/polls.py ``authorize``: the same rules and lockout as every PIN on
the table) and ``issue_provisionally`` record the identification with the
claim re-signed as ``provisional: true`` (same receipt and time) and the
member, in one transaction, audit ``claim-issued-provisionally``; if the
answer arrived meanwhile it is used instead. ``retry`` asks the centre again,
``decline`` leaves the claim queued and issues nothing. Unanswered claims
(provisional or not) are re-sent by ``ClaimResender`` (a thread of the identify
daemon: the /v1/claims loop, with full-jitter backoff capped at
``[claims] resend_cap_s``, default 30 s) until an answer verifies: never lost,
never issued twice (the identification's ``pin`` UNIQUE and the claim's
``identification`` UNIQUE). A late refusal of a provisional claim is a
conflict: audit ``claim-conflict`` here, and at the centre the anomaly
``claim-refused`` naming both stations, times and receipts.

The re-send loop is a /v1/claims loop and not an outbox envelope kind: the
centre's claim desk already decides, records and signs claims (provisional
ones too) and keeps the conflict evidence; a new envelope kind would need the
receiver to learn it and would repeat what the identification receipt already
carries. The claim travels apart from the identify stream's receipts; both
reach the centre, and either finds a double identification there.

Secrecy: a claim carries the PIN, the station, the receipt number and a time,
as the receipt does; nothing about ballots. Audit records carry receipt
numbers, decisions and station ids, never a PIN.

Example::

    claims = open_claims(paths, election, clock=clock)    # None when mode is off
    ident = Identifier(conn, sconn, election, signer=signer, claim=claims)
    out = ident.by_card(document, image)                  # CONFIRM "no-link" when offline
    if out.reason == NO_LINK:
        polls.authorize(sconn, member, member_pin)
        out = claims.issue_provisionally(out.pin, member)
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import requests

from base.clock import SystemClock, iso, local, parse_iso
from base.sqlite import atomic
from identify.rules import Outcome, Status, receipt_label
from identify.store import open_identify_db
from station.daemon import call_hook
from station.errors import ConfigError, IdentificationError
from station.events import record
from station.text import Text
from sync import signing
from sync.canonical import canonical, parse
from sync.certificate import cert_ref
from sync.claims import (
    ALREADY_VOTED,
    HOME_DISTRICT,
    NOT_ON_LIST,
    NOT_REMOTE_SITE,
    NOT_THIS_STATION,
    make_claim,
    open_answer,
)
from sync.device import load_device
from sync.errors import EnvelopeError, RemoteRejected, SyncError, TransportFault, VerificationError
from sync.uploader import SocketRegistry, cuttable_adapter, is_loopback

log = logging.getLogger("uchastok.identify.claims")

CLAIM_PATH = "v1/claims"
MAX_ANSWER_BYTES = 16 * 1024     # an answer is under 1 KB
ALWAYS, WHEN_ONLINE, OFF = "always", "when-online", "off"
MODES = (ALWAYS, WHEN_ONLINE, OFF)
DEFAULT_WAIT_S = 5.0
DEFAULT_RESEND_CAP_S = 30.0
RESEND_BASE_S = 1.0
HOME_QUIET_S = 60.0

# The reason codes of a refusal the centre signed (sync/claims.py), as the table's Outcome says them.
IDENTIFIED_ELSEWHERE = "identified-elsewhere"
NO_LINK = "no-link"
CLAIM_REJECTED = "claim-rejected"

MESSAGES: dict[str, Text] = {
    IDENTIFIED_ELSEWHERE: Text(
        "Шайлоочу {station} участогунда саат {time} идентификацияланган (квитанция {receipt}):"
        " кайра добуш бере албайт",
        "Избиратель уже идентифицирован на участке {station} в {time} (квитанция {receipt}):"
        " повторно голосовать нельзя"),
    HOME_DISTRICT: Text("Шайлоочунун өз округу: өз участогунда гана добуш бере алат",
                        "Это округ избирателя: голосовать можно только на своём участке"),
    NOT_THIS_STATION: Text("Бул шайлоочунун участогу эмес жана алыстан добуш берүү пункту эмес",
                           "Это не участок избирателя и не пункт дистанционного голосования"),
    NOT_ON_LIST: Text("Шайлоочу шайлоочулардын улуттук тизмесинде жок",
                      "Избирателя нет в национальном списке избирателей"),
    CLAIM_REJECTED: Text("Борбор бул түзмөктүн суроосун кабыл алган жок ({detail}): техникти чакырыңыз",
                         "Центр не принял запрос этого устройства ({detail}): вызовите техника"),
    NO_LINK: Text("Борбор {seconds} секунданын ичинде жооп берген жок ({cause_ky}). Бюллетенди шарттуу"
                  " түрдө (комиссия мүчөсүнүн PIN-коду менен) бересизби?",
                  "Центр не ответил за {seconds} с ({cause_ru}). Выдать бюллетень условно"
                  " (по PIN-коду члена комиссии)?"),
    "checking": Text("Борбор менен текшерүү…", "Проверка в центре…"),
}
# Why there is no answer, as the commission is told it (the technical detail goes to the audit log).
NO_ANSWER_CAUSES: dict[str, Text] = {
    "answer": Text("борбордун жообу текшерүүдөн өткөн жок", "ответ центра не прошёл проверку"),
    "late": Text("жооп убагында келген жок", "ответ не пришёл вовремя"),
    "busy": Text("борбор азыр жооп бере албайт", "центр временно не отвечает"),
    "link": Text("байланыш жок", "нет соединения"),
}


def no_answer_cause(why: str) -> Text:
    """The commission's words for a ``send_claim`` error."""
    if why.startswith("answer refused"):
        return NO_ANSWER_CAUSES["answer"]
    if "no answer in time" in why or "Timeout" in why:
        return NO_ANSWER_CAUSES["late"]
    if why.startswith("HTTP "):
        return NO_ANSWER_CAUSES["busy"]
    return NO_ANSWER_CAUSES["link"]


# The centre's codes -> the Outcome's reason (the screen's WHAT_TO_DO is keyed by these).
_REASONS = {ALREADY_VOTED: IDENTIFIED_ELSEWHERE, HOME_DISTRICT: HOME_DISTRICT,
            NOT_REMOTE_SITE: NOT_THIS_STATION, NOT_THIS_STATION: NOT_THIS_STATION, NOT_ON_LIST: NOT_ON_LIST}


# --- configuration ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClaimConfig:
    """``[claims]`` of uchastok.toml (module docstring, "Modes")."""

    mode: str = OFF
    url: str | None = None
    ca: str | None = None
    wait_s: float = DEFAULT_WAIT_S
    resend_cap_s: float = DEFAULT_RESEND_CAP_S

    @classmethod
    def from_paths(cls, paths, election) -> ClaimConfig:
        """The table from ``paths.config_file``; url and ca default to the uploader's
        ``UCHASTOK_SYNC_URL`` / ``UCHASTOK_SYNC_CA``; mode to ``always`` at a remote-voting
        site (the package's station ``kind``), ``when-online`` where a URL is known, else off."""
        table: dict[str, Any] = {}
        if paths.config_file.exists():
            try:
                table = tomllib.loads(paths.config_file.read_text()).get("claims", {})
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise ConfigError(f"{paths.config_file}: {e}") from e
        if not isinstance(table, dict):
            raise ConfigError(f"{paths.config_file}: [claims] must be a table")
        unknown = set(table) - {"mode", "url", "ca", "wait_s", "resend_cap_s"}
        if unknown:
            raise ConfigError(f"{paths.config_file}: [claims] has unknown keys {sorted(unknown)}")
        url = table.get("url") or os.environ.get("UCHASTOK_SYNC_URL") or None
        ca = table.get("ca") or os.environ.get("UCHASTOK_SYNC_CA") or None
        remote_site = getattr(election.station, "kind", None) == "remote-site"
        mode = table.get("mode") or (ALWAYS if remote_site else WHEN_ONLINE if url else OFF)
        if mode not in MODES:
            raise ConfigError(f"[claims] mode must be one of {', '.join(MODES)}, not {mode!r}")
        if mode != OFF and not url:
            raise ConfigError("[claims] needs the centre's url (or UCHASTOK_SYNC_URL): a remote-voting"
                              " site claims every voter online before a ballot is issued")
        try:
            wait_s = float(table.get("wait_s", DEFAULT_WAIT_S))
            cap = float(table.get("resend_cap_s", DEFAULT_RESEND_CAP_S))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"[claims] wait_s and resend_cap_s are seconds: {e}") from e
        if not 0.2 <= wait_s <= 60 or not 1 <= cap <= 3600:
            raise ConfigError("[claims] wait_s must be within 0.2..60 s and resend_cap_s within 1..3600 s")
        return cls(mode, url, str(ca) if ca else None, wait_s, cap)


# --- the transport ----------------------------------------------------------------------------

class ClaimLink:
    """``POST /v1/claims`` over the uploader's transport (sync/uploader.py): the pinned CA for https,
    http only to loopback, no proxies from the environment, and a watchdog that shuts the
    request's sockets when the deadline passes (a read timeout alone applies per socket read).
    One request at a time per link; the connection is kept alive between claims."""

    def __init__(self, url: str, *, ca: str | os.PathLike | None = None, connect_timeout: float = 10.0):
        scheme = urlparse(url).scheme
        if scheme == "https":
            if ca is None:
                raise SyncError("https needs a pinned CA bundle ([claims] ca or UCHASTOK_SYNC_CA)")
        elif scheme != "http" or not is_loopback(url):
            raise SyncError(f"{url}: only https, or http to a loopback address, is allowed")
        self.url = urljoin(url if url.endswith("/") else url + "/", CLAIM_PATH)
        self.connect_timeout = connect_timeout
        self._registry = SocketRegistry()
        self._lock = threading.Lock()
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(ca) if ca else True
        self.session.mount("http://", cuttable_adapter(self._registry))
        self.session.mount("https://", cuttable_adapter(self._registry))

    def __repr__(self) -> str:
        return f"ClaimLink(-> {self.url})"

    def close(self) -> None:
        self.session.close()

    def post(self, body: bytes, deadline_s: float) -> bytes:
        """The body of a 200 answer; ``TransportFault`` (no answer in time, 429, 5xx) or
        ``RemoteRejected`` (another status: the centre refused to decide)."""
        with self._lock:
            end = time.monotonic() + deadline_s
            cut = threading.Event()

            def watchdog():
                cut.set()
                self._registry.cut()

            timer = threading.Timer(deadline_s, watchdog)
            timer.daemon = True
            timer.start()
            try:
                try:
                    resp = self.session.post(
                        self.url, data=body, stream=True, allow_redirects=False,
                        headers={"Content-Type": "application/json", "Accept": "application/json"},
                        timeout=(min(self.connect_timeout, deadline_s), deadline_s))
                    try:
                        data = self._read(resp, end, cut)
                    finally:
                        resp.close()
                except requests.RequestException as e:
                    raise TransportFault(("no answer in time: " if cut.is_set() else "")
                                         + f"{type(e).__name__}: {e}") from e
                except OSError as e:
                    raise TransportFault(f"{type(e).__name__}: {e}") from e
            finally:
                timer.cancel()
                self._registry.forget()
        if resp.status_code == 200:
            return data
        detail = f"HTTP {resp.status_code}: {data[:200].decode('utf-8', 'replace')}"
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise TransportFault(detail)
        err = RemoteRejected(detail)
        err.status = resp.status_code  # type: ignore[attr-defined]
        raise err

    @staticmethod
    def _read(resp: requests.Response, end: float, cut: threading.Event) -> bytes:
        chunks, n = [], 0
        for chunk in resp.iter_content(4096):
            if cut.is_set() or time.monotonic() > end:
                raise TransportFault("no answer in time (deadline passed while reading it)")
            n += len(chunk)
            if n > MAX_ANSWER_BYTES:
                raise TransportFault("answer too large")
            chunks.append(chunk)
        if cut.is_set():
            raise TransportFault("no answer in time (deadline passed while reading it)")
        return b"".join(chunks)


# --- the records ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClaimRow:
    receipt: int
    pin: str
    document: dict
    decision: str | None
    reason: str | None
    first: dict | None
    provisional_member: str | None
    identification: int | None
    resend: int
    sends: int
    claimed_at: str

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> ClaimRow:
        first = None if r["first_station"] is None else {
            "station": r["first_station"], "at": r["first_at"], "receipt": r["first_receipt"]}
        return cls(r["receipt"], r["pin"], json.loads(r["document"]), r["decision"], r["reason"], first,
                   r["provisional_member"], r["identification"], r["resend"], r["sends"], r["claimed_at"])


def claim_row(conn: sqlite3.Connection, receipt: int) -> ClaimRow | None:
    r = conn.execute("SELECT * FROM claim WHERE receipt = ?", (receipt,)).fetchone()
    return ClaimRow.from_row(r) if r else None


def open_claim(conn: sqlite3.Connection, pin: str) -> ClaimRow | None:
    """This voter's claim here that no identification took yet (the newest), if any."""
    r = conn.execute("SELECT * FROM claim WHERE pin = ? AND identification IS NULL ORDER BY receipt DESC"
                     " LIMIT 1", (pin,)).fetchone()
    return ClaimRow.from_row(r) if r else None


def next_receipt_number(conn: sqlite3.Connection) -> int:
    """The next receipt number over receipts and claims (call inside the write transaction)."""
    return conn.execute("SELECT max(coalesce((SELECT max(number) FROM receipt), 0),"
                        " coalesce((SELECT max(receipt) FROM claim), 0)) + 1").fetchone()[0]


def record_answer(conn: sqlite3.Connection, receipt: int, answer_doc: dict, answer: dict, *,
                  clock=None) -> ClaimRow:
    """Store a verified answer (once: a later copy of it changes nothing) with its audit record."""
    with atomic(conn):
        row = claim_row(conn, receipt)
        if row is None:
            raise IdentificationError(f"no claim for receipt {receipt_label(receipt)}")
        if row.decision is not None:
            return row
        first = answer.get("first") if isinstance(answer.get("first"), dict) else {}
        conn.execute("UPDATE claim SET decision = ?, reason = ?, first_station = ?, first_at = ?,"
                     " first_receipt = ?, answer = ?, answered_at = ?, last_error = NULL WHERE receipt = ?",
                     (answer["decision"], answer.get("reason"), first.get("station"), first.get("at"),
                      first.get("receipt"), canonical(answer_doc).decode(), iso((clock or SystemClock()).now()),
                      receipt))
        details = {"receipt": receipt_label(receipt), "decision": answer["decision"],
                   "reason": answer.get("reason")}
        if first and answer["decision"] == "refused":
            details |= {"first_station": first.get("station"), "first_at": first.get("at"),
                        "first_receipt": first.get("receipt")}
        record(conn, "claim-answered", "success" if answer["decision"] == "granted" else "refused",
               clock=clock, **details)
        if answer["decision"] == "refused" and row.identification is not None:
            record(conn, "claim-conflict", "failure", clock=clock, provisional=row.provisional_member is not None,
                   **details)
        return claim_row(conn, receipt)  # type: ignore[return-value]


def record_failure(conn: sqlite3.Connection, receipt: int, error: str) -> None:
    conn.execute("UPDATE claim SET sends = sends + 1, last_error = ? WHERE receipt = ?", (error[:300], receipt))


def claim_counts(conn: sqlite3.Connection) -> dict[str, Any]:
    """For the identification summary: identifications issued on a provisional claim (and what
    the centre answered them since), online refusals, and home-station identifications made
    without an answer (no link)."""
    r = conn.execute(
        "SELECT"
        " coalesce(sum(identification IS NOT NULL AND provisional_member IS NOT NULL), 0),"
        " coalesce(sum(identification IS NOT NULL AND provisional_member IS NOT NULL AND decision = 'granted'), 0),"
        " coalesce(sum(identification IS NOT NULL AND provisional_member IS NOT NULL AND decision = 'refused'), 0),"
        " coalesce(sum(identification IS NULL AND decision = 'refused'), 0),"
        " coalesce(sum(identification IS NOT NULL AND decision = 'granted' AND provisional_member IS NULL), 0),"
        " coalesce(sum(identification IS NOT NULL AND decision IS NULL AND resend = 0), 0),"
        " coalesce(sum(decision IS NULL AND resend = 1), 0)"
        " FROM claim").fetchone()
    return {"provisional": {"issued": r[0], "granted_later": r[1], "refused_later": r[2],
                            "unanswered": r[0] - r[1] - r[2]},
            "claims": {"granted_online": r[4], "refused_online": r[3], "without_answer": r[5],
                       "queued": r[6]}}


# --- the hook ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    """What the claim came to, for ``Identifier._commit``.

    ``outcome`` set: nothing is recorded as issued (a refusal, or the "no link" question).
    Otherwise the identification takes ``receipt`` and, in its own transaction,
    ``settle`` ties the claim to it (granted, provisional with ``member``, or, at a home
    station without a link, unanswered).
    """

    receipt: int | None
    state: str                       # granted | provisional | unanswered | refused | no-answer
    outcome: Outcome | None = None
    member: str | None = None
    document: dict | None = None
    clock: Any = None

    def settle(self, conn: sqlite3.Connection, identification: int) -> None:
        """Tie the claim to ``identification`` (call inside the identification's transaction)."""
        if self.state == "granted":
            conn.execute("UPDATE claim SET identification = ? WHERE receipt = ?", (identification, self.receipt))
        elif self.state == "unanswered":
            conn.execute("UPDATE claim SET identification = ?, resend = 0 WHERE receipt = ?",
                         (identification, self.receipt))
        elif self.state == "provisional":
            # The member's decision stands even if an answer raced in: the claim is re-signed
            # as provisional only while unanswered (the answer is bound to the claim it answers).
            conn.execute("UPDATE claim SET identification = ?, provisional_member = ?, resend = 1,"
                         " document = CASE WHEN decision IS NULL THEN ? ELSE document END"
                         " WHERE receipt = ?",
                         (identification, self.member, canonical(self.document).decode(), self.receipt))
            record(conn, "claim-issued-provisionally", actor=f"member:{self.member}", clock=self.clock,
                   receipt=receipt_label(self.receipt))
        else:
            raise IdentificationError(f"a {self.state} claim allows no identification")


@dataclass
class _Awaiting:
    """An accepted voter whose claim got no answer: what ``_commit`` needs to go on."""

    ident: Any
    out: Outcome
    member: str | None
    manual_reason: str | None
    receipt: int
    detail: str


class ClaimClient:
    """The ``claim`` hook of one table's ``Identifier`` (module docstring)."""

    def __init__(self, config: ClaimConfig, *, key: signing.PrivateKey, certificate: dict, device_id: str,
                 election, ack_pub: signing.PublicKey, link: ClaimLink | None = None, clock=None,
                 logger: logging.Logger | None = None, on_checking: Callable[[Outcome], None] | None = None):
        if config.mode == OFF:
            raise ConfigError("claims are off: no ClaimClient")
        self.config = config
        self.mode = config.mode
        self.wait_s = config.wait_s
        self._key = key
        self.certificate = certificate
        self.cert_ref = cert_ref(certificate)
        self.device_id = device_id
        self.election = election
        self.ack_pub = ack_pub
        self.link = link or ClaimLink(config.url or "", ca=config.ca)
        self.clock = clock or SystemClock()
        self.log = logger or log
        self.on_checking = on_checking     # the screen's hook: "checking online…"
        self.tz = election.time_zone or "Asia/Bishkek"
        self._awaiting: dict[str, _Awaiting] = {}
        self._provisional: tuple[str, int, str, dict] | None = None
        self._quiet_until = 0.0
        self._lock = threading.RLock()
        self.in_flight: set[int] = set()    # receipts the table is waiting on now (the re-send loop skips them)

    def __repr__(self) -> str:
        return f"ClaimClient({self.mode}, {self.link.url}, station={self.election.station.id})"

    def close(self) -> None:
        self.link.close()

    # -- signing and sending ---------------------------------------------------------------------

    def sign(self, pin: str, receipt: int, at: str, *, provisional: bool = False) -> dict:
        return make_claim(self._key, self.cert_ref, election=self.election.id, station=self.election.station.id,
                          device=self.device_id, pin=pin, receipt=receipt_label(receipt), at=at,
                          provisional=provisional)

    def send(self, doc: dict, wait_s: float | None = None) -> tuple[dict, dict] | tuple[None, str]:
        """(answer document, verified answer) or (None, why there is none)."""
        return send_claim(self.link, doc, self.ack_pub, self.wait_s if wait_s is None else wait_s)

    # -- the hook ---------------------------------------------------------------------------------

    def __call__(self, ident, out: Outcome, *, member: str | None = None,
                 manual_reason: str | None = None) -> Claimed | None:
        voter = out.voter
        assert voter is not None
        conn = ident.conn
        with self._lock:
            prov = self._provisional
            if prov is not None and prov[0] == voter.pin:
                return Claimed(prov[1], "provisional", member=prov[2], document=prov[3], clock=self.clock)
            if self.mode == WHEN_ONLINE and time.monotonic() < self._quiet_until:
                return None     # the link failed a moment ago: identified as without claims
            row = open_claim(conn, voter.pin)
            if row is not None and row.decision is not None:
                return self._decided(row, out)
            if row is None:
                row = self._reserve(conn, voter.pin, ident.table)
        call_hook(self.on_checking, out, self.log, "on_checking")
        self.in_flight.add(row.receipt)
        try:
            answer_doc, answer = self.send(row.document)
        finally:
            self.in_flight.discard(row.receipt)
        if answer_doc is None:
            return self._no_answer(ident, conn, row, out, str(answer), member, manual_reason)
        return self._decided(record_answer(conn, row.receipt, answer_doc, answer, clock=self.clock), out)

    def _reserve(self, conn: sqlite3.Connection, pin: str, table: str) -> ClaimRow:
        at = iso(self.clock.now().replace(microsecond=0))
        with atomic(conn):
            number = next_receipt_number(conn)
            doc = self.sign(pin, number, at)
            conn.execute("INSERT INTO claim(receipt, pin, table_id, claimed_at, document, resend)"
                         " VALUES (?,?,?,?,?,?)", (number, pin, str(table), at, canonical(doc).decode(),
                                                   1 if self.mode == ALWAYS else 0))
            record(conn, "claim-sent", actor=f"table:{table}", clock=self.clock, receipt=receipt_label(number),
                   table=str(table))
        return claim_row(conn, number)  # type: ignore[return-value]

    def _decided(self, row: ClaimRow, out: Outcome) -> Claimed:
        if row.decision == "granted":
            return Claimed(row.receipt, "granted", clock=self.clock)
        return Claimed(row.receipt, "refused", outcome=self.refusal(row, out))

    def refusal(self, row: ClaimRow, out: Outcome) -> Outcome:
        """The refusal Outcome of a claim the centre refused (its reason, where and when)."""
        reason = _REASONS.get(row.reason or "", row.reason or "refused")
        if reason == IDENTIFIED_ELSEWHERE and row.first:
            try:
                when = local(parse_iso(row.first["at"]), self.tz).strftime("%H:%M")
            except (TypeError, ValueError):
                when = str(row.first.get("at"))
            message = MESSAGES[IDENTIFIED_ELSEWHERE].format(station=row.first.get("station"), time=when,
                                                           receipt=row.first.get("receipt"))
        else:
            message = MESSAGES.get(reason, Text(reason, reason))
        return Outcome(Status.REFUSED, reason, message, method=out.method, pin=out.pin, voter=out.voter,
                       refused_contests=dict(out.refused_contests), fingerprint=out.fingerprint)

    def _no_answer(self, ident, conn, row: ClaimRow, out: Outcome, why: str, member, manual_reason) -> Claimed:
        with atomic(conn):
            record_failure(conn, row.receipt, why)
            record(conn, "claim-unanswered", "failure", actor=f"table:{ident.table}", clock=self.clock,
                   receipt=receipt_label(row.receipt), error=why[:200], mode=self.mode)
        self.log.warning("claim %s: no answer (%s)", receipt_label(row.receipt), why)
        if self.mode == WHEN_ONLINE:
            # A home station identifies as without claims: its receipt is the later check.
            self._quiet_until = time.monotonic() + HOME_QUIET_S
            return Claimed(row.receipt, "unanswered", clock=self.clock)
        if why.startswith("rejected:"):
            # The centre answered but would not decide (unenrolled device, a certificate that does
            # not cover the claim): not a link problem, so no provisional issue; the claim stays queued.
            return Claimed(row.receipt, "refused", outcome=Outcome(
                Status.REFUSED, CLAIM_REJECTED, MESSAGES[CLAIM_REJECTED].format(detail=why[9:120].strip()),
                method=out.method, pin=out.pin, voter=out.voter))
        with self._lock:
            self._awaiting[out.voter.pin] = _Awaiting(ident, out, member, manual_reason, row.receipt, why)
        cause = no_answer_cause(why)
        question = MESSAGES[NO_LINK].format(seconds=f"{self.wait_s:g}", cause_ky=cause.ky, cause_ru=cause.ru)
        return Claimed(row.receipt, "no-answer", outcome=replace(
            out, status=Status.CONFIRM, reason=NO_LINK, message=question, offer_manual=False))

    # -- the commission's answer to "no link" -------------------------------------------------------

    def awaiting(self) -> list[str]:
        """PINs of the voters waiting for the commission's decision (no answer yet)."""
        with self._lock:
            return list(self._awaiting)

    def _take(self, pin: str) -> _Awaiting:
        with self._lock:
            waiting = self._awaiting.pop(pin, None)
        if waiting is None:
            raise IdentificationError("no voter with this PIN waits for a claim's answer at this table")
        return waiting

    def issue_provisionally(self, pin: str, member: str) -> Outcome:
        """Issue on a provisional claim (``member`` authorised by the caller with the PIN). If the
        centre's answer arrived meanwhile (the re-send loop), it decides instead."""
        if not member:
            raise IdentificationError("a provisional issue needs the commission member's id")
        w = self._take(pin)
        row = claim_row(w.ident.conn, w.receipt)
        if row is None or row.identification is not None:
            raise IdentificationError("this claim was settled already")
        if row.decision is not None:
            return w.ident._commit(w.out, member=w.member, manual_reason=w.manual_reason)
        doc = self.sign(pin, row.receipt, row.claimed_at, provisional=True)
        with self._lock:
            self._provisional = (pin, row.receipt, member, doc)
        try:
            return w.ident._commit(w.out, member=w.member, manual_reason=w.manual_reason)
        finally:
            with self._lock:
                self._provisional = None

    def retry(self, pin: str) -> Outcome:
        """Ask the centre again for a voter waiting after "no link" (the same claim)."""
        w = self._take(pin)
        return w.ident._commit(w.out, member=w.member, manual_reason=w.manual_reason)

    def decline(self, pin: str) -> None:
        """The commission issues nothing now: the claim stays queued (re-sent until answered)."""
        self._take(pin)


def send_claim(link: ClaimLink, doc: dict, ack_pub: signing.PublicKey,
               wait_s: float) -> tuple[dict, dict] | tuple[None, str]:
    """Send ``doc``; (answer document, verified answer), or (None, why there is none):
    ``rejected: ...`` when the centre refused to decide (4xx), else the link's or the
    answer's fault."""
    try:
        data = link.post(canonical(doc), wait_s)
    except RemoteRejected as e:
        return None, f"rejected: {e}"
    except TransportFault as e:
        return None, str(e)
    try:
        answer_doc = parse(data, max_bytes=MAX_ANSWER_BYTES)
        return answer_doc, open_answer(answer_doc, ack_pub, doc)
    except (EnvelopeError, VerificationError) as e:
        return None, f"answer refused: {e}"


# --- the re-send loop -------------------------------------------------------------------------

class ClaimResender:
    """Re-sends the unanswered claims (``resend`` 1) until the centre's answer verifies.

    A thread of the identify daemon with its own connection to identify.db and its own
    link; each claim backs off with full jitter (uniform in 0..min(cap, base x 2^sends)),
    and every claim is tried again at once after any answer arrives (the link is back).
    """

    def __init__(self, db_path: str | os.PathLike, client: ClaimClient, *, link: ClaimLink | None = None,
                 poll_s: float = 1.0, rng: random.Random | None = None, logger: logging.Logger | None = None):
        self.db_path = Path(db_path)
        self.client = client
        self.link = link or ClaimLink(client.config.url or "", ca=client.config.ca)
        self.cap_s = client.config.resend_cap_s
        self.poll_s = poll_s
        self.rng = rng or random.Random()
        self.log = logger or log
        self._due: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.answered = 0

    def __repr__(self) -> str:
        return f"ClaimResender({self.db_path}, answered={self.answered})"

    def start(self) -> ClaimResender:
        self._thread = threading.Thread(target=self._run, name="claim-resender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.client.wait_s + 5)
        self.link.close()

    def _run(self) -> None:
        conn = open_identify_db(self.db_path)
        try:
            while not self._stop.is_set():
                try:
                    self.run_once(conn)
                except (sqlite3.Error, SyncError, IdentificationError) as e:
                    self.log.error("claim re-send: %s", e)
                self._stop.wait(self.poll_s)
        finally:
            conn.close()

    def run_once(self, conn: sqlite3.Connection) -> int:
        """One pass over the claims due now; returns the answers recorded."""
        rows = [ClaimRow.from_row(r) for r in conn.execute(
            "SELECT * FROM claim WHERE decision IS NULL AND resend = 1 ORDER BY receipt")]
        now = time.monotonic()
        got = 0
        for row in rows:
            if self._stop.is_set():
                break
            if self._due.get(row.receipt, 0.0) > now or row.receipt in self.client.in_flight:
                continue
            answer_doc, answer = send_claim(self.link, row.document, self.client.ack_pub, self.client.wait_s)
            if answer_doc is None:
                with atomic(conn):
                    record_failure(conn, row.receipt, str(answer))
                cap = min(self.cap_s, RESEND_BASE_S * 2 ** min(row.sends + 1, 20))
                self._due[row.receipt] = time.monotonic() + self.rng.uniform(0, cap)
                continue
            record_answer(conn, row.receipt, answer_doc, answer, clock=self.client.clock)
            self._due.pop(row.receipt, None)
            got += 1
            now = 0.0       # the link answers: the others that wait are due at once
            self._due.clear()
        self.answered += got
        return got


# --- opening it -------------------------------------------------------------------------------

def open_claims(paths, election, *, clock=None, logger: logging.Logger | None = None) -> ClaimClient | None:
    """The table's claim client from uchastok.toml ``[claims]`` and the identify role's key,
    certificate and the package's ack key; None when claims are off."""
    config = ClaimConfig.from_paths(paths, election)
    if config.mode == OFF:
        return None
    role = paths.role("identify")
    try:
        device = load_device(role.key, role.cert, election_id=election.id, station_id=election.station.id,
                             clock=clock)
        ack_pub = signing.load_public_key(paths.ack_pub)
    except (SyncError, OSError, ValueError) as e:
        raise ConfigError(f"claims: {e}") from e
    try:
        link = ClaimLink(config.url or "", ca=config.ca)
    except SyncError as e:
        raise ConfigError(f"[claims] url: {e}") from e
    return ClaimClient(config, key=device.key, certificate=device.certificate, device_id=device.device_id,
                       election=election, ack_pub=ack_pub, link=link, clock=clock, logger=logger)
