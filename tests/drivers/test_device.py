"""Every device seam is a ``drivers.device.Device``: a context manager whose close() may run twice."""

import pytest
from gpiozero.pins.mock import MockFactory

from drivers.device import Device
from drivers.idcard.base import CardReader, DirectTransport
from drivers.idcard.mrz_reader import MrzReader, PtyMrzScanner
from drivers.indicators import Indicators, scaled_patterns


@pytest.fixture
def make_device(request):
    """A factory for one kind of device, with whatever it needs cleaned up afterwards."""
    cleanups = []

    def make(kind: str) -> Device:
        if kind == "card-reader":
            return CardReader(DirectTransport(emulator=None))   # nothing touches the chip
        if kind == "mrz-reader":
            scanner = PtyMrzScanner()
            cleanups.append(scanner.close)
            return MrzReader(scanner.port)
        factory = MockFactory()
        cleanups.append(factory.reset)
        return Indicators(factory, patterns=scaled_patterns(0.01))

    yield make
    for cleanup in reversed(cleanups):
        cleanup()


@pytest.mark.parametrize("kind", ["card-reader", "mrz-reader", "indicators"])
def test_a_device_seam_is_a_context_manager_closed_once(make_device, kind):
    device = make_device(kind)
    assert isinstance(device, Device)
    with device as entered:
        assert entered is device
        open_repr = repr(device)
    assert type(device).__name__ in open_repr
    assert repr(device) != open_repr        # the repr says it is closed now
    device.close()                           # a second close does nothing
    assert repr(device) != open_repr
