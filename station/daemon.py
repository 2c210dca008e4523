"""The loop every role daemon runs: one ``step`` per turn until stopped, told to systemd.

``RoleDaemon`` is the skeleton the identify daemon (identify/daemon.py) and
the count daemon (count/daemon.py) share. A role supplies ``start`` (open its
state, heal what a crash left, return the status line for readiness),
``step`` (one turn: a voter, a sheet, or a look at the devices) and
``finish``; the skeleton guarantees, in this order:

1. ``start()`` runs, then systemd hears ``READY=1`` with the role's status
   line: readiness once the state is open, before any wait for a device
   (base/sdnotify.py "When to call what");
2. every turn feeds the watchdog (``Heartbeat.beat``) and calls ``step()``
   once; ``serve(until=...)`` returns after the turn whose result the
   predicate accepts, ``max_turns`` bounds the turns (tests, scripted runs);
3. after a turn ``pause_after(result)`` seconds pass (idle polling), in
   slices that keep feeding the watchdog and end at once on ``stop()``;
4. a device fault is a condition, never an exit: the role calls
   ``back_off()`` for the delay before its next try (station/health.py
   ``RetryPolicy``: attempt n waits ``base * factor**(n-1)``, capped) and
   ``recovered()`` when the device answers again, so systemd never sees a
   crash loop;
5. ``stop()`` (from any thread, or SIGTERM/SIGINT under ``run_until_signal``)
   ends the loop after the current turn; ``finish()`` runs and systemd hears
   ``STOPPING=1``, also when a turn raised.

Status lines reach systemd only when they change (``set_status``). Without
an explicit heartbeat, the notifier's own ``Heartbeat`` pings at half the
unit's ``WatchdogSec`` (none outside systemd).

Example::

    class Counter(RoleDaemon):
        role = "count"

        def step(self):
            return "idle"

        def pause_after(self, result):
            return 0.5

    Counter(notifier=Notifier.from_env()).run_until_signal()
"""

from __future__ import annotations

import logging
import random
import signal
import threading
from collections.abc import Callable
from typing import Any

from base.clock import SystemClock
from base.sdnotify import Heartbeat
from station.health import RetryPolicy

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
SLICE_S = 1.0      # longest sleep without a watchdog ping or a look at stop()


def call_hook(hook: Callable[[Any], Any] | None, value: Any, log: logging.Logger, name: str) -> None:
    """``hook(value)`` when there is a hook (a screen's: "checking online…", "the other finger");
    what it raises is logged as ``name`` and goes no further: a screen must never stop a role's work."""
    if hook is None:
        return
    try:
        hook(value)
    except Exception as e:  # noqa: BLE001 - a screen must never stop a role's work
        log.warning("%s: %s", name, e)


class RoleDaemon:
    """The loop skeleton (module docstring); subclasses define ``step`` and the hooks."""

    role = "station"

    def __init__(self, *, clock=None, logger: logging.Logger | None = None, notifier=None, heartbeat=None,
                 retry: RetryPolicy = RetryPolicy(), sleep: Callable[[float], Any] | None = None,
                 rng: random.Random | None = None):
        self.clock = clock or SystemClock()
        self.log = logger or logging.getLogger(f"uchastok.{self.role}")
        self.notifier = notifier
        self.heartbeat = heartbeat if heartbeat is not None or notifier is None else Heartbeat(notifier)
        self.retry = retry
        self.rng = rng
        self.attempts = 0            # failed attempts since the device last answered (back_off)
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self._status_line: str | None = None

    # --- what a role defines -----------------------------------------------

    def start(self) -> str:
        """Open the role's state and heal an interruption; return the status line for READY."""
        return f"{self.role} daemon running"

    def step(self) -> Any:
        """One turn; the result goes to ``until`` and ``pause_after``."""
        raise NotImplementedError

    def pause_after(self, result: Any) -> float:
        """Seconds to wait after a turn that gave ``result`` (idle polling)."""
        return 0.0

    def finish(self) -> None:
        """Record the end of the run (after the last turn, also after a failed one)."""

    # --- the loop ------------------------------------------------------------

    def stop(self) -> None:
        """End the loop after the current turn; safe from a signal handler or another thread."""
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def begin(self) -> None:
        """``start()``, then READY with its status line."""
        text = self.start()
        self._status_line = text
        if self.notifier is not None:
            self.notifier.ready(text)

    def end(self) -> None:
        """``finish()``, then STOPPING."""
        try:
            self.finish()
        finally:
            if self.notifier is not None:
                self.notifier.stopping(f"{self.role} daemon stopping")

    def serve(self, *, until: Callable[[Any], bool] | None = None, max_turns: int | None = None) -> int:
        """Begin, turn until ``stop()`` (or ``until``/``max_turns``), end; returns the turns taken."""
        self.begin()
        turns = 0
        try:
            while not self.stopped and (max_turns is None or turns < max_turns):
                turns += 1
                self.beat()
                result = self.step()
                if until is not None and until(result):
                    break
                if max_turns is not None and turns >= max_turns:
                    break
                self.wait(self.pause_after(result))
        finally:
            self.end()
        return turns

    def run_until_signal(self, signals=STOP_SIGNALS, **run_options):
        """``run(**run_options)`` with SIGTERM and SIGINT turned into ``stop()``."""
        previous = {s: signal.signal(s, lambda *_: self.stop()) for s in signals}
        try:
            return self.run(**run_options)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def run(self, **run_options):
        """The role's entry point; by default ``serve``."""
        return self.serve(**run_options)

    # --- watchdog, waiting, backoff, status ---------------------------------------

    def beat(self) -> None:
        """Feed the systemd watchdog (at most every half interval: base/sdnotify.py)."""
        if self.heartbeat is not None:
            self.heartbeat.beat()

    def wait(self, seconds: float) -> None:
        """Sleep ``seconds`` in slices, feeding the watchdog; return early on ``stop()``."""
        slice_s = SLICE_S
        period = getattr(self.heartbeat, "period", None)
        if period:
            slice_s = min(slice_s, period)
        remaining = seconds
        while remaining > 0 and not self.stopped:
            s = min(remaining, slice_s)
            self._sleep(s)
            remaining -= s
            self.beat()

    def back_off(self) -> float:
        """Count one more failed attempt; return the delay before the next (not yet waited)."""
        self.attempts += 1
        return self.retry.delay(self.attempts, self.rng)

    def recovered(self) -> None:
        """The device answered: the next fault starts the backoff from the beginning."""
        self.attempts = 0

    def set_status(self, text: str) -> None:
        """The systemd status line (sent only when it changes)."""
        if text != self._status_line:
            self._status_line = text
            if self.notifier is not None:
                self.notifier.status(text)
