"""Envelopes: the signed, hash-chained unit every station record travels in.

The normative text is ``docs/protocol.md``; this module is its reference
implementation. In short:

- An envelope is a JSON object with exactly the fields ``version`` (1),
  ``kind``, ``election``, ``station``, ``device``, ``stream``, ``seq``
  (1, 2, 3 ... per device and stream), ``prev`` (the envelope hash of seq-1 in
  the same stream, 64 zeros for seq 1), ``created_at`` (``YYYY-MM-DDTHH:MM:SSZ``,
  a real UTC time), ``body`` (an object, the kind's payload), ``cert`` (the
  device certificate reference, sync/certificate.py) and ``signature``.
- Each kind travels on its stream (``KIND_STREAMS``): receipts and summaries
  on ``identify``, results protocols on ``count``, polls events and
  heartbeats on either; an envelope of a kind on another stream is malformed.
- ``signature`` = canonical base64 of Ed25519(device key, canonical(envelope
  without ``signature``)), canonical = RFC 8785 (sync/canonical.py). Canonical
  base64 (``SIGNATURE``: the last character before ``==`` carries no unused
  bits) gives each signature one spelling, hence each envelope one hash.
- envelope hash = lowercase SHA-256 hex of canonical(whole envelope, with
  ``signature``). The next envelope of the stream names it as ``prev``. The
  paper protocol, the centre and ``uchastok verify`` all show this hash.
- Limits: canonical body <= ``MAX_BODY_BYTES``; canonical envelope <=
  ``MAX_ENVELOPE_BYTES``; a batch holds <= ``MAX_BATCH_ENVELOPES`` envelopes
  of one device and one stream and is <= ``MAX_BATCH_BYTES`` once decompressed.
- The receiver answers a batch with an ack: a document signed by the ack
  server key naming device, stream, the highest contiguous seq stored and its
  hash, and one result per envelope sent.

Verification order (style: verify before parse-and-use): size, shape,
signature (against the key of the certificate the receiver enrolled), then
``certificate_problem`` (the envelope against what its certificate allows),
then chain checks by the caller.

Example::

    signer = DeviceSigner(key, "dev-00112233aabbccdd", ref, "kg-2025", "st-0001", clock)
    sealed = signer.seal("count", 1, ZERO_HASH, "polls-event", {"event": "opened", "at": "..."})
    verify_envelope(sealed.envelope, public_key(key))  # -> sealed.hash
"""

from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from base.clock import iso, parse_iso
from sync import signing
from sync.canonical import canonical, parse
from sync.certificate import TIME, DeviceCertificate
from sync.errors import EnvelopeError, VerificationError

VERSION = 1
ZERO_HASH = "0" * 64

# Kinds in upload priority order (lower first): results before receipts.
KINDS = ("results-protocol", "identification-summary", "polls-event", "identification-receipt",
         "heartbeat")
PRIORITY = {k: i for i, k in enumerate(KINDS)}
STREAMS = ("identify", "count")
# The stream each kind travels on, so a certificate's roles bound what a device may say.
KIND_STREAMS = {"results-protocol": ("count",), "identification-summary": ("identify",),
                "polls-event": STREAMS, "identification-receipt": ("identify",),
                "heartbeat": STREAMS}

MAX_BODY_BYTES = 64 * 1024
MAX_ENVELOPE_BYTES = 72 * 1024
MAX_BATCH_ENVELOPES = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_SEQ = 2**53 - 1

FIELDS = ("version", "kind", "election", "station", "device", "stream", "seq", "prev",
          "created_at", "body", "cert", "signature")
_FIELDSET = frozenset(FIELDS)
# Matched with fullmatch: ``$`` would also match before a final newline.
HEX64 = re.compile(r"[0-9a-f]{64}")
ISO_Z = TIME
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# Canonical base64 of 64 bytes: the 86th character holds 2 bits and 4 zero bits (A, Q, g, w).
SIGNATURE = re.compile(r"[A-Za-z0-9+/]{85}[AQgw]==")

BATCH_TYPE = "uchastok-batch"
ACK_TYPE = "uchastok-ack"
STATUSES = ("stored", "duplicate", "rejected")


def is_time(value: Any) -> bool:
    """True if ``value`` is a TIME: ``YYYY-MM-DDTHH:MM:SSZ`` naming a real UTC second."""
    if not isinstance(value, str) or not ISO_Z.fullmatch(value):
        return False
    try:
        parse_iso(value)
    except ValueError:  # 2026-13-45T99:99:99Z has the form but is no time
        return False
    return True


def signing_bytes(env: dict[str, Any]) -> bytes:
    """The exact bytes the device signs: canonical(envelope without ``signature``)."""
    return canonical({k: v for k, v in env.items() if k != "signature"})


def envelope_hash(env: dict[str, Any]) -> str:
    """SHA-256 hex of canonical(whole signed envelope)."""
    return signing.sha256_hex(canonical(env))


@dataclass(frozen=True)
class Sealed:
    """A signed envelope, its canonical bytes and its hash."""

    envelope: dict[str, Any]
    data: bytes
    hash: str

    @property
    def seq(self) -> int:
        return self.envelope["seq"]


class DeviceSigner:
    """Seals bodies into envelopes with the device key (contract: "Outbox and envelopes")."""

    def __init__(self, key: signing.PrivateKey, device_id: str, cert_ref: str, election_id: str,
                 station_id: str, clock):
        if not HEX64.fullmatch(cert_ref):
            raise EnvelopeError(f"cert_ref must be 64 lowercase hex, got {cert_ref!r}")
        self._key = key
        self.device_id = device_id
        self.cert_ref = cert_ref
        self.election_id = election_id
        self.station_id = station_id
        self.clock = clock

    def __repr__(self) -> str:
        return (f"DeviceSigner({self.device_id}, station={self.station_id}, "
                f"election={self.election_id})")

    def seal(self, stream: str, seq: int, prev: str, kind: str, body: dict[str, Any]) -> Sealed:
        env = {"version": VERSION, "kind": kind, "election": self.election_id,
               "station": self.station_id, "device": self.device_id, "stream": stream,
               "seq": seq, "prev": prev, "created_at": iso(self.clock.now()), "body": body,
               "cert": self.cert_ref}
        check_shape({**env, "signature": "A" * 86 + "=="})
        env["signature"] = signing.b64(signing.sign(self._key, canonical(env)))
        data = canonical(env)
        return Sealed(env, data, signing.sha256_hex(data))


def _fail(msg: str) -> None:
    raise EnvelopeError(msg)


def check_shape(env: Any, *, measure_body: bool = True) -> None:
    """Raise EnvelopeError unless ``env`` has exactly the envelope fields with valid values.

    ``measure_body=False`` leaves the body size to the caller (``canonical_pair`` + ``body_size``).
    """
    if not isinstance(env, dict):
        _fail("envelope is not a JSON object")
    if env.keys() != _FIELDSET:
        missing = sorted(_FIELDSET - env.keys())
        extra = sorted(env.keys() - _FIELDSET)
        _fail(f"envelope fields wrong (missing {missing}, unexpected {extra})")
    if type(env["version"]) is not int or env["version"] != VERSION:
        _fail(f"envelope version {env['version']!r} is not {VERSION}")
    if not isinstance(env["kind"], str) or env["kind"] not in PRIORITY:
        _fail(f"unknown kind {env['kind']!r}")
    if not isinstance(env["stream"], str) or env["stream"] not in STREAMS:
        _fail(f"unknown stream {env['stream']!r}")
    if env["stream"] not in KIND_STREAMS[env["kind"]]:
        _fail(f"kind {env['kind']} travels on stream {' or '.join(KIND_STREAMS[env['kind']])},"
              f" not {env['stream']}")
    for k in ("election", "station", "device"):
        if not isinstance(env[k], str) or not IDENT.fullmatch(env[k]):
            _fail(f"{k} {env[k]!r} is not an identifier")
    seq = env["seq"]
    if type(seq) is not int or not 1 <= seq <= MAX_SEQ:
        _fail(f"seq {seq!r} is not an integer in 1..2^53-1")
    for k in ("prev", "cert"):
        if not isinstance(env[k], str) or not HEX64.fullmatch(env[k]):
            _fail(f"{k} is not 64 lowercase hex digits")
    if (seq == 1) != (env["prev"] == ZERO_HASH):
        _fail("prev must be 64 zeros exactly when seq is 1")
    if not is_time(env["created_at"]):
        _fail("created_at is not a real time YYYY-MM-DDTHH:MM:SSZ")
    if not isinstance(env["body"], dict):
        _fail("body is not a JSON object")
    sig = env["signature"]
    if not isinstance(sig, str) or not SIGNATURE.fullmatch(sig):
        _fail("signature is not the canonical base64 of 64 bytes (88 characters)")
    if not measure_body:
        return
    try:
        body_len = len(canonical(env["body"]))
    except ValueError as e:  # rfc8785 integer domain, lone surrogates
        raise EnvelopeError(f"body cannot be canonicalised: {e}") from e
    if body_len > MAX_BODY_BYTES:
        _fail(f"body of {body_len} bytes exceeds the limit of {MAX_BODY_BYTES}")


def canonical_pair(env: dict[str, Any]) -> tuple[bytes, bytes]:
    """(signed bytes, whole canonical bytes) of a shape-checked envelope, canonicalised once.

    Members sort as ... "seq", "signature", "station", "stream", "version", so the
    whole envelope is the signed bytes with ``"signature":"..."`` inserted before the
    last ``,"station":`` (only fixed-format values follow it). Raises EnvelopeError
    when the body cannot be canonicalised.
    """
    try:
        signed = canonical({k: v for k, v in env.items() if k != "signature"})
    except ValueError as e:  # rfc8785 integer domain, lone surrogates
        raise EnvelopeError(f"envelope cannot be canonicalised: {e}") from e
    i = signed.rfind(b',"station":')
    whole = signed[:i] + b',"signature":"' + env["signature"].encode() + b'"' + signed[i:]
    return signed, whole


def body_size(signed: bytes) -> int:
    """Length of canonical(body) inside the signed bytes (body sorts first, cert second)."""
    return signed.rfind(b',"cert":"') - len(b'{"body":')


def verify_envelope(env: Any, device_pub: signing.PublicKey) -> str:
    """Check shape, size and the device's signature; return the envelope hash."""
    check_shape(env, measure_body=False)
    signed, data = canonical_pair(env)
    if body_size(signed) > MAX_BODY_BYTES:
        raise EnvelopeError(f"body of {body_size(signed)} bytes exceeds the limit of {MAX_BODY_BYTES}")
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeError(f"envelope of {len(data)} bytes exceeds {MAX_ENVELOPE_BYTES}")
    signing.verify(device_pub, signing.unb64(env["signature"], "signature"), signed)
    return signing.sha256_hex(data)


def certificate_problem(env: dict[str, Any], cert: DeviceCertificate) -> tuple[str, str] | None:
    """The first way a shape-checked ``env`` oversteps its certificate, as (code, text), or None.

    Codes and order are docs/protocol.md section 7 (after the signature): the
    certificate reference, device, station, election, the stream among the
    certificate's roles, ``created_at`` within its validity. The receiver and
    ``uchastok verify`` (sync/export.py) both use this one function.
    """
    if env["cert"] != cert.ref:
        return "unknown-certificate", f"envelope names certificate {env['cert'][:12]}…, not {cert.ref[:12]}…"
    if env["device"] != cert.device_id:
        return "wrong-device", f"envelope says device {env['device']}, certificate {cert.device_id}"
    if env["station"] != cert.station_id:
        return "wrong-station", f"envelope says station {env['station']}, certificate {cert.station_id}"
    if env["election"] != cert.election_id:
        return "wrong-election", f"envelope says election {env['election']}, certificate {cert.election_id}"
    if env["stream"] not in cert.roles:
        return ("role-not-allowed",
                f"stream {env['stream']} is not among the certificate's roles {list(cert.roles)}")
    # check_shape made created_at a real time in the one fixed form, where text order is time order.
    if not iso(cert.not_before) <= env["created_at"] <= iso(cert.not_after):
        return ("certificate-expired", f"created_at {env['created_at']} outside the certificate's"
                f" validity {iso(cert.not_before)}..{iso(cert.not_after)}")
    return None


# --- batches -------------------------------------------------------------------------------


def make_batch(device: str, stream: str, envelopes: Sequence[dict[str, Any]],
               certificate: dict[str, Any] | None = None) -> dict[str, Any]:
    """The upload request body: envelopes of one device and one stream, oldest seq first."""
    if len(envelopes) > MAX_BATCH_ENVELOPES:
        raise EnvelopeError(f"{len(envelopes)} envelopes exceed the batch limit")
    return {"type": BATCH_TYPE, "version": VERSION, "device": device, "stream": stream,
            "certificate": certificate, "envelopes": list(envelopes)}


def encode_batch(batch: dict[str, Any], *, compress: bool = True) -> bytes:
    """Compact JSON (not necessarily canonical), gzip-compressed unless told otherwise."""

    data = json.dumps(batch, ensure_ascii=False, separators=(",", ":")).encode()
    if len(data) > MAX_BATCH_BYTES:
        raise EnvelopeError(f"batch of {len(data)} bytes exceeds {MAX_BATCH_BYTES}")
    return gzip.compress(data, compresslevel=6, mtime=0) if compress else data


def decompress(data: bytes, encoding: str | None, limit: int = MAX_BATCH_BYTES) -> bytes:
    """Undo ``Content-Encoding`` (identity or gzip) without ever exceeding ``limit`` bytes."""
    enc = (encoding or "identity").strip().lower()
    if enc == "identity":
        if len(data) > limit:
            raise EnvelopeError(f"request of {len(data)} bytes exceeds {limit}")
        return data
    if enc != "gzip":
        raise EnvelopeError(f"unsupported Content-Encoding {encoding!r}")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(data, limit + 1)
    except zlib.error as e:
        raise EnvelopeError(f"bad gzip data: {e}") from e
    if len(out) > limit:
        raise EnvelopeError(f"decompressed batch exceeds {limit} bytes")
    if not d.eof:
        raise EnvelopeError("truncated gzip data")
    if d.unused_data:   # one member, as encode_batch makes it: anything after it is not the batch
        raise EnvelopeError(f"{len(d.unused_data)} bytes after the gzip data")
    return out


def parse_batch(data: bytes) -> dict[str, Any]:
    """Parse and shape-check a batch (the envelopes inside are checked one by one later)."""
    b = parse(data, max_bytes=MAX_BATCH_BYTES)
    if not isinstance(b, dict) or b.get("type") != BATCH_TYPE or type(b.get("version")) is not int \
            or b["version"] != VERSION:  # 1.0 and true equal 1 in Python: the integer 1 only
        raise EnvelopeError("not a version 1 uchastok-batch")
    if set(b) != {"type", "version", "device", "stream", "certificate", "envelopes"}:
        raise EnvelopeError(f"batch fields wrong: {sorted(b)}")
    if not isinstance(b["device"], str) or not IDENT.fullmatch(b["device"]):
        raise EnvelopeError("batch device is not an identifier")
    if b["stream"] not in STREAMS:
        raise EnvelopeError(f"batch stream {b['stream']!r} unknown")
    if b["certificate"] is not None and not isinstance(b["certificate"], dict):
        raise EnvelopeError("batch certificate must be null or a signed document")
    if not isinstance(b["envelopes"], list) or not 1 <= len(b["envelopes"]) <= MAX_BATCH_ENVELOPES:
        raise EnvelopeError(f"batch must hold 1..{MAX_BATCH_ENVELOPES} envelopes")
    return b


# --- acks ----------------------------------------------------------------------------------


def sign_ack(key: signing.PrivateKey, device: str, stream: str, contiguous_seq: int,
             contiguous_hash: str, results: Sequence[dict[str, Any]], at: str) -> dict[str, Any]:
    """The receiver's answer: a signed document (sync/signing.py format)."""
    return signing.sign_document(key, {
        "type": ACK_TYPE, "version": VERSION, "device": device, "stream": stream,
        "contiguous_seq": contiguous_seq, "contiguous_hash": contiguous_hash,
        "results": list(results), "at": at})


def open_ack(doc: Any, ack_pub: signing.PublicKey, *, device: str | None = None,
             stream: str | None = None) -> dict[str, Any]:
    """Verify an ack's signature and shape (and its device/stream); return its signed part."""
    a = signing.open_document(doc, ack_pub)
    keys = {"type", "version", "device", "stream", "contiguous_seq", "contiguous_hash",
            "results", "at"}
    if set(a) != keys or a["type"] != ACK_TYPE or type(a["version"]) is not int \
            or a["version"] != VERSION:
        raise VerificationError("not a version 1 uchastok-ack")
    if device is not None and a["device"] != device:
        raise VerificationError(f"ack is for device {a['device']!r}, not {device!r}")
    if stream is not None and a["stream"] != stream:
        raise VerificationError(f"ack is for stream {a['stream']!r}, not {stream!r}")
    cs = a["contiguous_seq"]
    if type(cs) is not int or cs < 0:
        raise VerificationError("ack contiguous_seq is not a non-negative integer")
    if not isinstance(a["contiguous_hash"], str) or not HEX64.fullmatch(a["contiguous_hash"]):
        raise VerificationError("ack contiguous_hash is not 64 hex")
    if not isinstance(a["results"], list):
        raise VerificationError("ack results is not a list")
    for r in a["results"]:
        if not isinstance(r, dict) or set(r) != {"seq", "hash", "status", "reason"} \
                or r["status"] not in STATUSES:
            raise VerificationError(f"ack result malformed: {r!r}")
    return a
