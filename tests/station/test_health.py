"""Full disk, clock jumping backwards, missing device at start (issue 7 "Reliability")."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import socket
import sqlite3
import subprocess
import sys
import textwrap
import tomllib
import uuid
from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace

import pytest

from base import sqlite as db
from base.clock import FixedClock, JumpDirection, SaneClock
from base.errors import ClockJumpError
from base.sdnotify import Heartbeat
from drivers.fingerprint.base import SensorStatus
from drivers.fingerprint.serial_sensor import ZfmSensor
from drivers.fingerprint.simulator import SensorSimulator
from provisioning.install import DEFAULT_CONFIG
from station.health import (
    MB,
    DeviceWait,
    DiskFullError,
    DiskLevel,
    DiskPolicy,
    RetryPolicy,
    disk_status,
    require_disk_space,
    wait_for_device,
)

REPO = Path(__file__).resolve().parents[2]


# -- Disk ----------------------------------------------------------------------

def _statvfs(free_bytes: int):
    return lambda _path: SimpleNamespace(f_bavail=free_bytes // 4096, f_frsize=4096)


@pytest.mark.parametrize(("free_mb", "level"), [
    (10_000, DiskLevel.OK), (512, DiskLevel.OK), (511, DiskLevel.LOW),
    (64, DiskLevel.LOW), (63, DiskLevel.FULL), (0, DiskLevel.FULL),
], ids=["plenty", "at-warn", "below-warn", "at-floor", "below-floor", "nothing"])
def test_disk_levels(free_mb, level):
    status = disk_status("/var/lib/uchastok", DiskPolicy(512, 64), statvfs=_statvfs(free_mb * MB))
    assert status.level is level
    assert status.free_mb == free_mb


def test_require_disk_space_refuses_below_floor_and_says_why():
    with pytest.raises(DiskFullError, match=r"10 MiB free .*floor 64 MiB"):
        require_disk_space("/var/lib/uchastok", statvfs=_statvfs(10 * MB))
    assert require_disk_space("/x", statvfs=_statvfs(100 * MB)).level is DiskLevel.LOW


@pytest.mark.parametrize(("warn", "floor"), [(10, 20), (10, -1)], ids=["floor-above-warn",
                                                                       "negative-floor"])
def test_disk_policy_rejects_nonsense(warn, floor):
    with pytest.raises(ValueError):
        DiskPolicy(warn, floor)


def test_disk_policy_from_config():


    assert DiskPolicy.from_config(tomllib.loads(DEFAULT_CONFIG)["health"]) == DiskPolicy(512, 64)
    assert DiskPolicy.from_config({"disk_floor_mb": 10}) == DiskPolicy(512, 10)


def test_disk_status_reads_the_real_filesystem(tmp_path):
    status = disk_status(tmp_path)
    assert status.free_bytes > 0 and str(tmp_path) in status.describe()


@pytest.fixture
def tiny_fs(tmp_path):
    """A 1 MiB tmpfs: a disk that really fills up (needs root; skipped otherwise)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(conn, n_rows_ok: list[int], guard=None) -> BaseException:
    """Insert 4 KiB rows, one transaction each, until something refuses."""
    blob = os.urandom(4096)
    i = 0
    while True:
        try:
            if guard is not None:
                guard()
            with db.atomic(conn):
                conn.execute("INSERT INTO record (n, payload) VALUES (?, ?)", (i, blob))
        except (sqlite3.Error, DiskFullError) as e:
            return e
        n_rows_ok.append(i)
        i += 1


