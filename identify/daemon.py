"""The identify daemon: the identification table's loop, from a voter's card to a printed receipt.

One voter (``IdentifyDaemon.serve_voter``), in this order:

1. **Card** (drivers/idcard/base.py): the reader's ``status()`` is a value;
   no card → nothing to do. The MRZ keys for Basic Access Control come from
   the MRZ reader or are typed by the commission (``mrz_input.read_mrz``).
   ``read_document`` faults are conditions with a clear message, audited as
   ``card-read-failed``, never an acceptance: card pulled mid-read, MRZ keys
   that do not open the chip (BAC refused), a silent or broken chip. A card
   that the rules already refuse (polls not open, EF.SOD not verified, not on
   the list, already identified) is refused before the finger is asked for.
2. **Finger** (drivers/fingerprint/base.py): ``capture(deadline)`` is a
   value; NO_FINGER / DISCONNECTED / ERROR show their detail and the RETRY
   light; a capture the extractor finds poor is a retry too. After
   ``max_captures`` tries the commission is offered the manual route. A
   voter with two enrolled fingers whose first finger does not match is
   asked for the other one (``other-finger``: the RETRY light, the prompt
   handed to ``on_prompt`` for the screen) and it gets ``max_captures`` tries
   of its own; the same finger placed again is a retry (``same-finger``).
3. **Identification** (identify/identifier.py ``Identifier``): the rules
   and the one transaction (identification + receipt + print queue + outbox
   envelope + audit record).
4. **Light and sound** (drivers/indicators.py ``Signal``): ACCEPTED,
   REFUSED, RETRY; FAULT while a device is missing.
5. **Print** (identify/receipts.py ``print_pending``): after the commit. Out of
   paper: the identification stands, the receipt stays queued and prints
   when the printer is READY again (each turn of ``run`` and at start, so a
   crash between commit and print is healed by the restart).
6. **Ballots printed on demand** (remote-voting site with a ``ballot_printer``,
   identify/ondemand.py): after the commit, one ballot of each style of the
   voter's contests (``eligibility.ballot_styles``) comes out of the A4
   printer, and ``TableResult.ballots`` says how each went. The sheets wait
   on the tray (``pending``) until they are handed over: ``hand_over()``, or
   the next voter's acceptance, which hands over what the previous voter was
   given; a voter who leaves without them: ``not_taken(reason)`` voids them;
   a sheet that did not come out (printer not ready, jam: the jammed sheet
   voided by the counters): ``print_again()`` once the printer is back; a job
   whose fate is unknown (no answer, or the driver raised once the ballot was
   counted) waits for the member to look in the tray: ``tray_checked(came_out)``.
   The table serves no voter while the ballot printer is not READY, nor at a
   site whose uchastok.toml names none (a voter identified there would get no
   ballot).

Remote voting (identify/claims.py, uchastok.toml ``[claims]``): step 3 claims
the voter at the centre before the transaction. With no answer at a
remote-voting site the outcome is ``confirm`` / ``no-link``: the commission
answers with ``issue_provisionally`` (a member, PIN checked by the caller),
``claim_again`` or ``decline_claim``. Unanswered claims are re-sent by a
``ClaimResender`` thread from ``start`` to ``finish``.

The loop (``IdentifyDaemon.step`` once per turn, READY, watchdog, SIGTERM) is
station/daemon.py's ``RoleDaemon``. Devices missing at start or later are
conditions: the status line says which (systemd ``STATUS=``), the FAULT light
shows, and the daemon probes again with capped exponential backoff
(``RoleDaemon.back_off``, station/health.py ``RetryPolicy``); it does not
exit, so systemd never sees a crash loop.

The devices come from a factory (identify/devices.py): ``build_identify_daemon``
builds the daemon the same way on the hardware of uchastok.toml
(``HardwareFactory``) and on the simulators (simulation/table.py).

Example::

    daemon = build_identify_daemon(paths, HardwareFactory(paths), table="1")
    try:
        daemon.run_until_signal()    # until SIGTERM
    finally:
        daemon.close()
"""

from __future__ import annotations

