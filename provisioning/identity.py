"""Device identity: the device key, its enrolment request and its certificate.

Order of provisioning (ARCHITECTURE.md "Data flows", Provisioning):

1. ``init_device(paths, cec_pub_file)`` pins the CEC's public key (the trust
   root for election packages) and generates the device's Ed25519 key
   (``var/keys/device.key``, mode 0600, never printed) and its id
   ``dev-<key id>``; writes ``etc/enrolment-request.json``.
2. The provisioning authority issues a certificate (``issue_for_request``:
   the authority side, used by tests and the demo).
3. ``enroll(paths, cert_file)`` verifies the certificate (authority signature,
   this device's id and key, validity at now) and installs it.

Example::

    init_device(paths, "cec.pub")
    enroll(paths, "device-cert.json", authority_pub=load_public_key("provisioning.pub"))
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from base.clock import SystemClock, iso
from base.files import atomic_write
from base.paths import Paths
from station.db import open_station_db
from station.errors import ProvisioningError
from station.events import record
from sync import signing
from sync.certificate import DeviceCertificate, device_id_for, issue_certificate, verify_certificate
from sync.errors import VerificationError

REQUEST_TYPE = "uchastok-enrolment-request"


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    key_id: str
    public_key: signing.PublicKey


def init_device(paths: Paths, cec_pub_file: str | os.PathLike, *, clock=None, force: bool = False) -> DeviceIdentity:
    paths.ensure()
    try:
        cec = signing.load_public_key(cec_pub_file)
    except VerificationError as e:
        raise ProvisioningError(f"{cec_pub_file}: {e}") from e
    if paths.device_key.exists() and not force:
        raise ProvisioningError(f"{paths.device_key} exists: this device is already initialised"
                                " (a new key would orphan its certificate; use --force to replace it)")
    key = signing.generate_key()
    signing.save_private_key(key, paths.device_key)
    shutil.copyfile(cec_pub_file, paths.cec_pub)
    ident = identity(paths)
    request = {"type": REQUEST_TYPE, "version": 1, "device_id": ident.device_id,
               "public_key": signing.public_text(ident.public_key), "created_at": iso((clock or SystemClock()).now())}
    # The request is signed by the device key: proof of possession for the authority.
    atomic_write(paths.config_dir / "enrolment-request.json",
                 json.dumps(signing.sign_document(key, request), indent=2).encode(), mode=0o644)
    conn = open_station_db(paths.station_db)
    try:
        record(conn, "device-key-generated", actor="technician", clock=clock, device_id=ident.device_id,
               cec_key=signing.key_id(cec))
        record(conn, "enrolment-request-written", actor="technician", clock=clock, device_id=ident.device_id)
    finally:
        conn.close()
    return ident


def load_device_key(paths: Paths) -> signing.PrivateKey:
    if not paths.device_key.exists():
        raise ProvisioningError("this device has no key yet: run `uchastok provision init --cec-key FILE`")
    try:
        return signing.load_private_key(paths.device_key)
    except (VerificationError, ValueError, TypeError) as e:   # wrong mode, or not a PEM Ed25519 key
        raise ProvisioningError(f"{paths.device_key}: unusable device key: {e}") from e


def identity(paths: Paths) -> DeviceIdentity:
    pub = signing.public_key(load_device_key(paths))
    return DeviceIdentity(device_id_for(pub), signing.key_id(pub), pub)


def read_request(path: str | os.PathLike) -> dict:
    """The authority side: verify an enrolment request's proof of possession; return its fields."""
    doc = json.loads(Path(path).read_text())
    try:
        pub = signing.public_from_text(doc["signed"]["public_key"])
        req = signing.open_document(doc, pub)
    except (KeyError, TypeError, VerificationError) as e:
        raise ProvisioningError(f"{path}: not a valid enrolment request: {e}") from e
    if req.get("type") != REQUEST_TYPE or req.get("device_id") != device_id_for(pub):
        raise ProvisioningError(f"{path}: enrolment request is inconsistent")
    return req


def issue_for_request(request_file: str | os.PathLike, authority_key: signing.PrivateKey, station_id: str,
                      election_id: str, *, days: int = 60, now: dt.datetime | None = None) -> dict:
    """The provisioning authority's helper (tests and demo): a certificate for a verified request."""
    req = read_request(request_file)
    now = now or dt.datetime.now(dt.UTC)
    return issue_certificate(authority_key, req["device_id"], signing.public_from_text(req["public_key"]),
                             station_id, election_id, now - dt.timedelta(days=1), now + dt.timedelta(days=days))


def enroll(paths: Paths, cert_file: str | os.PathLike, authority_pub: signing.PublicKey, *,
           clock=None) -> DeviceCertificate:
    clock = clock or SystemClock()
    ident = identity(paths)
    try:
        doc = json.loads(Path(cert_file).read_text())
        cert = verify_certificate(doc, authority_pub, device_id=ident.device_id, public_key=ident.public_key,
                                  at=clock.now())
    except (OSError, ValueError, VerificationError) as e:
        conn = open_station_db(paths.station_db)
        try:
            record(conn, "device-certificate-refused", "refused", actor="technician", clock=clock,
                   file=str(cert_file), reason=str(e))
        finally:
            conn.close()
        raise ProvisioningError(f"{cert_file}: certificate refused: {e}") from e
    paths.device_cert.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(paths.device_cert, json.dumps(doc, indent=2).encode(), mode=0o644)
    conn = open_station_db(paths.station_db)
    try:
        record(conn, "device-certificate-applied", actor="technician", clock=clock, device_id=cert.device_id,
               station_id=cert.station_id, election_id=cert.election_id, cert_ref=cert.ref)
    finally:
        conn.close()
    return cert


def load_certificate(paths: Paths) -> dict | None:
    return json.loads(paths.device_cert.read_text()) if paths.device_cert.exists() else None