def test_full_disk_loses_no_committed_record(tiny_fs):
    path = tiny_fs / "station.db"
    conn = db.connect(path)
    conn.execute("CREATE TABLE record (n INTEGER PRIMARY KEY, payload BLOB)")
    committed: list[int] = []
    err = _fill(conn, committed)
    assert isinstance(err, sqlite3.OperationalError) and "full" in str(err)
    assert disk_status(tiny_fs, DiskPolicy(warn_mb=1, floor_mb=0)).level is DiskLevel.LOW
    conn.close()
    # Reopen as after a restart: every committed row is there, the file is sound.
    with contextlib.closing(db.connect(path)) as again:
        assert again.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = [r[0] for r in again.execute("SELECT n FROM record ORDER BY n")]
    assert rows == committed and len(rows) > 10


def test_floor_refuses_before_sqlite_has_to(tiny_fs):
    conn = db.connect(tiny_fs / "count.db")
    conn.execute("CREATE TABLE record (n INTEGER PRIMARY KEY, payload BLOB)")
    policy = DiskPolicy(warn_mb=0.5, floor_mb=0.25)     # 256 KiB of floor on a 1 MiB disk
    committed: list[int] = []
    err = _fill(conn, committed, guard=lambda: require_disk_space(tiny_fs, policy))
    assert isinstance(err, DiskFullError)
    assert conn.execute("SELECT count(*) FROM record").fetchone()[0] == len(committed)
    # There is still room for the audit line of the refusal and the closing of polls.
    with db.atomic(conn):
        conn.execute("INSERT INTO record (n, payload) VALUES (-1, x'00')")
    conn.close()


# -- Clock ---------------------------------------------------------------------

T0 = "2025-11-30T02:00:00+00:00"


def test_clock_that_never_jumps_is_passed_through():
    fixed = FixedClock(T0)
    clock = SaneClock(fixed)
    seen = []
    for _ in range(3):
        seen.append(clock.now())
        fixed.advance(60)
    assert seen == [fixed.now() - dt.timedelta(seconds=60 * k) for k in (3, 2, 1)]
    assert clock.jumps == [] and not clock.suspect


def test_jump_backwards_is_flagged_and_time_continues_from_the_monotonic_anchor():
    fixed = FixedClock(T0)
    clock = SaneClock(fixed)
    first = clock.now()
    fixed.advance(600)
    fixed.set("2025-11-30T01:00:00+00:00")          # NTP or a hand moves it back 1 h 10 min
    after = clock.now()
    assert after == first + dt.timedelta(seconds=600)
    fixed.advance(30)
    assert clock.now() == first + dt.timedelta(seconds=630)
    assert clock.suspect
    [jump] = clock.drain_jumps()
    assert jump.direction is JumpDirection.BACKWARDS and jump.seconds == -4200
    assert clock.drain_jumps() == []                # reported once


def test_wall_clock_catching_up_is_used_again():
    fixed = FixedClock(T0)
    clock = SaneClock(fixed)
    clock.now()
    fixed.set("2025-11-30T01:59:00+00:00")          # 60 s back
    assert clock.now() == dt.datetime.fromisoformat(T0)
    fixed.advance(120)                              # wall 02:01:00, anchored 02:02:00
    assert clock.now() == dt.datetime.fromisoformat("2025-11-30T02:02:00+00:00")
    fixed.set("2025-11-30T02:02:01+00:00")          # the wall is right again (within 2 s)
    assert clock.now() == fixed.now()


def test_small_backwards_step_within_tolerance_still_never_goes_back():
    fixed = FixedClock(T0)
    clock = SaneClock(fixed, tolerance_s=2)
    a = clock.now()
    fixed.set("2025-11-30T01:59:59+00:00")
    assert clock.now() == a and clock.jumps == []


def test_strict_clock_refuses_to_give_a_time_after_a_backwards_jump():
    fixed = FixedClock(T0)
    clock = SaneClock(fixed, strict=True)
    clock.now()
    fixed.set("2025-11-29T02:00:00+00:00")
    with pytest.raises(ClockJumpError, match="backwards by 86400 s"):
        clock.now()


