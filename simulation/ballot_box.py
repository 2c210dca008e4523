"""The simulated ballot box: the count role's devices on simulators, from one factory.

``SimulatedCountFactory`` is the simulated side of count/devices.py's seam:

- the scanner is the holding ballot box over a folder
  (drivers/scanner/ballot_box.py ``FolderBallotBox``): sheets wait in the
  folder, and leave for ``box/`` or ``returned/`` only after the count
  committed, as a real ballot-box transport holds them;
- the printer is the ESC/POS printer simulator writing each printed document
  as PNG and PDF into ``printer_dir`` (``var/out/printer``);
- the lights and buzzer are ``drivers.indicators.Indicators`` on gpiozero's
  ``MockFactory``, their patterns 1000 times faster.

``count_factory(paths, "sim:FOLDER" | "sane:DEVICE")`` picks this factory or
the hardware one (``count.devices.HardwareFactory``) from the ``--scanner``
option of ``uchastok count run``; ``count.role.run_count`` builds the daemon
the same way from either.

Example::

    box = SimulatedCountFactory("/tmp/box", paths.output_dir / "printer")
    run_count(paths, box, until_empty=True)    # sheets end in /tmp/box/box or /tmp/box/returned
    with count_factory(paths, "sim:") as devices, devices.printer() as printer:
        results_protocol(paths, printer=printer)
"""

from __future__ import annotations

import os
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from base.paths import Paths
from count.devices import CountDeviceFactory, HardwareFactory
from drivers.indicators import Indicators, scaled_patterns
from drivers.printer.simulator import SimulatedPrinter
from drivers.scanner.ballot_box import FolderBallotBox
from station.errors import ConfigError

DEFAULT_FEEDER = "scanner-in"


class SimulatedCountFactory(CountDeviceFactory):
    """A folder ballot box, the printer simulator and mock-pin lights (module docstring)."""

    def __init__(self, feeder: str | os.PathLike | None, printer_dir: str | os.PathLike):
        super().__init__()
        self.feeder = Path(feeder or DEFAULT_FEEDER)
        self.printer_dir = Path(printer_dir)

    def __repr__(self) -> str:
        return f"SimulatedCountFactory({self.feeder}, printer={self.printer_dir})"

    def scanner(self) -> FolderBallotBox:
        return self.keep(FolderBallotBox(self.feeder))

    def printer(self) -> SimulatedPrinter:
        return self.keep(SimulatedPrinter(self.printer_dir))

    def indicators(self) -> Indicators:
        return self.keep(Indicators(MockFactory(), patterns=scaled_patterns(0.001)))


def count_factory(paths: Paths, scanner: str = "sane:") -> CountDeviceFactory:
    """``sim:FOLDER``: the simulated ballot box over FOLDER (default ``scanner-in``);
    ``sane:DEVICE``: the station's hardware (count/devices.py)."""
    kind, _, arg = scanner.partition(":")
    if kind == "sim":
        return SimulatedCountFactory(arg or None, paths.output_dir / "printer")
    if kind == "sane":
        return HardwareFactory(paths, scanner=scanner)
    raise ConfigError(f"unknown scanner {scanner!r}: use sim:FOLDER or sane:DEVICE")
