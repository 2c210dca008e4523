"""The count role's devices from one factory: the simulated ballot box, the hardware one, the lights."""

from __future__ import annotations

import importlib.util
import logging
import shutil

import pytest
from countkit import make_home
from gpiozero.pins.mock import MockFactory

from base.clock import FixedClock
from base.paths import Paths
from count.daemon import CountDaemon
from count.devices import CountDeviceFactory, HardwareFactory
from count.role import run_count
from count.store import CountStore
from drivers.indicators import Indicators, Signal, scaled_patterns
from drivers.scanner.ballot_box import FolderBallotBox
from drivers.scanner.simulator import SimulatedScanner
from simulation.ballot_box import SimulatedCountFactory, count_factory
from station.db import open_station_db
from station.errors import ConfigError


class RecordingBox(SimulatedCountFactory):
    """The simulated ballot box, keeping its lights and scanner for the test to look at."""

    def scanner(self):
        self.made_scanner = super().scanner()
        return self.made_scanner

    def indicators(self):
        self.lights = super().indicators()
        return self.lights


FEEDS = [
    # (id, the deck's sheet kinds fed in order, the lights after the run)
    ("a-ballot-is-accepted", ["ballot"], Signal.ACCEPTED),
    ("a-sheet-of-another-station-is-returned", ["ballot", "other-station"], Signal.REFUSED),
    ("blank-paper-is-returned", ["blank-paper"], Signal.REFUSED),
]


@pytest.mark.parametrize("kinds,shown", [f[1:] for f in FEEDS], ids=[f[0] for f in FEEDS])
def test_the_count_role_shows_its_lights(tmp_path, manifest, deck, kinds, shown):
    paths = make_home(tmp_path / "st", manifest, state="open")
    out, expected = deck
    feeder = tmp_path / "feeder"
    feeder.mkdir()
    for i, kind in enumerate(kinds):
        s = next(s for s in expected["sheets"] if s["kind"] == kind and (kind != "ballot" or s["accepted"]))
        shutil.copy(out / s["file"], feeder / f"{i:03d}-{s['file']}")
    box = RecordingBox(feeder, tmp_path / "printer")
    summary = run_count(paths, box, until_empty=True, idle_s=0.0)
    assert summary["counted"] + summary["rejected"] == len(kinds)
    assert box.lights.signal is shown
    # The run released what the factory made.
    assert repr(box.lights) == "<Indicators closed>" and closed(box.made_scanner)


def test_a_scanner_fault_shows_the_fault_light(tmp_path, manifest, election, deck):
    paths = make_home(tmp_path / "st", manifest, state="open")
    out, expected = deck
    good = [out / s["file"] for s in expected["sheets"] if s["kind"] == "ballot" and s["accepted"]][:1]
    store = CountStore.open(paths.count_db, election)
    sconn = open_station_db(paths.station_db)
    with Indicators(MockFactory(), patterns=scaled_patterns(0.001)) as lights:
        d = CountDaemon(SimulatedScanner([p.read_bytes() for p in good], preset="jam"), store, sconn, election,
                        None, FixedClock(), logging.getLogger("test.count"), indicators=lights,
                        sleep=lambda s: None, feed_s=0.0)
        assert d.step().outcome == "scanner" and lights.signal is Signal.FAULT
    store.close()
    sconn.close()


SPECS = [
    ("simulated-ballot-box", "sim:{tmp}/box", SimulatedCountFactory),
    ("sane-first-scanner", "sane:", HardwareFactory),
    ("sane-named-scanner", "sane:fujitsu:fi-800R:1", HardwareFactory),
]


@pytest.mark.parametrize("spec,kind", [s[1:] for s in SPECS], ids=[s[0] for s in SPECS])
def test_the_scanner_option_picks_the_factory(tmp_path, spec, kind):
    paths = make_paths(tmp_path)
    factory = count_factory(paths, spec.format(tmp=tmp_path))
    assert type(factory) is kind


def test_an_unknown_scanner_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="sim:FOLDER or sane:DEVICE"):
        count_factory(make_paths(tmp_path), "usb:0")


def test_the_hardware_factory_names_its_devices(tmp_path):
    paths = make_paths(tmp_path)
    factory = HardwareFactory(paths, scanner="sane:fujitsu:fi-800R:1")
    assert factory.scanner_device == "fujitsu:fi-800R:1"
    assert HardwareFactory(paths).scanner_device is None          # the first scanner SANE finds


@pytest.mark.skipif(importlib.util.find_spec("lgpio") is not None, reason="this machine has GPIO")
def test_without_gpio_the_count_role_runs_without_lights(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="uchastok.count"):
        assert HardwareFactory(make_paths(tmp_path)).indicators() is None
    assert any("indicators unavailable" in r.getMessage() for r in caplog.records)


class BrokenLights(CountDeviceFactory):
    def __init__(self, folder):
        super().__init__()
        self.folder = folder

    def scanner(self):
        self.made_scanner = self.keep(FolderBallotBox(self.folder))
        return self.made_scanner

    def printer(self):
        raise AssertionError("the sheet loop needs no printer")

    def indicators(self):
        raise OSError("GPIO busy")


def test_devices_made_before_a_failure_are_released(tmp_path):
    factory = BrokenLights(tmp_path / "box")
    with pytest.raises(OSError, match="GPIO busy"):
        factory.open_devices()
    assert closed(factory.made_scanner)
    factory.close()                                               # again: nothing happens


def make_paths(tmp_path):
    return Paths.from_env(tmp_path / "home").ensure()


def closed(scanner) -> bool:
    try:
        scanner.next_sheet(0)
    except RuntimeError:
        return True
    return False
