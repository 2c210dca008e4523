"""The station's receipt printers, as configured: one per role.

``[identify] printer`` / ``[count] printer`` in uchastok.toml name the serial
device (default the udev name ``/dev/uchastok-printer``) and ``printer_baud``;
with ``sim`` the ESC/POS printer simulator writes each printed document as PNG
and PDF under ``var/out/<dir>`` instead.
"""

from __future__ import annotations

import tomllib

from base.paths import Paths
from drivers.printer.escpos_printer import EscposPrinter
from drivers.printer.simulator import SimulatedPrinter


def role_config(paths: Paths, role: str) -> dict:
    if not paths.config_file.exists():
        return {}
    return tomllib.loads(paths.config_file.read_text()).get(role, {})


def open_printer(paths: Paths, role: str, *, sim: bool = False, sim_dir: str = "printer"):
    """The role's receipt printer (a drivers.printer Printer; use it as a context manager)."""
    if sim:

        return SimulatedPrinter(paths.output_dir / sim_dir)

    cfg = role_config(paths, role)
    return EscposPrinter.serial(cfg.get("printer", "/dev/uchastok-printer"),
                                baudrate=int(cfg.get("printer_baud", 19200)))
