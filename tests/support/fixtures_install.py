"""A scratch Raspberry Pi OS root for the operations tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning.install import PACKAGES, install

REPO = Path(__file__).resolve().parents[2]
HOST_UNITS = Path("/usr/lib/systemd/system")
# tmpfiles must chown: as an ordinary user the scratch root gets users (sysusers
# needs no privilege on a --root) but not the modes and owners tmpfiles sets.
AS_ROOT = os.geteuid() == 0


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed")
    return path


def base_os(root: Path) -> Path:
    """What the Debian base gives every root: systemd's own units (sysinit.target, ...)."""
    if not HOST_UNITS.is_dir():
        pytest.skip("no systemd units on this host")
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True,
                    dirs_exist_ok=True)
    return root


@pytest.fixture(scope="session")
def source(tmp_path_factory) -> Path:
    """A snapshot of the source tree: the shared checkout changes while tests run."""
    snap = tmp_path_factory.mktemp("source")
    for name in (*PACKAGES, "docs", "systemd"):
        if not (REPO / name).is_dir():
            continue
        for attempt in range(3):   # a file may vanish under another writer's hands
            try:
                shutil.copytree(REPO / name, snap / name, symlinks=True, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
                break
            except (shutil.Error, FileNotFoundError):
                if attempt == 2:
                    raise
    return snap


@pytest.fixture(scope="session")
def installed_root(tmp_path_factory, source) -> Path:
    """One light install with users and directories applied, shared by the tests."""

    need("systemd-sysusers")
    root = base_os(tmp_path_factory.mktemp("sdroot"))
    install(root, source=source, light=True, python=sys.executable, apply=AS_ROOT)
    if not AS_ROOT:
        subprocess.run(["systemd-sysusers", f"--root={root}"], check=True, capture_output=True)
    return root
