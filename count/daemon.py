"""The count daemon: the station's automatic ballot box.

The loop around the turns (READY, watchdog, status line, backoff, SIGTERM) is
station/daemon.py's ``RoleDaemon``. One turn (``CountDaemon.step``), in this order:

1. **Polls guard** (ARCHITECTURE.md invariant 6; station/polls.py): scanning
   only while polls are ``open`` (real tally) or in ``test-mode`` (the L&A
   tally, kept apart). In any other state the daemon does not take sheets
   from the scanner: a sheet pushed in stays in the feeder.
2. **Scanner** (drivers/scanner/base.py): ``next_sheet(deadline)`` returns a
   ``Sheet``. ``empty``: nothing waiting. ``jam`` / ``disconnected`` (also a
   disconnect in the middle of a sheet: no partial image is ever READY) and
   any driver exception are *conditions*: a clear status on the systemd
   status line, the "scanner fault" message (Kyrgyz, Russian) and the fault
   lights once, then capped exponential backoff (station/health.py
   ``RetryPolicy``) and a new try; the watchdog keeps being fed. Nothing of
   the driver ends the process, so systemd never sees a crash loop.
3. **Sheet**: ``double-feed`` (two sheets stuck together) is a rejection;
   so is an image cut short in transfer (the reader finds ``truncated-image``
   or ``unreadable``). Scanners hand over pixels, never file bytes.
4. **Sheet in flight after a crash** (count/store.py "Commit, then
   accept"): if count.db holds a pending accept whose digest is this image's,
   the sheet was counted just before the interruption; it is accepted without
   counting it again.
5. **Interpretation** (``interpret_sheet``, pure) → rejected: the sheet is
   returned with the bilingual message and its reason counted (count/store.py
   ``count_returned``: a counter per reason, no record of the sheet);
   accepted: ONE transaction adds it to the tally, stores its interpretation
   and the pending-accept marker; THEN the scanner drops it into the box;
   then the marker is cleared. A reading the tally refuses (inconsistent
   with the election) is returned like any rejection; the tally is unchanged.

Holding scanners: a ballot-box scanner holds each sheet in its path until told
``accept()`` (drop into the box) or ``return_sheet()`` (give back to the
voter); the daemon uses these when the scanner has them, and only after the
commit. A plain document scanner (SANE ADF) ejects every sheet to its output
tray as it scans: then the commission sees the message and hands a returned
sheet back, and the crash window "scanned, not yet committed" cannot be closed
by software (the pending-accept marker is not used).

Secrecy: nothing about a sheet is logged or audited one by one, accepted or
returned (no marks, no outcome, no time of a particular sheet): a returned
sheet's reason ("marginal-needs-review" says how the voter marked) only adds
one to its counter in count.db, and the counters are audited as one
aggregate (``sheet-returns-counted``) once polls are closed (never while
voters vote: not even at a stop, whose record has this run's totals only). A fault of the reader (an exception, or a reading the tally refuses) is
logged by its kind the first time only, in a run; later ones are counted.

Example::

    daemon = CountDaemon(scanner, store, station_conn, election, interpret_sheet,
                         SystemClock(), logging.getLogger("uchastok.count"))
    daemon.run()            # until stop(); run(once=True) handles one sheet
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from count.ballots.interpret import interpret_sheet, read_scanned
from count.ballots.reading import REJECTIONS, SheetReading
from count.protocol import complete_signed_protocol
from count.store import CountStore, storage_encrypted
from drivers.indicators import Signal
from drivers.scanner.base import ScannerStatus
from station import polls
from station.daemon import RoleDaemon
from station.election import Election
from station.errors import CountingError, PollsError
from station.events import record
from station.health import DiskLevel, DiskPolicy, RetryPolicy, disk_status
from station.polls import PollsState

MODE_FOR_STATE = {PollsState.OPEN: "real", PollsState.TEST_MODE: "test"}
DEFAULT_RETRY = RetryPolicy(base_s=0.5, factor=2.0, cap_s=15.0, jitter=0.0)


@dataclass(frozen=True)
class Step:
    """What one turn did: ``counted``, ``rejected``, ``resumed``, ``idle``, ``waiting``, ``scanner``."""

    outcome: str
    reason: str | None = None
    message_ky: str = ""
    message_ru: str = ""
    mode: str | None = None


@dataclass
class RunSummary:
    counted: int = 0
    rejected: int = 0
    resumed: int = 0
    turns: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"counted": self.counted, "rejected": self.rejected, "resumed": self.resumed,
                "turns": self.turns, "reasons": dict(self.reasons)}


def image_digest(image: np.ndarray) -> str:
    """SHA-256 over an image's shape and pixels: names the sheet in flight, nothing more."""
    h = hashlib.sha256(repr((image.shape, str(image.dtype))).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


class CountDaemon(RoleDaemon):
    """Reads sheets while polls allow, counts them, accepts or returns them (module docstring).

    The loop, the watchdog, the status line and the backoff are station/daemon.py's
    ``RoleDaemon``; one ``step`` is one sheet (or the reason there is none).
    ``indicators`` (drivers.indicators.Indicators) shows ACCEPTED / REFUSED / FAULT;
    ``state_dir`` enables the full-disk guard (station.health).
    """

    role = "count"

    def __init__(self, scanner, store: CountStore, station_conn, election: Election,
                 interpreter: Callable[[Any, Election], SheetReading] | None = None,
                 clock=None, logger: logging.Logger | None = None, notifier=None,
                 indicators=None, *, retry: RetryPolicy = DEFAULT_RETRY,
                 sleep: Callable[[float], Any] | None = None, idle_s: float = 0.5,
                 feed_s: float = 1.0, heartbeat=None, state_dir=None, disk_policy=None,
                 relay: Callable[[], int] | None = None):
        super().__init__(clock=clock, logger=logger, notifier=notifier, heartbeat=heartbeat, retry=retry,
                         sleep=sleep)
        self.scanner = scanner
        self.store = store
        self.station_conn = station_conn
        self.election = election
        self.interpreter = interpreter or interpret_sheet
        self.indicators = indicators
        self.idle_s = idle_s
        self.feed_s = feed_s
        self.state_dir = state_dir
        self.disk_policy = disk_policy
        self.summary = RunSummary()
        self._scanner_status: str | None = None
        self.relay = relay            # relays polls events to the count outbox (count/polls_relay.py)
        self._polls_seen: str | None = None
        self._faults_logged: set[str] = set()    # reader faults logged once per kind (module docstring)

    def __repr__(self) -> str:
        return f"CountDaemon({self.scanner!r}, {self.store!r})"

    # --- lifecycle (station/daemon.py calls these) ------------------------------

    def start(self) -> str:
        """Complete an interrupted protocol signing, audit the start; the status line for READY."""

        done = complete_signed_protocol(self.store, self.station_conn, clock=self.clock)
        if done is not None:
            self.log.info("protocol r%d: polls transition completed after an interruption", done.revision,
                          extra={"event": "protocol-completed"})
        state = polls.current(self.station_conn)
        if storage_encrypted(self.store.path) is False:
            self.log.warning("count.db is on an unencrypted device: the flash may keep old pages of it"
                             " (docs/secrecy.md)", extra={"event": "count-state-unencrypted"})
        record(self.store.conn, "count-daemon-started", clock=self.clock, polls=str(state),
               sheets=self.store.sheet_count("real"), scanner=type(self.scanner).__name__,
               pending_accept=self.store.pending() is not None)
        self.log.info("count daemon started: polls %s, %d sheets counted", state,
                      self.store.sheet_count("real"), extra={"event": "count-daemon-started"})
        return self._describe(state)

    def _relay_on_change(self) -> None:
        """Relay polls events when the polls state changed since the last turn (and at the first)."""
        if self.relay is None:
            return
        state = str(polls.current(self.station_conn))
        if state != self._polls_seen:
            try:
                self.relay()
            except Exception as e:  # the sheet loop must go on; the relay retries at the next change
                self.log.error("polls events not relayed: %s", e, extra={"event": "polls-relay-failed"})
                return
            self._polls_seen = state

    def finish(self) -> None:
        if polls.current(self.station_conn) in (PollsState.CLOSED, PollsState.PROTOCOL_SIGNED):
            self.store.audit_returns()
        # This run's totals; its reasons stay counters, audited as one aggregate once polls close.
        totals = {k: v for k, v in self.summary.to_json().items() if k != "reasons"}
        record(self.store.conn, "count-daemon-stopped", clock=self.clock, **totals)

    def pause_after(self, result: Step) -> float:
        return self.idle_s if result.outcome == "idle" else 0.0

    def run(self, *, once: bool = False, until_empty: bool = False,
            max_turns: int | None = None) -> RunSummary:
        """Loop until ``stop()``; ``once``: return after the first sheet (or when none is waiting);
        ``until_empty``: return when the feeder is empty."""

        def done(step: Step) -> bool:
            return ((once and step.outcome in ("counted", "rejected", "resumed", "empty", "scanner"))
                    or (until_empty and step.outcome in ("empty", "idle")))

        self.serve(until=done, max_turns=max_turns)
        return self.summary

    # --- one turn ----------------------------------------------------------

    def step(self) -> Step:
        self.summary.turns += 1
        self._relay_on_change()
        try:
            state = polls.require(self.station_conn, PollsState.OPEN, PollsState.TEST_MODE)
        except PollsError:
            state = polls.current(self.station_conn)
            if state in (PollsState.CLOSED, PollsState.PROTOCOL_SIGNED):
                self.store.audit_returns()      # the day's returned sheets, as one aggregate
            self.set_status(f"{self._describe(state)}; scanner idle")
            return Step("idle")
        mode = MODE_FOR_STATE[state]
        self._report_clock()
        if self.state_dir is not None:
            disk = disk_status(self.state_dir, self.disk_policy or DiskPolicy())
            if disk.level is DiskLevel.FULL:
                # No sheet is taken: it waits in the feeder until there is room to commit it.
                delay = self.back_off()
                self.set_status(f"{self._describe(state)}; {disk.describe()}: counting stopped")
                self.wait(delay)
                return Step("disk", disk.describe(), mode=mode)
        # 2-3. the next sheet, or the scanner's condition
        try:
            sheet = self.scanner.next_sheet(time.monotonic() + self.feed_s)
        except Exception as e:  # noqa: BLE001 - a driver fault is a condition here, never a crash
            self.log.warning("scanner fault: %s", e, extra={"event": "scanner-status-changed"})
            return self._condition(f"fault ({type(e).__name__})", state, mode)
        status = sheet.status
        if status is ScannerStatus.EMPTY:
            self._note_scanner("ready")
            self.recovered()
            self.set_status(f"{self._describe(state)}; {self._counted_text(mode)}; ready for a ballot")
            return Step("empty", mode=mode)
        if status in (ScannerStatus.JAM, ScannerStatus.DISCONNECTED):
            return self._condition(status.value + (f": {sheet.detail}" if sheet.detail else ""), state, mode)
        self._note_scanner("ready")
        self.recovered()
        return self._handle(sheet, mode, state)

    def _condition(self, status: str, state: PollsState, mode: str) -> Step:
        """Jam, disconnected (also mid-sheet), driver fault: clear status, capped backoff, no crash."""

        first = self._scanner_status != status
        self._note_scanner(status)
        delay = self.back_off()
        self.set_status(f"{self._describe(state)}; scanner: {status}; retry in {delay:.0f} s")
        ky, ru = REJECTIONS["scanner-fault"]
        if first:
            self._signal("fault")
        self.wait(delay)
        return Step("scanner", status, ky, ru, mode)

    def _handle(self, sheet, mode: str, state: PollsState) -> Step:
        if sheet.status is not ScannerStatus.READY or sheet.image is None:
            return self._reject(read_scanned(sheet, self.election), mode)   # double feed
        image = sheet.image
        digest = image_digest(image)
        # 4. the sheet that was counted just before an interruption
        pending = self.store.pending()
        if pending is not None and pending == digest:
            # Accept first, clear after: a crash in between leaves the marker, and the
            # next (different) sheet clears it; the counted sheet is never counted twice.
            if not self._accept_sheet():
                return Step("scanner", "disconnected", mode=mode)
            self.store.clear_pending()
            self.summary.resumed += 1
            record(self.store.conn, "sheet-accept-resumed", clock=self.clock, mode=mode)
            self.log.info("a sheet counted before an interruption was dropped into the box",
                          extra={"event": "sheet-accept-resumed"})
            return Step("resumed", mode=mode)
        if pending is not None:
            self.store.clear_pending()      # a different sheet: the previous accept had happened
        # 5. interpret (pure), then commit, then accept
        try:
            reading = self.interpreter(image, self.election)
        except Exception as e:  # noqa: BLE001 - an interpreter fault must not stop the box
            # The kind of fault only: a traceback could name a marked option (secrecy).
            self._log_fault("interpretation failed", type(e).__name__)
            reading = SheetReading.rejected("unreadable", detail=type(e).__name__)
        if not reading.accepted:
            return self._reject(reading, mode)
        if polls.current(self.station_conn) != state:
            # Polls changed while the sheet was being read (closed, paused): not counted.
            return self._reject(SheetReading.rejected("scanner-fault", detail="polls changed"), mode)
        try:
            self.store.record_sheet(reading, mode=mode, pending_digest=digest if self.holds else None)
        except CountingError as e:
            self._log_fault("the tally refused a reading", type(e).__name__)
            return self._reject(SheetReading.rejected("unreadable", detail="tally refused the reading"), mode)
        self.summary.counted += 1
        if self.holds:
            if not self._accept_sheet():
                return Step("counted", mode=mode)       # marker kept: resolved at the next sheet
            self.store.clear_pending()
        self._signal("accepted")
        self.set_status(f"{self._describe(state)}; {self._counted_text(mode)}")
        return Step("counted", None, reading.message_ky, reading.message_ru, mode)

    @property
    def holds(self) -> bool:
        """True for a scanner that holds each sheet until told to accept or return it."""
        return callable(getattr(self.scanner, "accept", None))

    def _accept_sheet(self) -> bool:
        if not self.holds:
            return True
        try:
            self.scanner.accept()
            return True
        except Exception as e:  # noqa: BLE001 - the marker stays; the next sheet decides
            self._note_scanner(f"disconnected ({type(e).__name__})")
            return False

    def _reject(self, reading: SheetReading, mode: str) -> Step:
        reason = reading.reason or "unreadable"
        returner = getattr(self.scanner, "return_sheet", None)
        if callable(returner):
            try:
                returner()
            except Exception as e:  # noqa: BLE001
                self._note_scanner(f"disconnected ({type(e).__name__})")
        self.summary.rejected += 1
        self.summary.reasons[reason] = self.summary.reasons.get(reason, 0) + 1
        # Counted, not timed: no audit record and no journal line per returned sheet (module docstring).
        self.store.count_returned(reason, mode)
        self._signal("rejected")
        self.set_status(f"returned: {reading.message_ru}")
        return Step("rejected", reason, reading.message_ky, reading.message_ru, mode)

    def _log_fault(self, what: str, kind: str) -> None:
        """A reader fault, logged by its kind the first time in this run only (module docstring)."""
        if kind not in self._faults_logged:
            self._faults_logged.add(kind)
            self.log.error("%s: %s (sheets are returned as unreadable; later ones only counted)", what, kind,
                           extra={"event": "sheet-reader-fault"})

    # --- conditions, status, indicators -------------------------------------

    def _note_scanner(self, status: str) -> None:
        if status != self._scanner_status:
            record(self.store.conn, "scanner-status-changed", clock=self.clock, status=status,
                   previous=self._scanner_status)
            level = logging.INFO if status.startswith("ready") else logging.WARNING
            self.log.log(level, "scanner: %s", status, extra={"event": "scanner-status-changed"})
            self._scanner_status = status

    def _describe(self, state: PollsState) -> str:
        ky, ru = polls.STATE_TEXT[state]
        return f"{ru} / {ky}"

    def _counted_text(self, mode: str) -> str:
        n = self.store.sheet_count(mode)
        return f"{n} test sheets (L&A)" if mode == "test" else f"{n} ballots counted"

    def _signal(self, what: str) -> None:
        if self.indicators is None:
            return
        try:
            self.indicators.show({"accepted": Signal.ACCEPTED, "rejected": Signal.REFUSED,
                                  "fault": Signal.FAULT}[what])
        except Exception:  # noqa: BLE001 - a broken lamp must not stop counting
            self.log.warning("indicators failed", exc_info=True)

    def _report_clock(self) -> None:
        drain = getattr(self.clock, "drain_jumps", None)
        if callable(drain):
            for jump in drain():
                self.log.warning("%s", jump.describe(), extra={"event": "clock-jump"})
