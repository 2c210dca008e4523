"""One voter end to end through the real PC/SC stack: pcscd + vsmartcard-vpcd + pyscard + our chip.

Same approach as tests/drivers/idcard/test_idcard_pcscd.py: use the running pcscd, or
start one for the session (root), and skip when the stack is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from drivers.idcard.base import CardStatus, PcscTransport
from station.identify_sim import SimTable, Visit

pytestmark = pytest.mark.pcscd

VPCD_CONF = Path("/etc/reader.conf.d/vpcd")


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pcscd():
    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        pytest.skip("pcscd is not installed (apt-get install pcscd)")
    if not VPCD_CONF.exists():
        pytest.skip("vsmartcard-vpcd is not installed (apt-get install vsmartcard-vpcd)")
    probe = PcscTransport(reader="Virtual PCD")
    process = None
    if probe.status() is CardStatus.DISCONNECTED:
        if os.geteuid() != 0:
            pytest.skip("starting pcscd needs root")
        process = subprocess.Popen([shutil.which("pcscd") or "/usr/sbin/pcscd", "--foreground", "--auto-exit"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: probe.status() is not CardStatus.DISCONNECTED, 10, "pcscd to start")
    if probe.status() is CardStatus.NO_READER:
        pytest.skip("pcscd runs without vpcd's 'Virtual PCD' readers")
    yield probe
    probe.close()
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_voter_through_pcscd_and_vpcd(pcscd, home, package):
    with SimTable(home, package["secrets"], transport="pcsc") as table:
        _wait(lambda: table.card_reader.status() is CardStatus.NO_CARD, 5, "an empty reader")
        v = table.voters[0]
        r = table.visit(Visit(v.pin))
        assert r.outcome.accepted and r.outcome.method == "card+finger"
        assert [p.printed for _, p in r.table.printed] == [True]
        bad = table.visit(Visit(table.voters[1].pin, "bad-sod"))
        assert bad.outcome is not None, bad.table
        assert bad.outcome.reason == "card-not-authentic"
        _wait(lambda: table.card_reader.status() is CardStatus.NO_CARD, 5, "the card to leave")
