"""The ballot box behind its screen, and the commission's polls, protocol and manual count.

``BoxSession`` owns the count role's files (count/role.py ``count_files``), its
devices (a ``count.devices`` factory: the SANE scanner, or the simulated ballot
box) and one ``count.daemon.CountDaemon``, whose turns run in one thread. Every
call into the daemon's store holds one lock. The screen shows a ``BoxScreen``
value built from the daemon's last ``Step``:

- ``ready`` (polls open or in test mode, feeder empty), ``accepted``,
  ``returned`` with the reason (count/ballots/reading.py ``REJECTIONS``, both
  languages, what the voter should do), ``jam``, ``double-feed``,
  ``scanner-missing``, ``full`` (the disk guard), ``closed`` (polls neither open
  nor in test mode: no sheet is taken);
- ``test_mode``: the L&A test is marked on every screen while polls are in test mode;
- counters always shown: ballots accepted (real), test sheets, sheets returned.

The commission's actions are the CLI's library calls, each behind a member's
PIN: ``station.members.polls_action`` (test mode, open, pause, resume, close),
``count.role.zero_report``, ``count.role.results_protocol`` (preview; sign and
print), ``count.role.sign_manual_count`` (the official manual count, checked by
count/manual_count.py). Actions that print are refused while the printer cannot
print (``printer_ready``).

Example::

    box = BoxSession(paths, count_factory(paths, "sim:/tmp/box")).start()
    box.screen.name                   # "ready", "accepted", "returned", ...
    box.close()
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from pathlib import Path

from base.clock import SystemClock
from count.daemon import CountDaemon
from count.role import count_files, count_status, relay_polls
from drivers.printer.base import PrinterStatus
from screens.words import WORDS
from station import polls
from station.polls import PollsState
from station.text import Text

log = logging.getLogger("uchastok.screens")


@dataclasses.dataclass(frozen=True)
class BoxScreen:
    """What the ballot box's screen shows now."""

    name: str = "closed"          # ready, accepted, returned, jam, double-feed, scanner-missing, full, closed
    seq: int = 0
    message: Text | None = None
    reason: str | None = None
    test_mode: bool = False


class BoxSession:
    """The count role's daemon, run in a thread, its screen, and the commission's actions."""

    def __init__(self, paths, factory, *, clock=None, lna_expected: str | Path | None = None,
                 feed_s: float = 0.2, idle_s: float = 0.1):
        self.paths = paths
        self.factory = factory
        self.clock = clock or SystemClock()
        self.lna_expected = lna_expected
        self.lock = threading.RLock()
        self._stack = contextlib.ExitStack()
        self.files = self._stack.enter_context(count_files(paths, clock=self.clock))
        try:
            self.devices = self._stack.enter_context(contextlib.closing(factory.open_devices()))
            self.printer = self._stack.enter_context(contextlib.closing(factory.printer()))
        except BaseException:
            self._stack.close()
            raise
        f = self.files
        self.daemon = CountDaemon(self.devices.scanner, f.store, f.station_conn, f.election, None, self.clock, log,
                                  indicators=self.devices.indicators, idle_s=idle_s, feed_s=feed_s,
                                  state_dir=paths.state_dir, relay=lambda: relay_polls(paths, f, self.clock))
        self._screen = BoxScreen()
        self._screen_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.drafts: dict[str, dict] = {}     # the manual count being typed (kept across reloads)

    def __repr__(self) -> str:
        return f"BoxSession({self.files.election.station.id}, screen={self._screen.name})"

    @property
    def election(self):
        return self.files.election

    @property
    def screen(self) -> BoxScreen:
        return self._screen

    def show(self, name: str, **values) -> BoxScreen:
        with self._screen_lock:
            if self._screen.name == name and name in ("ready", "closed", "jam", "scanner-missing", "full") \
                    and self._screen.test_mode == values.get("test_mode", False):
                return self._screen        # the same condition again: no reload
            self._screen = BoxScreen(name=name, seq=self._screen.seq + 1, **values)
            return self._screen

    # -- the turns ---------------------------------------------------------------------

    def start(self) -> BoxSession:
        with self.lock:
            self.daemon.begin()
        self._thread = threading.Thread(target=self._run, name="ballot-box", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the turns, end the daemon's run, release the devices and the files; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        self.daemon.stop()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self.lock:
            try:
                self.daemon.end()
            finally:
                self._stack.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                step = self.turn()
                pause = self.daemon.pause_after(step)
            except Exception:  # noqa: BLE001 - the screen's thread keeps going; the journal has it
                log.exception("ballot box turn failed")
                pause = 0.5
            self._stop.wait(pause or 0.01)

    def turn(self):
        """One turn of the count daemon, and the screen it leads to."""
        with self.lock:
            step = self.daemon.step()
            state = polls.current(self.files.station_conn)
        test = state is PollsState.TEST_MODE
        if step.outcome in ("counted", "resumed"):
            self.show("accepted", message=WORDS["sheet-accepted"], test_mode=test)
        elif step.outcome == "rejected":
            name = "double-feed" if step.reason == "double-feed" else "returned"
            self.show(name, message=Text(step.message_ky, step.message_ru), reason=step.reason, test_mode=test)
        elif step.outcome == "scanner":
            name = "jam" if (step.reason or "").startswith("jam") else "scanner-missing"
            self.show(name, message=WORDS[name], reason=step.reason, test_mode=test)
        elif step.outcome == "disk":
            self.show("full", message=WORDS["box-full"], reason=step.reason, test_mode=test)
        elif step.outcome == "idle":
            self.show("closed", message=WORDS["box-closed"], test_mode=False)
        elif step.outcome == "empty" and self._screen.name in ("closed", "jam", "scanner-missing", "full"):
            self.show("ready", message=WORDS["box-ready"], test_mode=test)
        return step

    def ready_again(self) -> BoxScreen:
        """The commission tapped "next" after an accepted or returned sheet."""
        test = polls.current(self.files.station_conn) is PollsState.TEST_MODE
        return self.show("ready", message=WORDS["box-ready"], test_mode=test)

    # -- what the screen reads -----------------------------------------------------------

    def counters(self) -> dict:
        with self.lock:
            store = self.files.store
            # Sheets given back to voters: count.db's counter where the store keeps one (no record per
            # sheet: secrecy), else its audit records, as `uchastok count status` reads them.
            total = getattr(store, "returned_total", None)
            returned = total("real") if callable(total) else store.conn.execute(
                "SELECT count(*) FROM audit_log WHERE event = 'sheet-rejected'").fetchone()[0]
            return {"real": store.sheet_count("real"), "test": store.sheet_count("test"), "returned": returned}

    def polls_state(self) -> PollsState:
        return polls.current(self.files.station_conn)

    def printer_ready(self) -> bool:
        try:
            return self.printer.status() is PrinterStatus.READY
        except Exception:  # noqa: BLE001 - a printer that cannot answer cannot print
            return False

    def printer_status(self) -> str:
        try:
            return self.printer.status().value
        except Exception as e:  # noqa: BLE001
            return f"error: {e}"

    def status(self) -> dict:
        """count/role.py ``count_status`` (with the L&A comparison when the deck's truth is known)."""
        with self.lock:
            return count_status(self.paths, lna_expected=self.lna_expected
                                if self.lna_expected and Path(self.lna_expected).exists() else None)
