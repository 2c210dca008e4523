"""Is count.db on an encrypted device? (count/store.py ``storage_encrypted``; docs/secrecy.md "Flash").

Read from sysfs: the file's block device and, layer by layer, the devices
under it (``slaves/``); a device-mapper device whose uuid starts with
``CRYPT-`` is dm-crypt. A fake sysfs tree stands in for each case.
"""

from __future__ import annotations

import os

import pytest

from count.store import storage_encrypted


@pytest.fixture
def db(tmp_path):
    f = tmp_path / "count.db"
    f.write_bytes(b"")
    if os.major(os.stat(f).st_dev) == 0:
        pytest.skip("the temporary directory has no block device behind it (tmpfs)")
    return f


def _device(sys_root, name, uuid=None, slaves=()):
    d = sys_root / "devices" / name
    d.mkdir(parents=True)
    if uuid is not None:
        (d / "dm").mkdir()
        (d / "dm" / "uuid").write_text(uuid + "\n")
    if slaves:
        (d / "slaves").mkdir()
        for s in slaves:
            (d / "slaves" / s.name).symlink_to(s)
    return d


def _behind(sys_root, db, device):
    dev = os.stat(db).st_dev
    (sys_root / "dev" / "block").mkdir(parents=True)
    (sys_root / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}").symlink_to(device)


@pytest.mark.parametrize("stack,expected", [
    ("plain partition", False),
    ("dm-crypt", True),
    ("LVM over dm-crypt", True),
    ("LVM over a plain partition", False),
])
def test_dm_crypt_anywhere_in_the_stack(tmp_path, db, stack, expected):
    root = tmp_path / "sys"
    part = _device(root, "mmcblk0p3")
    if stack == "plain partition":
        top = part
    elif stack == "dm-crypt":
        top = _device(root, "dm-0", "CRYPT-PLAIN-uchastok-count", [part])
    elif stack == "LVM over dm-crypt":
        crypt = _device(root, "dm-0", "CRYPT-LUKS2-0123-uchastok-count", [part])
        top = _device(root, "dm-1", "LVM-abc", [crypt])
    else:
        top = _device(root, "dm-1", "LVM-abc", [part])
    _behind(root, db, top)
    assert storage_encrypted(db, sys_root=root) is expected


def test_unknown_without_sysfs(tmp_path, db):
    assert storage_encrypted(db, sys_root=tmp_path / "no-sys") is None