import enum
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from base.clock import SystemClock
from base.sdnotify import Notifier
from base.sqlite import connect
from biometrics.errors import CalibrationError
from biometrics.match import Calibration
from drivers.docprinter.base import DocPrinterStatus
from drivers.errors import DriverError
from drivers.fingerprint.base import SensorStatus
from drivers.idcard.base import CardStatus
from drivers.idcard.errors import BacFailedError, CardAbsentError, CardRemovedError, InvalidMrzError
from drivers.idcard.mrz_reader import MrzReaderUnpluggedError
from drivers.indicators import Signal
from drivers.printer.base import PrinterStatus
from identify import eligibility, receipts, voters
from identify.claims import NO_LINK, ClaimResender, open_claims
from identify.devices import HardwareFactory, IdentifyDeviceFactory, IdentifyDevices
from identify.identifier import Identifier, identified
from identify.ondemand import (
    VOID_REASONS,
    BallotPrint,
    OnDemandBallots,
    OnDemandError,
    PrintState,
    forgive,
    owe,
)
from identify.ondemand import prepare as ondemand_prepare
from identify.receipts import print_pending
from identify.rules import Outcome, Status, receipt_label
from identify.store import open_identify_db
from station import polls
from station.daemon import RoleDaemon, call_hook
from station.db import open_station_db
from station.election import Election
from station.errors import ConfigError, IdentificationError, PackageError, ProvisioningError
from station.events import clock_after_log, record
from station.health import RetryPolicy
from station.package import current_package, voter_list_problem
from station.printing import open_printer as role_printer
from station.text import Text
from sync.device import load_device
from sync.errors import SyncError

_CARD_PULLED = Text("Карта окуу учурунда алынды: кайра салыңыз", "Карту вынули во время чтения: вставьте снова")
# A card or MRZ fault -> (reason code, what the commission is told). The first
# class the fault is an instance of wins: a subclass goes before its base.
CARD_FAULTS: tuple[tuple[type[Exception], str, Text], ...] = (
    (CardRemovedError, "card-pulled", _CARD_PULLED),
    (CardAbsentError, "card-pulled", _CARD_PULLED),
    (BacFailedError, "mrz-keys-wrong",
     Text("MRZ ачкычтары чипти ачкан жок: MRZ кайра окутуңуз же текшериңиз",
          "Ключи MRZ не открыли чип: отсканируйте MRZ снова или проверьте введённые данные")),
    (MrzReaderUnpluggedError, "mrz-reader-disconnected",
     Text("MRZ окугуч туташкан эмес: маалыматты колго териңиз",
          "Считыватель MRZ не подключён: введите данные вручную")),
    (InvalidMrzError, "mrz-keys-wrong",
     Text("MRZ туура эмес окулду: кайра окутуңуз", "MRZ прочитана с ошибкой: отсканируйте снова")),
)
CARD_UNREADABLE = ("card-unreadable", Text("Картанын чиби окулбайт: документтин номерин териңиз",
                                           "Чип карты не читается: введите номер документа"))


def card_fault(e: Exception) -> tuple[str, Text]:
    """The reason code and message of a card or MRZ fault (``CARD_UNREADABLE`` when none fits)."""
    return next(((code, text) for kind, code, text in CARD_FAULTS if isinstance(e, kind)), CARD_UNREADABLE)


SENSOR_TEXT = {
    SensorStatus.NO_FINGER: Text("Манжаңызды сканерге коюңуз", "Приложите палец к сканеру"),
    SensorStatus.DISCONNECTED: Text("Манжа изи сканери туташкан эмес", "Сканер отпечатков не подключён"),
    SensorStatus.ERROR: Text("Манжа изи сканеринин катасы: кайра аракет", "Ошибка сканера отпечатков: повторите"),
}
# The device conditions in which the table can work (an empty card reader waits for a card).
WORKING = frozenset({SensorStatus.READY, CardStatus.READY, CardStatus.NO_CARD, PrinterStatus.READY,
                     DocPrinterStatus.READY})


@dataclass
class TableResult:
    """What one turn at the table came to (shown to the commission)."""

    outcome: Outcome | None
    status: str   # "accepted", "refused", "retry", "other-finger", "confirm", or a condition code
    message_ky: str = ""
    message_ru: str = ""
    printed: list = field(default_factory=list)   # [(receipt number, PrintResult)]
    detail: str = ""
    ballots: list[BallotPrint] = field(default_factory=list)   # printed on demand (remote-voting site)

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "message_ky": self.message_ky, "message_ru": self.message_ru,
                "detail": self.detail, "outcome": self.outcome.to_json() if self.outcome else None,
                "printed": [{"receipt": n, "printed": r.printed, "printer": r.status.value}
                            for n, r in self.printed],
                "ballots": [{"style": b.style, "state": b.state.value, "detail": b.detail}
                            for b in self.ballots]}


def _shown(condition: enum.Enum | str) -> str:
    """A device condition as text: the status member's value, or the error text."""
    return condition.value if isinstance(condition, enum.Enum) else condition


