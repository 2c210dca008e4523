"""The identification table behind its screen: the daemon's turns, and what the screen shows now.

``TableSession`` owns one ``identify.daemon.IdentifyDaemon`` (built by
``build_identify_daemon`` from the hardware factory, or from the simulated table
in tests and the demo) and runs its turns in one thread. Every call into the
daemon, from that thread or from a tap on the screen, holds one lock: the
identifier's connection is used by one caller at a time. The screen shows a
``TableScreen`` value, replaced as a whole at each change (``seq`` grows; the
page reloads when it changes).

What happens, in order (identify/daemon.py does the work, this module only
shows it):

1. a card enters the reader: "reading"; when the chip has been read and the
   rules do not refuse it yet, "voter found, place your finger" with the name,
   year of birth, face (DG2) and contests (the reader is watched through
   ``WatchedCardReader``, a pass-through of the driver seam);
   while the daemon waits for the next capture it may prompt the voter (its
   ``on_prompt`` hook: "place the other finger" after a first finger that did not
   match, "press again"): the finger screen shows the prompt (``prompt``);
2. the daemon's answer (``TableResult``): accepted (ballots to hand out, the
   receipt printed or queued), refused (the reason and what to do, from
   screens/words.py ``WHAT_TO_DO``), retry (the sensor's reason, "try again"),
   or a card fault; the screen stays until the next card or the next tap;
3. taps: 1:N search and confirmation of a candidate, the manual route, a reprint
   of the queued receipts: each needs a member's PIN where the CLI needs one
   (``station.polls.authorize``, lockout after ``MAX_PIN_FAILURES``).

Remote voting (identify/claims.py): while the voter is claimed at the centre the
screen says "checking online…" (``claiming``: the claim client's ``on_checking``);
a refusal names where, when and with which receipt the voter was identified first;
with no answer in time (``no-link``) the commission chooses: issue provisionally
(a member's PIN, as for the manual route: ``provisional``), check again
(``claim_again``) or issue nothing (``decline_claim``: the claim stays queued). An
identification issued on a provisional claim is marked so on the accepted screen,
and the counters show how many were issued provisionally and how many claims wait.

Ballots printed on demand (a remote-voting site with its A4 printer: identify/daemon.py
step 6): the accepted screen shows one card per ballot style as it came out of the
printer (``sheets``: on paper, jammed and voided, not printed, uncertain) and the taps
the daemon's lists allow (``sheet_actions``): "ballots handed over" (``hand_over``;
offered when every sheet of the voter is on the tray), "the voter did not take them"
(``not_taken``, "voter-left", after a second tap on its own page), "print again"
(``print_again``: some did not come out) and, after a job whose fate is unknown, "did the
sheet come out?" yes / no (``tray_checked``), asked before anything else. The next
voter's acceptance hands over what is on the tray (the daemon does it). Sheets a restart
found on the tray (``on_tray`` at start) come first, on the ``tray`` screen: handed over,
or not taken ("interrupted"); the recovered identification, if any, is shown after. A
tap names the screen it was made on (``TableScreen.key``): a tap from a page another
voter's screen has replaced changes nothing and says the page was stale. While the
daemon would not serve a voter (``devices_ready``: the ballot printer not READY, a
device missing) the card waits in the reader and the page says so (``serving``); the
status strip names the ballot printer's condition (screens/app.py).

Double taps and reloads: every form carries a one-time token; a token seen
before changes nothing (``Tokens``), and so does a token this process did not
issue (a page, or a browser's resent form, from before a restart). Two tables
racing on one voter: the identifier's one transaction decides (``pin``
UNIQUE), the loser shows "already identified".

The server killed mid-identification: identify.db is the truth. Killed before
the commit, nothing was recorded and the voter is identified as anyone else;
killed after it, the identification and its receipt in the print queue stand.
At restart (``start``) the daemon prints what was queued, once, and the screen
shows the last of those identifications as ``recovered``: who, when, the ballots
to hand out, the receipt printed now (the commission never saw that answer), and
the counters from the file.

At the close of polls (done on the ballot box's screens, another process) the
table queues its identification summary once per close (``turn``): the
protocol's "ballots <= identified" relation reads it (count/role.py
``identify_summary``), as ``uchastok identify summary --send`` would.

Example::

    session = TableSession(daemon, paths)
    session.start()                   # the turns run in their thread
    session.screen.name               # "waiting", "finger", "accepted", ...
    session.manual(pin, "1", "258013", "fingerprint-unreadable")
    session.close()
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from typing import Any

from base.clock import local, parse_iso
from base.errors import UchastokError
from drivers.idcard.base import CardStatus
from drivers.printer.base import PrinterStatus
from identify import eligibility, receipts, voters
from identify.claims import NO_LINK, claim_counts
from identify.identifier import counts
from identify.identifier import identified as identified_pin
from identify.ondemand import OnDemandError
from identify.ondemand import counters as ondemand_counters
from identify.rules import MANUAL_REASONS, MESSAGES, receipt_label
from identify.store import open_identify_db
from screens.words import WHAT_TO_DO, WORDS
from station import polls
from station.errors import IdentificationError, PollsError
from station.polls import PollsState
from station.text import Text

log = logging.getLogger("uchastok.screens")


@dataclasses.dataclass(frozen=True)
class TableScreen:
    """What the table's screen shows now (one value, replaced at each change)."""

    name: str = "waiting"        # waiting, reading, finger, retry, accepted, refused, confirm, recovered,
                                 # claiming, no-link
    seq: int = 0
    message: Text | None = None
    reason: str | None = None
    todo: Text | None = None
    voter: dict | None = None    # name, birth_year, face (data: URI or None), contests [Text];
                                 # document: the card's number when the holder is not on the list
    ballots: tuple = ()          # contest titles (Text) to hand out
    receipt: str | None = None
    printed: str = ""            # "printed", "queued", ""
    candidates: tuple = ()       # 1:N candidates: dicts pin, name, birth_year, identified
    offer_manual: bool = False
    error: Text | None = None    # a tap that could not be done (wrong PIN, ...)
    provisional: bool = False    # accepted on a provisional claim (no answer from the centre)
    sheets: tuple = ()           # ballots printed on demand: dicts style, title (Text), state, detail
    sheet_actions: tuple = ()    # "tray-check", "print-again", "hand-over", "not-taken"

    @property
    def key(self) -> str:
        """Which screen a tap was made on: its name and the receipt shown (module docstring)."""
        return f"{self.name}:{self.receipt or ''}"


