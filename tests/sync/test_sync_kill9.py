"""kill -9 of the uploader and of the receiver at random moments: still exactly once, all acked."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sync_checks import assert_exactly_once
from sync_world import Station

from simulation.faultproxy import Fault, FaultPlan, FaultProxy
from sync import signing

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    def __init__(self, tmp: Path, st: Station, port: int, proxy_url: str):
        self.tmp, self.st, self.port, self.proxy_url = tmp, st, port, proxy_url
        self.receiver: subprocess.Popen | None = None
        self.uploader: subprocess.Popen | None = None
        self.kills = {"receiver": 0, "uploader": 0}
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.env = env

    def start_receiver(self):
        self.receiver = subprocess.Popen(
            [sys.executable, "-m", "central", "--db", str(self.tmp / "central.db"),
             "--port", str(self.port), "--key", str(self.tmp / "ack.key"),
             "--trust", str(self.tmp / "prov.pub"), "--election", "kg-2025-parl"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start_uploader(self):
        self.uploader = subprocess.Popen(
            [sys.executable, "-m", "sync.uploader", "--home", str(self.st.home),
             "--url", self.proxy_url, "--once", "--max-attempts", "100000", "--deadline", "3",
             "--max-backoff", "0.3", "--batch", "100"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self, which: str):
        p = getattr(self, which)
        if p is not None and p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()
            self.kills[which] += 1

    def stop_all(self):
        for which in ("uploader", "receiver"):
            p = getattr(self, which)
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


def run_with_kills(tmp_path, authority, ack_key, receipts: int, rounds: int, seed: int):
    st = Station(tmp_path / "st", authority)
    st.install_trust(ack_key.public_key(), authority.public_key())
    signing.save_private_key(ack_key, tmp_path / "ack.key")
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    st.add_receipts(receipts)
    st.add_protocol(receipts)
    port = free_port()
    rng = random.Random(seed)
    plan = FaultPlan({Fault.LOST_ACK: 0.05, Fault.RESET_RESPONSE: 0.05, Fault.HTTP_503: 0.03},
                     seed=seed, retry_after="0")
    with FaultProxy(("127.0.0.1", port), plan) as proxy:
        procs = Procs(tmp_path, st, port, proxy.url)
        try:
            procs.start_receiver()
            procs.start_uploader()
            for _ in range(rounds):
                time.sleep(rng.uniform(0.2, 1.0))
                if procs.uploader.poll() == 0:
                    break
                which = rng.choice(["uploader", "receiver"])
                procs.kill(which)
                getattr(procs, f"start_{which}")()
            if procs.receiver.poll() is not None:
                procs.start_receiver()
            if procs.uploader.poll() is not None and procs.uploader.returncode != 0:
                procs.start_uploader()
            assert procs.uploader.wait(timeout=240) == 0
        finally:
            procs.stop_all()
    n = assert_exactly_once(st.var, tmp_path / "central.db", st.device_id)
    st.close()
    return n, procs.kills


def test_kill9_uploader_and_receiver(tmp_path, authority, ack_key):
    n, kills = run_with_kills(tmp_path, authority, ack_key, 1000, rounds=12, seed=9)
    assert n == 1002 and sum(kills.values()) > 0


@pytest.mark.slow
def test_kill9_5000(tmp_path, authority, ack_key):
    n, kills = run_with_kills(tmp_path, authority, ack_key, 5000, rounds=40, seed=10)
    assert n == 5002 and kills["uploader"] > 0 and kills["receiver"] > 0