class IdentifyDaemon(RoleDaemon):
    """The table's loop (module docstring) on ``devices`` (identify/devices.py).

    The loop, the watchdog, the status line and the backoff are station/daemon.py's
    ``RoleDaemon``; one ``step`` looks at the devices and serves the voter whose card
    is in the reader. ``close()`` releases the devices and the identifier's connections.
    """

    role = "identify"

    def __init__(self, devices: IdentifyDevices, identifier: Identifier, election: Election, *,
                 trust: list[bytes], clock=None, logger: logging.Logger | None = None,
                 notifier=None, heartbeat=None, retry: RetryPolicy = RetryPolicy(base_s=0.5, cap_s=30.0),
                 capture_deadline_s: float = 5.0, max_captures: int = 3,
                 after_commit: Callable[[Outcome], None] | None = None, poll_s: float = 0.1,
                 description: str = "", on_prompt: Callable[[TableResult], None] | None = None):
        super().__init__(clock=clock, logger=logger, notifier=notifier, heartbeat=heartbeat, retry=retry)
        self.devices = devices
        self.sensor = devices.sensor
        self.card_reader = devices.card_reader
        self.printer = devices.printer
        self.indicators = devices.indicators
        self.mrz_input = devices.mrz_input
        self.identifier = identifier
        self.election = election
        self.trust = trust
        self.capture_deadline_s = capture_deadline_s
        self.max_captures = max_captures
        self.after_commit = after_commit
        self.on_prompt = on_prompt      # the screen's hook: "press again", "place the other finger"
        self.poll_s = poll_s
        self.description = description
        self._device_status: dict[str, str] = {}
        self.served = 0
        self.claim_resender: ClaimResender | None = None
        # Step 6: the remote-voting site's ballots printed on demand, and what lies on the tray
        # for the voter at the table (styles printed, not yet handed over or voided).
        self.ballot_printer = devices.ballot_printer
        self.ondemand = (OnDemandBallots(self.conn, election, self.ballot_printer)
                         if self.ballot_printer is not None and election.station.remote_site else None)
        if self.ondemand is not None:
            # The voter's sheets are owed in the identification's own transaction (ondemand.owe):
            # a crash before the printer leaves the debt on record, printed again at start.
            identifier.on_commit = lambda conn, out: owe(conn, election, out.ballots)
        self.on_tray: list[str] = []
        self.uncertain: list[str] = []     # sent, fate unknown: the member looks (tray_checked)
        self.not_out: list[str] = []       # the voter's styles that did not come out (print_again)

    def __repr__(self) -> str:
        return f"IdentifyDaemon(table={self.identifier.table}, served={self.served})"

    @property
    def conn(self):
        return self.identifier.conn

    def close(self) -> None:
        """Release the devices, then the identifier's connections; safe to call twice."""
        self._stop_resender()
        self.devices.close()
        close_connections = getattr(self.identifier, "close_connections", None)
        if close_connections is not None:
            close_connections()

    # -- devices ---------------------------------------------------------------------

    def device_conditions(self) -> dict[str, enum.Enum | str]:
        """The condition of each device now: its status member, or ``"error: ..."`` if asking raised."""
        out: dict[str, enum.Enum | str] = {}
        devices = [("sensor", self.sensor), ("card-reader", self.card_reader), ("printer", self.printer)]
        if self.ondemand is not None:
            devices.append(("ballot-printer", self.ballot_printer))
        for name, dev in devices:
            try:
                out[name] = dev.status()
            except Exception as e:  # noqa: BLE001 - a half-plugged device may raise: it is "not there"
                out[name] = f"error: {e}"
        if self.ondemand is None and self.election.station.remote_site:
            # A site's voters of other districts have no ballot but the one printed on demand: without
            # the printer a voter would be identified (and claimed at the centre) with no ballot.
            out["ballot-printer"] = "error: none configured ([identify] ballot_printer in uchastok.toml)"
        for name, condition in out.items():
            shown = _shown(condition)
            if self._device_status.get(name) != shown:
                record(self.conn, "identify-device-status", "success" if condition in WORKING else "failure",
                       clock=self.clock, device=name, status=shown)
        self._device_status = {name: _shown(condition) for name, condition in out.items()}
        return out

    def device_status(self) -> dict[str, str]:
        """The condition of each device now, as text (values, never exceptions)."""
        return {name: _shown(condition) for name, condition in self.device_conditions().items()}

    @staticmethod
    def devices_ready(conditions: dict[str, enum.Enum | str]) -> bool:
        return (conditions.get("sensor") is SensorStatus.READY
                and conditions.get("card-reader") in (CardStatus.READY, CardStatus.NO_CARD)
                and conditions.get("ballot-printer", DocPrinterStatus.READY) is DocPrinterStatus.READY)

    def _say(self, text: str) -> None:
        self.log.info(text)
        self.set_status(text)

    def _show(self, name: str) -> None:
        if self.indicators is not None:
            try:
                self.indicators.show(Signal[name])
            except Exception as e:  # noqa: BLE001 - a light must never stop an identification
                self.log.warning("indicators: %s", e)

    # -- printing ------------------------------------------------------------------------

    def print_pending(self) -> list:
        try:
            return print_pending(self.conn, self.printer, self.election, table=self.identifier.table,
                                 clock=self.clock, logger=self.log)
        except DriverError as e:
            self.log.error("printer: %s (receipts stay queued)", e)
            return []

    # -- ballots printed on demand (step 6) ------------------------------------------------------

    def _print_ballots(self, out: Outcome) -> list[BallotPrint]:
        """The accepted voter's ballots out of the A4 printer (the previous voter's handed over first)."""
        assert self.ondemand is not None
        self.hand_over()
        styles = list(eligibility.ballot_styles(self.election, out.ballots))
        if not styles:
            return []
        return self._print(styles)

    def _print(self, styles: list[str]) -> list[BallotPrint]:
        assert self.ondemand is not None
        before = self.ondemand.pending()
        try:
            done = self.ondemand.print_ballots(styles)
        except DriverError as e:
            # The driver's contract is a JobResult; one that raises instead (a malformed answer)
            # does so after the counters of the ballot in flight went up (identify/ondemand.py),
            # and the seam does not say whether the page came out: that sheet is the member's to
            # look for (uncertain: tray_checked), the styles after it were not tried.
            self.log.error("ballot printer: %s", e)
            after = self.ondemand.pending()
            done = [BallotPrint(s, PrintState.UNCERTAIN if after.get(s, 0) > before.get(s, 0)
                                else PrintState.NOT_PRINTED, detail=str(e)) for s in styles]
        self.on_tray += [b.style for b in done if b.state is PrintState.ON_PAPER]
        self.uncertain += [b.style for b in done if b.state is PrintState.UNCERTAIN]
        self.not_out = [b.style for b in done if b.state in (PrintState.NOT_PRINTED, PrintState.VOIDED)]
        if self.not_out:
            self._say(f"ballot printer: {', '.join(self.not_out)} not printed (print again once it is ready)")
        return done

    def tray_checked(self, came_out: bool) -> None:
        """After an UNCERTAIN job (the printer stopped answering) the member looked in the tray:
        the sheets are there (on the tray like the others) or not (withdrawn; ``print_again``)."""
        assert self.ondemand is not None
        looked, self.uncertain = self.uncertain, []
        for style in looked:
            if came_out:
                self.on_tray.append(style)
            elif self._settled(self.ondemand.withdraw, style):
                self.not_out.append(style)

    def hand_over(self) -> list[str]:
        """The sheets on the tray were handed to the voter: issued. Returns their styles."""
        if self.ondemand is None:
            return []
        given, self.on_tray = self.on_tray, []
        return [style for style in given if self._settled(self.ondemand.issue, style)]

    def not_taken(self, reason: str = "voter-left") -> list[str]:
        """The voter left the sheets on the tray: voided with ``reason`` (identify.ondemand.VOID_REASONS)."""
        if self.ondemand is None:
            raise OnDemandError("no ballots are printed on demand at this table")
        if reason not in VOID_REASONS:        # before the tray is touched: a bad tap changes nothing
            raise OnDemandError(f"void reason {reason!r}: one of {', '.join(VOID_REASONS)}")
        left = []
        for style in list(self.on_tray):
            if self._settled(lambda s: self.ondemand.void(s, reason), style):
                left.append(style)
            self.on_tray.remove(style)
        for style in self.not_out:            # the voter left: the sheets not printed are owed no more
            forgive(self.conn, style)
        self.not_out = []
        return left

    def _settled(self, settle: Callable[[str], None], style: str) -> bool:
        """``settle(style)``; False when the counters hold no such sheet pending any more (another
        table of this identify.db settled it: its restart puts every pending sheet on its own
        tray). The sheet leaves this tray and the journal says so: a stale tray must not raise
        out of the next voter's acceptance, after the identification committed."""
        try:
            settle(style)
        except OnDemandError as e:
            self._say(f"ballot printer: {e}: taken off this table's tray")
            return False
        return True

    def print_again(self) -> list[BallotPrint]:
        """Print the voter's sheets that did not come out (the printer was not ready, a jam)."""
        if self.ondemand is None:
            raise OnDemandError("no ballots are printed on demand at this table")
        if not self.not_out:
            return []
        return self._print(self.not_out)

    # -- one voter -------------------------------------------------------------------------

    def _capture_and(self, identify: Callable[[Any, Outcome | None], Outcome]) -> TableResult:
        """Capture a finger (with retries) and run ``identify(image, previous)``; signal and print.

        When the first finger does not match a voter with two enrolled fingers
        (``other-finger``), the voter is asked for the other finger (``on_prompt``,
        the RETRY light) and it is captured with ``max_captures`` tries of its own,
        ``previous`` carrying the first; if no other finger comes, the first finger's
        mismatch stands (``Identifier.finger_mismatch``).
        """
        last = None
        previous: Outcome | None = None
        tries = 0
        while tries < self.max_captures:
            tries += 1
            self.beat()
            cap = self.sensor.capture(self.capture_deadline_s)
            if cap.status is not SensorStatus.READY:
                ky, ru = SENSOR_TEXT.get(cap.status, SENSOR_TEXT[SensorStatus.ERROR])
                last = TableResult(None, f"sensor-{cap.status.value}", ky, ru, detail=cap.detail)
                self._show("RETRY")
                self._say(f"sensor: {cap.status.value}: {cap.detail}")
                continue
            out = identify(cap.image, previous)
            if out.status is Status.OTHER_FINGER:
                previous, tries = out, 0     # the other finger gets its own tries
            if out.status in (Status.RETRY, Status.OTHER_FINGER):
                last = TableResult(out, str(out.status), out.message_ky, out.message_ru)
                self._show("RETRY")
                self._say(f"table {self.identifier.table}: {out.status} {out.reason or ''}".strip())
                # the screen says what the voter must do before the next capture
                call_hook(self.on_prompt, last, self.log, "on_prompt")
                continue
            return self._finish(out)
        if previous is not None:
            return self._finish(self.identifier.finger_mismatch(previous))
        assert last is not None
        last.detail = (last.detail + "; " if last.detail else "") + "manual identification is offered"
        if last.outcome is not None:
            last.outcome = replace(last.outcome, offer_manual=True)
        return last

    def _finish(self, out: Outcome) -> TableResult:
        result = TableResult(out, str(out.status), out.message_ky, out.message_ru)
        if out.accepted:
            self.served += 1
            if self.after_commit is not None:
                self.after_commit(out)
            self._show("ACCEPTED")
            result.printed = self.print_pending()
            if self.ondemand is not None:
                result.ballots = self._print_ballots(out)
        elif out.status is Status.CONFIRM:
            self._show("BUSY")
        else:
            self._show("REFUSED")
        self._say(f"table {self.identifier.table}: {out.status} {out.reason or ''}".strip())
        return result

    def serve_voter(self, mrz_keys=None, *, mrz_timeout: float = 0.0) -> TableResult:
        """One voter with an ID card in the reader: read it, capture the finger, identify, signal, print."""
        status = self.card_reader.status()
        if status is not CardStatus.READY:
            return TableResult(None, f"card-{status.value}", "ID картаны окугучка салыңыз",
                               "Вставьте ID-карту в считыватель")
        keys = mrz_keys
        if keys is None and self.mrz_input is not None:
            try:
                keys = self.mrz_input.read_mrz(mrz_timeout)
            except DriverError as e:
                return self._card_fault(e)
            except Exception as e:  # noqa: BLE001 - outside input must not stop the table (see _card_fault)
                return self._card_fault(e, unexpected=True)
        if keys is None:
            return TableResult(None, "mrz-needed", "MRZды окутуңуз же документтин маалыматын териңиз",
                               "Отсканируйте MRZ или введите данные документа")
        self._show("BUSY")
        try:
            document = self.card_reader.read_document(keys, self.trust, at=self.clock.now())
        except DriverError as e:
            return self._card_fault(e)
        except Exception as e:  # noqa: BLE001 - outside input must not stop the table (see _card_fault)
            return self._card_fault(e, unexpected=True)
        early = self.identifier.check_card(document)     # no finger needed to say no
        if early is not None:
            return self._finish(early)
        return self._capture_and(lambda image, previous: self.identifier.by_card(document, image,
                                                                                previous=previous))

    def _card_fault(self, e: Exception, *, unexpected: bool = False) -> TableResult:
        """A card or MRZ fault shown as such (never an acceptance); the table goes on.

        ``unexpected``: the driver raised outside its contract (drivers.idcard.errors):
        a driver bug that a hostile card reached. It is still only this card's fault:
        the commission sees an unreadable card, the traceback goes to the journal.
        """
        if unexpected:
            self.log.error("card reader raised outside its contract", exc_info=e)
        code, text = card_fault(e)
        record(self.conn, "card-read-failed", "failure", clock=self.clock, reason=code, error=type(e).__name__)
        self._show("RETRY")
        self._say(f"card: {code}: {e}")
        return TableResult(None, code, text.ky, text.ru, detail=str(e))

    def serve_typed(self, document_number: str) -> TableResult:
        """The commission typed the voter's document number (no readable card)."""
        return self._capture_and(lambda image, previous: self.identifier.by_document_number(
            document_number, image, previous=previous))

    def serve_search(self) -> TableResult:
        """No document: 1:N search, candidates for the commission to confirm on screen."""
        return self._capture_and(lambda image, previous: self.identifier.by_fingerprint(image, previous=previous))

    def confirm(self, pin: str, member: str) -> TableResult:
        return self._finish(self.identifier.confirm_candidate(pin, member))

    def manual(self, pin: str, member: str, reason: str) -> TableResult:
        return self._finish(self.identifier.manual(pin, member, reason))

    # -- online claims (remote voting) -------------------------------------------------------

    @property
    def claims(self):
        """The identifier's claim client (identify/claims.py), or None when claims are off."""
        return getattr(self.identifier, "claim", None)

    def _claims(self):
        if self.claims is None:
            raise IdentificationError("claims are off at this table ([claims] in uchastok.toml)")
        return self.claims

    def issue_provisionally(self, pin: str, member: str) -> TableResult:
        """No answer from the centre: issue on a provisional claim (``member``'s PIN checked by the caller)."""
        return self._finish(self._claims().issue_provisionally(pin, member))

    def claim_again(self, pin: str) -> TableResult:
        """No answer from the centre: ask it again for the voter waiting at the table."""
        return self._finish(self._claims().retry(pin))

    def decline_claim(self, pin: str) -> None:
        """No answer and no provisional issue: nothing is issued; the claim stays queued."""
        self._claims().decline(pin)
        self._show("REFUSED")

    def _start_resender(self) -> None:
        claims = self.claims
        if claims is None or claims.mode != "always" or self.claim_resender is not None:
            return
        db = self.conn.execute("PRAGMA database_list").fetchone()[2]
        self.claim_resender = ClaimResender(db, claims, logger=self.log).start()

    def _stop_resender(self) -> None:
        if self.claim_resender is not None:
            self.claim_resender.stop()
            self.claim_resender = None

    # -- the loop ----------------------------------------------------------------------------

    def start(self) -> str:
        """Audit the start and print the receipts a crash left queued; the status line for READY."""
        pending = len(receipts.pending(self.conn, self.identifier.table))
        record(self.conn, "identify-daemon-started", clock=self.clock, table=self.identifier.table,
               receipts_waiting=pending)
        if pending:
            self.print_pending()
        if self.ondemand is not None:
            # Sheets an interruption left printed but not settled: on the tray for the commission
            # (hand_over if the voter took them, not_taken with "interrupted" if not).
            self.on_tray = [style for style, n in self.ondemand.pending().items() for _ in range(n)]
            # Sheets owed to a voter identified just before the interruption that never came out.
            self.not_out = [style for style, n in self.ondemand.owed().items() for _ in range(n)]
        self._start_resender()
        return f"table {self.identifier.table}" + (f": {self.description}" if self.description else "")

    def step(self) -> str:
        """One turn: ``waiting`` (a device is missing: FAULT, backoff), ``served`` or ``idle``."""
        conditions = self.device_conditions()
        if not self.devices_ready(conditions):
            delay = self.back_off()
            missing = ", ".join(f"{k}: {_shown(v)}" for k, v in conditions.items() if v not in WORKING)
            self._show("FAULT")
            self._say(f"waiting for devices ({missing}); retry {self.attempts}")
            self.wait(delay)
            return "waiting"
        self.recovered()
        self.print_pending()
        if conditions.get("card-reader") is CardStatus.READY:
            result = self.serve_voter(mrz_timeout=self.poll_s)
            if result.status != "mrz-needed":
                self._wait_card_removed()
            return "served"
        return "idle"

    def pause_after(self, result: str) -> float:
        return self.poll_s if result == "idle" else 0.0

    def finish(self) -> None:
        self._stop_resender()
        record(self.conn, "identify-daemon-stopped", clock=self.clock, identified=self.served)

    def run(self, *, max_turns: int | None = None) -> int:
        """Serve voters until ``stop()``; returns the number identified by this daemon."""
        self.serve(max_turns=max_turns)
        return self.served

    def _wait_card_removed(self) -> None:
        while not self.stopped:
            try:
                if self.card_reader.status() is not CardStatus.READY:
                    return
            except Exception:  # noqa: BLE001
                return
            self.wait(self.poll_s)


