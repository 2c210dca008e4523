"""`uchastok provision install` onto a scratch Raspberry Pi OS root (issue 7 "Scope" 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from provisioning.install import install, install_command
from station.errors import ProvisioningError

REPO = Path(__file__).resolve().parents[2]


def _mode(p: Path) -> int:
    return p.stat().st_mode & 0o7777


@pytest.mark.parametrize(("rel", "mode"), [
    ("etc/systemd/system/uchastok-identify.service", 0o644),
    ("etc/systemd/system/uchastok-count.service", 0o644),
    ("etc/systemd/system/uchastok-sync.service", 0o644),
    ("etc/systemd/system/uchastok.target", 0o644),
    ("etc/systemd/system/uchastok-identify-outbox.socket", 0o644),
    ("etc/systemd/system/uchastok-count-outbox.service", 0o644),
    ("etc/sysusers.d/uchastok.conf", 0o644),
    ("etc/tmpfiles.d/uchastok.conf", 0o644),
    ("etc/udev/rules.d/99-uchastok.rules", 0o644),
    ("etc/systemd/journald.conf.d/uchastok.conf", 0o644),
    ("opt/uchastok/venv/bin/uchastok", 0o755),
    ("opt/uchastok/venv/bin/uchastok-sync", 0o755),
    ("opt/uchastok/venv/bin/uchastok-outbox", 0o755),
    ("opt/uchastok/app/cli/__init__.py", 0o644),
    ("opt/uchastok/app/provisioning/install.py", 0o644),
    ("opt/uchastok/app/docs/technician-guide.md", 0o644),
], ids=lambda v: v.rsplit("/", 1)[-1] if isinstance(v, str) else None)
def test_files_in_place_with_modes(installed_root, rel, mode):
    assert _mode(installed_root / rel) == mode


def test_units_are_enabled_like_systemctl_enable(installed_root):
    wants = installed_root / "etc/systemd/system"
    assert os.readlink(wants / "multi-user.target.wants/uchastok.target") == \
        "/etc/systemd/system/uchastok.target"
    for unit in ("uchastok-identify.service", "uchastok-count.service", "uchastok-sync.service",
                 "uchastok-identify-outbox.socket", "uchastok-count-outbox.socket"):
        assert os.readlink(wants / "uchastok.target.wants" / unit) == f"/etc/systemd/system/{unit}"
    # The outbox services start when the uploader connects to their socket, not at boot.
    assert not (wants / "uchastok.target.wants" / "uchastok-identify-outbox.service").exists()


def test_outbox_wrapper_runs_the_installed_service(installed_root):
    r = subprocess.run([str(installed_root / "opt/uchastok/venv/bin/uchastok-outbox"), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--role" in r.stdout, r.stderr


def test_cli_is_on_the_path(installed_root):
    assert os.readlink(installed_root / "usr/local/bin/uchastok") == \
        "/opt/uchastok/venv/bin/uchastok"


def test_no_caches_copied(installed_root):
    assert not list((installed_root / "opt/uchastok/app").rglob("__pycache__"))


def test_wrapper_runs_the_installed_cli(installed_root):
    r = subprocess.run([str(installed_root / "opt/uchastok/venv/bin/uchastok"), "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "polling-station appliance" in r.stdout


@pytest.fixture
def root(tmp_path):
    return tmp_path / "root"


def test_second_run_changes_nothing(root, source):
    first = install(root, source=source, light=True, python=sys.executable, apply=False)
    assert first.written
    second = install(root, source=source, light=True, python=sys.executable, apply=False)
    assert (second.written, second.removed) == ([], [])
    assert len(second.unchanged) == len(first.written)


def test_technician_config_edits_survive_a_reinstall(root, source):
    install(root, source=source, light=True, apply=False)
    config = root / "etc/uchastok/uchastok.toml"
    assert 'language = "ky"' in config.read_text()
    config.write_text('[station]\nlanguage = "ru"\n')
    install(root, source=source, light=True, apply=False)
    assert config.read_text() == '[station]\nlanguage = "ru"\n'


def test_upgrade_removes_files_gone_from_the_source(root, source):
    install(root, source=source, light=True, apply=False)
    stale = root / "opt/uchastok/app/station/removed_module.py"
    stale.write_text("# from an older release\n")
    report = install(root, source=source, light=True, apply=False)
    assert not stale.exists()
    assert report.removed == ["opt/uchastok/app/station/removed_module.py"]


def test_drifted_mode_is_put_back(root, source):
    install(root, source=source, light=True, apply=False)
    unit = root / "etc/systemd/system/uchastok-count.service"
    unit.chmod(0o666)
    report = install(root, source=source, light=True, apply=False)
    assert _mode(unit) == 0o644 and report.written == ["etc/systemd/system/uchastok-count.service"]


def test_refuses_a_directory_that_is_not_the_source(root, tmp_path):
    with pytest.raises(ProvisioningError, match="not an Uchastok source tree"):
        install(root, source=tmp_path, light=True, apply=False)


def test_cli_command(root, source):
    r = CliRunner().invoke(install_command, ["--root", str(root), "--light", "--no-apply",
                                             "--json", "--source", str(source)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["mode"] == "light" and "etc/udev/rules.d/99-uchastok.rules" in out["written"]
    assert "Example:" in install_command.get_help(install_command.make_context("install", []))


def test_venv_mode_with_a_missing_interpreter_fails_clearly(root, source):
    with pytest.raises(ProvisioningError, match="cannot run /nonexistent/python3"):
        install(root, source=source, python="/nonexistent/python3", apply=False)


def test_venv_mode_reports_a_failing_pip(root, source, tmp_path):
    """Offline install from a wheelhouse that lacks the wheels: a clear error, no traceback."""
    venv = root / "opt/uchastok/venv/bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(sys.executable)     # reuse: no venv creation in the test
    empty = tmp_path / "wheels"
    empty.mkdir()
    with pytest.raises(ProvisioningError, match="pip install .* failed"):
        install(root, source=source, wheelhouse=empty, apply=False)
