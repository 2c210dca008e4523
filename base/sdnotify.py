"""Tell systemd how a daemon is doing: readiness, status line, watchdog pings.

The units are ``Type=notify`` with ``WatchdogSec=30`` (systemd/*.service).
systemd passes ``NOTIFY_SOCKET`` (a datagram socket path; a leading ``@``
means the abstract namespace) and ``WATCHDOG_USEC``; the protocol is one
datagram of ``KEY=value`` lines (sd_notify(3)), so no library is needed.

Guarantees:

- Outside systemd (no ``NOTIFY_SOCKET``: tests, the demo, a technician
  running ``uchastok identify run`` by hand) every call is a no-op.
- A send never blocks the daemon for more than ``SEND_TIMEOUT_S``, and a
  failed send never raises into the daemon: losing one status line must not
  stop an identification. It is counted in ``send_failures``.
- ``Heartbeat.beat()`` sends ``WATCHDOG=1`` at most every half interval, so
  the daemon loop can call it on every turn.

When to call what (the daemons' side of the contract):

- ``ready(status)`` once the role's database and state are open, BEFORE
  waiting for devices: a missing sensor is reported in ``status()`` while
  the daemon retries (station/health.py), never by holding back readiness
  (systemd would kill it at ``TimeoutStartSec`` and loop).
- ``status(text)`` whenever what a commission member would want to know
  changes ("polls open; 132 identified; printer: out of paper").
- ``Heartbeat.beat()`` on every turn of the main loop, and inside any wait.
- ``stopping()`` on SIGTERM, once the current transaction is finished.

The role daemons get all of this from their loop skeleton (station/daemon.py
``RoleDaemon``: READY after ``start``, a beat every turn and inside every
wait, STATUS when the line changes, STOPPING when the loop ends).

Example::

    notifier = Notifier.from_env()
    heartbeat = Heartbeat(notifier)
    notifier.ready("waiting for the fingerprint sensor")
    while running:
        heartbeat.beat()
        ...
    notifier.stopping()
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Mapping

ENV_SOCKET = "NOTIFY_SOCKET"
ENV_WATCHDOG_USEC = "WATCHDOG_USEC"
ENV_WATCHDOG_PID = "WATCHDOG_PID"

SEND_TIMEOUT_S = 2.0

# systemd truncates nothing but journald shows one line; keep status short.
_MAX_STATUS = 200


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds of the unit's ``WatchdogSec=``, or None when no watchdog is set.

    ``WATCHDOG_PID``, when set, must be our pid (systemd sets it for the main
    process only; a child that inherits the variable must not ping).
    """
    env = os.environ if environ is None else environ
    raw = env.get(ENV_WATCHDOG_USEC)
    if not raw:
        return None
    pid = env.get(ENV_WATCHDOG_PID)
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    try:
        usec = int(raw)
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None


class Notifier:
    """Sends sd_notify datagrams to one socket address (or nowhere)."""

    def __init__(self, address: str | None):
        self.address = address
        self.send_failures = 0
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        env = os.environ if environ is None else environ
        return cls(env.get(ENV_SOCKET) or None)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def _target(self) -> str | bytes:
        assert self.address is not None
        if self.address.startswith("@"):
            # Abstract namespace: the name starts with a NUL byte instead.
            return b"\0" + self.address[1:].encode()
        return self.address

    def send(self, **fields: str | int) -> bool:
        """Send ``KEY=value`` lines in one datagram; True when it was sent."""
        if self.address is None:
            return False
        payload = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                # A datagram queue holds few messages (net.unix.max_dgram_qlen);
                # if systemd is not reading, wait a little, never forever.
                self._sock.settimeout(SEND_TIMEOUT_S)
            self._sock.sendto(payload, self._target())
        except OSError:
            self.send_failures += 1
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        fields: dict[str, str | int] = {"READY": 1}
        if status is not None:
            fields["STATUS"] = _one_line(status)
        return self.send(**fields)

    def status(self, text: str) -> bool:
        return self.send(STATUS=_one_line(text))

    def watchdog(self) -> bool:
        return self.send(WATCHDOG=1)

    def stopping(self, status: str | None = None) -> bool:
        fields: dict[str, str | int] = {"STOPPING": 1}
        if status is not None:
            fields["STATUS"] = _one_line(status)
        return self.send(**fields)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start/stop time (a long migration, a big voter list)."""
        return self.send(EXTEND_TIMEOUT_USEC=int(seconds * 1_000_000))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Notifier({self.address!r})" if self.address else "Notifier(disabled)"


class Heartbeat:
    """Pings the watchdog at half its interval, however often ``beat()`` is called.

    ``interval`` defaults to the unit's ``WatchdogSec`` (from the environment);
    without a watchdog, ``beat()`` does nothing. ``monotonic`` is injectable
    for tests (base.clock.FixedClock().monotonic).
    """

    def __init__(self, notifier: Notifier, interval: float | None = None, *,
                 monotonic: Callable[[], float] = time.monotonic):
        self.notifier = notifier
        self.interval = interval if interval is not None else watchdog_interval()
        self._monotonic = monotonic
        self._last: float | None = None

    @property
    def period(self) -> float | None:
        """Seconds between pings: half the watchdog interval."""
        return None if self.interval is None else self.interval / 2

    def due(self) -> bool:
        if self.period is None:
            return False
        return self._last is None or self._monotonic() - self._last >= self.period

    def beat(self) -> bool:
        """Ping if due; True when a ping was sent."""
        if not self.due():
            return False
        self._last = self._monotonic()
        return self.notifier.watchdog()

    def __repr__(self) -> str:
        return f"Heartbeat({self.notifier!r}, period={self.period})"


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_STATUS else text[: _MAX_STATUS - 1] + "…"