# --- opening the role's files -------------------------------------------------------------

PACKAGE_CALIBRATION = "trust/fingerprint-calibration.json"


def package_calibration(paths) -> Calibration | None:
    """The fingerprint thresholds the loaded (verified) package carries for its sensors, or None
    (the engine's shipped calibration). A malformed file is a ``PackageError``: no table opens
    with thresholds nobody can read."""
    pkg = current_package(paths)
    path = pkg.dir / PACKAGE_CALIBRATION if pkg is not None else None
    if path is None or not path.exists():
        return None
    try:
        return Calibration.load(path)
    except CalibrationError as e:
        raise PackageError(f"{PACKAGE_CALIBRATION}: {e}") from e


def open_identifier(paths, election: Election, *, table: str = "1", clock=None, logger=None) -> Identifier:
    """An ``Identifier`` on its own connections to identify.db and station.db, signing with the device key."""


    clock = clock or SystemClock()
    problem = voter_list_problem(paths)
    if problem:
        raise PackageError(problem)
    try:
        role = paths.role("identify")
        signer = load_device(role.key, role.cert, election_id=election.id,
                             station_id=election.station.id, clock=clock).signer
    except SyncError as e:
        raise ProvisioningError(str(e)) from e
    calibration = package_calibration(paths)
    conn = open_identify_db(paths.identify_db)
    sconn = open_station_db(paths.station_db)
    try:
        claims = open_claims(paths, election, clock=clock, logger=logger)
    except BaseException:
        conn.close()
        sconn.close()
        raise
    ident = Identifier(conn, sconn, election, signer=signer, clock=clock, logger=logger, table=table,
                       calibration=calibration, claim=claims)

    def close_connections() -> None:
        if claims is not None:
            claims.close()
        conn.close()
        sconn.close()

    ident.close_connections = close_connections  # type: ignore[attr-defined]
    return ident


