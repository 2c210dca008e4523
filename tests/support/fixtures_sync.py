"""Shared fixtures for the trust-boundary tests: keys, a certificate, a signer."""

from __future__ import annotations

import datetime as dt

import pytest

from base.clock import FixedClock
from sync import signing
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.envelope import DeviceSigner

ELECTION = "kg-2025-parl"
STATION = "st-0042"


class Device:
    """A provisioned test device: key, certificate, signer."""

    def __init__(self, authority, station=STATION, election=ELECTION, clock=None,
                 roles=("identify", "count")):
        self.key = signing.generate_key()
        self.pub = self.key.public_key()
        self.id = device_id_for(self.pub)
        self.cert = issue_certificate(authority, self.id, self.pub, station, election,
                                      dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                                      dt.datetime(2025, 12, 31, tzinfo=dt.UTC), roles)
        self.ref = cert_ref(self.cert)
        self.clock = clock or FixedClock("2025-11-30T02:00:00+00:00")
        self.signer = DeviceSigner(self.key, self.id, self.ref, election, station, self.clock)


@pytest.fixture
def authority():
    return signing.generate_key()


@pytest.fixture
def ack_key():
    return signing.generate_key()

