"""Device certificates: the provisioning authority's signed statement about a device.

A certificate is a signed document (sync/signing.py) whose ``signed`` part is::

    {"type": "uchastok-device-certificate", "version": 1,
     "device_id": "dev-<16 hex>", "public_key": "ed25519 <base64>",
     "station_id": "...", "election_id": "...", "roles": ["identify", "count"],
     "not_before": "YYYY-MM-DDTHH:MM:SSZ", "not_after": "YYYY-MM-DDTHH:MM:SSZ"}

signed by the provisioning authority (its public key travels in the election
package as ``trust/provisioning.pub``). ``cert_ref`` = SHA-256 hex of the
canonical bytes of the whole certificate document; every envelope names it.

Example::

    cert = issue_certificate(authority_key, "dev-..", device_pub, "UIK-1234", "kg-2025", ...)
    info = verify_certificate(cert, authority_pub, device_id="dev-..", at=now)
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from base.clock import iso, parse_iso
from sync import signing
from sync.canonical import canonical
from sync.errors import VerificationError

CERT_TYPE = "uchastok-device-certificate"
ROLES = ("identify", "count")
# ASCII digits and no newline before the end (``$`` would allow one, ``\d`` any script's digits):
# docs/protocol.md section 1 "TIME". sync/envelope.py uses this one pattern too.
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


@dataclass(frozen=True)
class DeviceCertificate:
    device_id: str
    public_key: signing.PublicKey
    station_id: str
    election_id: str
    roles: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    ref: str


def _parse_ts(s: Any, field: str) -> dt.datetime:
    if not isinstance(s, str) or not TIME.fullmatch(s):
        raise VerificationError(f"certificate {field} is not YYYY-MM-DDTHH:MM:SSZ: {s!r}")
    try:
        return parse_iso(s)
    except ValueError as e:
        raise VerificationError(f"certificate {field} is not a real time: {s!r}") from e


def _text(s: dict[str, Any], field: str) -> str:
    v = s.get(field)
    if not isinstance(v, str) or not v:
        raise VerificationError(f"certificate {field} is not a text")
    return v


def _roles(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list) or not v or not all(isinstance(r, str) and r in ROLES for r in v) \
            or len(set(v)) != len(v):
        raise VerificationError(f"certificate roles must be a list of distinct roles from {list(ROLES)}")
    return tuple(v)


def device_id_for(pub: signing.PublicKey) -> str:
    return "dev-" + signing.key_id(pub)


def cert_ref(doc: dict) -> str:
    return signing.sha256_hex(canonical(doc))


def issue_certificate(authority_key: signing.PrivateKey, device_id: str, public_key: signing.PublicKey,
                      station_id: str, election_id: str, not_before: dt.datetime, not_after: dt.datetime,
                      roles: tuple[str, ...] = ROLES) -> dict:
    signed = {"type": CERT_TYPE, "version": 1, "device_id": device_id,
              "public_key": signing.public_text(public_key), "station_id": station_id,
              "election_id": election_id, "roles": list(roles),
              "not_before": iso(not_before), "not_after": iso(not_after)}
    return signing.sign_document(authority_key, signed)


def verify_certificate(doc: Any, authority_pub: signing.PublicKey, *, device_id: str | None = None,
                       public_key: signing.PublicKey | None = None, station_id: str | None = None,
                       election_id: str | None = None, at: dt.datetime | None = None) -> DeviceCertificate:
    """Verify the authority's signature first, then every field; raise VerificationError naming the problem."""
    s = signing.open_document(doc, authority_pub)
    if s.get("type") != CERT_TYPE or type(s.get("version")) is not int or s["version"] != 1:
        raise VerificationError("not a version-1 device certificate")
    pub = signing.public_from_text(_text(s, "public_key"))
    cert = DeviceCertificate(
        device_id=_text(s, "device_id"), public_key=pub, station_id=_text(s, "station_id"),
        election_id=_text(s, "election_id"), roles=_roles(s.get("roles")),
        not_before=_parse_ts(s.get("not_before"), "not_before"),
        not_after=_parse_ts(s.get("not_after"), "not_after"), ref=cert_ref(doc))
    if cert.device_id != device_id_for(pub):
        raise VerificationError(f"certificate device id {cert.device_id} does not match its public key")
    if device_id is not None and cert.device_id != device_id:
        raise VerificationError(f"certificate is for device {cert.device_id}, this device is {device_id}")
    if public_key is not None and signing.public_bytes(public_key) != signing.public_bytes(pub):
        raise VerificationError("certificate binds another public key than this device's")
    if station_id is not None and cert.station_id != station_id:
        raise VerificationError(f"certificate is for station {cert.station_id}, not {station_id}")
    if election_id is not None and cert.election_id != election_id:
        raise VerificationError(f"certificate is for election {cert.election_id}, not {election_id}")
    if at is not None and not (cert.not_before <= at <= cert.not_after):
        raise VerificationError(f"certificate is valid {iso(cert.not_before)} to {iso(cert.not_after)},"
                                f" not at {iso(at)} (expired or not yet valid)")
    return cert
