"""uchastok-sync under systemd: the receiver's address from sync.env, READY/STATUS/WATCHDOG/STOPPING.

The unit (systemd/uchastok-sync.service) is Type=notify with a watchdog and starts the
uploader with no arguments: the URL and CA come from /etc/uchastok/sync.env.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

from sync_world import Station

from sync.uploader import main


def _messages(sock, until: float, done) -> list[dict]:
    """What arrives on the notify socket until ``done(messages)`` or the deadline."""
    out: list[dict] = []
    sock.settimeout(0.2)
    while time.monotonic() < until and not done(out):
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        out.append(dict(line.split("=", 1) for line in data.decode().splitlines()))
    return out


def _failing(messages) -> bool:
    return any("last error" in m.get("STATUS", "") for m in messages) and {"WATCHDOG": "1"} in messages


def test_no_receiver_url_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("UCHASTOK_SYNC_URL", raising=False)
    assert main(["--home", str(tmp_path), "--once"]) == 2
    assert "UCHASTOK_SYNC_URL" in capsys.readouterr().out


def test_under_systemd_it_says_ready_turns_and_stops(tmp_path, authority, ack_key):
    st = Station(tmp_path / "st", authority)
    st.install_trust(ack_key.public_key(), authority.public_key())
    st.add_receipts(1)                             # one envelope waiting, no receiver listening
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = str(tmp_path / "notify.sock")
    sock.bind(address)
    env = dict(os.environ, NOTIFY_SOCKET=address, WATCHDOG_USEC="10000000",
               UCHASTOK_SYNC_URL="http://127.0.0.1:9")       # discard port: nothing answers
    env.pop("WATCHDOG_PID", None)
    p = subprocess.Popen([sys.executable, "-m", "sync.uploader", "--home", str(st.home), "--poll", "0.2",
                          "--max-backoff", "0.5"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        first = _messages(sock, time.monotonic() + 30, _failing)
        assert first and first[0]["READY"] == "1" and "127.0.0.1:9" in first[0]["STATUS"]
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30) == 0
        got = first + _messages(sock, time.monotonic() + 5, lambda m: m and m[-1].get("STOPPING"))
    finally:
        if p.poll() is None:
            p.kill()
        sock.close()
        st.close()
    assert {"WATCHDOG": "1"} in got
    statuses = [m["STATUS"] for m in got[1:] if "STATUS" in m]
    assert any("queue 1" in s and "last error" in s for s in statuses), json.dumps(got)
    assert got[-1].get("STOPPING") == "1"