def test_boot_into_a_time_before_the_last_recorded_event():
    last_recorded = dt.datetime.fromisoformat("2025-11-30T09:15:00+00:00")
    fixed = FixedClock("2025-11-30T08:40:00+00:00")  # fake-hwclock's saved time
    clock = SaneClock(fixed, floor=last_recorded)
    assert clock.now() == last_recorded
    fixed.advance(10)
    assert clock.now() == last_recorded + dt.timedelta(seconds=10)
    assert [j.direction for j in clock.jumps] == [JumpDirection.BACKWARDS]


def test_jump_forwards_is_accepted_and_flagged():
    fixed = FixedClock("2025-11-29T23:00:00+00:00")
    clock = SaneClock(fixed)
    clock.now()
    fixed.set("2025-11-30T02:00:00+00:00")          # NTP corrects a stale boot time
    assert clock.now() == fixed.now()
    assert [j.direction for j in clock.jumps] == [JumpDirection.FORWARDS]
    assert not clock.suspect


# -- Device presence -----------------------------------------------------------

@pytest.mark.parametrize(("attempt", "delay"), [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60),
                                                 (50, 60), (10_000, 60)],
                         ids=["1", "2", "3", "6", "7-capped", "50", "huge"])
def test_backoff_grows_and_is_capped(attempt, delay):
    assert RetryPolicy(base_s=1, factor=2, cap_s=60).delay(attempt) == delay


def test_backoff_jitter_only_shortens():
    policy = RetryPolicy(base_s=10, cap_s=10, jitter=0.5)
    delays = [policy.delay(1, random.Random(i)) for i in range(20)]
    assert all(5 <= d <= 10 for d in delays) and len(set(delays)) > 1


class FakeNotifier:
    def __init__(self):
        self.lines = []

    def status(self, text):
        self.lines.append(text)
        return True

    def watchdog(self):
        self.lines.append("WATCHDOG")
        return True


def _probe(*statuses):
    it = iter(statuses)
    return lambda: next(it)


def test_missing_device_is_waited_for_with_status_and_watchdog():
    fixed = FixedClock(T0)
    notifier = FakeNotifier()
    heartbeat = Heartbeat(notifier, interval=30, monotonic=fixed.monotonic)
    slept = []

    def sleep(s):
        slept.append(s)
        fixed.advance(s)

    result = wait_for_device(
        "fingerprint sensor", _probe("disconnected", "disconnected", "disconnected",
                                     "disconnected", "ready"),
        policy=RetryPolicy(base_s=5, cap_s=40, jitter=0), notifier=notifier,
        heartbeat=heartbeat, sleep=sleep)
    assert result == DeviceWait("fingerprint sensor", "ready", True, 5, 75.0)
    status = [line for line in notifier.lines if line != "WATCHDOG"]
    assert status == [
        "fingerprint sensor: disconnected; retry 2 in 5 s",
        "fingerprint sensor: disconnected; retry 3 in 10 s",
        "fingerprint sensor: disconnected; retry 4 in 20 s",
        "fingerprint sensor: disconnected; retry 5 in 40 s",
        "fingerprint sensor: ready after 5 attempts",
    ]
    # Slept in slices no longer than half the watchdog interval, pinging between.
    assert max(slept) <= 15 and sum(slept) == 75
    assert notifier.lines.count("WATCHDOG") >= 75 // 15


def test_a_probe_that_raises_is_just_not_ready():
    calls = []

    def probe():
        calls.append(1)
        if len(calls) < 3:
            raise OSError(2, "No such file or directory: '/dev/uchastok-printer'")
        return "ready"

    notifier = FakeNotifier()
    result = wait_for_device("printer", probe, notifier=notifier, sleep=lambda s: None)
    assert result.ready and result.attempts == 3
    assert "printer: FileNotFoundError" in notifier.lines[0] or "OSError" in notifier.lines[0]