class Tokens:
    """One-time form tokens of this process: a double tap, a reloaded POST, a form from before a restart.

    ``issue()`` gives ``nonce.mac`` (HMAC-SHA-256 under a key made at start and never stored), so a
    token from an earlier run of the server is told apart from a new one after a restart, when
    the tokens seen are forgotten: ``check`` says ``ok`` (first use), ``repeat`` or ``stale``.
    """

    def __init__(self, keep: int = 4096):
        self._key = secrets.token_bytes(32)
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self.keep = keep

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode(), hashlib.sha256).hexdigest()[:24]

    def issue(self) -> str:
        nonce = secrets.token_urlsafe(12)
        return f"{nonce}.{self._mac(nonce)}"

    def check(self, token: str | None) -> str:
        """``ok`` the first time a token of this process is used; ``repeat``; ``stale`` (not ours, or none)."""
        nonce, _, mac = (token or "").partition(".")
        if not nonce or not hmac.compare_digest(mac, self._mac(nonce)):
            return "stale"
        with self._lock:
            if token in self._seen:
                return "repeat"
            self._seen[token] = None
            while len(self._seen) > self.keep:
                self._seen.popitem(last=False)
            return "ok"

    def first_use(self, token: str | None) -> bool:
        """True the first time a token of this process is used; False otherwise."""
        return self.check(token) == "ok"


