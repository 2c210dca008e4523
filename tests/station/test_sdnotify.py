"""sd_notify over a NOTIFY_SOCKET the test binds itself (FIELD-NOTES "systemd")."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from base.clock import FixedClock
from base.sdnotify import Heartbeat, Notifier, watchdog_interval

REPO = Path(__file__).resolve().parents[2]


def _messages(sock: socket.socket) -> list[dict[str, str]]:
    out = []
    sock.setblocking(False)
    while True:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return out
        out.append(dict(line.split("=", 1) for line in data.decode().splitlines()))


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request, tmp_path):
    """A bound datagram socket and the NOTIFY_SOCKET text that reaches it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if request.param == "path":
        address = str(tmp_path / "notify.sock")
        sock.bind(address)
    else:
        name = f"uchastok-test-{uuid.uuid4().hex}"
        sock.bind(b"\0" + name.encode())
        address = "@" + name
    yield sock, address
    sock.close()


def test_ready_status_watchdog_stopping_arrive(notify_socket):
    sock, address = notify_socket
    with Notifier(address) as n:
        assert n.ready("polls open")
        assert n.status("printer: out of paper\nsecond line")
        assert n.watchdog()
        assert n.extend_timeout(1.5)
        assert n.stopping("closing")
    got = _messages(sock)
    assert got == [
        {"READY": "1", "STATUS": "polls open"},
        {"STATUS": "printer: out of paper second line"},
        {"WATCHDOG": "1"},
        {"EXTEND_TIMEOUT_USEC": "1500000"},
        {"STOPPING": "1", "STATUS": "closing"},
    ]


def test_from_env_reads_notify_socket(notify_socket):
    sock, address = notify_socket
    n = Notifier.from_env({"NOTIFY_SOCKET": address})
    assert n.enabled and n.ready()
    assert _messages(sock) == [{"READY": "1"}]


def test_without_notify_socket_everything_is_a_no_op():
    n = Notifier.from_env({})
    assert not n.enabled
    assert n.ready("x") is False and n.watchdog() is False and n.status("y") is False
    assert repr(n) == "Notifier(disabled)"


def test_unreachable_socket_is_counted_not_raised(tmp_path):
    n = Notifier(str(tmp_path / "nobody-listens"))
    assert n.watchdog() is False
    assert n.send_failures == 1


@pytest.mark.parametrize(("env", "expected"), [
    ({}, None),
    ({"WATCHDOG_USEC": "30000000"}, 30.0),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "junk"}, None),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, None),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 30.0),
], ids=["unset", "30s", "zero", "junk", "other-pid", "our-pid"])
def test_watchdog_interval(env, expected):
    assert watchdog_interval(env) == expected


def test_heartbeat_pings_at_half_the_interval(notify_socket):
    sock, address = notify_socket
    clock = FixedClock()
    hb = Heartbeat(Notifier(address), interval=30.0, monotonic=clock.monotonic)
    sent = []
    for _ in range(4):            # t = 0, 10, 20, 30 s
        sent.append(hb.beat())
        clock.advance(10)
    assert hb.period == 15.0
    assert sent == [True, False, True, False]
    assert _messages(sock) == [{"WATCHDOG": "1"}, {"WATCHDOG": "1"}]


def test_heartbeat_without_watchdog_sends_nothing(notify_socket):
    sock, address = notify_socket
    assert Heartbeat(Notifier(address), interval=None).beat() is False
    assert _messages(sock) == []


DAEMON = textwrap.dedent("""
    from base.sdnotify import Heartbeat, Notifier
    n = Notifier.from_env()
    hb = Heartbeat(n)
    n.ready("identify: waiting for devices")
    pings = 0
    while pings < 3:           # the daemon's main loop, reduced to its heartbeat
        if hb.beat():
            pings += 1
    n.status("identify: 0 voters identified")
    n.stopping()
""")


def test_a_daemon_subprocess_reports_ready_status_and_watchdog(notify_socket):
    sock, address = notify_socket
    env = dict(os.environ, NOTIFY_SOCKET=address, WATCHDOG_USEC="2000",
               PYTHONPATH=str(REPO))
    env.pop("WATCHDOG_PID", None)
    subprocess.run([sys.executable, "-c", DAEMON], env=env, check=True, timeout=60)
    got = _messages(sock)
    assert got[0] == {"READY": "1", "STATUS": "identify: waiting for devices"}
    assert got[1:4] == [{"WATCHDOG": "1"}] * 3
    assert got[4:] == [{"STATUS": "identify: 0 voters identified"}, {"STOPPING": "1"}]
