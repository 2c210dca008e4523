"""`uchastok status`: what the device knows, for the commission and the technician."""

from provisioning.package import load_package
from provisioning.status import device_status, power_status, sync_line


def test_status_of_a_provisioned_device(device, package):
    load_package(device, package.dir)
    st = device_status(device)
    assert st["election"]["id"] == "kg-2025-parliament"
    assert st["station"]["id"] == "UIK-1234"
    assert st["voters_on_list"] == package.voters
    assert st["polls"] == "provisioned"
    ids = {role: d["id"] for role, d in st["devices"].items()}
    assert all(i.startswith("dev-") for i in ids.values()) and ids["identify"] != ids["count"]
    assert all(len(d["key_fingerprint"]) == 16 for d in st["devices"].values())
    assert len(st["package"]["sha256"]) == 64
    assert st["certificates"] == {"identify": None, "count": None}   # not enrolled yet: said, not hidden


def test_status_of_a_blank_device(paths):
    st = device_status(paths)
    assert st["devices"] == {"identify": None, "count": None}
    assert st["package"] is None and st["polls"] == "provisioned"


def fake_supply(root, name, **files):
    d = root / name
    d.mkdir(parents=True)
    for k, v in files.items():
        (d / k).write_text(v + "\n")


def test_power_on_battery(tmp_path):
    fake_supply(tmp_path, "AC", type="Mains", online="0")
    fake_supply(tmp_path, "BAT0", type="Battery", capacity="41", status="Discharging")
    assert power_status(str(tmp_path)) == {"source": "battery", "battery_pct": 41}


def test_power_without_supply_class_is_mains(tmp_path):
    assert power_status(str(tmp_path / "none")) == {"source": "mains", "battery_pct": None}


def test_sync_line_says_when_the_link_is_down():
    line = sync_line({"link": {"last_error": "connect timeout", "consecutive_failures": 7,
                               "last_success": "2025-11-30T09:12:00Z"},
                      "queues": {"identify": {"depth": 42, "acked_seq": 310}}})
    assert line.startswith("DOWN since 2025-11-30T09:12:00Z") and "identify 42 waiting" in line