class WatchedCardReader:
    """The card reader seam, passed through; tells ``on_read`` each document the chip gave."""

    def __init__(self, reader, on_read):
        self._reader = reader
        self._on_read = on_read

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)

    def __repr__(self) -> str:
        return f"WatchedCardReader({self._reader!r})"

    def read_document(self, *args, **kwargs):
        document = self._reader.read_document(*args, **kwargs)
        try:
            self._on_read(document)
        except Exception:  # noqa: BLE001 - the screen must never stop an identification
            log.exception("screen update after a card read failed")
        return document


def member_list(station_conn) -> list[dict]:
    """The commission members for the PIN pad's buttons: id, name, role, tries left."""
    return [{"id": r[0], "name": r[1], "role": r[2], "left": max(0, polls.MAX_PIN_FAILURES - r[3])}
            for r in station_conn.execute("SELECT id, name, role, failures FROM commission_member ORDER BY id")]


def pin_refusal(e: PollsError, station_conn, member: str) -> Text:
    """What the PIN pad says after ``polls.authorize`` refused: wrong PIN (tries left) or locked."""
    text = str(e)
    if "locked" in text:
        return WORDS["locked"]
    if "wrong PIN" in text:
        left = next((m["left"] for m in member_list(station_conn) if m["id"] == member), 0)
        if left == 0:
            return WORDS["locked"]
        wrong, tries = WORDS["wrong-pin"], WORDS["attempts-left"].format(n=left)
        return Text(f"{wrong.ky}. {tries.ky}", f"{wrong.ru}. {tries.ru}")
    return Text(text, text)


