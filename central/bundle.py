"""A station's observer export, from what the centre stored: the file the portal offers.

``station_export(storage, station_id)`` returns an observer export (sync/export.py,
docs/protocol.md section 10) of the station's published results protocol: the device
certificate that protocol names and every stored envelope of that device's ``count``
stream from seq 1 up to and including the protocol, in seq order, exactly as stored
(the canonical bytes the receiver verified), so ``uchastok verify`` and the page's
verify.js check the signatures and the hash chain back to the stream's start.

Which protocol: the one the portal shows (``Storage.protocol_heads``: per station
the non-test results protocol that arrived last). Two cases trim the file, and
neither hides anything the verifier would have to accept blindly:
- a seq the centre has not received yet is a gap in the file; the verifier checks
  ``prev`` only where seq-1 is present, so the chain is checked on each side;
- an export carries one certificate, so when the device was re-certified during the
  stream the file starts after the last envelope that names another certificate.

A station without a stored results protocol (or whose protocol names a certificate
the centre does not hold) raises ``ExportUnavailable``: never an empty export that
would read as a station with nothing to check.

Example::

    doc = station_export(storage, "st-0042")
    verify_export(doc, load_public_key("trust/provisioning.pub")).ok   # True
"""

from __future__ import annotations

from typing import Any

from sync.canonical import parse
from sync.certificate import cert_ref
from sync.errors import SyncError
from sync.export import make_export

STREAM = "count"


class ExportUnavailable(SyncError):
    """Raised when a station has no stored results protocol (or its certificate) to export."""


def _stored_envelopes(storage, device: str, upto: int) -> list[dict[str, Any]]:
    return [parse(data) for data in storage.envelopes_of(device, STREAM, upto)]


def station_export(storage, station_id: str) -> dict[str, Any]:
    """The observer export of ``station_id``'s published results protocol; see the module doc."""
    head = storage.protocol_heads(station_id).get(station_id)     # one row, no bodies
    latest = storage.protocol_at(head[0]) if head is not None else None
    if latest is None:
        raise ExportUnavailable(f"station {station_id} has no results protocol at the centre")
    envelopes = _stored_envelopes(storage, latest["device"], latest["seq"])
    if not envelopes or envelopes[-1]["seq"] != latest["seq"]:
        raise ExportUnavailable(f"the results protocol of station {station_id} is not stored"
                                f" ({latest['device']} {STREAM} seq {latest['seq']})")
    ref = envelopes[-1]["cert"]
    certificates = [c for c in storage.certificates_of(latest["device"]) if cert_ref(c) == ref]
    if not certificates:
        raise ExportUnavailable(f"the certificate {ref[:12]}… named by the results protocol of"
                                f" station {station_id} is not enrolled at the centre")
    first = len(envelopes)
    while first > 0 and envelopes[first - 1]["cert"] == ref:
        first -= 1
    return make_export(certificates[0], envelopes[first:])
