"""Shared fixtures: a private copy of the demo package and a fresh device home."""

from __future__ import annotations

import shutil

import pytest
from fixtures_election import DemoPackage

from base.paths import Paths
from provisioning.identity import init_device
from simulation.authority import cec_pub_path


@pytest.fixture
def package(demo_package, tmp_path) -> DemoPackage:
    """A private copy of the demo package (tests may tamper with it), with its CEC key file."""
    dst = tmp_path / "pkg"
    shutil.copytree(demo_package.dir, dst)
    shutil.copyfile(cec_pub_path(demo_package.dir), cec_pub_path(dst))
    return demo_package._replace(dir=dst)


@pytest.fixture
def paths(tmp_path):
    return Paths.from_env(tmp_path / "home").ensure()


@pytest.fixture
def device(paths, package):
    """An initialised device with the package's CEC key pinned."""

    init_device(paths, cec_pub_path(package.dir))
    return paths
