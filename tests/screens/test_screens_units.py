"""The screens' systemd units: one server process per role, each on its own port, behind its own kiosk.

ARCHITECTURE.md "Roles and processes": the identification table and the ballot box
are separate roles (their own user, their own 0700 state directory), so their
screens are served by separate processes (systemd/uchastok-screens-<role>.service),
each with the walls of its role's daemon, and shown by a kiosk browser per role
(systemd/uchastok-kiosk@.service with the role's drop-in: its address and its
virtual terminal). The checks read the units as files; ``systemd-analyze verify``
and ``security`` run on the scratch root of tests/support/fixtures_install.py.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from unit_files import parse_unit

from screens.serve import ROLE_PORTS, ROLES, screens_url

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
MAX_EXPOSURE = 3.0




def server(role: str) -> dict[str, list[str]]:
    return parse_unit(SYSTEMD / f"uchastok-screens-{role}.service")


def kiosk_dropin(role: str) -> dict[str, list[str]]:
    return parse_unit(SYSTEMD / f"uchastok-kiosk@{role}.service.d" / "screens.conf")


@pytest.mark.parametrize("role", ROLES)
def test_one_server_process_per_role_as_its_user(role):
    unit = server(role)
    other = next(r for r in ROLES if r != role)
    (exec_start,) = unit["Service.ExecStart"]
    assert f"screens serve --role {role}" in exec_start and "--role" not in exec_start.split(role, 1)[1]
    assert "--port" not in exec_start            # the role's port (screens/serve.py ROLE_PORTS)
    assert unit["Service.User"] == [f"uchastok-{role}"]
    assert f"uchastok-{role}.service" in unit["Unit.Conflicts"][0]        # one process drives the devices
    walls = " ".join(unit["Service.InaccessiblePaths"])
    assert f"/var/lib/uchastok/{other}" in walls and "/var/lib/uchastok/sync" in walls
    assert unit["Service.IPAddressAllow"] == ["localhost"] and unit["Service.IPAddressDeny"] == ["any"]


def test_the_role_daemon_and_its_screens_share_the_daemon_settings():
    """The screens' server runs the role's daemon: the same groups, scanner and configuration mode."""
    for role in ROLES:
        daemon, screens = parse_unit(SYSTEMD / f"uchastok-{role}.service"), server(role)
        for key in ("Service.SupplementaryGroups", "Service.Group", "Service.ConfigurationDirectoryMode",
                    "Service.ReadOnlyPaths", "Service.LimitCORE"):
            assert screens.get(key) == daemon.get(key), (role, key)
    assert "${UCHASTOK_SCANNER}" in server("count")["Service.ExecStart"][0]


def test_each_role_has_its_own_kiosk_address_and_terminal():
    template = parse_unit(SYSTEMD / "uchastok-kiosk@.service")
    assert template["Service.ExecStart"][0].rstrip().endswith("${UCHASTOK_SCREENS_URL}")
    seen_tty, seen_url = set(), set()
    for role in ROLES:
        d = kiosk_dropin(role)
        (url,) = [v.split("=", 1)[1] for v in d["Service.Environment"] if v.startswith("UCHASTOK_SCREENS_URL=")]
        assert url == screens_url(role) == f"http://127.0.0.1:{ROLE_PORTS[role]}/"
        (tty,) = d["Service.TTYPath"]
        assert d["Unit.Conflicts"] == [f"getty@{Path(tty).name}.service"]
        seen_tty.add(tty)
        seen_url.add(url)
    assert len(seen_tty) == len(seen_url) == len(ROLES)


def test_no_unit_serves_both_roles():
    for unit in SYSTEMD.glob("*.service"):
        text = unit.read_text()
        assert not re.search(r"--role \S+ --role", text), unit.name
    assert not (SYSTEMD / "uchastok-kiosk-screens@.service").exists()


@pytest.fixture(scope="module")
def root_with_screens(installed_root):
    """The scratch root with the screens' units and (when the appliance's packages are missing here)
    stand-ins for cage and chromium, so that ``verify`` can check the ExecStart= paths."""
    target = installed_root / "etc/systemd/system"
    for src in [*SYSTEMD.glob("uchastok-screens-*.service"), SYSTEMD / "uchastok-kiosk@.service"]:
        shutil.copy(src, target / src.name)
    for d in SYSTEMD.glob("uchastok-kiosk@*.service.d"):
        shutil.copytree(d, target / d.name, dirs_exist_ok=True)
    for tool in ("usr/bin/cage", "usr/bin/chromium"):
        path = installed_root / tool
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("#!/bin/sh\n")
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return installed_root


UNITS = [f"uchastok-screens-{r}.service" for r in ROLES] + [f"uchastok-kiosk@{r}.service" for r in ROLES]


@pytest.mark.parametrize("unit", UNITS)
def test_verify_prints_nothing(root_with_screens, unit):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    r = subprocess.run(["systemd-analyze", "verify", "--recursive-errors=yes", f"--root={root_with_screens}",
                        unit], capture_output=True, text=True)
    assert (r.returncode, r.stdout + r.stderr) == (0, "")


@pytest.mark.parametrize("unit", UNITS[:2])
def test_servers_are_hardened(root_with_screens, unit):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", f"--root={root_with_screens}",
                        "--no-pager", unit], capture_output=True, text=True)
    m = re.search(rf"Overall exposure level for {re.escape(unit)}: ([0-9.]+)", r.stdout)
    assert m, r.stdout + r.stderr
    print(f"{unit}: exposure {m.group(1)}")
    assert float(m.group(1)) <= MAX_EXPOSURE
