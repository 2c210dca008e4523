"""The station's guards against a full disk and a missing device.

Two pieces the daemons and the CLI put in front of their work; each is a
value-returning check plus, where a state change must be refused, one
exception. None of them does I/O beyond what is injected. The third guard, a
clock that never goes backwards (``SaneClock``), is plumbing and lives in
base/clock.py.

**Disk space.** ``disk_status(path, policy)`` reads the free space the role
users may use (``f_bavail``) and grades it OK / LOW / FULL. ``LOW`` is a
warning for the status line and the heartbeat; ``FULL`` (below
``policy.floor_mb``) means "refuse new state changes": ``require_disk_space``
raises ``DiskFullError`` BEFORE the transaction starts, so nothing half-done
exists. Why a floor and not "until SQLite fails": SQLite itself never
corrupts a WAL database on ENOSPC (the failing transaction rolls back), but
the closing of the polls, its protocol, the audit line of the refusal and a
checkpoint of the WAL all need room; the floor keeps it for them.

**Device presence.** A device that is missing at start is a condition, not a
crash (house style: device condition is a value): ``wait_for_device`` polls
a probe with exponential backoff capped at ``RetryPolicy.cap_s``, puts
"fingerprint sensor: disconnected; retry 3 in 8 s" in the systemd status
line, keeps the watchdog fed while it sleeps (the cap may exceed
``WatchdogSec``), and returns when the device is ready or the daemon is asked
to stop. The daemon never exits for a missing device, so systemd never sees
a crash loop.

Example::

    policy = DiskPolicy(warn_mb=512, floor_mb=64)
    require_disk_space(paths.state_dir, policy)      # raises DiskFullError when full
    status = wait_for_device("fingerprint sensor", sensor.status,
                             notifier=notifier, heartbeat=heartbeat)
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from station.errors import StationError

MB = 1024 * 1024


class DiskFullError(StationError):
    """Raised when a state change is refused because free disk space is below the floor."""


# -- Disk space ----------------------------------------------------------------

class DiskLevel(StrEnum):
    OK = "ok"
    LOW = "low"
    FULL = "full"


@dataclass(frozen=True)
class DiskPolicy:
    """Thresholds in MiB of free space usable by the daemons.

    Defaults: a polling day writes a few MiB (3,000 receipts, 3,000 sheet
    records, their envelopes, the audit log); 512 MiB of warning leaves a
    technician the whole day to act, 64 MiB of floor keeps room to close the
    polls and print and sign the protocol.
    """

    warn_mb: float = 512
    floor_mb: float = 64

    def __post_init__(self) -> None:
        if not 0 <= self.floor_mb <= self.warn_mb:
            raise ValueError(f"need 0 <= floor_mb <= warn_mb, got {self.floor_mb}, {self.warn_mb}")

    @classmethod
    def from_config(cls, health: Mapping[str, Any]) -> DiskPolicy:
        """From the ``[health]`` table of uchastok.toml (missing keys: the defaults)."""
        default = cls()
        return cls(warn_mb=health.get("disk_warn_mb", default.warn_mb),
                   floor_mb=health.get("disk_floor_mb", default.floor_mb))

    def level(self, free_bytes: int) -> DiskLevel:
        if free_bytes < int(self.floor_mb * MB):
            return DiskLevel.FULL
        if free_bytes < int(self.warn_mb * MB):
            return DiskLevel.LOW
        return DiskLevel.OK


@dataclass(frozen=True)
class DiskStatus:
    path: Path
    free_bytes: int
    level: DiskLevel

    @property
    def free_mb(self) -> int:
        return self.free_bytes // MB

    def describe(self) -> str:
        return f"disk {self.level.value}: {self.free_mb} MiB free on {self.path}"


def disk_status(path: str | os.PathLike, policy: DiskPolicy = DiskPolicy(), *,
                statvfs: Callable[[Any], os.statvfs_result] = os.statvfs) -> DiskStatus:
    """Free space for unprivileged writers at ``path`` (the daemons are not root)."""
    st = statvfs(os.fspath(path))
    free = st.f_bavail * st.f_frsize
    return DiskStatus(Path(path), free, policy.level(free))


def require_disk_space(path: str | os.PathLike, policy: DiskPolicy = DiskPolicy(), *,
                       statvfs: Callable[[Any], os.statvfs_result] = os.statvfs) -> DiskStatus:
    """Return the disk status, or raise ``DiskFullError`` below the floor.

    Call before opening the transaction of a state change (identification,
    sheet, polls action): the refusal leaves nothing half-recorded.
    """
    status = disk_status(path, policy, statvfs=statvfs)
    if status.level is DiskLevel.FULL:
        raise DiskFullError(
            f"only {status.free_mb} MiB free on {status.path} (floor {policy.floor_mb} MiB):"
            " new records refused until space is freed")
    return status


# -- Device presence -----------------------------------------------------------

@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff for reopening a device: base * factor**(n-1), capped.

    ``jitter`` spreads retries by up to that fraction (two roles on one USB hub
    should not probe in lockstep); ``rng`` is injectable for tests.
    """

    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 60.0
    jitter: float = 0.1

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError("attempt counts from 1")
        d = min(self.cap_s, self.base_s * self.factor ** min(attempt - 1, 64))
        if self.jitter and rng is not None:
            d *= 1 - self.jitter * rng.random()
        return d