def test_stop_request_ends_the_wait_without_error():
    stops = iter([False, False, True])
    result = wait_for_device("scanner", lambda: "disconnected", sleep=lambda s: None,
                             should_stop=lambda: next(stops))
    assert result.ready is False and result.status == "disconnected"


def test_enum_status_values_are_understood():

    class DeviceStatus(StrEnum):
        READY = "ready"
        NO_PAPER = "no-paper"

    notifier = FakeNotifier()
    result = wait_for_device("printer", _probe(DeviceStatus.NO_PAPER, DeviceStatus.READY),
                             notifier=notifier, sleep=lambda s: None)
    assert result.status is DeviceStatus.READY
    assert notifier.lines[0] == "printer: no-paper; retry 2 in 1 s"


def _collect(sock: socket.socket, proc: subprocess.Popen) -> list[str]:
    """Read datagrams while the child runs (a datagram queue holds only a few)."""
    lines = []
    sock.settimeout(0.05)
    while True:
        try:
            lines.append(sock.recv(4096).decode())
        except TimeoutError:
            if proc.poll() is not None:
                break
    sock.close()
    return lines


DAEMON = textwrap.dedent("""
    import itertools
    from station.health import RetryPolicy, wait_for_device
    from base.sdnotify import Heartbeat, Notifier
    n = Notifier.from_env()
    hb = Heartbeat(n)
    n.ready("identify: waiting for devices")
    seen = itertools.count(1)
    # The sensor appears on the 4th probe (plugged in late).
    probe = lambda: "ready" if next(seen) >= 4 else "disconnected"
    r = wait_for_device("fingerprint sensor", probe, notifier=n, heartbeat=hb,
                        policy=RetryPolicy(base_s=0.01, cap_s=0.02, jitter=0))
    n.status("identify: ready" if r.ready else "identify: gave up")
""")


def test_daemon_with_a_missing_device_stays_up_and_says_why():
    """No crash loop: the daemon is READY, reports the absence, retries, carries on."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"uchastok-test-{uuid.uuid4().hex}"
    sock.bind(b"\0" + name.encode())
    env = dict(os.environ, NOTIFY_SOCKET="@" + name, WATCHDOG_USEC="20000",
               PYTHONPATH=str(REPO))
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-c", DAEMON], env=env)
    lines = _collect(sock, proc)
    assert proc.wait(timeout=60) == 0
    status = [x for x in lines if x.startswith("STATUS=") or x.startswith("READY=")]
    assert status == [
        "READY=1\nSTATUS=identify: waiting for devices",
        "STATUS=fingerprint sensor: disconnected; retry 2 in 0 s",
        "STATUS=fingerprint sensor: disconnected; retry 3 in 0 s",
        "STATUS=fingerprint sensor: disconnected; retry 4 in 0 s",
        "STATUS=fingerprint sensor: ready after 4 attempts",
        "STATUS=identify: ready",
    ]
    assert "WATCHDOG=1" in lines


def test_fingerprint_sensor_plugged_in_late_is_picked_up(tmp_path):
    """The real driver against its simulator: /dev/uchastok-fingerprint appears on the 3rd wait."""

    link = tmp_path / "uchastok-fingerprint"      # what udev creates on plug-in
    notifier = FakeNotifier()
    with SensorSimulator() as sim, ZfmSensor(str(link), reply_timeout_s=2.0) as sensor:
        waits = []

        def sleep(seconds):
            waits.append(seconds)
            if len(waits) == 2:
                link.symlink_to(sim.port)

        result = wait_for_device("fingerprint sensor", sensor.status, notifier=notifier,
                                 policy=RetryPolicy(base_s=1, cap_s=60, jitter=0), sleep=sleep)
    assert result.ready and result.status is SensorStatus.READY and result.attempts == 3
    assert notifier.lines == [
        "fingerprint sensor: disconnected; retry 2 in 1 s",
        "fingerprint sensor: disconnected; retry 3 in 2 s",
        "fingerprint sensor: ready after 3 attempts",
    ]
