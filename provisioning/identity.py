"""Device identity: one signing key per role, its enrolment request and its certificate.

Each role (identify, count) signs its own stream with its own Ed25519 key, kept
in the role's private directory (``Paths.role(r).key``: ``var/<role>/device.key``,
mode 0600, never printed); a key that leaks from one role cannot sign the other
role's records, and the receiver refuses a stream the certificate does not name
(sync/certificate.py ``roles``; central/service.py ``role-not-allowed``). The
uploader holds no key at all (docs/technician-guide.md "Who can read what").

Order of provisioning (ARCHITECTURE.md "Data flows", Provisioning):

1. ``init_device(paths, cec_pub_file)`` pins the CEC's public key (the trust
   root for election packages), creates the station's PIN key when it has none
   (``Paths.pin_key``, station/polls.py) and, for each role, generates the
   role's key, its id ``dev-<key id>`` and a signed enrolment request naming
   the role (``etc/<role>-enrolment-request.json``).
2. The provisioning authority issues one certificate per request, for that role
   only (``issue_for_request``: the authority side, used by tests and the demo).
3. ``enroll(paths, cert_file)`` finds the role whose key the certificate names,
   verifies it (authority signature, this key, the role, validity at now) and
   installs it as ``etc/<role>-cert.json``. Run once per role.

Example::

    idents = init_device(paths, "cec.pub")          # {"identify": DeviceIdentity, "count": ...}
    enroll(paths, "identify-cert.json", authority_pub=load_public_key("provisioning.pub"))
    enroll(paths, "count-cert.json", authority_pub=load_public_key("provisioning.pub"))
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
from base.paths import ROLES, Paths
from station.db import open_station_db
from station.errors import ProvisioningError
from station.events import record
from station.polls import ensure_pin_key
from sync import signing
from sync.certificate import DeviceCertificate, device_id_for, issue_certificate, verify_certificate
from sync.errors import VerificationError

REQUEST_TYPE = "uchastok-enrolment-request"
REQUEST_VERSION = 2   # version 2 names the role; version 1 (one key for both roles) is still read


@dataclass(frozen=True)
class DeviceIdentity:
    role: str
    device_id: str
    key_id: str
    public_key: signing.PublicKey


def _roles(roles) -> tuple[str, ...]:
    roles = tuple(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ProvisioningError(f"unknown role(s) {unknown or '(none)'}: expected some of {', '.join(ROLES)}")
    return roles


def init_device(paths: Paths, cec_pub_file: str | os.PathLike, *, roles=ROLES, clock=None,
                force: bool = False) -> dict[str, DeviceIdentity]:
    """Pin the CEC key; make the PIN key if missing; one key and enrolment request per role."""
    roles = _roles(roles)
    paths.ensure()
    try:
        cec = signing.load_public_key(cec_pub_file)
    except VerificationError as e:
        raise ProvisioningError(f"{cec_pub_file}: {e}") from e
    existing = [str(paths.role(r).key) for r in roles if paths.role(r).key.exists()]
    if existing and not force:
        raise ProvisioningError(f"{', '.join(existing)} exists: this device is already initialised"
                                " (a new key would orphan its certificate; use --force to replace it)")
    shutil.copyfile(cec_pub_file, paths.cec_pub)
    ensure_pin_key(paths.pin_key)
    now = iso((clock or SystemClock()).now())
    idents = {}
    for role in roles:
        files = paths.role(role)
        files.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = signing.generate_key()
        signing.save_private_key(key, files.key)
        ident = identity(paths, role)
        request = {"type": REQUEST_TYPE, "version": REQUEST_VERSION, "role": role,
                   "device_id": ident.device_id, "public_key": signing.public_text(ident.public_key),
                   "created_at": now}
        # The request is signed by the role's key: proof of possession for the authority.
        atomic_write(files.enrolment_request,
                     json.dumps(signing.sign_document(key, request), indent=2).encode(), mode=0o644)
        idents[role] = ident
    conn = open_station_db(paths.station_db)
    try:
        for role, ident in idents.items():
            record(conn, "device-key-generated", actor="technician", clock=clock, role=role,
                   device_id=ident.device_id, cec_key=signing.key_id(cec))
            record(conn, "enrolment-request-written", actor="technician", clock=clock, role=role,
                   device_id=ident.device_id)
    finally:
        conn.close()
    return idents


def load_device_key(paths: Paths, role: str) -> signing.PrivateKey:
    key_file = paths.role(role).key
    if not key_file.exists():
        raise ProvisioningError(f"this device has no {role} key yet: run `uchastok provision init --cec-key FILE`")
    try:
        return signing.load_private_key(key_file)
    except (VerificationError, ValueError, TypeError) as e:   # wrong mode, or not a PEM Ed25519 key
        raise ProvisioningError(f"{key_file}: unusable device key: {e}") from e


def identity(paths: Paths, role: str) -> DeviceIdentity:
    pub = signing.public_key(load_device_key(paths, role))
    return DeviceIdentity(role, device_id_for(pub), signing.key_id(pub), pub)


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
    if req.get("version") == REQUEST_VERSION and req.get("role") not in ROLES:
        raise ProvisioningError(f"{path}: enrolment request names no role ({', '.join(ROLES)})")
    return req


def issue_for_request(request_file: str | os.PathLike, authority_key: signing.PrivateKey, station_id: str,
                      election_id: str, *, days: int = 60, now: dt.datetime | None = None) -> dict:
    """The provisioning authority's helper (tests and demo): a certificate for a verified request,
    valid for the request's role only (a version-1 request, from before per-role keys: both roles)."""
    req = read_request(request_file)
    now = now or dt.datetime.now(dt.UTC)
    roles = (req["role"],) if req.get("version") == REQUEST_VERSION else ROLES
    return issue_certificate(authority_key, req["device_id"], signing.public_from_text(req["public_key"]),
                             station_id, election_id, now - dt.timedelta(days=1), now + dt.timedelta(days=days),
                             roles)


def _role_of(paths: Paths, doc) -> str | None:
    """The role whose key the certificate document names (None: none of this device's keys)."""
    named = doc.get("signed", {}).get("device_id") if isinstance(doc, dict) else None
    for role, files in paths.roles.items():
        if files.key.exists() and identity(paths, role).device_id == named:
            return role
    return None


def enroll(paths: Paths, cert_file: str | os.PathLike, authority_pub: signing.PublicKey, *,
           clock=None) -> DeviceCertificate:
    """Verify the certificate for one of this device's role keys and install it as that role's."""
    clock = clock or SystemClock()
    try:
        doc = json.loads(Path(cert_file).read_text())
        role = _role_of(paths, doc)
        if role is None:
            signed = doc.get("signed", {}) if isinstance(doc, dict) else {}
            mine = ", ".join(f"{r} {identity(paths, r).device_id}" for r, f in paths.roles.items()
                             if f.key.exists())
            raise VerificationError(f"certificate is for device {signed.get('device_id')!r}, not for one of"
                                    f" this device's keys ({mine or 'none yet'})")
        ident = identity(paths, role)
        cert = verify_certificate(doc, authority_pub, device_id=ident.device_id, public_key=ident.public_key,
                                  at=clock.now())
        if role not in cert.roles:
            raise VerificationError(f"certificate is for the roles {list(cert.roles)}, not for {role}")
    except (OSError, ValueError, VerificationError) as e:
        conn = open_station_db(paths.station_db)
        try:
            record(conn, "device-certificate-refused", "refused", actor="technician", clock=clock,
                   file=str(cert_file), reason=str(e))
        finally:
            conn.close()
        raise ProvisioningError(f"{cert_file}: certificate refused: {e}") from e
    files = paths.role(role)
    files.cert.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(files.cert, json.dumps(doc, indent=2).encode(), mode=0o644)
    conn = open_station_db(paths.station_db)
    try:
        record(conn, "device-certificate-applied", actor="technician", clock=clock, role=role,
               device_id=cert.device_id, station_id=cert.station_id, election_id=cert.election_id,
               cert_ref=cert.ref)
    finally:
        conn.close()
    return cert


def enroll_with_authority(paths: Paths, authority_key: signing.PrivateKey, station_id: str, election_id: str,
                          out_dir: str | os.PathLike, *, clock=None, now: dt.datetime | None = None
                          ) -> dict[str, Path]:
    """(Tests and the demo play the authority.) Issue each initialised role's certificate, write it
    to ``out_dir/<role>-cert.json`` and enrol it; return the certificate files by role."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    issued = {}
    for role, files in paths.roles.items():
        if not files.enrolment_request.exists():
            continue
        cert = issue_for_request(files.enrolment_request, authority_key, station_id, election_id,
                                 now=now if now is not None else (clock.now() if clock else None))
        issued[role] = out / f"{role}-cert.json"
        issued[role].write_text(json.dumps(cert, indent=2))
        enroll(paths, issued[role], signing.public_key(authority_key), clock=clock)
    return issued


def load_certificate(paths: Paths, role: str) -> dict | None:
    cert = paths.role(role).cert
    return json.loads(cert.read_text()) if cert.exists() else None
