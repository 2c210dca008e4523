"""The receiver as it is deployed: several worker processes, TLS 1.2+, operator tokens from the CLI."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import ssl
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from sync_tls import make_pki
from sync_world import Station

from central.api import load_operators, token_hash
from central.server import make_server, tls_context
from central.service import Receiver
from central.storage import Storage
from cli import cli
from sync import signing
from sync.uploader import Uploader

REPO = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> set[int]:
    out = set()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.add(int(p.name))
    return out


def workers_of(proc, n: int) -> set[int]:
    """The ``n`` workers of ``proc`` once forked (the port is bound and announced before)."""
    for _ in range(400):
        found = children_of(proc.pid)
        if len(found) >= n:
            return found
        threading.Event().wait(0.05)
    return children_of(proc.pid)


def test_workers_share_the_port_and_stop_on_sigterm(tmp_path, authority, ack_key, central_db):
    signing.save_private_key(ack_key, tmp_path / "ack.key")
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    token = "desk-token"
    (tmp_path / "operators.txt").write_text(token_hash(token) + "\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "central", "--db", str(central_db), "--port", "0",
         "--key", str(tmp_path / "ack.key"), "--trust", str(tmp_path / "prov.pub"),
         "--election", "kg-2025-parl", "--workers", "2", "--backlog", "4096",
         "--operators", str(tmp_path / "operators.txt")],
        env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    st = Station(tmp_path / "st", authority)
    try:
        first = json.loads(proc.stdout.readline())
        url = first["listening"]
        assert first["workers"] == 2 and url.startswith("http://127.0.0.1:")
        workers = workers_of(proc, 2)
        assert len(workers) == 2
        st.add_receipts(500)
        st.add_protocol(500)
        with Uploader(list(st.outboxes.values()), url, ack_key.public_key(), certificate=st.cert,
                      rng=random.Random(1), batch_size=50) as up:
            up.drain()
        assert st.depth() == 0
        assert requests.get(url + "/v1/health", timeout=5).json()["envelopes"] == 502
        op = requests.get(url + "/v1/anomalies", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert op.status_code == 200 and "double_identification" in op.json()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert all(not Path(f"/proc/{w}").exists() or "Z" in Path(f"/proc/{w}/stat").read_text()
                   for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        st.close()
    assert "Traceback" not in proc.stderr.read()


def test_a_worker_that_dies_is_replaced(tmp_path, authority, ack_key):
    signing.save_private_key(ack_key, tmp_path / "ack.key")
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    proc = subprocess.Popen(
        [sys.executable, "-m", "central", "--db", str(tmp_path / "central.db"), "--port", "0",
         "--key", str(tmp_path / "ack.key"), "--trust", str(tmp_path / "prov.pub"), "--workers", "2"],
        env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    try:
        url = json.loads(proc.stdout.readline())["listening"]
        (victim, other) = sorted(workers_of(proc, 2))
        os.kill(victim, signal.SIGKILL)
        for _ in range(200):   # the parent notices within its 0.2 s turn (and waits 1 s: no spin)
            now = children_of(proc.pid)
            if len(now) == 2 and victim not in now:
                break
            threading.Event().wait(0.05)
        assert len(now) == 2 and victim not in now and other in now
        assert requests.get(url + "/v1/health", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_tls_is_1_2_or_newer(tmp_path, authority, ack_key):
    pki = make_pki(tmp_path / "pki")
    ctx = tls_context(pki["cert"], pki["key"])
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2
    rx = Receiver(Storage(tmp_path / "c.db"), ack_key, authority.public_key())
    server = make_server(rx, "127.0.0.1", 0, tls=ctx)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(pki["ca"])
        old.set_ciphers("DEFAULT:@SECLEVEL=0")   # so this client really offers TLS 1.0/1.1
        with warnings.catch_warnings():   # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises(ssl.SSLError), socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            old.wrap_socket(s, server_hostname="localhost")
        r = requests.get(f"https://127.0.0.1:{port}/v1/health", verify=str(pki["ca"]), timeout=10)
        assert r.status_code == 200 and r.json()["ok"] is True
    finally:
        server.shutdown()
        server.server_close()
        rx.storage.close()


def test_operator_token_command(tmp_path):
    f = tmp_path / "operators.txt"
    runner = CliRunner()
    r1 = runner.invoke(cli, ["receiver", "operator-token", "--operators", str(f), "--name", "Desk 1"])
    r2 = runner.invoke(cli, ["receiver", "operator-token", "--operators", str(f), "--name", "Desk\n2"])
    assert r1.exit_code == 0 and r2.exit_code == 0, (r1.output, r2.output)
    t1, t2 = r1.output.strip(), r2.output.strip()
    assert len(t1) >= 40 and t1 != t2
    assert load_operators(f) == {token_hash(t1), token_hash(t2)}
    text = f.read_text()
    assert t1 not in text and "# Desk 1\n" in text and "# Desk 2\n" in text
    assert f.stat().st_mode & 0o077 == 0
    f.write_text("not a hash\n")
    r = runner.invoke(cli, ["receiver", "operator-token", "--operators", str(f), "--name", "x"])
    assert r.exit_code != 0 and f.read_text() == "not a hash\n"