class _Notifier(Protocol):
    def status(self, text: str) -> bool: ...


class _Heartbeat(Protocol):
    @property
    def period(self) -> float | None: ...
    def beat(self) -> bool: ...


@dataclass(frozen=True)
class DeviceWait:
    """How a wait for a device ended: its last status, attempts and time spent."""

    device: str
    status: Any
    ready: bool
    attempts: int
    waited_s: float


def _is_ready(status: Any) -> bool:
    return str(getattr(status, "value", status)) == "ready"


def wait_for_device(device: str, probe: Callable[[], Any], *,
                    policy: RetryPolicy = RetryPolicy(),
                    notifier: _Notifier | None = None,
                    heartbeat: _Heartbeat | None = None,
                    is_ready: Callable[[Any], bool] = _is_ready,
                    should_stop: Callable[[], bool] = lambda: False,
                    sleep: Callable[[float], None] = time.sleep,
                    rng: random.Random | None = None,
                    max_slice_s: float = 5.0) -> DeviceWait:
    """Probe until the device is ready (or ``should_stop()``); never raises for absence.

    ``probe()`` returns the device's status value (e.g. a driver's
    ``DeviceStatus.DISCONNECTED``); ``is_ready`` tells ready from not (default:
    the value ``"ready"``, which every seam's READY member has). An exception from ``probe`` counts as "not ready"
    with its text as the status: a half-plugged USB device may well raise.
    Sleeps are cut into slices no longer than half the watchdog interval (or
    ``max_slice_s``) and the heartbeat beats between them.
    """
    attempts = 0
    waited = 0.0
    slice_s = max_slice_s
    if heartbeat is not None and heartbeat.period:
        slice_s = min(slice_s, heartbeat.period)
    while True:
        attempts += 1
        try:
            status: Any = probe()
        except Exception as e:  # noqa: BLE001 - any failure to open is "not there yet"
            status = f"{type(e).__name__}: {e}"
        if heartbeat is not None:
            heartbeat.beat()
        if is_ready(status):
            if notifier is not None and attempts > 1:
                notifier.status(f"{device}: ready after {attempts} attempts")
            return DeviceWait(device, status, True, attempts, waited)
        if should_stop():
            return DeviceWait(device, status, False, attempts, waited)
        delay = policy.delay(attempts, rng)
        if notifier is not None:
            shown = getattr(status, "value", status)
            notifier.status(f"{device}: {shown}; retry {attempts + 1} in {delay:.0f} s")
        remaining = delay
        while remaining > 0:
            step = min(slice_s, remaining)
            sleep(step)
            waited += step
            remaining -= step
            if heartbeat is not None:
                heartbeat.beat()
            if should_stop():
                return DeviceWait(device, status, False, attempts, waited)
