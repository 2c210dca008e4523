"""The receiver's rules: enrol devices, verify envelopes, check chains, store, sign acks.

Pure of HTTP (central/server.py maps requests onto ``Receiver.handle_batch``)
and of SQL (central/storage.py). The checks and their order are those of
docs/protocol.md section 7; each rejected envelope gets a ``rejected`` result
with a code and an anomaly row, and the receiver never raises on input: a
broken batch is a ``Reply`` with a 4xx status.

Example::

    rx = Receiver(Storage("central.db"), ack_key, provisioning_pub, election_id="kg-2025")
    reply = rx.handle_batch(request_bytes, "gzip")
    reply.status, reply.body    # 200, the signed ack
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from base.clock import SystemClock, iso
from central.storage import Storage
from sync import signing
from sync.canonical import canonical
from sync.certificate import DeviceCertificate, verify_certificate
from sync.envelope import (
    MAX_BODY_BYTES,
    MAX_ENVELOPE_BYTES,
    MAX_SEQ,
    ZERO_HASH,
    body_size,
    canonical_pair,
    check_shape,
    decompress,
    parse_batch,
    sign_ack,
)
from sync.errors import EnvelopeError, SyncError, VerificationError

log = logging.getLogger("uchastok.central")


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class _Reject(Exception):
    def __init__(self, code: str, text: str):
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class Receiver:
    """The central side of docs/protocol.md: one instance per database."""

    def __init__(self, storage: Storage, ack_key: signing.PrivateKey,
                 authority_pub: signing.PublicKey, *, election_id: str | None = None,
                 clock=None, logger: logging.Logger | None = None):
        self.storage = storage
        self.ack_key = ack_key
        self.authority_pub = authority_pub
        self.election_id = election_id
        self.clock = clock or SystemClock()
        self.log = logger or log
        self._certs: dict[str, DeviceCertificate] = {}
        self._stations: set[str] | None = None
        self._windows: dict[str, tuple[str, str]] = {}

    def __repr__(self) -> str:
        return f"Receiver({self.storage!r}, election={self.election_id})"

    # --- enrolment ----------------------------------------------------------------------------

    def enroll(self, doc: Any) -> DeviceCertificate:
        """Verify a device certificate against the provisioning authority and register it."""
        cert = verify_certificate(doc, self.authority_pub)
        if self.election_id and cert.election_id != self.election_id:
            raise VerificationError(
                f"certificate is for election {cert.election_id}, not {self.election_id}")
        self.storage.enroll(cert.ref, cert.device_id, cert.station_id, cert.election_id,
                            signing.public_text(cert.public_key), cert.roles,
                            iso(cert.not_before), iso(cert.not_after), doc, iso(self.clock.now()))
        self._certs[cert.ref] = cert
        return cert

    def _certs_of(self, device: str) -> dict[str, DeviceCertificate]:
        found = {r: c for r, c in self._certs.items() if c.device_id == device}
        if not found:
            for doc in self.storage.certificates_of(device):
                try:
                    c = verify_certificate(doc, self.authority_pub)
                except SyncError as e:  # authority changed under us: not trusted any more
                    self.log.error("stored certificate of %s no longer verifies: %s", device, e)
                    continue
                self._certs[c.ref] = c
                found[c.ref] = c
        return found

    def station_list(self) -> set[str]:
        if self._stations is None:
            self._stations = self.storage.station_ids()
        return self._stations

    def register_stations(self, stations: Any) -> int:
        """Register the station list (a list of stations, or a package manifest)."""
        n = self.storage.register_stations(load_stations(stations))
        self._stations = None
        return n

    # --- batches ------------------------------------------------------------------------------

    def handle_batch(self, data: bytes, content_encoding: str | None = None) -> Reply:
        """Process one POST /v1/batches body; never raises on bad input."""
        now = iso(self.clock.now())
        try:
            batch = parse_batch(decompress(data, content_encoding))
        except EnvelopeError as e:
            code = "too-large" if "exceed" in str(e) else "malformed"
            self.storage.add_anomaly(now, f"batch-{code}", str(e))
            return Reply(413 if code == "too-large" else 400, {"error": code, "detail": str(e)})
        device, stream = batch["device"], batch["stream"]
        if batch["certificate"] is not None:
            try:
                cert = verify_certificate(batch["certificate"], self.authority_pub,
                                          device_id=device)
                if cert.ref not in self._certs:
                    self.enroll(batch["certificate"])
            except SyncError as e:
                self.storage.add_anomaly(now, "bad-certificate", str(e), device, stream)
                return Reply(403, {"error": "bad-certificate", "detail": str(e)})
        certs = self._certs_of(device)
        if not certs:
            self.storage.add_anomaly(now, "unenrolled-device", "batch from an unenrolled device",
                                     device, stream)
            return Reply(403, {"error": "unenrolled-device",
                               "detail": f"device {device} is not enrolled"})
        try:
            results, (cs, ch) = self._store(batch, certs, now)
            ack = sign_ack(self.ack_key, device, stream, cs, ch, results, now)
        except Exception as e:  # a bug must not take the service down; the station resends
            self.log.exception("storing a batch of %s/%s failed", device, stream)
            return Reply(500, {"error": "internal", "detail": type(e).__name__})
        return Reply(200, ack)

    def _check(self, env: Any, batch: dict, certs: dict[str, DeviceCertificate]) -> tuple[str, bytes]:
        try:
            check_shape(env, measure_body=False)
            signed, data = canonical_pair(env)
        except EnvelopeError as e:
            raise _Reject("malformed", str(e)) from e
        if body_size(signed) > MAX_BODY_BYTES:
            raise _Reject("too-large", f"body of {body_size(signed)} bytes exceeds {MAX_BODY_BYTES}")
        if len(data) > MAX_ENVELOPE_BYTES:
            raise _Reject("too-large", f"envelope of {len(data)} bytes exceeds {MAX_ENVELOPE_BYTES}")
        if env["device"] != batch["device"]:
            raise _Reject("wrong-device", f"envelope of {env['device']} in a batch of {batch['device']}")
        if env["stream"] != batch["stream"]:
            raise _Reject("wrong-stream", f"envelope of stream {env['stream']} in a batch of {batch['stream']}")
        cert = certs.get(env["cert"])
        if cert is None:
            raise _Reject("unknown-certificate", f"certificate {env['cert'][:12]}… is not enrolled")
        if env["station"] != cert.station_id:
            raise _Reject("wrong-station",
                          f"envelope says station {env['station']}, certificate {cert.station_id}")
        if env["election"] != cert.election_id or (self.election_id and env["election"] != self.election_id):
            raise _Reject("wrong-election", f"election {env['election']} is not this device's or ours")
        stations = self.station_list()
        if stations and env["station"] not in stations:
            raise _Reject("wrong-station", f"station {env['station']} is not on the station list")
        if env["stream"] not in cert.roles:
            raise _Reject("role-not-allowed", f"stream {env['stream']} not in roles {cert.roles}")
        not_before, not_after = self._validity(cert)
        if not not_before <= env["created_at"] <= not_after:  # one fixed ISO form: text order is time order
            raise _Reject("certificate-expired", f"created_at {env['created_at']} outside the certificate")
        try:
            signing.verify(cert.public_key, signing.unb64(env["signature"], "signature"), signed)
        except VerificationError as e:
            raise _Reject("bad-signature", str(e)) from e
        return signing.sha256_hex(data), data

    def _validity(self, cert: DeviceCertificate) -> tuple[str, str]:
        v = self._windows.get(cert.ref)
        if v is None:
            v = self._windows[cert.ref] = (iso(cert.not_before), iso(cert.not_after))
        return v

    def _store(self, batch: dict, certs: dict[str, DeviceCertificate], now: str):
        device, stream = batch["device"], batch["stream"]
        checked: list[tuple[Any, str | None, bytes | None, _Reject | None]] = []
        for env in batch["envelopes"]:
            try:
                h, data = self._check(env, batch, certs)
                checked.append((env, h, data, None))
            except _Reject as r:
                h = None
                try:
                    h = signing.sha256_hex(canonical(env))
                except (ValueError, TypeError, SyncError):
                    pass
                checked.append((env, h, None, r))
        seqs = [e["seq"] for e, _, _, r in checked if r is None]
        results = []
        station = None
        stored = 0
        with self.storage.transaction():
            win = self.storage.window(device, stream, min(seqs) - 1, max(seqs) + 1) if seqs else {}
            for env, h, data, rej in checked:
                seq = env.get("seq") if isinstance(env, dict) and type(env.get("seq")) is int \
                    and 1 <= env["seq"] <= MAX_SEQ else None
                if rej is None:
                    rej = self._chain(env, h, win)
                    if rej == "duplicate":
                        results.append({"seq": seq, "hash": h, "status": "duplicate", "reason": None})
                        continue
                if rej is not None:
                    self.storage.add_anomaly(
                        now, rej.code, rej.text, device, stream, seq,
                        env.get("station") if isinstance(env, dict) and isinstance(
                            env.get("station"), str) else None)
                    results.append({"seq": seq, "hash": h, "status": "rejected",
                                    "reason": f"{rej.code}: {rej.text}"[:300]})
                    continue
                self.storage.insert_envelope(env, h, data, now)
                win[seq] = (h, env["prev"])
                station = env["station"]
                stored += 1
                self._project(env, h, now)
                results.append({"seq": seq, "hash": h, "status": "stored", "reason": None})
            head = self.storage.stream_head(device, stream) if station is None else None
            if station is not None:
                cs = self.storage.advance_stream(device, stream, station, stored,
                                                 max(s for s in win), now, ZERO_HASH)
            else:
                cs = head or (0, ZERO_HASH)
        return results, cs

    @staticmethod
    def _chain(env: dict, h: str, win: dict[int, tuple[str, str]]):
        seq = env["seq"]
        if seq in win:
            if win[seq][0] == h:
                return "duplicate"
            return _Reject("fork", f"seq {seq} already stored with hash {win[seq][0][:12]}…")
        if seq - 1 in win and win[seq - 1][0] != env["prev"]:
            return _Reject("chain-mismatch", f"prev does not match the stored hash of seq {seq - 1}")
        if seq + 1 in win and win[seq + 1][1] != h:
            return _Reject("chain-mismatch", f"stored seq {seq + 1} names another prev")
        return None

    def _project(self, env: dict, h: str, now: str) -> None:
        """Per-kind rows for aggregation; a body the aggregation cannot read is an anomaly."""
        body, kind = env["body"], env["kind"]
        try:
            if kind == "identification-receipt":
                if not (isinstance(body.get("pin"), str) and isinstance(body.get("receipt"), str)
                        and isinstance(body.get("method"), str)
                        and isinstance(body.get("identified_at"), str)):
                    raise ValueError("receipt body lacks pin/receipt/method/identified_at")
                self.storage.add_receipt(env, body)
            elif kind == "results-protocol":
                if not isinstance(body.get("closed_at"), str) or not isinstance(body.get("contests"), list):
                    raise ValueError("results protocol lacks closed_at/contests")
                self.storage.add_protocol(env, body, h)
            elif kind == "identification-summary":
                if type(body.get("voters_on_list")) is not int or type(body.get("identified")) is not int \
                        or not isinstance(body.get("at"), str):
                    raise ValueError("summary lacks voters_on_list/identified/at")
                self.storage.add_summary(env, body)
            elif kind == "heartbeat":
                self.storage.set_heartbeat(env, body, now)
        except ValueError as e:
            self.storage.add_anomaly(now, "bad-body", str(e), env["device"], env["stream"],
                                     env["seq"], env["station"])

    def stream_heads(self) -> list[dict]:
        return self.storage.streams()


def load_stations(obj: Any) -> list[dict]:
    """Station list from a stations JSON (list of stations) or package manifest(s)."""
    if isinstance(obj, dict) and "station" in obj:
        obj = [obj["station"]]
    elif isinstance(obj, dict) and "stations" in obj:
        obj = obj["stations"]
    if not isinstance(obj, list):
        raise EnvelopeError("station list: expected a list of stations or a manifest")
    out = []
    for i, s in enumerate(obj):
        if not isinstance(s, dict) or not isinstance(s.get("id"), str):
            raise EnvelopeError(f"stations[{i}]: expected an object with an id")
        for level in ("region", "oik", "tik"):
            a = s.get(level)
            if not isinstance(a, dict) or not isinstance(a.get("code"), str):
                raise EnvelopeError(f"stations[{i}].{level}: expected {{'code': ..., 'name': ...}}")
        name = s.get("name")
        out.append({**s, "name": json.dumps(name, ensure_ascii=False) if isinstance(name, dict)
                    else name, "region": {**s["region"], "name": _text(s["region"].get("name"))},
                    "oik": {**s["oik"], "name": _text(s["oik"].get("name"))},
                    "tik": {**s["tik"], "name": _text(s["tik"].get("name"))}})
    return out


def _text(v: Any) -> str | None:
    if isinstance(v, dict):
        return v.get("ru") or v.get("ky")
    return v if isinstance(v, str) else None