# --- what the CLI calls -------------------------------------------------------------------

def _election(paths) -> Election:
    pkg = current_package(paths)
    if pkg is None:
        raise ConfigError("no election package is loaded (`uchastok package load DIR`)")
    return pkg.election


def open_printer(paths, *, sim: bool = False):
    """The table's receipt printer (station/printing.py); ``sim`` writes into var/out/receipts."""

    return role_printer(paths, "identify", sim=sim, sim_dir="receipts")


def voter_report(paths, query: str) -> dict[str, Any]:
    """`identify voter`: lookup by PIN or document number, eligibility, identified or not."""

    election = _election(paths)
    conn = open_identify_db(paths.identify_db)
    try:
        q = query.strip().upper()
        v = voters.by_pin(conn, q) if q.isdigit() else voters.by_document(conn, q)
        if v is None:
            return {"query": query, "on_list": False}
        e = eligibility.decide(v, election)
        earlier = identified(conn, v.pin)
        return {"query": query, "on_list": True, "pin": v.pin, "document_number": v.document_number,
                "name": v.full_name, "birth_date": v.birth_date.isoformat(),
                "ballots": list(e.contests), "refused_contests": e.refused,
                "templates": len(voters.templates_for(conn, v.pin)),
                "identified": None if earlier is None else {
                    "at": earlier.at.isoformat(), "method": earlier.method,
                    "receipt": receipt_label(earlier.receipt), "table": earlier.table}}
    finally:
        conn.close()


