"""Fixtures of the identify tests: a fresh station per test, a simulated table on demand.

The package is the shared demo package (``demo_package``, tests/support/fixtures_election.py:
12 synthetic voters with enrolled templates, built once per session); each test gets its
own provisioned home (device key and certificate, package loaded, polls open,
commission member "m1" with PIN 246813) and, when it asks, a simulated table.
"""

from __future__ import annotations

import pytest

from simulation.table import SimTable, provision_home


@pytest.fixture
def home(tmp_path, demo_package):
    return provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key)


@pytest.fixture
def table(home, demo_package):
    with SimTable(home, demo_package.secrets) as t:
        yield t
