"""The sync tests' device: a key, a certificate and a signer (``fixtures_sync.Device``)."""

import pytest
from fixtures_sync import Device


@pytest.fixture
def device(authority):
    return Device(authority)