def manual_identification(paths, pin: str, member: str, member_pin: str, reason: str, *,
                          table: str = "1", sim_printer: bool = False, provisional: bool = False,
                          clock=None) -> TableResult:
    """`identify manual`: the member's PIN is checked (polls.authorize), then the identification
    is recorded and its receipt printed (or queued).

    With online claims and no answer from the centre the outcome is ``confirm`` / ``no-link``
    and the claim stays queued (re-sent by the daemon); ``provisional`` issues at once on a
    provisional claim instead, the member (PIN checked) recorded as its author."""

    election = _election(paths)
    ident = open_identifier(paths, election, table=table, clock=clock)
    try:
        polls.authorize(ident.station_conn, member, member_pin, clock=clock)
        if election.station.remote_site:
            # No ballot printer here: the voter's sheets are owed in the identification's transaction
            # and the table offers them ("print again") when its daemon starts (identify/ondemand.py).
            ondemand_prepare(ident.conn, election)
            ident.on_commit = lambda conn, out: owe(conn, election, out.ballots)
        out = ident.manual(pin, member, reason)
        claim = getattr(ident, "claim", None)
        if provisional and claim is not None and out.status is Status.CONFIRM and out.reason == NO_LINK:
            out = claim.issue_provisionally(pin, member)
        result = TableResult(out, str(out.status), out.message_ky, out.message_ru)
        if out.accepted:
            try:
                with open_printer(paths, sim=sim_printer) as printer:
                    result.printed = print_pending(ident.conn, printer, election, table=table, clock=clock)
            except Exception as e:  # noqa: BLE001 - the identification stands; the receipt stays queued
                result.detail = f"receipt queued: {e}"
        return result
    finally:
        ident.close_connections()


