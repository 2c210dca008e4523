"""Fixtures of the identify tests: one small demo package per session, a fresh station per test.

The package (12 synthetic voters with enrolled templates, seed 5) is built once; each
test gets its own provisioned home (device key and certificate, package loaded, polls
open, commission member "m1" with PIN 2468) and, when it asks, a simulated table.
"""

from __future__ import annotations

import datetime as dt

import pytest

from simulation.authority import build_demo_package, secrets_dir
from simulation.table import MEMBER, SimTable, provision_home

SEED = 5
VOTERS = 12


@pytest.fixture(scope="session")
def package(tmp_path_factory):
    root = tmp_path_factory.mktemp("identify-pkg")
    key = root / "cec.key"
    pkg = root / "pkg"
    build_demo_package(pkg, voters=VOTERS, seed=SEED, signing_key=key)
    return {"dir": pkg, "key": key, "secrets": secrets_dir(pkg)}


@pytest.fixture
def home(tmp_path, package):
    return provision_home(tmp_path / "st", package["dir"], signing_key=package["key"])


@pytest.fixture
def table(home, package):
    with SimTable(home, package["secrets"]) as t:
        yield t


@pytest.fixture
def member():
    return MEMBER


def at_utc(hh: int, mm: int) -> dt.datetime:
    return dt.datetime(2025, 11, 30, hh, mm, tzinfo=dt.UTC)