class TableSession:
    """One identification table's daemon, run in a thread, and its screen (module docstring)."""

    def __init__(self, daemon, paths, *, poll_s: float = 0.05, mrz_timeout_s: float = 0.05):
        self.daemon = daemon
        self.paths = paths
        self.poll_s = poll_s
        self.mrz_timeout_s = mrz_timeout_s
        self.lock = threading.RLock()
        self.sim_table = None                  # the simulated table behind the daemon (tests, the demo)
        self._screen = TableScreen()
        self._screen_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._again = threading.Event()
        self._card_done = False
        self._summary_for: str | None = None   # the close whose identification summary is queued
        self.devices: dict[str, str] = {}
        daemon.card_reader = WatchedCardReader(daemon.card_reader, self._card_read)
        daemon.on_prompt = self.prompt
        self.claim_pin: str | None = None        # the voter waiting after "no link" (no-link screen)
        self.serving = True                      # the daemon would serve a voter now (devices_ready)
        self._sheets: list[tuple[str, str, str]] = []   # (style, state, detail) of the voter's sheets
        self._after_tray: TableScreen | None = None     # the recovered screen, once the tray is settled
        claims = getattr(daemon.identifier, "claim", None)
        if claims is not None:
            claims.on_checking = self.checking

    def __repr__(self) -> str:
        return f"TableSession(table={self.table}, screen={self._screen.name})"

    @property
    def table(self) -> str:
        return self.daemon.identifier.table

    @property
    def election(self):
        return self.daemon.election

    @property
    def screen(self) -> TableScreen:
        return self._screen

    def show(self, name: str, **values) -> TableScreen:
        with self._screen_lock:
            self._screen = TableScreen(name=name, seq=self._screen.seq + 1, **values)
            return self._screen

    def refresh(self, **changes) -> TableScreen:
        """The same screen again (a new ``seq``: the page reloads), with ``changes``."""
        with self._screen_lock:
            self._screen = dataclasses.replace(self._screen, seq=self._screen.seq + 1, **changes)
            return self._screen

    # -- the turns ---------------------------------------------------------------------

    def start(self) -> TableSession:
        """Begin the daemon's run (it prints the receipts a crash left queued), then the turns.

        The last identification whose receipt was still queued is shown as ``recovered``.
        """
        with self.lock:
            queued = receipts.pending(self.daemon.conn, self.table)
            self.daemon.begin()
            if queued:
                self._show_recovered(queued[-1])
            if self.ondemand and (self.daemon.on_tray or self.daemon.not_out):
                # sheets the restart found on the tray, and sheets a voter was owed that never came out
                self._after_tray = self._screen if queued else None
                self._sheets = ([(style, "on-paper", "") for style in self.daemon.on_tray]
                                + [(style, "not-printed", "") for style in self.daemon.not_out])
                self.show("tray", message=WORDS["tray-restart"], **self._sheet_values())
        self._thread = threading.Thread(target=self._run, name=f"table-{self.table}", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the turns (after the current one) and end the daemon's run; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.lock:
            self.daemon.end()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.turn()
            except Exception:  # noqa: BLE001 - the screen's thread keeps going; the journal has it
                log.exception("table turn failed")
            self._stop.wait(self.poll_s)

    def _show_recovered(self, receipt) -> TableScreen:
        """The identification a restart interrupted: who, when, the ballots, the receipt (module docstring)."""
        conn = self.daemon.conn
        row = conn.execute("SELECT i.pin FROM receipt r JOIN identification i ON i.seq = r.identification"
                           " WHERE r.number = ?", (receipt.number,)).fetchone()
        v = voters.by_pin(conn, row[0]) if row else None
        printed = conn.execute("SELECT printed_at FROM print_queue WHERE receipt = ?",
                               (receipt.number,)).fetchone()
        at = local(receipt.identified_at, self.election.time_zone or "Asia/Bishkek").strftime("%H:%M")
        return self.show("recovered", message=WORDS["recovered"].format(time=at),
                         ballots=tuple(self.election.contest(c).title for c in receipt.ballots),
                         receipt=receipt_label(receipt.number),
                         printed="printed" if printed and printed[0] else "queued",
                         voter={"name": v.full_name, "birth_year": v.birth_date.year, "face": None,
                                "contests": self._contests(v)} if v else None)

    def summary_after_close(self) -> bool:
        """Queue the identification summary once per close of polls (module docstring); True if queued now."""
        ident = self.daemon.identifier
        if polls.current(ident.station_conn) not in (PollsState.CLOSED, PollsState.PROTOCOL_SIGNED):
            return False
        closes = [h["at"] for h in polls.history(ident.station_conn) if h["action"] == "close"]
        if not closes or self._summary_for == closes[-1]:
            return False
        row = ident.conn.execute("SELECT created_at FROM outbox WHERE kind = 'identification-summary'"
                                 " ORDER BY seq DESC LIMIT 1").fetchone()
        self._summary_for = closes[-1]
        if row is not None and parse_iso(row[0]) >= parse_iso(closes[-1]):
            return False            # sent already (before a restart, or by `identify summary --send`)
        receipts.enqueue_summary(ident.conn, ident.outbox, station_conn=ident.station_conn, clock=self.daemon.clock)
        return True

    def turn(self) -> str:
        """One look at the devices: serve the card in the reader (once), print what waits.

        The card is served only when the daemon would serve (``devices_ready``); a change of a
        device's condition shows the screen again, so that the page's status strip follows it.
        """
        with self.lock:
            self.summary_after_close()
            conditions = self.daemon.device_conditions()
            before = (_on_strip(self.devices), self.serving)
            self.devices = {name: c.value if isinstance(c, enum.Enum) else c for name, c in conditions.items()}
            self.serving = self.daemon.devices_ready(conditions)
            if before[0] and before != (_on_strip(self.devices), self.serving):
                self.refresh()
            card = self.devices.get("card-reader")
            if card != CardStatus.READY.value:
                self._card_done = False
            if self.devices.get("printer") == PrinterStatus.READY.value and \
                    receipts.pending(self.daemon.conn, self.table):
                self.daemon.print_pending()
            # At a site, the next card waits while the last voter's sheets are still to be printed
            # again or looked for in the tray (its acceptance would replace them on this screen).
            owed = self.ondemand and bool(self.daemon.not_out or self.daemon.uncertain)
            if card == CardStatus.READY.value and self.serving and not owed and \
                    (not self._card_done or self._again.is_set()):
                self._again.clear()
                self.show("reading")
                result = self.daemon.serve_voter(mrz_timeout=self.mrz_timeout_s)
                if result.status == "mrz-needed":
                    self.show("waiting")
                    return "mrz-needed"
                self._card_done = True
                self._show_result(result)
                return "served"
        return "idle"

    def try_again(self) -> None:
        """"Try again" on the retry screen: the card still in the reader is served once more."""
        self._again.set()

    def _card_read(self, document) -> None:
        """The chip was read: show who it is while the finger is asked for."""
        pin = document.pin
        voter = voters.by_pin(self.daemon.conn, pin) if pin else None
        if voter is None:
            voter = voters.by_document(self.daemon.conn, document.mrz.document_number)
        face = None
        if document.face_image and document.face_format == "jpeg":
            face = "data:image/jpeg;base64," + base64.b64encode(document.face_image).decode()
        # Not on the list: the card's holder (the MRZ's Latin name) and, in a field of its own, the
        # document's number (the commission looks it up in the list or tells where to vote).
        mrz = document.mrz
        shown = {"name": voter.full_name if voter else " ".join(filter(None, (mrz.surname, mrz.given_names))),
                 "document": None if voter else mrz.document_number,
                 "birth_year": voter.birth_date.year if voter else None, "face": face,
                 "contests": self._contests(voter) if voter else ()}
        self.show("finger", voter=shown, message=WORDS["place-finger"])

    def prompt(self, result) -> TableScreen:
        """The daemon asks the voter for something before the next capture: shown on the finger screen.

        ``result.status``: ``other-finger`` (the first finger did not match; the message names the
        fingers enrolled) or ``retry`` (press again); the voter found stays on the screen.
        """
        return self.show("finger", voter=self._screen.voter, reason=result.status,
                         message=Text(result.message_ky, result.message_ru))

    def checking(self, out) -> TableScreen:
        """The claim is on its way to the centre: "checking online…" with the voter in view."""
        v = out.voter
        shown = self._screen.voter or ({"name": v.full_name, "birth_year": v.birth_date.year, "face": None,
                                        "contests": self._contests(v)} if v else None)
        return self.show("claiming", voter=shown, message=WORDS["checking-online"])

    def _contests(self, voter) -> tuple:
        return tuple(self.election.contest(c).title for c in eligibility.decide(voter, self.election).contests)

    def _show_result(self, result) -> TableScreen:
        out = result.outcome
        message = Text(result.message_ky, result.message_ru)
        previous = self._screen.voter
        if out is not None and out.accepted:
            self._after_tray = None          # the sheets a restart found went with this acceptance
            printed = "printed" if result.printed and all(r.printed for _, r in result.printed) else "queued"
            v = out.voter
            self.claim_pin = None
            sheets = {}
            if self.ondemand:
                self._sheets = [(b.style, b.state.value, b.detail) for b in result.ballots]
                sheets = self._sheet_values()
            return self.show("accepted", message=message, ballots=tuple(
                self.election.contest(c).title for c in out.ballots),
                receipt=receipt_label(out.receipt.number) if out.receipt else None, printed=printed,
                voter={"name": v.full_name, "birth_year": v.birth_date.year, "face": (previous or {}).get("face"),
                       "contests": self._contests(v)} if v else previous,
                provisional=bool(out.receipt) and self._provisional(out.receipt.number), **sheets)
        if out is not None and str(out.status) == "confirm" and out.reason == NO_LINK:
            self.claim_pin = out.pin
            v = out.voter
            return self.show("no-link", message=message, reason=NO_LINK, ballots=tuple(
                self.election.contest(c).title for c in out.ballots),
                voter=previous or ({"name": v.full_name, "birth_year": v.birth_date.year, "face": None,
                                    "contests": self._contests(v)} if v else None))
        if out is not None and str(out.status) == "confirm":
            return self.show("confirm", message=message, offer_manual=True, candidates=tuple(
                {"pin": c.pin, "name": c.full_name, "birth_year": c.birth_date[:4],
                 "identified": c.already_identified} for c in out.candidates))
        if out is not None and str(out.status) == "refused":
            return self.show("refused", message=message, reason=out.reason, todo=WHAT_TO_DO.get(out.reason or ""),
                             offer_manual=out.offer_manual, voter=previous)
        # retry (poor capture, sensor condition, card fault): the reason, and try again
        return self.show("retry", message=message, reason=result.status,
                         offer_manual=bool(out is not None and out.offer_manual) or "manual" in result.detail,
                         voter=previous)

    # -- taps ------------------------------------------------------------------------------

    def _authorize(self, member: str, member_pin: str) -> Text | None:
        """None when the member's PIN is right; otherwise what the PIN pad says."""
        try:
            polls.authorize(self.daemon.identifier.station_conn, member, member_pin, clock=self.daemon.clock)
            return None
        except PollsError as e:
            return pin_refusal(e, self.daemon.identifier.station_conn, member)

    def finger_search(self) -> TableScreen:
        """No document: the 1:N search on the finger on the sensor; candidates to confirm."""
        with self.lock:
            self.show("reading")
            return self._show_result(self.daemon.serve_search())

    def confirm(self, pin: str, member: str, member_pin: str) -> TableScreen:
        """The commission confirmed candidate ``pin`` of the last search."""
        with self.lock:
            refused = self._authorize(member, member_pin)
            if refused is not None:
                return self.show(self._screen.name, **_keep(self._screen), error=refused)
            try:
                return self._show_result(self.daemon.confirm(pin, member))
            except IdentificationError as e:
                return self.show(self._screen.name, **_keep(self._screen), error=Text(str(e), str(e)))

    def manual(self, pin: str, member: str, member_pin: str, reason: str) -> TableScreen:
        """The manual route: a member's PIN, a reason from ``MANUAL_REASONS``, the voter's PIN."""
        with self.lock:
            if reason not in MANUAL_REASONS:
                return self.show(self._screen.name, **_keep(self._screen), error=WORDS["choose-reason"])
            refused = self._authorize(member, member_pin)
            if refused is not None:
                return self.show(self._screen.name, **_keep(self._screen), error=refused)
            v = voters.by_pin(self.daemon.conn, pin)
            if v is not None:
                self.show("reading", voter={"name": v.full_name, "birth_year": v.birth_date.year, "face": None,
                                            "contests": self._contests(v)})
            return self._show_result(self.daemon.manual(pin, member, reason))

    def _provisional(self, receipt: int) -> bool:
        row = self.daemon.conn.execute("SELECT provisional_member FROM claim WHERE receipt = ?",
                                       (receipt,)).fetchone()
        return bool(row and row[0])

    def provisional(self, member: str, member_pin: str) -> TableScreen:
        """"No link: issue provisionally": a member's PIN, then the identification on a provisional claim."""
        with self.lock:
            pin = self.claim_pin
            if pin is None or self._screen.name != "no-link":
                return self.show(self._screen.name, **_keep(self._screen), error=WORDS["stale-page"])
            refused = self._authorize(member, member_pin)
            if refused is not None:
                return self.show(self._screen.name, **_keep(self._screen), error=refused)
            try:
                return self._show_result(self.daemon.issue_provisionally(pin, member))
            except IdentificationError as e:
                return self.show(self._screen.name, **_keep(self._screen), error=Text(str(e), str(e)))

    def claim_again(self) -> TableScreen:
        """"No link: check again": the same claim sent once more."""
        with self.lock:
            pin = self.claim_pin
            if pin is None or self._screen.name != "no-link":
                return self._screen
            try:
                return self._show_result(self.daemon.claim_again(pin))
            except IdentificationError as e:
                return self.show(self._screen.name, **_keep(self._screen), error=Text(str(e), str(e)))

    def decline_claim(self) -> TableScreen:
        """"No link: do not issue": nothing is issued; the claim stays queued and is re-sent."""
        with self.lock:
            pin, self.claim_pin = self.claim_pin, None
            if pin is not None:
                try:
                    self.daemon.decline_claim(pin)
                except IdentificationError:
                    pass      # nobody waits any more (answered by a second tap): nothing to undo
            return self.show("waiting", message=WORDS["claim-declined"])

    def reprint(self) -> list[dict]:
        """Print the receipts that wait in the queue (paper back in the printer)."""
        with self.lock:
            done = self.daemon.print_pending()
        return [{"receipt": receipt_label(n), "printed": r.printed} for n, r in done]

    def next_voter(self) -> TableScreen:
        if self.claim_pin is not None:
            return self.decline_claim()
        return self.show("waiting")

    # -- ballots printed on demand (module docstring) --------------------------------------

    @property
    def ondemand(self) -> bool:
        """This table prints ballots on demand (a remote-voting site with its A4 printer)."""
        return getattr(self.daemon, "ondemand", None) is not None

    def _style_title(self, style: str) -> Text:
        """The contest's title of a ballot style (an on-demand style carries one contest)."""
        try:
            return self.election.contest(self.election.ballot_style(style).contests[0]).title
        except (UchastokError, IndexError):
            return Text(style, style)

    def _sheet_values(self) -> dict:
        """``sheets`` and ``sheet_actions`` of the screen, from the sheets shown and the daemon's lists."""
        d = self.daemon
        sheets = list(self._sheets)
        shown = [style for style, state, _ in sheets if state == "uncertain"]
        sheets += [(style, "uncertain", "") for style in d.uncertain if style not in shown]
        if d.uncertain:
            actions: tuple = ("tray-check",)         # the tray first: the sheet may lie there
        else:
            actions = tuple(a for a, on in (("print-again", bool(d.not_out)),
                                             ("hand-over", bool(d.on_tray) and not d.not_out),
                                             ("not-taken", bool(d.on_tray or d.not_out))) if on)
        return {"sheets": tuple({"style": style, "title": self._style_title(style), "state": state,
                                 "detail": detail} for style, state, detail in sheets),
                "sheet_actions": actions}

    def _sheet_tap(self, screen_key: str | None, action: str) -> TableScreen | None:
        """None when ``action`` may be done from the screen ``screen_key`` names; else the screen
        again with why not (a page another screen replaced, or nothing of that kind to do)."""
        if not self.ondemand:
            return self.refresh(error=WORDS["stale-page"])
        if screen_key != self._screen.key or action not in self._screen.sheet_actions:
            return self.refresh(error=WORDS["stale-page"])
        return None

    def _settled(self, message: Text) -> TableScreen:
        """The sheets are settled: the recovered identification if one waits, else the next voter."""
        self._sheets = []
        after, self._after_tray = self._after_tray, None
        if after is not None:
            return self.show(after.name, **(_keep(after) | {"error": None}))
        return self.show("waiting", message=message)

    def hand_over(self, screen_key: str | None) -> TableScreen:
        """"Ballots handed over": the sheets on the tray are issued (``IdentifyDaemon.hand_over``)."""
        with self.lock:
            if (refused := self._sheet_tap(screen_key, "hand-over")) is not None:
                return refused
            try:
                given = self.daemon.hand_over()
            except OnDemandError as e:
                return self.refresh(error=Text(str(e), str(e)))
            return self._settled(WORDS["ballots-handed-over"].format(n=len(given)))

    def not_taken(self, screen_key: str | None) -> TableScreen:
        """"The voter did not take them" (confirmed on its own page): the sheets on the tray are voided,
        reason "voter-left", or "interrupted" for sheets a restart found (the ``tray`` screen)."""
        with self.lock:
            if (refused := self._sheet_tap(screen_key, "not-taken")) is not None:
                return refused
            reason = "interrupted" if self._screen.name == "tray" else "voter-left"
            try:
                left = self.daemon.not_taken(reason)
            except OnDemandError as e:
                return self.refresh(error=Text(str(e), str(e)))
            return self._settled(WORDS["ballots-voided"].format(n=len(left)) if left
                                 else WORDS["ballots-none-given"])

    def print_again(self, screen_key: str | None) -> TableScreen:
        """"Print again": the voter's sheets that did not come out (``IdentifyDaemon.print_again``)."""
        with self.lock:
            if (refused := self._sheet_tap(screen_key, "print-again")) is not None:
                return refused
            try:
                done = self.daemon.print_again()
            except OnDemandError as e:
                return self.refresh(error=Text(str(e), str(e)))
            states = {b.style: (b.state.value, b.detail) for b in done}
            self._sheets = [(style, *states.pop(style, (state, detail))) for style, state, detail in self._sheets]
            self._sheets += [(style, *v) for style, v in states.items()]
            return self.refresh(error=None, **self._sheet_values())

    def tray_checked(self, screen_key: str | None, came_out: bool) -> TableScreen:
        """"Did the sheet come out?" after a job whose fate is unknown (``IdentifyDaemon.tray_checked``)."""
        with self.lock:
            if (refused := self._sheet_tap(screen_key, "tray-check")) is not None:
                return refused
            looked = list(self.daemon.uncertain)
            try:
                self.daemon.tray_checked(came_out)
            except OnDemandError as e:
                return self.refresh(error=Text(str(e), str(e)))
            state = "on-paper" if came_out else "not-printed"
            known = {style for style, _, _ in self._sheets}
            self._sheets = [(style, state if st == "uncertain" and style in looked else st, detail)
                            for style, st, detail in self._sheets]
            self._sheets += [(style, state, "") for style in looked if style not in known]
            return self.refresh(error=None, **self._sheet_values())

    # -- what the screen reads -----------------------------------------------------------

    def search(self, query: str, limit: int = 12) -> list[dict]:
        """The list searched by PIN (14 digits), document number or surname (own read connection)."""
        q = " ".join(query.split())
        if len(q) < 2:
            return []
        conn = open_identify_db(self.paths.identify_db)
        try:
            if q.isdigit():
                found = [v for v in [voters.by_pin(conn, q)] if v is not None]
            else:
                found = [v for v in [voters.by_document(conn, q.upper())] if v is not None]
                found += [v for v in voters.search_by_name(conn, " ".join(w[:1].upper() + w[1:].lower() for w in q.split()), limit)
                          if v.pin not in {f.pin for f in found}]
            identified = {v.pin for v in found if identified_pin(conn, v.pin)}
            return [{"pin": v.pin, "name": v.full_name, "birth_year": v.birth_date.year,
                     "document": v.document_number, "identified": v.pin in identified} for v in found[:limit]]
        finally:
            conn.close()

    def counters(self) -> dict:
        """Identified so far (by method, manual by reason), on the list, receipts waiting."""
        conn = open_identify_db(self.paths.identify_db)
        try:
            c = counts(conn)
            out = c | {"on_list": voters.count(conn), "receipts_waiting": len(receipts.pending(conn))}
            if getattr(self.daemon.identifier, "claim", None) is not None:
                cl = claim_counts(conn)
                out |= {"provisional": cl["provisional"]["issued"], "claims_queued": cl["claims"]["queued"]}
            if self.ondemand:
                c = ondemand_counters(conn).values()
                out["ondemand"] = {k: sum(getattr(x, k) for x in c) for k in ("printed", "issued", "voided")}
            return out
        finally:
            conn.close()


def _on_strip(devices: dict[str, str]) -> dict[str, str]:
    """The conditions the status strip can show: a card coming and going is not one of them."""
    return {k: v for k, v in devices.items() if not (k == "card-reader" and v in ("ready", "no-card"))}


def _keep(screen: TableScreen) -> dict:
    """The screen's values without its name, seq and error (to show it again with a new error)."""
    return {k: v for k, v in dataclasses.asdict(screen).items() if k not in ("name", "seq", "error")} | {
        "candidates": screen.candidates, "ballots": screen.ballots, "sheets": screen.sheets}


CONFIRM_TEXT = MESSAGES["confirm"]


def wait_for(predicate, timeout: float = 10.0, step: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` (the simulated table's callers, the demo)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            return False
        time.sleep(step)
    return True
