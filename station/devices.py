"""What both roles' device factories share (gpiozero's pin-factory pattern).

A role's factory (``identify.devices``, ``count.devices``; their simulated
twins in ``simulation/``) makes each device the role's daemon needs and
remembers it (``keep``); ``close()`` releases everything it made, once, newest
first. ``opening()`` wraps the making of a role's set of devices: if one
cannot be made, those already made are released before the error goes up.
``gpio_indicators`` gives the lights and buzzer on the board's GPIO (lgpio),
or None where a machine has none: a role then runs without lights.

Example::

    class MyFactory(DeviceFactory):
        def open_devices(self):
            with self.opening():
                return (self.keep(ScannerA()), self.keep(PrinterB()))
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

from drivers.indicators import Indicators

T = TypeVar("T")


class DeviceFactory:
    """Makes a role's devices; ``close()`` releases all it made, once, newest first."""

    def __init__(self) -> None:
        self._opened = contextlib.ExitStack()

    def keep(self, thing: T, close: Callable[[], Any] | None = None) -> T:
        """Remember ``thing`` (or its ``close``) for ``close()``; returns ``thing``."""
        self._opened.callback(close or thing.close)  # type: ignore[attr-defined]
        return thing

    @contextlib.contextmanager
    def opening(self) -> Iterator[None]:
        """Release what was made so far when making the next device fails."""
        try:
            yield
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self._opened.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def gpio_indicators(factory: DeviceFactory, log: logging.Logger) -> Indicators | None:
    """The lights and buzzer on lgpio, kept by ``factory``; None (logged) on a machine without GPIO."""
    try:
        from gpiozero.pins.lgpio import LGPIOFactory  # noqa: PLC0415 - lazy: lgpio exists only on a Pi

        return factory.keep(Indicators(LGPIOFactory()))
    except Exception as e:  # noqa: BLE001 - no GPIO on this machine: run without lights
        log.warning("indicators unavailable: %s", e)
        return None
