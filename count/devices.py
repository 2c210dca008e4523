"""The count role's devices, all made by one factory (gpiozero's pin-factory pattern).

The count role works with three devices: the ballot scanner, the receipt
printer (the zero report and the results protocol) and the lights and buzzer
(optional: a ballot box without GPIO counts without them). A
``CountDeviceFactory`` makes them; ``count.role.run_count`` builds the count
daemon the same way from any factory, with the sheet loop's devices
(``CountDevices``: the scanner and the lights), and the protocol command
prints on the same factory's ``printer()``. A simulated and a real ballot box
differ only in the factory:

- ``HardwareFactory(paths, scanner="sane:DEVICE")`` (here): a SANE document
  scanner (``sane:`` alone: the first one found), the printer of
  uchastok.toml ``[count]`` (``printer``, ``printer_baud``), the lights on the
  lgpio pin factory when there is one;
- ``simulation.ballot_box.SimulatedCountFactory``: the holding ballot box over
  a folder (drivers/scanner/ballot_box.py), the ESC/POS printer simulator,
  the lights on gpiozero's ``MockFactory``.

A factory remembers everything it opened; ``close()`` releases it once,
newest first. If one device cannot be made, those already made are released
before the error goes up.

Example::

    factory = HardwareFactory(paths, scanner="sane:fujitsu:fi-800R:1")
    devices = factory.open_devices()
    devices.scanner.next_sheet(time.monotonic() + 1)
    devices.close()
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import TypeVar

from base.paths import Paths
from drivers.indicators import Indicators
from drivers.printer.base import Printer
from drivers.scanner.base import Scanner
from drivers.scanner.sane_scanner import SaneScanner
from station.devices import DeviceFactory, gpio_indicators
from station.errors import ConfigError
from station.printing import open_printer

T = TypeVar("T")


@dataclass
class CountDevices:
    """The sheet loop's devices, made by ``factory`` (which closes them)."""

    scanner: Scanner
    indicators: Indicators | None
    factory: CountDeviceFactory

    def close(self) -> None:
        """Release every device the factory opened; safe to call twice."""
        self.factory.close()


class CountDeviceFactory(DeviceFactory, abc.ABC):
    """Makes the count role's devices; ``close()`` releases all it made, once."""

    @abc.abstractmethod
    def scanner(self) -> Scanner: ...

    @abc.abstractmethod
    def printer(self) -> Printer: ...

    def indicators(self) -> Indicators | None:
        """The lights and buzzer, or None where there are none."""
        return None

    def open_devices(self) -> CountDevices:
        """The scanner and the lights; on a failure, what was made so far is released."""
        with self.opening():
            return CountDevices(scanner=self.scanner(), indicators=self.indicators(), factory=self)


class HardwareFactory(CountDeviceFactory):
    """A SANE scanner, the printer of uchastok.toml ``[count]``, lights on lgpio (module docstring)."""

    def __init__(self, paths: Paths, *, scanner: str = "sane:", logger: logging.Logger | None = None) -> None:
        super().__init__()
        kind, _, device = scanner.partition(":")
        if kind != "sane":
            raise ConfigError(f"unknown scanner {scanner!r}: use sane:DEVICE (or sim:FOLDER, simulated)")
        self.paths = paths
        self.scanner_device = device or None
        self.log = logger or logging.getLogger("uchastok.count")

    def __repr__(self) -> str:
        return f"HardwareFactory(scanner=sane:{self.scanner_device or ''})"

    def scanner(self) -> Scanner:
        return self.keep(SaneScanner(self.scanner_device))

    def printer(self) -> Printer:
        return self.keep(open_printer(self.paths, "count"))

    def indicators(self) -> Indicators | None:
        return gpio_indicators(self, self.log)
