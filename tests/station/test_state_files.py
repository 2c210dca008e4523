"""`uchastok log files`: each state file inspected read-only, counts only."""

import json

from click.testing import CliRunner

from cli import cli
from provisioning.package import load_package
from station.state_files import inspect_all


def test_inspection_of_a_provisioned_device(device, package):
    load_package(device, package[0])
    files = {f["file"].rsplit("/", 1)[-1]: f for f in inspect_all(device)}
    assert "station.db" in files
    st = files["station.db"]
    assert st["check"] == "ok" and st["journal_mode"] == "wal"
    assert st["tables"]["package"] == 1 and st["tables"]["audit_log"] >= 1
    assert st["migrations"] and all(isinstance(m, str) for m in st["migrations"])
    assert files["identify.db"]["tables"]["voter"] > 0


def test_cli_prints_json_and_changes_nothing(device):
    before = {p.name: p.read_bytes() for p in device.state_dir.glob("*.db")}
    r = CliRunner().invoke(cli, ["--home", str(device.config_dir.parent), "log", "files", "--json"])
    assert r.exit_code == 0, r.output
    assert {f["check"] for f in json.loads(r.output)} == {"ok"}
    assert {p.name: p.read_bytes() for p in device.state_dir.glob("*.db")} == before


def test_no_state_files_yet(tmp_path):
    r = CliRunner().invoke(cli, ["--home", str(tmp_path), "log", "files"])
    assert r.exit_code == 0 and "no state files" in r.output
