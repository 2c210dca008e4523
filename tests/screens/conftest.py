"""Fixtures of the screens tests: a station with both roles on simulated devices, served on loopback.

``station``: a provisioned home from the shared demo package (polls provisioned,
commission member "m1" with PIN 246813), the simulated identification table and the
simulated ballot box (a folder feeder) behind ``screens.app``, served by uvicorn on a
free port of 127.0.0.1. ``browser``: Debian's Chromium driven by selenium through
/usr/bin/chromedriver (nothing is downloaded: SE_OFFLINE), one per session.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from screens_world import served
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from simulation.table import provision_home

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screens"


@pytest.fixture
def station(tmp_path, demo_package):
    paths = provision_home(tmp_path / "st", demo_package.dir, signing_key=demo_package.key, state="provisioned")
    with served(paths, demo_package.secrets, tmp_path / "feeder") as st:
        yield st


@pytest.fixture(scope="session")
def browser():
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make deps)")
    os.environ["SE_OFFLINE"] = "true"          # selenium's driver manager must never download
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1024,700",
              "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def shots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS

