"""Fixtures shared across test areas (kept at the root so that tests/ never shadows our packages)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from drivers.idcard.base import CardStatus, PcscTransport

# Fixtures shared across test areas, kept in tests/support (on pytest's pythonpath).
pytest_plugins = ["fixtures_election", "fixtures_device", "fixtures_sync", "fixtures_install",
                  "fixtures_browser", "fixtures_postgres"]

VPCD_CONF = Path("/etc/reader.conf.d/vpcd")


def _wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def wait_until():
    """``wait_until(predicate, timeout_s, what)``: poll with a deadline (real processes, readers)."""
    return _wait_until


@pytest.fixture(scope="session")
def pcscd():
    """A running pcscd with vpcd's readers; started here (and stopped) when none runs.

    One pcscd per host (FIELD-NOTES "PC/SC and ID cards"): tests using it never run in parallel.
    """

    # One pcscd and one vpcd port per host: two test runs on one machine take turns.
    lock = open(os.path.join("/tmp", "uchastok-pcscd-tests.lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        pytest.skip("pcscd is not installed (apt-get install pcscd)")
    if not VPCD_CONF.exists():
        pytest.skip("vsmartcard-vpcd is not installed (apt-get install vsmartcard-vpcd)")
    probe = PcscTransport(reader="Virtual PCD")
    process = None
    if probe.status() is CardStatus.DISCONNECTED:
        if os.geteuid() != 0:
            pytest.skip("starting pcscd needs root")
        process = subprocess.Popen(
            [shutil.which("pcscd") or "/usr/sbin/pcscd", "--foreground", "--auto-exit"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(lambda: probe.status() is not CardStatus.DISCONNECTED, 10, "pcscd to start")
    if probe.status() is CardStatus.NO_READER:
        pytest.skip("pcscd runs without vpcd's 'Virtual PCD' readers")
    # Holding a context keeps --auto-exit from stopping pcscd between tests.
    try:
        yield probe
    finally:
        probe.close()
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        lock.close()
