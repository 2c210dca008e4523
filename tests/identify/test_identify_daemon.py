"""The identify daemon over the drivers' simulators: faults are conditions, never acceptances."""

from __future__ import annotations

import importlib.util
import logging

import pytest

from base.sdnotify import Notifier
from drivers.fingerprint.simulator import PRESETS as SENSOR_PRESETS
from drivers.indicators import Signal
from identify.daemon import build_identify_daemon
from identify.devices import HardwareFactory, IdentifyDeviceFactory
from simulation.table import SimTable, Visit, script
from station import polls
from station.health import RetryPolicy


def identifications(table) -> int:
    return table.identifier.conn.execute("SELECT count(*) FROM identification").fetchone()[0]


EXPECTED_SENSOR_STATUS = {
    "corrupt-checksum": "sensor-error", "truncated-frame": "sensor-error", "no-answer": "sensor-disconnected",
    "unplugged-mid-transfer": "sensor-disconnected", "finger-lifted-early": "sensor-no-finger",
    "wrong-password": "sensor-error", "no-end-packet": "sensor-error",
}


@pytest.mark.parametrize("preset", SENSOR_PRESETS)
def test_each_sensor_fault_is_a_retry_status_never_an_accept(table, preset):
    table.daemon.max_captures = 2
    v = table.voters[0]
    r = table.visit(Visit(v.pin, sensor_preset=preset))
    assert r.table.outcome is None
    assert r.table.status == EXPECTED_SENSOR_STATUS[preset]
    assert r.table.message_ky and r.table.message_ru and r.table.detail
    assert "manual identification is offered" in r.table.detail
    assert table.indicators.signal is Signal.RETRY
    assert identifications(table) == 0
    # The sensor is back: the same voter is identified normally.
    assert table.visit(Visit(v.pin)).outcome.accepted


@pytest.mark.parametrize("kind,status", [("card-pulled", "card-pulled"), ("wrong-mrz", "mrz-keys-wrong")],
                         ids=["card-pulled-mid-read", "mrz-keys-wrong"])
