"""The role daemons' loop skeleton (station/daemon.py): READY, turns, backoff, watchdog, stop."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from base.sdnotify import Notifier
from station.daemon import RoleDaemon
from station.health import RetryPolicy


class Recorder(Notifier):
    """The systemd seam, keeping every datagram it would send."""

    def __init__(self):
        super().__init__(None)
        self.sent: list[dict] = []

    def send(self, **fields) -> bool:
        self.sent.append(fields)
        return True


class Beats:
    period = 0.25

    def __init__(self):
        self.n = 0

    def beat(self) -> bool:
        self.n += 1
        return True


class Script(RoleDaemon):
    """A role whose turns are a script: each item is returned by one ``step``."""

    role = "test"

    def __init__(self, results, **kw):
        super().__init__(**kw)
        self.results = list(results)
        self.log_of: list[str] = []

    def start(self):
        self.log_of.append("start")
        return "ready for the test"

    def step(self):
        result = self.results.pop(0)
        self.log_of.append(f"step {result}")
        if result == "boom":
            raise RuntimeError("a bug in a turn")
        if result == "fault":
            self.set_status(f"device missing; retry {self.attempts + 1}")
            self.wait(self.back_off())
        elif result == "ok":
            self.recovered()
        return result

    def pause_after(self, result):
        return 1.5 if result == "idle" else 0.0

    def finish(self):
        self.log_of.append("finish")


def test_ready_turns_status_stopping_in_order():
    n = Recorder()
    d = Script(["ok", "ok", "last"], notifier=n, sleep=lambda s: None)
    assert d.serve(until=lambda r: r == "last") == 3
    assert d.log_of == ["start", "step ok", "step ok", "step last", "finish"]
    assert n.sent[0] == {"READY": 1, "STATUS": "ready for the test"}
    assert n.sent[-1] == {"STOPPING": 1, "STATUS": "test daemon stopping"}


BACKOFF = [
    # (id, turns, delays waited)
    ("one-fault", ["fault", "ok"], [1.0]),
    ("three-faults-double-each-time", ["fault", "fault", "fault", "ok"], [1.0, 2.0, 4.0]),
    ("capped", ["fault"] * 5, [1.0, 2.0, 4.0, 5.0, 5.0]),
    ("recovery-starts-again", ["fault", "fault", "ok", "fault"], [1.0, 2.0, 1.0]),
]


@pytest.mark.parametrize("turns,delays", [b[1:] for b in BACKOFF], ids=[b[0] for b in BACKOFF])
def test_device_faults_back_off_and_recovery_resets(turns, delays):
    slept: list[float] = []
    d = Script(turns, retry=RetryPolicy(base_s=1.0, factor=2.0, cap_s=5.0, jitter=0.0), sleep=slept.append)
    d.serve(max_turns=len(turns))
    # Slept in slices of at most a second; the slices add up to each backoff delay.
    assert all(s <= 1.0 for s in slept)
    assert sum(slept) == pytest.approx(sum(delays))


def test_waits_are_sliced_and_feed_the_watchdog():
    slept: list[float] = []
    beats = Beats()
    d = Script(["idle", "idle"], heartbeat=beats, sleep=slept.append)
    d.serve(max_turns=2)
    # One pause of 1.5 s after the first turn (none after the last), in watchdog-period slices.
    assert slept == [0.25] * 6
    assert beats.n == 2 + 6               # one beat per turn, one per slice


def test_status_line_sent_only_when_it_changes():
    n = Recorder()
    d = Script(["fault", "fault"], notifier=n, retry=RetryPolicy(base_s=0.0, jitter=0.0), sleep=lambda s: None)
    d.set_status("same")
    d.set_status("same")
    assert [m for m in n.sent if "STATUS" in m and "READY" not in m] == [{"STATUS": "same"}]


def test_finish_and_stopping_even_when_a_turn_raises():
    n = Recorder()
    d = Script(["ok", "boom"], notifier=n, sleep=lambda s: None)
    with pytest.raises(RuntimeError):
        d.serve()
    assert d.log_of[-1] == "finish" and n.sent[-1]["STOPPING"] == 1


def test_stop_from_another_thread_ends_a_long_wait():
    d = Script(["idle"] * 1000, retry=RetryPolicy())
    d.pause_after = lambda result: 3600.0          # an hour of idle polling
    threading.Timer(0.2, d.stop).start()
    assert d.serve() == 1                          # the wait ended at stop(), not after an hour


def test_sigterm_stops_the_loop_and_the_handler_is_restored():
    before = signal.getsignal(signal.SIGTERM)
    d = Script(["idle"] * 1000)
    d.pause_after = lambda result: 3600.0
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()
    assert d.run_until_signal() == 1
    assert d.stopped and d.log_of[-1] == "finish"
    assert signal.getsignal(signal.SIGTERM) is before


def test_heartbeat_defaults_to_the_notifiers_own():
    d = Script([], notifier=Recorder())
    assert d.heartbeat is not None and d.heartbeat.notifier is d.notifier
    assert Script([]).heartbeat is None
