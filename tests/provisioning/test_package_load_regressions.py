"""Package load regressions found in review: each failed before its fix (provisioning/package.py).

A voter list that is not UTF-8 is named by file and line; a load cut off between the
voter list and the package swap is detected and repaired by loading again; the rows
imported are the bytes that were verified, whatever the source medium does later.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from identify.daemon import open_identifier
from provisioning import package as pk
from provisioning.package import build_package, load_package
from provisioning.status import device_status
from simulation.authority import load_or_create_key
from simulation.election import demo_manifest, demo_voters
from station.errors import PackageError, VoterListError
from station.package import voter_list_problem
from sync import signing
from sync.canonical import canonical


def _resign(pkg_dir, key, name: str, data: bytes) -> None:
    """Replace one file of a package and sign the manifest again (a validly signed bad package)."""
    (pkg_dir / name).write_bytes(data)
    m = json.loads((pkg_dir / "manifest.json").read_bytes())
    m["files"][name] = {"sha256": signing.sha256_hex(data), "bytes": len(data)}
    mb = canonical(m)
    (pkg_dir / "manifest.json").write_bytes(mb)
    (pkg_dir / "manifest.sig").write_text(json.dumps({"signer": signing.key_id(signing.public_key(key)),
                                                      "signature": signing.b64(signing.sign(key, mb))}))


def test_non_utf8_voter_list_is_a_clear_error(device, package, tmp_path):
    key = load_or_create_key(package.key)
    bad = build_package(tmp_path / "b", demo_manifest(7), demo_voters(12, 5), key)
    lines = (bad.dir / "voters.csv").read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", b",\xff", 1)          # line 4: a byte that is not UTF-8
    _resign(bad.dir, key, "voters.csv", b"\n".join(lines))
    with pytest.raises(VoterListError, match=r"voters.csv:\d+: not a UTF-8 CSV row"):
        load_package(device, bad.dir)


def test_interrupted_load_is_detected_and_a_retry_repairs_it(device, package, tmp_path, mocker):
    load_package(device, package.dir)
    key = load_or_create_key(package.key)
    v2 = build_package(tmp_path / "v2", demo_manifest(7, package_version=2), demo_voters(7, 10), key)

    power_cut = mocker.patch.object(
        pk, "_swap_in", side_effect=KeyboardInterrupt("power cut after the voter list committed"))
    with pytest.raises(KeyboardInterrupt):
        load_package(device, v2.dir)
    power_cut.assert_called_once()
    assert "interrupted" in voter_list_problem(device)
    assert any("interrupted" in e for e in device_status(device).get("errors", []))

    with pytest.raises(PackageError, match="interrupted"):
        open_identifier(device, v2.election)
    mocker.stop(power_cut)                                  # power back: load again
    load_package(device, v2.dir)
    assert voter_list_problem(device) is None


def test_the_bytes_imported_are_the_bytes_verified(device, package, monkeypatch):
    """The source medium changing after the copy cannot slip unsigned rows in."""
    real = pk._stage_copy

    def then_tamper(src, target):
        staged = real(src, target)
        p = src / "voters.csv"
        p.write_bytes(p.read_bytes().replace(b"ID", b"XX"))
        return staged

    monkeypatch.setattr(pk, "_stage_copy", then_tamper)
    load_package(device, package.dir)

    conn = sqlite3.connect(device.identify_db)
    assert conn.execute("SELECT count(*) FROM voter WHERE document_number LIKE 'XX%'").fetchone()[0] == 0
