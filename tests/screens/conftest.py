"""Fixtures of the screens tests: a station with both roles on simulated devices, served on loopback.

``station``: a provisioned home from the shared demo package (polls provisioned,
commission member "m1" with PIN 246813), the simulated identification table and the
simulated ballot box (a folder feeder) behind ``screens.app``, served by uvicorn on a
free port of 127.0.0.1. ``browser`` comes from tests/support/fixtures_browser.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from screens_world import served

from simulation.table import provision_home

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screens"


@pytest.fixture
def station(tmp_path, demo_package):
    paths = provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="provisioned")
    with served(paths, demo_package.secrets, tmp_path / "feeder") as st:
        yield st


@pytest.fixture(scope="session")
def shots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS

