"""Exports for observers: envelopes with their device certificate, checkable offline.

Format (docs/protocol.md section 10)::

    {"type": "uchastok-export", "version": 1, "certificate": <device certificate>,
     "envelopes": [envelope, ...]}

``verify_export`` needs only the provisioning authority's public key and is
as strict as the receiver (central/service.py): it verifies the certificate,
then every envelope's shape (the kind on its own stream, real times,
canonical base64), size and signature, then what the certificate allows
(``sync.envelope.certificate_problem``: certificate reference, device,
station, election, the stream among the certificate's roles, ``created_at``
within its validity), then across the file: two different envelopes at one
(stream, seq) are a fork (both are marked bad; the same envelope twice is
fine), and each envelope's ``prev`` must be the hash of seq-1 of its stream
when the file holds it. It reports per envelope rather than stopping at the
first failure; ``ExportReport.ok`` is true only if all pass. A bare envelope
(no export wrapper) is accepted with the certificate given separately.

Example::

    doc = export_from_outbox(outbox, certificate, kinds=("results-protocol",))
    report = verify_export(doc, load_public_key("trust/provisioning.pub"))
    report.ok, report.envelopes[0]["hash"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sync import signing
from sync.canonical import parse
from sync.certificate import verify_certificate
from sync.envelope import certificate_problem, envelope_hash, verify_envelope
from sync.errors import EnvelopeError, SyncError, VerificationError

EXPORT_TYPE = "uchastok-export"


def make_export(certificate: dict[str, Any], envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": EXPORT_TYPE, "version": 1, "certificate": certificate,
            "envelopes": list(envelopes)}


def export_from_outbox(outbox, certificate: dict[str, Any], *, kinds: tuple[str, ...] | None = None,
                       seqs: list[int] | None = None) -> dict[str, Any]:
    """Export envelopes of ``outbox`` (all, or of ``kinds``, or ``seqs``), delivered or not."""
    rows = outbox.conn.execute("SELECT seq, kind, envelope FROM outbox WHERE stream=? ORDER BY seq",
                               (outbox.stream,)).fetchall()
    envs = [parse(bytes(r[2])) for r in rows
            if (kinds is None or r[1] in kinds) and (seqs is None or r[0] in seqs)]
    return make_export(certificate, envs)


@dataclass
class ExportReport:
    ok: bool
    device: str | None = None
    station: str | None = None
    election: str | None = None
    envelopes: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def verify_export(doc: Any, authority_pub: signing.PublicKey, *,
                  certificate: dict[str, Any] | None = None) -> ExportReport:
    """Check an export (or a bare envelope with ``certificate``) offline; see the module doc."""
    if isinstance(doc, dict) and doc.get("type") == EXPORT_TYPE:
        if set(doc) != {"type", "version", "certificate", "envelopes"} \
                or type(doc["version"]) is not int or doc["version"] != 1:
            raise EnvelopeError("not a version 1 uchastok-export")
        envelopes, cert_doc = doc["envelopes"], certificate or doc["certificate"]
        if not isinstance(envelopes, list):
            raise EnvelopeError("export envelopes is not a list")
    elif isinstance(doc, dict) and "signature" in doc and "seq" in doc:
        envelopes, cert_doc = [doc], certificate
    else:
        raise EnvelopeError("neither an uchastok-export nor an envelope")
    if cert_doc is None:
        raise VerificationError("no device certificate: give --cert or use an export file")
    cert = verify_certificate(cert_doc, authority_pub)
    report = ExportReport(ok=True, device=cert.device_id, station=cert.station_id,
                          election=cert.election_id)
    by_stream: dict[tuple[str, int], set[str]] = {}
    for i, env in enumerate(envelopes):
        entry: dict[str, Any] = {"index": i}
        try:
            h = verify_envelope(env, cert.public_key)
            entry.update(stream=env["stream"], seq=env["seq"], kind=env["kind"], hash=h,
                         created_at=env["created_at"])
            problem = certificate_problem(env, cert)
            if problem is not None:
                raise VerificationError(f"{problem[0]}: {problem[1]}")
            by_stream.setdefault((env["stream"], env["seq"]), set()).add(h)
            entry["ok"] = True
        except SyncError as e:
            entry.update(ok=False, error=str(e))
            report.ok = False
        report.envelopes.append(entry)
    for e in report.envelopes:
        if not e.get("ok"):
            continue
        here = by_stream[(e["stream"], e["seq"])]
        if len(here) > 1:  # both signed by the device: the receiver would call the second a fork
            e.update(ok=False, error=f"fork: {len(here)} different envelopes at {e['stream']} seq {e['seq']}")
            report.ok = False
            continue
        prev = by_stream.get((e["stream"], e["seq"] - 1))
        env = envelopes[e["index"]]
        if prev is not None and env["prev"] not in prev:
            e.update(ok=False, error=f"prev does not match the hash of seq {e['seq'] - 1} in this file")
            report.ok = False
    if not envelopes:
        report.problems.append("the export holds no envelopes")
        report.ok = False
    return report


def envelope_digest(env: dict[str, Any]) -> str:
    """The envelope hash an observer compares with a published or printed one."""
    return envelope_hash(env)
