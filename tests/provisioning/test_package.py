"""Election package: verified before read, imported all-or-nothing (issue "Foundation", Bad input)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from provisioning.identity import enroll, init_device, issue_for_request
from provisioning.package import build_package, load_package
from simulation.authority import cec_pub_path, load_or_create_key
from simulation.election import demo_manifest, demo_voters
from station.errors import PackageError, ProvisioningError, VoterListError
from station.package import read_election, read_package
from sync import signing

FILES = ["manifest.json", "voters.csv", "templates.csv", "trust/ack-server.pub", "trust/provisioning.pub"]


def voters_in(paths) -> int:
    if not paths.identify_db.exists():
        return 0
    conn = sqlite3.connect(paths.identify_db)
    try:
        return conn.execute("SELECT count(*) FROM voter").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_good_package_loads(device, package):
    pkg = load_package(device, package.dir)
    assert voters_in(device) == pkg.voter_rows == package.voters
    assert (device.package_dir / "manifest.json").exists()


@pytest.mark.parametrize("name", FILES)
def test_flipped_byte_in_any_file_is_refused(device, package, name):
    p = package.dir / name
    data = bytearray(p.read_bytes())
    data[len(data) // 2] ^= 0x01
    p.write_bytes(bytes(data))
    with pytest.raises(PackageError, match=name.split("/")[-1]):
        load_package(device, package.dir)
    assert voters_in(device) == 0


def test_manifest_signed_by_another_key(device, package, tmp_path):
    other = signing.generate_key()
    data = (package.dir / "manifest.json").read_bytes()
    (package.dir / "manifest.sig").write_text(json.dumps(
        {"signer": signing.key_id(signing.public_key(other)), "signature": signing.b64(signing.sign(other, data))}))
    with pytest.raises(PackageError, match="not by the pinned CEC key"):
        load_package(device, package.dir)


def test_missing_file(device, package):
    (package.dir / "templates.csv").unlink()
    with pytest.raises(PackageError, match="templates.csv: listed in the manifest but missing"):
        load_package(device, package.dir)


def test_extra_file(device, package):
    (package.dir / "trust" / "evil.pem").write_text("x")
    with pytest.raises(PackageError, match="evil.pem: extra file"):
        load_package(device, package.dir)


def _bad_rows(kind: str):
    rows = list(demo_voters(3, 20))
    if kind == "malformed-pin":
        rows[5][0] = rows[5][0][:-1]
    elif kind == "impossible-date":
        rows[7][5] = rows[7][5][:5] + "02-30"
    elif kind == "duplicate-pin":
        rows[9] = list(rows[4])
        rows[9][1] = "ID9999999"
    elif kind == "unknown-contest":
        rows[11][7] = "district-99"
    return rows


@pytest.mark.parametrize("kind, line, words", [
    ("malformed-pin", 7, "malformed PIN"),
    ("impossible-date", 9, "impossible birth date"),
    ("duplicate-pin", 11, "duplicate PIN"),
    ("unknown-contest", 13, "unknown contest"),
])
def test_bad_voter_rows_name_file_and_line_and_import_nothing(device, package, tmp_path, kind, line, words):
    load_package(device, package.dir)          # a good list is already in place
    before = voters_in(device)
    key = load_or_create_key(package.key)
    bad = build_package(tmp_path / "bad", demo_manifest(7, package_version=2), _bad_rows(kind), key)
    with pytest.raises(VoterListError, match=words) as e:
        load_package(device, bad.dir)
    assert f"voters.csv:{line}" in str(e.value)
    assert voters_in(device) == before          # nothing partly imported


def test_rollback_refused(device, package, tmp_path):
    key = load_or_create_key(package.key)
    v2 = build_package(tmp_path / "v2", demo_manifest(7, package_version=2), demo_voters(7, 10), key)
    load_package(device, v2.dir)
    with pytest.raises(PackageError, match="rollback refused"):
        load_package(device, package.dir)      # version 1
    assert voters_in(device) == 10


def test_same_version_other_content_refused(device, package, tmp_path):
    load_package(device, package.dir)
    key = load_or_create_key(package.key)
    other = build_package(tmp_path / "o", demo_manifest(7), demo_voters(8, 5), key)
    with pytest.raises(PackageError, match="same version"):
        load_package(device, other.dir)


def test_read_package_verifies_before_parsing(package):
    # A manifest that is not even JSON, but correctly hashed-and-signed by another key, is refused on the key.
    (package.dir / "manifest.json").write_bytes(b"not json")
    with pytest.raises(PackageError, match="signature"):
        read_package(package.dir, signing.load_public_key(cec_pub_path(package.dir)))


# --- device identity -------------------------------------------------------------

def test_enrolment_certificate_checks(paths, package, tmp_path):
    ident = init_device(paths, cec_pub_path(package.dir))["count"]
    authority = load_or_create_key(package.key)
    req = paths.role("count").enrolment_request
    good = issue_for_request(req, authority, "UIK-1234", "kg-2025-parliament")
    (tmp_path / "good.json").write_text(json.dumps(good))
    cert = enroll(paths, tmp_path / "good.json", signing.public_key(authority))
    assert (cert.device_id, cert.roles) == (ident.device_id, ("count",))
    assert paths.role("count").cert.exists() and not paths.role("identify").cert.exists()
    # expired
    old = issue_for_request(req, authority, "UIK-1234", "kg-2025-parliament", days=1,
                            now=dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    (tmp_path / "old.json").write_text(json.dumps(old))
    with pytest.raises(ProvisioningError, match="expired"):
        enroll(paths, tmp_path / "old.json", signing.public_key(authority))
    # for another device
    other_paths = type(paths).from_env(tmp_path / "other").ensure()
    init_device(other_paths, cec_pub_path(package.dir))
    foreign = issue_for_request(other_paths.role("count").enrolment_request, authority, "UIK-1234",
                                "kg-2025-parliament")
    (tmp_path / "foreign.json").write_text(json.dumps(foreign))
    with pytest.raises(ProvisioningError, match="for device"):
        enroll(paths, tmp_path / "foreign.json", signing.public_key(authority))
    # signed by someone else
    forged = issue_for_request(req, signing.generate_key(), "UIK-1234", "kg-2025-parliament")
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(ProvisioningError, match="refused"):
        enroll(paths, tmp_path / "forged.json", signing.public_key(authority))


@pytest.mark.parametrize("role", ["identify", "count"])
def test_device_key_is_private_and_never_printed(paths, package, capsys, role):
    init_device(paths, cec_pub_path(package.dir))
    files = paths.role(role)
    assert files.key.stat().st_mode & 0o777 == 0o600 and files.dir.stat().st_mode & 0o777 == 0o700
    pem = files.key.read_text()
    body = "".join(pem.splitlines()[1:-1])
    req = files.enrolment_request.read_text()
    assert body not in req and body not in capsys.readouterr().out
    with pytest.raises(ProvisioningError, match="already initialised"):
        init_device(paths, cec_pub_path(package.dir))


def test_read_election_needs_only_the_signed_manifest(package):
    """The count role reads the election without opening the voter list (secrecy)."""

    (package.dir / "voters.csv").unlink()
    (package.dir / "templates.csv").unlink()
    e = read_election(package.dir, signing.load_public_key(cec_pub_path(package.dir)))
    assert [c.id for c in e.contests] == ["district-07", "party-list"]
    (package.dir / "manifest.json").write_bytes((package.dir / "manifest.json").read_bytes().replace(b"UIK", b"UIX"))
    with pytest.raises(PackageError, match="signature"):
        read_election(package.dir, signing.load_public_key(cec_pub_path(package.dir)))


def test_enrolled_device_refuses_another_stations_package(device, package, tmp_path):
    authority = load_or_create_key(package.key)
    cert = issue_for_request(device.role("identify").enrolment_request, authority, "UIK-9999",
                             "kg-2025-parliament")
    (tmp_path / "cert.json").write_text(json.dumps(cert))
    enroll(device, tmp_path / "cert.json", signing.public_key(authority))
    with pytest.raises(PackageError, match="certified for station UIK-9999"):
        load_package(device, package.dir)
    assert voters_in(device) == 0
