"""The remote-voting chaos world: a home station, a remote-voting site and the centre, each a process.

- The centre: ``python -m central`` (the real server) on an SQLite file prepared here
  (both stations' devices enrolled, the station list with the site as ``remote-site`` of
  district OIK-09, the national list: every demo voter's home is UIK-5678 in OIK-07);
  ``CentralProc.kill()`` is SIGKILL, ``start()`` brings it back on the same port.
- The link: one ``FaultProxy`` in front of the centre for everyone (``cut()``: every
  request dropped; ``restore()``); the stations' claims and uploads all pass through it.
- The stations: ``StationProc`` runs tests/remote/remote_station_proc.py on a provisioned
  home (the site UIK-1234, claims ``always``; the home station UIK-5678, claims
  ``when-online``); ``kill()`` is SIGKILL, ``start()`` runs it again on the same home.
- ``upload(home)``: one drain of a station's outboxes through the link (the uploader).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from sync_world import station_entry

from central.service import Receiver
from central.storage import Storage
from simulation.faultproxy import Fault, FaultPlan, FaultProxy
from sync import signing
from sync.uploader import Uploader, open_station

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tests" / "remote" / "remote_station_proc.py"
SITE, HOME = "UIK-1234", "UIK-5678"


def site_entry(sid: str, n: int, district: str, remote: bool) -> dict:
    return {**station_entry(sid, n), "kind": "remote-site" if remote else "station", "district": district,
            "oik": {"code": district, "name": district}}


def role_certs(paths) -> list[dict]:
    return [json.loads(paths.role(r).cert.read_text()) for r in ("identify", "count")
            if paths.role(r).cert.exists()]


def prepare_centre(db: Path, ack_key, authority_pub, homes, pins) -> None:
    rx = Receiver(Storage(db), ack_key, authority_pub)
    try:
        for paths in homes:
            for cert in role_certs(paths):
                rx.enroll(cert)
        rx.register_stations([site_entry(SITE, 1234, "OIK-09", True), site_entry(HOME, 5678, "OIK-07", False)])
        rx.storage.register_national_voters([(p, HOME, "OIK-07") for p in pins])
    finally:
        rx.storage.close()


class CentralProc:
    """``python -m central`` as a process (kill -9 and start again on the same port)."""

    def __init__(self, db: Path, key_file: Path, trust_file: Path):
        self.db, self.key_file, self.trust_file = db, key_file, trust_file
        self.port = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> CentralProc:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "central", "--db", str(self.db), "--host", "127.0.0.1",
             "--port", str(self.port), "--key", str(self.key_file), "--trust", str(self.trust_file),
             "--no-portal"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        url = json.loads(line)["listening"]
        self.port = int(url.rsplit(":", 1)[1].strip("/"))
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def storage(self) -> Storage:
        return Storage(self.db)


class StationProc:
    """tests/remote/remote_station_proc.py on ``home`` (module docstring)."""

    def __init__(self, paths, secrets: Path):
        self.paths, self.secrets = paths, secrets
        self.proc: subprocess.Popen | None = None
        self.lines: queue.Queue = queue.Queue()

    def start(self) -> StationProc:
        self.lines = queue.Queue()
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), str(self.paths.config_dir.parent),
                                      str(self.secrets)], cwd=REPO, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        assert self.read(timeout=120).get("ready"), "the station process did not start"
        return self

    @staticmethod
    def _read(proc, lines) -> None:
        for line in proc.stdout:
            lines.put(json.loads(line))

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def read(self, timeout: float = 60) -> dict:
        return self.lines.get(timeout=timeout)

    def ask(self, command: str, timeout: float = 60) -> dict:
        self.send(command)
        reply = self.read(timeout)
        assert "error" not in reply, reply
        return reply

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            self.send("quit")
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self.proc = None

    def db(self) -> sqlite3.Connection:
        """A read-only look at the station's identify.db (the process keeps writing it)."""
        conn = sqlite3.connect(f"file:{self.paths.identify_db}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def query(self, sql: str, *args) -> list[tuple]:
        conn = self.db()
        try:
            return [tuple(r) for r in conn.execute(sql, args)]
        finally:
            conn.close()


class Link:
    """The one fault proxy between the stations and the centre."""

    def __init__(self, central: CentralProc):
        self.plan = FaultPlan()
        self.proxy = FaultProxy(("127.0.0.1", central.port), self.plan)
        self.url = self.proxy.url

    def cut(self) -> None:
        self.proxy.cut()

    def restore(self) -> None:
        self.proxy.restore()

    def slow(self, seconds: float) -> None:
        self.proxy.replan({Fault.DELAY: 1.0}, delay_s=seconds)

    def close(self) -> None:
        self.proxy.close()


def upload(paths, url: str, *, attempts: int = 20) -> int:
    """One sync cycle of a station: drain its outboxes through the link; returns envelopes left."""
    outboxes, certificates, ack_pub = open_station(paths)
    try:
        with Uploader(outboxes, url, ack_pub, certificates=certificates, base_backoff=0.05, max_backoff=0.5,
                      connect_timeout=2.0, read_timeout=5.0, deadline=10.0) as up:
            up.drain(max_attempts=attempts)
            return up.queue_depth()
    finally:
        for o in outboxes:
            conn = getattr(o, "conn", None)
            if conn is not None:
                conn.close()


def wait_for(predicate, timeout: float, what: str, step: float = 0.1) -> float:
    """Seconds until ``predicate()`` held (AssertionError after ``timeout``)."""
    t0 = time.monotonic()
    while not predicate():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)
    return time.monotonic() - t0


def ack_key_of(secrets: Path) -> signing.PrivateKey:
    return signing.load_private_key(secrets / "ack-server.key")
