"""One file layout: every path of the station is a property of Paths."""

from pathlib import Path

import pytest

from base.paths import Paths


def test_home_layout(tmp_path):
    p = Paths.from_env(tmp_path)
    assert p.link_state == tmp_path / "var" / "sync-link.json"
    assert p.role_dbs == {"identify": tmp_path / "var" / "identify.db",
                          "count": tmp_path / "var" / "count.db"}
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
