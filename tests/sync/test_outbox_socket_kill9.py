"""kill -9 of the uploader, the receiver AND the roles' outbox services: still exactly once, all acked.

The appliance's path (sync/outbox_socket.py): the uploader reaches each role's
outbox only through the role's socket, and the role applies each ack. A
service killed between committing an ack and answering it leaves the uploader
without the answer: the rows it did not hear about are sent again and the
receiver answers ``duplicate`` (docs/protocol.md section 7).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sync_checks import station_envelopes
from sync_roles import RoleStation

from simulation.faultproxy import Fault, FaultPlan, FaultProxy
from sync import signing

REPO = Path(__file__).resolve().parents[2]
ROLES = ("identify", "count")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    def __init__(self, tmp: Path, home: Path, port: int, proxy_url: str):
        self.tmp, self.home, self.port, self.proxy_url = tmp, home, port, proxy_url
        self.procs: dict[str, subprocess.Popen] = {}
        self.kills = dict.fromkeys(("receiver", "uploader", *ROLES), 0)
        self.env = dict(os.environ, PYTHONPATH=str(REPO))

    def start(self, which: str) -> None:
        if which == "receiver":
            cmd = [sys.executable, "-m", "central", "--db", str(self.tmp / "central.db"),
                   "--port", str(self.port), "--key", str(self.tmp / "ack.key"),
                   "--trust", str(self.tmp / "prov.pub"), "--election", "kg-2025-parl"]
        elif which == "uploader":
            cmd = [sys.executable, "-m", "sync.uploader", "--home", str(self.home), "--url", self.proxy_url,
                   "--once", "--max-attempts", "100000", "--deadline", "3", "--max-backoff", "0.3",
                   "--batch", "25"]
        else:
            cmd = [sys.executable, "-m", "station.outbox_service", "--home", str(self.home), "--role", which]
        self.procs[which] = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL,
                                             stderr=subprocess.DEVNULL)

    def alive(self, which: str) -> bool:
        p = self.procs.get(which)
        return p is not None and p.poll() is None

    def kill(self, which: str) -> None:
        if self.alive(which):
            os.kill(self.procs[which].pid, signal.SIGKILL)
            self.procs[which].wait()
            self.kills[which] += 1

    def stop_all(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


def run_with_kills(tmp_path, authority, ack_key, receipts: int, rounds: int, seed: int):
    st = RoleStation(tmp_path / "st", authority, ack_key)
    st.add(receipts)
    signing.save_private_key(ack_key, tmp_path / "ack.key")
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    port = free_port()
    rng = random.Random(seed)
    plan = FaultPlan({Fault.LOST_ACK: 0.05, Fault.RESET_RESPONSE: 0.05}, seed=seed, retry_after="0")
    with FaultProxy(("127.0.0.1", port), plan) as proxy:
        procs = Procs(tmp_path, st.paths.config_dir.parent, port, proxy.url)
        try:
            procs.start("receiver")
            for role in ROLES:
                procs.start(role)
            deadline = time.monotonic() + 60
            while not all(st.paths.role(r).outbox_socket.exists() for r in ROLES):
                assert time.monotonic() < deadline, "outbox services did not start"
                time.sleep(0.05)
            procs.start("uploader")
            # Every process is killed in turn (shuffled), at random moments: each one's kill is tested.
            order = ["identify", "uploader", "count", "receiver"]
            rng.shuffle(order)
            for i in range(rounds):
                time.sleep(rng.uniform(0.1, 0.5))
                if procs.procs["uploader"].poll() == 0:
                    break
                which = order[i % len(order)]
                procs.kill(which)
                procs.start(which)
            for which in ("receiver", *ROLES):
                if not procs.alive(which):
                    procs.start(which)
            assert procs.procs["uploader"].poll() in (None, 0)    # a stopped service is waited for, not given up on
            assert procs.procs["uploader"].wait(timeout=240) == 0
        finally:
            procs.stop_all()
    return st, procs.kills


def assert_exactly_once_per_role(st: RoleStation, central_db: Path) -> int:
    mine = station_envelopes(st.paths.state_dir)
    conn = sqlite3.connect(central_db)
    rows = conn.execute("SELECT device, stream, seq, hash FROM envelopes").fetchall()
    conn.close()
    theirs = {(s, q): (d, h) for d, s, q, h in rows}
    assert len(rows) == len(theirs)                          # never twice
    assert set(theirs) == set(mine)                          # nothing lost
    assert all(theirs[k][1] == mine[k][0] and mine[k][1] for k in mine)
    assert all(theirs[(s, q)][0] == st.device_ids[s] for s, q in mine)   # each stream: its role's key
    return len(rows)


def test_kill9_uploader_receiver_and_outbox_services(tmp_path, authority, ack_key):
    st, kills = run_with_kills(tmp_path, authority, ack_key, 600, rounds=14, seed=21)
    try:
        assert assert_exactly_once_per_role(st, tmp_path / "central.db") == 601
        assert sum(kills.values()) > 0
    finally:
        st.close()


@pytest.mark.slow
def test_kill9_through_sockets_3000(tmp_path, authority, ack_key):
    st, kills = run_with_kills(tmp_path, authority, ack_key, 3000, rounds=40, seed=22)
    try:
        assert assert_exactly_once_per_role(st, tmp_path / "central.db") == 3001
        assert all(n > 0 for n in kills.values()), kills
    finally:
        st.close()
