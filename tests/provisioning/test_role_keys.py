"""One key per role (provisioning/identity.py): own files, own enrolment request, a certificate for that role only."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from provisioning.identity import (
    REQUEST_TYPE,
    enroll,
    enroll_with_authority,
    init_device,
    issue_for_request,
)
from provisioning.status import device_status
from simulation.authority import cec_pub_path, load_or_create_key
from station.errors import ProvisioningError
from sync import signing
from sync.certificate import issue_certificate
from sync.device import load_device
from sync.errors import CertificateMismatchError


def test_init_makes_a_key_and_a_request_per_role(paths, package):
    idents = init_device(paths, cec_pub_path(package.dir))
    assert set(idents) == {"identify", "count"}
    assert idents["identify"].device_id != idents["count"].device_id
    for role, ident in idents.items():
        files = paths.role(role)
        assert files.key.parent == files.dir and files.dir.stat().st_mode & 0o777 == 0o700
        req = json.loads(files.enrolment_request.read_text())["signed"]
        assert (req["type"], req["version"], req["role"], req["device_id"]) == (REQUEST_TYPE, 2, role,
                                                                             ident.device_id)
    assert paths.pin_key.exists()
    assert not (paths.state_dir / "keys" / "device.key").exists()    # no key signs for both roles


def test_init_of_one_role_only(paths, package):
    idents = init_device(paths, cec_pub_path(package.dir), roles=("count",))
    assert set(idents) == {"count"} and not paths.role("identify").key.exists()
    with pytest.raises(ProvisioningError, match="unknown role"):
        init_device(paths, cec_pub_path(package.dir), roles=("sync",))


def test_each_certificate_is_for_its_role_and_installed_as_that_roles(paths, package, tmp_path):
    init_device(paths, cec_pub_path(package.dir))
    authority = load_or_create_key(package.key)
    issued = enroll_with_authority(paths, authority, "UIK-1234", "kg-2025-parliament", tmp_path / "certs")
    assert set(issued) == {"identify", "count"}
    for role, files in paths.roles.items():
        signed = json.loads(files.cert.read_text())["signed"]
        assert signed["roles"] == [role]
        device = load_device(files.key, files.cert, authority_pub=signing.public_key(authority))
        assert device.device_id == signed["device_id"]
    # One role's certificate does not name the other role's key.
    with pytest.raises(CertificateMismatchError):
        load_device(paths.role("count").key, paths.role("identify").cert)
    st = device_status(paths)
    assert {r: c["station"] for r, c in st["certificates"].items()} == {"identify": "UIK-1234", "count": "UIK-1234"}


def test_a_certificate_for_the_other_role_is_refused(paths, package, tmp_path):
    init_device(paths, cec_pub_path(package.dir))
    authority = load_or_create_key(package.key)
    count_pub = signing.load_private_key(paths.role("count").key).public_key()
    req = json.loads(paths.role("count").enrolment_request.read_text())["signed"]
    now = dt.datetime.now(dt.UTC)
    wrong = issue_certificate(authority, req["device_id"], count_pub, "UIK-1234", "kg-2025-parliament",
                              now - dt.timedelta(days=1), now + dt.timedelta(days=30), ("identify",))
    (tmp_path / "wrong.json").write_text(json.dumps(wrong))
    with pytest.raises(ProvisioningError, match="not for count"):
        enroll(paths, tmp_path / "wrong.json", signing.public_key(authority))
    assert not paths.role("count").cert.exists() and not paths.role("identify").cert.exists()


def test_a_request_whose_role_was_changed_is_refused(paths, package, tmp_path):
    init_device(paths, cec_pub_path(package.dir))
    doc = json.loads(paths.role("count").enrolment_request.read_text())
    doc["signed"]["role"] = "identify"
    (tmp_path / "req.json").write_text(json.dumps(doc))
    with pytest.raises(ProvisioningError, match="not a valid enrolment request"):
        issue_for_request(tmp_path / "req.json", load_or_create_key(package.key), "UIK-1234", "kg-2025-parliament")
