"""The identification table's devices, all made by one factory (gpiozero's pin-factory pattern).

The identify daemon works with five devices, ``IdentifyDevices``: the
fingerprint sensor, the ID-card reader, the MRZ input (an MRZ reader, or the
commission typing the keys), the receipt printer and the lights (optional:
a table without GPIO works without them); a remote-voting site's table has a
sixth, the A4 document printer that prints each voter's ballots on demand
(``ballot_printer``, identify/ondemand.py; None elsewhere). An ``IdentifyDeviceFactory`` makes
them, and the daemon is built the same way from any factory
(identify/daemon.py ``build_identify_daemon``), so a simulated and a real
table differ only in the factory:

- ``HardwareFactory(paths)`` (here): the devices named in uchastok.toml
  ``[identify]`` (``sensor``, ``mrz_reader``, ``card_reader`` (a part of the
  PC/SC reader's name), ``printer``, ``printer_baud``, ``ballot_printer`` (the
  document printer's ``ipp://`` URI, at a remote-voting site)), the lights on
  the lgpio pin factory when there is one;
- ``simulation.table.SimulatedIdentifyFactory``: the same drivers talking to
  their simulators, the lights on gpiozero's ``MockFactory``.

A factory remembers everything it opened; ``IdentifyDevices.close()`` (the
daemon's ``close()``) releases it once, newest first. If one device cannot
be made, those already made are released before the error goes up.

Example::

    devices = HardwareFactory(paths).open_devices()
    devices.sensor.status()
    devices.close()
"""

from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from typing import Any, TypeVar

from base.paths import Paths
from drivers.docprinter.base import DocumentPrinter
from drivers.docprinter.ipp_printer import IppPrinter
from drivers.fingerprint.base import FingerprintSensor
from drivers.fingerprint.serial_sensor import ZfmSensor
from drivers.idcard.base import CardReader, PcscTransport
from drivers.idcard.mrz_reader import MrzReader
from drivers.indicators import Indicators
from drivers.printer.base import Printer
from station.devices import DeviceFactory, gpio_indicators
from station.printing import open_printer, role_config

T = TypeVar("T")


@dataclass
class IdentifyDevices:
    """The table's devices, made by ``factory`` (which closes them)."""

    sensor: FingerprintSensor
    card_reader: CardReader
    mrz_input: Any                  # ``read_mrz(timeout)``: drivers.idcard.mrz_reader.MrzReader or typed keys
    printer: Printer
    indicators: Indicators | None
    factory: IdentifyDeviceFactory
    ballot_printer: DocumentPrinter | None = None

    def close(self) -> None:
        """Release every device the factory opened; safe to call twice."""
        self.factory.close()


class IdentifyDeviceFactory(DeviceFactory, abc.ABC):
    """Makes the identification table's devices; ``close()`` releases all it made, once."""

    #: Said in the daemon's READY status line ("table 1: simulated devices").
    description = ""


    @abc.abstractmethod
    def sensor(self) -> FingerprintSensor: ...

    @abc.abstractmethod
    def card_reader(self) -> CardReader: ...

    @abc.abstractmethod
    def mrz_input(self) -> Any: ...

    @abc.abstractmethod
    def printer(self) -> Printer: ...

    def indicators(self) -> Indicators | None:
        """The lights and buzzer, or None where there are none."""
        return None

    def ballot_printer(self) -> DocumentPrinter | None:
        """The document printer of ballots printed on demand, or None (not a remote-voting site)."""
        return None

    def open_devices(self) -> IdentifyDevices:
        """Every device of the table; on a failure, those made so far are released."""
        with self.opening():
            return IdentifyDevices(sensor=self.sensor(), card_reader=self.card_reader(),
                                   mrz_input=self.mrz_input(), printer=self.printer(),
                                   indicators=self.indicators(), factory=self,
                                   ballot_printer=self.ballot_printer())


class HardwareFactory(IdentifyDeviceFactory):
    """The devices named in uchastok.toml ``[identify]`` (module docstring)."""

    def __init__(self, paths: Paths, *, logger: logging.Logger | None = None) -> None:
        super().__init__()
        self.paths = paths
        self.config = role_config(paths, "identify")
        self.log = logger or logging.getLogger("uchastok.identify")

    def __repr__(self) -> str:
        return f"HardwareFactory({self.paths.config_file})"

    def sensor(self) -> FingerprintSensor:
        return self.keep(ZfmSensor(self.config.get("sensor", "/dev/uchastok-fingerprint")))

    def card_reader(self) -> CardReader:
        return self.keep(CardReader(PcscTransport(self.config.get("card_reader") or None)))

    def mrz_input(self) -> MrzReader:
        return self.keep(MrzReader(self.config.get("mrz_reader", "/dev/uchastok-mrz")))

    def printer(self) -> Printer:
        return self.keep(open_printer(self.paths, "identify"))

    def indicators(self) -> Indicators | None:
        return gpio_indicators(self, self.log)

    def ballot_printer(self) -> DocumentPrinter | None:
        uri = self.config.get("ballot_printer")
        return self.keep(IppPrinter(uri)) if uri else None