def identification_summary(paths, *, print_it: bool = False, send: bool = False,
                           sim_printer: bool = False, clock=None) -> dict[str, Any]:
    """`identify summary`: the figures; ``print_it`` prints the summary document; ``send``
    queues the ``identification-summary`` envelope (polls must be closed)."""

    election = _election(paths)
    if send:
        ident = open_identifier(paths, election, clock=clock)
        try:
            polls.require(ident.station_conn, polls.PollsState.CLOSED, polls.PollsState.PROTOCOL_SIGNED)
            body = receipts.enqueue_summary(ident.conn, ident.outbox, station_conn=ident.station_conn, clock=clock)
        finally:
            ident.close_connections()
    else:
        conn = open_identify_db(paths.identify_db)
        try:
            body = receipts.summary_body(conn, clock=clock)
        finally:
            conn.close()
    out = dict(body, sent=send)
    if print_it:
        with open_printer(paths, sim=sim_printer) as printer:
            r = printer.print_document(receipts.summary_document(election, body))
        out["printed"] = r.printed
        out["printer"] = r.status.value
    return out


def reprint_receipts(paths, *, number: int | None = None, member: str | None = None,
                     sim_printer: bool = False, clock=None) -> list[dict[str, Any]]:
    """`identify reprint`: print the queued receipts, or a marked duplicate of receipt ``number``."""

    election = _election(paths)
    conn = open_identify_db(paths.identify_db)
    try:
        with open_printer(paths, sim=sim_printer) as printer:
            if number is None:
                done = receipts.print_pending(conn, printer, election, clock=clock)
            else:
                if not member:
                    raise IdentificationError("a duplicate needs the commission member (--member)")
                done = [(number, receipts.reprint(conn, printer, election, number, member=member, clock=clock))]
        return [{"receipt": receipt_label(n), "printed": r.printed, "printer": r.status.value} for n, r in done]
    finally:
        conn.close()


