"""The device's signing identity: its key and the certificate that names it.

``load_device`` is the one place a ``DeviceSigner`` is built from an enrolled
station's files (the identify and count roles, the uploader). In order:

1. the private key is loaded (sync/signing.py refuses one readable by others);
2. the certificate document is read;
3. the certificate must name this key: its ``public_key`` is this key's and its
   ``device_id`` is ``device_id_for(key)``. Otherwise ``CertificateMismatchError``:
   envelopes signed with a key the certificate does not name fail at the receiver
   (docs/protocol.md section 7, ``bad-signature``), so the outbox would fill with
   records nobody accepts; refusing at start says what is wrong while it can be fixed;
4. given ``authority_pub``, the certificate's signature and fields are verified
   too (sync/certificate.py ``verify_certificate``);
5. the signer seals for the election and station given (the loaded package's),
   or else for the certificate's.

A missing or unreadable key or certificate raises ``DeviceCredentialsError``.

Example::

    device = load_device(paths.role("count").key, paths.role("count").cert,
                         election_id=election.id, station_id=election.station.id, clock=clock)
    outbox = Outbox(conn, device.signer, "count")
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from base.clock import SystemClock
from sync import signing
from sync.certificate import cert_ref, device_id_for, verify_certificate
from sync.envelope import DeviceSigner
from sync.errors import CertificateMismatchError, DeviceCredentialsError, SyncError


@dataclass(frozen=True)
class EnrolledDevice:
    """The device key, the certificate document that names it, and a signer built from both."""

    key: signing.PrivateKey = field(repr=False)
    certificate: dict[str, Any] = field(repr=False)
    signer: DeviceSigner

    @property
    def device_id(self) -> str:
        return self.signer.device_id


def load_device(key_path: str | os.PathLike, cert_path: str | os.PathLike, *,
                election_id: str | None = None, station_id: str | None = None, clock=None,
                authority_pub: signing.PublicKey | None = None) -> EnrolledDevice:
    """Load the device key and certificate, check that the certificate names the key; see the module doc."""
    try:
        key = signing.load_private_key(key_path)
    except FileNotFoundError as e:
        raise DeviceCredentialsError(
            f"this device has no key ({key_path}): run `uchastok provision init --cec-key FILE`") from e
    except (OSError, ValueError, TypeError, SyncError) as e:  # mode, not PEM, not Ed25519
        raise DeviceCredentialsError(f"cannot load the device key {key_path}: {e}") from e
    try:
        doc = json.loads(Path(cert_path).read_text())
    except FileNotFoundError as e:
        raise DeviceCredentialsError(
            f"this device has no certificate ({cert_path}): enrol it (`uchastok provision enroll`)") from e
    except (OSError, ValueError) as e:
        raise DeviceCredentialsError(f"cannot read the device certificate {cert_path}: {e}") from e
    signed = doc.get("signed") if isinstance(doc, dict) else None
    if not isinstance(signed, dict):
        raise DeviceCredentialsError(f"{cert_path} is not a device certificate (no signed part)")

    pub = signing.public_key(key)
    device_id = device_id_for(pub)
    if signed.get("public_key") != signing.public_text(pub) or signed.get("device_id") != device_id:
        raise CertificateMismatchError(
            f"the device certificate {cert_path} is for device {signed.get('device_id')!r}, not for"
            f" this device's key ({device_id}): install the certificate issued for this device")
    if authority_pub is not None:
        verify_certificate(doc, authority_pub, device_id=device_id, public_key=pub)
    election = election_id if election_id is not None else signed.get("election_id")
    station = station_id if station_id is not None else signed.get("station_id")
    if not isinstance(election, str) or not isinstance(station, str):
        raise DeviceCredentialsError(f"the device certificate {cert_path} names no election or station")
    signer = DeviceSigner(key, device_id, cert_ref(doc), election, station, clock or SystemClock())
    return EnrolledDevice(key, doc, signer)
