"""Shared fixtures: a small signed package (no templates: fast) and a fresh device home."""

from __future__ import annotations

import shutil

import pytest

from base.paths import Paths
from provisioning.identity import init_device
from simulation.authority import build_demo_package, cec_pub_path


@pytest.fixture(scope="session")
def built_package(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkgs")
    key = root / "cec.key"
    pkg = build_demo_package(root / "pkg", voters=60, seed=7, signing_key=key, templates=False)
    return pkg.dir, key


@pytest.fixture
def package(built_package, tmp_path):
    """A private copy of the package (tests may tamper with it) and its CEC key file."""
    src, key = built_package
    dst = tmp_path / "pkg"
    shutil.copytree(src, dst)
    shutil.copyfile(cec_pub_path(src), cec_pub_path(dst))
    return dst, key


@pytest.fixture
def paths(tmp_path):
    return Paths.from_env(tmp_path / "home").ensure()


@pytest.fixture
def device(paths, package):
    """An initialised device with the package's CEC key pinned."""

    init_device(paths, cec_pub_path(package[0]))
    return paths