def build_identify_daemon(paths, factory: IdentifyDeviceFactory, *, table: str = "1", clock=None,
                          logger: logging.Logger | None = None, notifier=None, **options) -> IdentifyDaemon:
    """The identify daemon on the devices ``factory`` makes, the same way for any factory.

    Hardware: ``identify.devices.HardwareFactory(paths)``; simulated:
    ``simulation.table.SimulatedIdentifyFactory``. The election and the document
    signers' certificates come from the loaded package, the ``Identifier`` opens its own
    connections (``open_identifier``); ``options`` go to ``IdentifyDaemon``. If the
    devices cannot be made, the connections are closed before the error goes up.
    """
    election = _election(paths)
    trust = [(current_package(paths).dir / "trust" / "document-signers.pem").read_bytes()]
    if clock is None and paths.identify_db.exists():
        # Recorded times never go back before what identify.db already holds (as for count).
        conn = connect(paths.identify_db, readonly=True)
        try:
            clock = clock_after_log(conn)
        finally:
            conn.close()
    identifier = open_identifier(paths, election, table=table, clock=clock, logger=logger)
    try:
        devices = factory.open_devices()
    except BaseException:
        identifier.close_connections()  # type: ignore[attr-defined]
        raise
    return IdentifyDaemon(devices, identifier, election, trust=trust, clock=clock, logger=logger,
                          notifier=notifier, description=factory.description, **options)


def run_table(paths, *, table: str = "1", stop_after_commit: bool = False) -> dict[str, Any]:
    """`identify run`: the daemon on the devices configured in uchastok.toml, until SIGTERM.

    ``stop_after_commit`` (tests of crash recovery) stops the process with SIGSTOP right after
    an identification commits, before its receipt prints. The simulated table is
    ``simulation.table.run_sim_table``.
    """
    log = logging.getLogger("uchastok.identify")
    daemon = build_identify_daemon(paths, HardwareFactory(paths, logger=log), table=table, logger=log,
                                   notifier=Notifier.from_env(),
                                   after_commit=stop_after_commit_hook if stop_after_commit else None)
    try:
        daemon.run_until_signal()
    finally:
        daemon.close()
    return {"identified": daemon.served}


def stop_after_commit_hook(_out) -> None:
    """Stop this process (SIGSTOP) right after a commit: crash-recovery tests kill it there."""
    os.kill(os.getpid(), signal.SIGSTOP)
