"""atomic_write: content, mode, no temporary file left, the old file or the new one."""

import os
import stat

import pytest

from base import files
from base.files import atomic_write


def _mode(p):
    return stat.S_IMODE(p.stat().st_mode)


def test_writes_the_content(tmp_path):
    p = tmp_path / "state.json"
    atomic_write(p, b'{"a": 1}\n')
    assert p.read_bytes() == b'{"a": 1}\n'


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644], ids=["private", "group", "public"])
def test_explicit_mode_is_applied_exactly(tmp_path, mode):
    p = tmp_path / "device.key"
    old = os.umask(0o077)
    try:
        atomic_write(p, b"secret", mode=mode)
    finally:
        os.umask(old)
    assert _mode(p) == mode


def test_no_mode_follows_the_umask_like_open(tmp_path):
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a", b"x")
        with open(tmp_path / "b", "wb") as f:
            f.write(b"x")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "a") == _mode(tmp_path / "b") == 0o640


def test_replaces_an_existing_file_and_leaves_no_temporary_file(tmp_path):
    p = tmp_path / "device-cert.json"
    p.write_bytes(b"old")
    atomic_write(p, b"new")
    assert p.read_bytes() == b"new"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["device-cert.json"]


def test_a_failed_write_keeps_the_old_file_whole(tmp_path, monkeypatch):
    p = tmp_path / "sync-link.json"
    p.write_bytes(b"old")

    def power_cut(fd):
        raise OSError("EIO")

    monkeypatch.setattr(files.os, "fsync", power_cut)
    with pytest.raises(OSError, match="EIO"):
        atomic_write(p, b"new content")
    assert p.read_bytes() == b"old"
    assert [x.name for x in tmp_path.iterdir()] == ["sync-link.json"]


def test_the_target_is_swapped_by_one_rename_after_fsync(tmp_path, monkeypatch):
    p = tmp_path / "out.png"
    p.write_bytes(b"old")
    seen = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        seen.append(("fsync", p.read_bytes()))
        real_fsync(fd)

    def replace(src, dst):
        seen.append(("replace", open(src, "rb").read(), p.read_bytes()))
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "fsync", fsync)
    monkeypatch.setattr(files.os, "replace", replace)
    atomic_write(p, b"new")
    # file data synced while the target is still the old file; one rename; then the directory
    assert seen == [("fsync", b"old"), ("replace", b"new", b"old"), ("fsync", b"new")]
    assert p.read_bytes() == b"new"


def test_missing_directory_is_an_error_not_created(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "nowhere" / "f", b"x")
    assert not (tmp_path / "nowhere").exists()
