"""One file layout: every path of the station is a property of Paths."""

from pathlib import Path

import pytest

from base.paths import Paths


def test_home_layout(tmp_path):
    p = Paths.from_env(tmp_path)
    assert p.link_state == tmp_path / "var" / "sync" / "sync-link.json"
    assert p.role_dbs == {"identify": tmp_path / "var" / "identify" / "identify.db",
                          "count": tmp_path / "var" / "count" / "count.db"}
    count = p.role("count")
    assert (count.dir, count.key) == (tmp_path / "var" / "count", tmp_path / "var" / "count" / "device.key")
    assert count.cert == tmp_path / "etc" / "count-cert.json"
    assert count.outbox_socket == tmp_path / "var" / "run" / "count-outbox.sock"
    assert p.pin_key == tmp_path / "var" / "keys" / "pin.key"


def test_appliance_layout(monkeypatch):
    monkeypatch.delenv("UCHASTOK_HOME", raising=False)
    p = Paths.from_env()
    assert p.role("identify").db == Path("/var/lib/uchastok/identify/identify.db")
    assert p.role("identify").outbox_socket == Path("/run/uchastok/identify-outbox.sock")
    assert p.link_state == Path("/var/lib/uchastok/sync/sync-link.json")
    with pytest.raises(ValueError, match="unknown role"):
        p.role("sync")


def test_ensure_makes_the_role_directories_private(tmp_path):
    p = Paths.from_env(tmp_path).ensure()
    modes = {d.name: d.stat().st_mode & 0o777 for d in (p.role("identify").dir, p.role("count").dir,
                                                       p.keys_dir, p.sync_dir)}
    assert modes == {"identify": 0o700, "count": 0o700, "keys": 0o750, "sync": 0o700}
    assert p.ack_pub == tmp_path / "var" / "package" / "trust" / "ack-server.pub"
    assert p.provisioning_pub == tmp_path / "var" / "package" / "trust" / "provisioning.pub"
    assert p.package_manifest == tmp_path / "var" / "package" / "manifest.json"


@pytest.mark.parametrize("home", ["home", None], ids=["home", "appliance"])
def test_from_state_dir_is_the_inverse_of_from_env(tmp_path, monkeypatch, home):
    monkeypatch.delenv("UCHASTOK_HOME", raising=False)
    p = Paths.from_env(tmp_path / home if home else None)
    assert Paths.from_state_dir(p.state_dir) == p
    if home is None:
        assert p.state_dir == Path("/var/lib/uchastok") and p.config_dir == Path("/etc/uchastok")
