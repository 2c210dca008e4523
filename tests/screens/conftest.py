"""Fixtures of the screens tests: a station with both roles on simulated devices, served on loopback.

``station``: a provisioned home from the shared demo package (polls provisioned,
commission member "m1" with PIN 246813), the simulated identification table and the
simulated ballot box (a folder feeder) behind ``screens.app``, served by uvicorn on a
free port of 127.0.0.1. ``browser``: Debian's Chromium driven by selenium through
/usr/bin/chromedriver (nothing is downloaded: SE_OFFLINE), one per session.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from screens.serve import open_screens
from simulation.table import provision_home

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screens"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Station:
    paths: object
    url: str
    table: object          # screens.table.TableSession
    box: object            # screens.box.BoxSession
    sim: object            # simulation.table.SimTable
    feeder: Path


@contextlib.contextmanager
def served(paths, secrets, feeder: Path, **options):
    with open_screens(paths, ["identify", "count"], sim=True, secrets=secrets, scanner=f"sim:{feeder}",
                      **options) as (app, sessions):
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("the screens' server did not start")
            time.sleep(0.02)
        try:
            yield Station(paths, f"http://127.0.0.1:{port}", sessions["identify"], sessions["count"],
                          sessions["sim_table"], feeder)
        finally:
            server.should_exit = True
            thread.join(timeout=10)


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
    from selenium import webdriver  # noqa: PLC0415 - only the browser tests load selenium
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

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


def have_browser() -> bool:
    return shutil.which("chromium") is not None