def test_card_faults_are_conditions(table, kind, status):
    v = table.voters[1]
    r = table.visit(Visit(v.pin, kind))
    assert r.table.outcome is None and r.table.status == status
    assert r.table.message_ky and r.table.message_ru
    assert identifications(table) == 0
    last = table.identifier.conn.execute(
        "SELECT event, details FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    assert last[0] == "card-read-failed" and status in last[1]
    assert table.visit(Visit(v.pin)).outcome.accepted


def test_sod_that_does_not_verify_is_refused(table):
    r = table.visit(Visit(table.voters[2].pin, "bad-sod"))
    assert r.outcome.reason == "card-not-authentic" and table.indicators.signal is Signal.REFUSED
    assert identifications(table) == 0


def test_a_scripted_morning_reaches_every_refusal(table):
    visits = script(table.voters, 12)
    results = [table.visit(v) for v in visits]
    reasons = [(r.visit.kind, r.table.outcome.reason if r.table.outcome else r.table.status) for r in results]
    assert ("accept", "already-identified") in reasons, reasons
    assert ("not-on-list", "not-on-list") in reasons
    assert ("mismatch", "fingerprint-mismatch") in reasons
    assert ("bad-sod", "card-not-authentic") in reasons
    assert ("polls-paused", "polls-not-open") in reasons
    mismatch = next(r for r in results if r.visit.kind == "mismatch")
    assert mismatch.manual.accepted and mismatch.manual.method == "manual"
    accepted = [r for r in results if r.outcome is not None and r.outcome.accepted]
    assert identifications(table) == len(accepted) == 8, reasons
    assert len(list(table.receipts_dir.glob("print-*.png"))) == 8


def test_polls_not_open_through_the_daemon(table):
    polls.apply(table.identifier.station_conn, "pause")
    r = table.visit(Visit(table.voters[0].pin))
    assert r.outcome.reason == "polls-not-open"
    polls.apply(table.identifier.station_conn, "resume")
    assert table.visit(Visit(table.voters[0].pin)).outcome.accepted


@pytest.mark.parametrize("kind", ["typed", "search"])
def test_routes_without_a_readable_card(table, kind):
    r = table.visit(Visit(table.voters[3].pin, kind))
    assert r.outcome.accepted
    assert r.outcome.method == {"typed": "document+finger", "search": "finger-search"}[kind]


class Statuses(Notifier):
    """A notifier that keeps the status lines (the systemd seam's ``status``); sends nothing."""

    def __init__(self):
        super().__init__(None)
        self.lines = []

    def status(self, text: str) -> bool:
        self.lines.append(text)
        return True


def test_devices_missing_at_start_give_a_clear_status_and_retries(table):
    table.sensor_sim.unplug()
    table.daemon.notifier = Statuses()
    table.daemon.retry = RetryPolicy(base_s=0.001, cap_s=0.001)
    assert table.daemon.run(max_turns=3) == 0
    assert table.indicators.signal is Signal.FAULT
    lines = table.daemon.notifier.lines
    assert any("sensor: disconnected" in s and "retry 3" in s for s in lines)
    events = table.identifier.conn.execute(
        "SELECT details FROM audit_log WHERE event = 'identify-device-status'").fetchall()
    assert any('"sensor"' in e[0] and "disconnected" in e[0] for e in events)
    table.sensor_sim.replug()
    table.daemon.run(max_turns=1)
    assert table.daemon.device_status()["sensor"] == "ready"


@pytest.mark.parametrize("preset,status", [(None, "accepted"), ("split", "accepted"),
                                           ("garbled", "mrz-keys-wrong"), ("truncated", "mrz-keys-wrong")],
                         ids=["scanned", "scanned-in-pieces", "garbled-check-digit", "truncated"])
def test_keys_from_the_mrz_scanner(home, demo_package, preset, status):
    with SimTable(home, demo_package.secrets, mrz="scanner") as t:
        r = t.visit(Visit(t.voters[0].pin, mrz_preset=preset))
        assert r.table.status == status
        assert identifications(t) == (1 if status == "accepted" else 0)


def test_a_card_refused_by_the_rules_needs_no_finger(table):
    table.sensor_sim.unplug()                      # the sensor is not even there
    r = table.visit(Visit(table.voters[0].pin, "not-on-list"))
    assert r.outcome.reason == "not-on-list" and table.indicators.signal is Signal.REFUSED


class Sent(Notifier):
    """The systemd seam, keeping every datagram it would send."""

    def __init__(self):
        super().__init__(None)
        self.sent = []

    def send(self, **fields) -> bool:
        self.sent.append(fields)
        return True


def test_the_simulated_table_is_built_like_the_real_one(home, demo_package):
    notifier = Sent()
    with SimTable(home, demo_package.secrets, notifier=notifier) as t:
        assert isinstance(t.factory, IdentifyDeviceFactory) and t.daemon.devices.factory is t.factory
        t.daemon.run(max_turns=1)
    assert notifier.sent[0] == {"READY": 1, "STATUS": "table 1: simulated devices"}
    assert notifier.sent[-1]["STOPPING"] == 1


def test_the_hardware_table_without_its_devices_waits_for_them(home, caplog):
    notifier = Statuses()
    with caplog.at_level(logging.WARNING, logger="uchastok.identify"):
        daemon = build_identify_daemon(home, HardwareFactory(home), notifier=notifier,
                                       retry=RetryPolicy(base_s=0.001, cap_s=0.001))
    try:
        assert daemon.run(max_turns=2) == 0
        assert daemon.device_status()["sensor"] == "disconnected"
        assert any("waiting for devices" in s and "sensor: disconnected" in s for s in notifier.lines)
        if importlib.util.find_spec("lgpio") is None:
            assert daemon.indicators is None          # no GPIO header here: no lights, a warning
            assert any("indicators unavailable" in r.getMessage() for r in caplog.records)
    finally:
        daemon.close()
    assert "closed" in repr(daemon.sensor) and "closed" in repr(daemon.card_reader)
    daemon.close()                                    # again: nothing happens


class NoPrinter(HardwareFactory):
    """The hardware table whose printer cannot be opened."""

    def sensor(self):
        self.made_sensor = super().sensor()
        return self.made_sensor

    def printer(self):
        raise OSError("/dev/uchastok-printer: no such device")


def test_devices_made_before_a_failure_are_released(home):
    factory = NoPrinter(home)
    with pytest.raises(OSError, match="no such device"):
        build_identify_daemon(home, factory)
    assert "closed" in repr(factory.made_sensor)
