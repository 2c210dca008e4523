"""``browser``: Debian's Chromium (headless) driven by selenium through /usr/bin/chromedriver.

One per session, shared by the commission screens' tests and the central portal's tests.
Nothing is downloaded (SE_OFFLINE); without Debian's chromium and chromium-driver the
tests that use it are skipped with the reason (``make deps`` installs them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service


@pytest.fixture(scope="session")
def browser():
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (make deps)")
    os.environ["SE_OFFLINE"] = "true"          # selenium's driver manager must never download
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1024,700",
              "--hide-scrollbars", "--force-device-scale-factor=1",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--no-first-run"):
        options.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
