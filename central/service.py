"""The receiver's rules: enrol devices, verify envelopes, check chains, store, sign acks.

Pure of HTTP (central/server.py maps requests onto ``Receiver.handle_batch``)
and of SQL (central/storage.py). The checks and their order are those of
docs/protocol.md section 7; each rejected envelope gets a ``rejected`` result
with a code, and the receiver never raises on input: a broken batch is a
``Reply`` with a 4xx status.

Evidence and junk are kept apart (section 7, "Anomalies"). What anyone can
send without a device key (a malformed batch, a foreign or missing
certificate, an envelope rejected before its signature verified) is junk: it
is counted per client (``client_key``: an IPv4 address or an IPv6 /64) and
code in one counter row, never charged to the device or station it names,
and each client has a budget (``JunkBudget``); past it, junk is answered 429
with ``Retry-After`` and counted in memory until the client's next counted
junk. Signed evidence (a rejection after the device's signature verified:
wrong station or election, role, validity, fork, chain; a body the
aggregation cannot read) goes to the anomaly list with device and station,
which junk therefore never displaces. A batch holding anything
authenticated is always answered with its ack, whatever the client's budget:
stations behind one carrier NAT share an address with whoever else is there.

Example::

    rx = Receiver(Storage("central.db"), ack_key, provisioning_pub, election_id="kg-2025")
    reply = rx.handle_batch(request_bytes, "gzip")
    reply.status, reply.body    # 200, the signed ack
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any

from base.clock import SystemClock, iso
from central.storage import Storage
from sync import signing
from sync.canonical import canonical, parse
from sync.certificate import DeviceCertificate, verify_certificate
from sync.envelope import (
    MAX_BODY_BYTES,
    MAX_ENVELOPE_BYTES,
    MAX_SEQ,
    ZERO_HASH,
    body_size,
    canonical_pair,
    certificate_problem,
    check_shape,
    decompress,
    is_time,
    parse_batch,
    sign_ack,
)
from sync.errors import EnvelopeError, SyncError, VerificationError
from sync.pin import pin_problem

log = logging.getLogger("uchastok.central")

TRANSIENT_RETRIES = 3      # a transaction the database rolled back to break a deadlock is tried again

# Rejections decided before the device's signature verified: anyone can cause them.
UNAUTHENTICATED = frozenset({"malformed", "too-large", "wrong-device", "wrong-stream",
                             "unknown-certificate", "bad-signature"})


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def client_key(address: str | None) -> str:
    """Who junk is counted against: an IPv4 address, or the /64 of an IPv6 one (one subscriber)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return (address or "-")[:64]
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped if ip.version == 6 else ip)


class JunkBudget:
    """A token bucket per client for unauthenticated input: ``capacity`` at once, then ``per_second``.

    Bounded memory: the ``max_clients`` most recently seen clients are remembered.
    Time comes from the receiver's clock (seconds), so tests need no waiting.
    """

    def __init__(self, capacity: float = 30, per_second: float = 0.5, max_clients: int = 65536):
        self.capacity = capacity
        self.per_second = per_second
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.suppressed: Counter[str] = Counter()
        self.lock = threading.Lock()     # the server's intake threads share one budget

    def __repr__(self) -> str:
        return f"JunkBudget({self.capacity}, {self.per_second}/s, {len(self._buckets)} clients)"

    def take(self, client: str, now: float) -> bool:
        """Spend one token of ``client``; False when its budget is spent."""
        with self.lock:
            return self._take(client, now)

    def _take(self, client: str, now: float) -> bool:
        tokens, then = self._buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - then) * self.per_second)
        ok = tokens >= 1
        self._buckets[client] = (tokens - 1 if ok else tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return ok

    def retry_after(self) -> int:
        return max(1, math.ceil(1 / self.per_second))


class _Reject(Exception):
    def __init__(self, code: str, text: str):
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class Receiver:
    """The central side of docs/protocol.md: one instance per database."""

    def __init__(self, storage: Storage, ack_key: signing.PrivateKey,
                 authority_pub: signing.PublicKey, *, election_id: str | None = None,
                 clock=None, logger: logging.Logger | None = None,
                 junk_budget: JunkBudget | None = None):
        self.storage = storage
        self.ack_key = ack_key
        self.authority_pub = authority_pub
        self.election_id = election_id
        self.clock = clock or SystemClock()
        self.log = logger or log
        self._certs: dict[str, DeviceCertificate] = {}
        self._stations: set[str] | None = None
        self.junk_budget = junk_budget or JunkBudget()

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
        """Register the station list (a list of stations, or a package manifest: its station,
        with the voters on its list, and its election's day and time zone)."""
        election = stations.get("election") if isinstance(stations, dict) else None
        if isinstance(election, dict) and isinstance(election.get("id"), str) \
                and isinstance(election.get("voting_day"), str):
            self.storage.register_election(election["id"], election["voting_day"],
                                           election.get("time_zone") or "Asia/Bishkek",
                                           election.get("polls_open"), election.get("polls_close"))
        n = self.storage.register_stations(load_stations(stations))
        self._stations = None
        return n

    # --- batches ------------------------------------------------------------------------------

    def handle_batch(self, data: bytes, content_encoding: str | None = None,
                     client: str | None = None) -> Reply:
        """Process one POST /v1/batches body from ``client`` (its address); never raises on bad input."""
        now = iso(self.clock.now())
        client = client_key(client)
        try:
            batch = parse_batch(decompress(data, content_encoding))
        except EnvelopeError as e:
            code = "too-large" if "exceed" in str(e) else "malformed"
            if (limited := self._junk(client, {f"batch-{code}": 1}, str(e), now)) is not None:
                return limited
            return Reply(413 if code == "too-large" else 400, {"error": code, "detail": str(e)})
        device, stream = batch["device"], batch["stream"]
        if batch["certificate"] is not None:
            try:
                cert = verify_certificate(batch["certificate"], self.authority_pub,
                                          device_id=device)
                if cert.ref not in self._certs:
                    self.enroll(batch["certificate"])
            except SyncError as e:
                if (limited := self._junk(client, {"bad-certificate": 1},
                                          f"batch naming device {device}: {e}", now)) is not None:
                    return limited
                return Reply(403, {"error": "bad-certificate", "detail": str(e)})
        certs = self._certs_of(device)
        if not certs:
            if (limited := self._junk(client, {"unenrolled-device": 1},
                                      f"batch naming unenrolled device {device}", now)) is not None:
                return limited
            return Reply(403, {"error": "unenrolled-device",
                               "detail": f"device {device} is not enrolled"})
        try:
            for attempt in range(TRANSIENT_RETRIES + 1):
                try:
                    results, (cs, ch), junk = self._store(batch, certs, now)
                    break
                except Exception as e:   # a deadlock the database broke, a busy SQLite: once more
                    if attempt == TRANSIENT_RETRIES or not self.storage.is_transient(e):
                        raise
                    self.log.warning("batch of %s/%s: %s; retrying", device, stream, type(e).__name__)
            ack = sign_ack(self.ack_key, device, stream, cs, ch, results, now)
        except Exception as e:  # a bug must not take the service down; the station resends
            self.log.exception("storing a batch of %s/%s failed", device, stream)
            return Reply(500, {"error": "internal", "detail": type(e).__name__})
        if junk:
            limited = self._junk(client, Counter(code for code, _ in junk),
                                 f"batch naming device {device}: {junk[-1][1]}", now)
            if limited is not None and len(junk) == len(results):  # nothing authenticated in it
                return limited
        return Reply(200, ack)

    def _junk(self, client: str, counts: dict[str, int], detail: str, now: str) -> Reply | None:
        """Count unauthenticated input against ``client``; a 429 reply once its budget is spent."""
        budget = self.junk_budget
        if not budget.take(client, self.clock.now().timestamp()):
            with budget.lock:
                budget.suppressed[client] += sum(counts.values())
            wait = budget.retry_after()
            return Reply(429, {"error": "rate-limited",
                               "detail": f"too much unauthenticated input from {client}; retry after {wait} s"},
                         {"Retry-After": str(wait)})
        counts = dict(counts)
        with budget.lock:
            held = budget.suppressed.pop(client, 0)
        if held:
            counts["rate-limited"] = counts.get("rate-limited", 0) + held
        self.storage.count_junk(client, counts, detail, now)
        return None

    def _check(self, env: Any, batch: dict, certs: dict[str, DeviceCertificate],
               stored: dict[int, tuple[str, str]] | None = None) -> tuple[str, bytes]:
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
        h = signing.sha256_hex(data)
        if stored and stored.get(env["seq"], ("",))[0] == h:
            return h, data     # byte for byte an envelope verified and stored before: a replay costs no Ed25519
        # The signature before anything else about the certificate: every later code is
        # signed evidence against the device, every earlier one junk anyone could send.
        try:
            signing.verify(cert.public_key, signing.unb64(env["signature"], "signature"), signed)
        except VerificationError as e:
            raise _Reject("bad-signature", str(e)) from e
        stations = self.station_list()
        if stations and env["station"] not in stations:
            raise _Reject("wrong-station", f"station {env['station']} is not on the station list")
        if self.election_id and env["election"] != self.election_id:
            raise _Reject("wrong-election", f"election {env['election']} is not ours ({self.election_id})")
        problem = certificate_problem(env, cert)
        if problem is not None:
            raise _Reject(*problem)
        return h, data

    def _store(self, batch: dict, certs: dict[str, DeviceCertificate], now: str):
        """Check and store each envelope; (results, (contiguous seq, hash), junk (code, text) list)."""
        device, stream = batch["device"], batch["stream"]
        junk: list[tuple[str, str]] = []
        checked: list[tuple[Any, str | None, bytes | None, _Reject | None]] = []
        given = [e["seq"] for e in batch["envelopes"] if isinstance(e, dict) and type(e.get("seq")) is int
                 and 1 <= e["seq"] <= MAX_SEQ]
        stored = self.storage.window(device, stream, min(given), max(given)) if given else {}
        for env in batch["envelopes"]:
            try:
                h, data = self._check(env, batch, certs, stored)
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
            self.storage.lock_device(device)   # other receiver processes wait for this batch's end
            win = self.storage.window(device, stream, min(seqs) - 1, max(seqs) + 1) if seqs else {}
            accepted: list[tuple[dict, str, bytes]] = []
            for env, h, data, rej in checked:
                seq = env.get("seq") if isinstance(env, dict) and type(env.get("seq")) is int \
                    and 1 <= env["seq"] <= MAX_SEQ else None
                if rej is None:
                    rej = self._chain(env, h, win)
                    if rej == "duplicate":
                        results.append({"seq": seq, "hash": h, "status": "duplicate", "reason": None})
                        continue
                if rej is not None:
                    if rej.code in UNAUTHENTICATED:  # the named device and station did not sign it
                        junk.append((rej.code, rej.text))
                    else:
                        self.storage.add_anomaly(now, rej.code, rej.text, device, stream, seq,
                                                 env["station"])
                    results.append({"seq": seq, "hash": h, "status": "rejected",
                                    "reason": f"{rej.code}: {rej.text}"[:300]})
                    continue
                accepted.append((env, h, data))
                win[seq] = (h, env["prev"])
                station = env["station"]
                stored += 1
                results.append({"seq": seq, "hash": h, "status": "stored", "reason": None})
            # In bulk, after the checks: one executemany (a pipeline on PostgreSQL, not a round
            # trip per row); the same transaction, so all of it is stored or none.
            self.storage.insert_envelopes(accepted, now)
            self._project_many(accepted, now)
            head = self.storage.stream_head(device, stream) if station is None else None
            if station is not None:
                cs = self.storage.advance_stream(device, stream, station, stored,
                                                 max(s for s in win), now, ZERO_HASH)
            else:
                cs = head or (0, ZERO_HASH)
        return results, cs, junk

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

    def rebuild_projections(self) -> int:
        """Derive every aggregate again from the stored envelopes (the truth), in one transaction.

        For a schema migration that changes a projection, and to check a restored
        backup (docs/operations.md "Central database"). Returns the envelopes replayed.
        """
        n = 0
        with self.storage.transaction():
            self.storage.clear_projections()
            for data, h, received_at in self.storage.iter_envelopes():
                self._project(parse(data), h, received_at, record=False)
                n += 1
        return n

    def _project_many(self, accepted: list[tuple[dict, str, bytes]], now: str, record: bool = True) -> None:
        """``_project`` for a batch: the receipts (nearly all of a batch) in one bulk call."""
        receipts = []
        for env, h, _data in accepted:
            if env["kind"] == "identification-receipt":
                problem = _receipt_problem(env["body"])
                if problem is None:
                    receipts.append((env, env["body"]))
                elif record:
                    self.storage.add_anomaly(now, "bad-body", problem, env["device"], env["stream"],
                                             env["seq"], env["station"])
            else:
                self._project(env, h, now, record)
        self.storage.add_receipts(receipts)

    def _project(self, env: dict, h: str, now: str, record: bool = True) -> None:
        """Per-kind rows for aggregation; a body the aggregation cannot read is an anomaly."""
        body, kind = env["body"], env["kind"]
        try:
            if kind == "identification-receipt":
                if problem := _receipt_problem(body):
                    raise ValueError(problem)
                self.storage.add_receipt(env, body)
            elif kind == "results-protocol":
                if not is_time(body.get("closed_at")) or not isinstance(body.get("contests"), list):
                    raise ValueError("results protocol lacks closed_at (a TIME)/contests")
                self.storage.add_protocol(env, body, h, now)
            elif kind == "identification-summary":
                if type(body.get("voters_on_list")) is not int or type(body.get("identified")) is not int \
                        or not is_time(body.get("at")):
                    raise ValueError("summary lacks voters_on_list/identified/at (a TIME)")
                self.storage.add_summary(env, body)
            elif kind == "heartbeat":
                self.storage.set_heartbeat(env, body, now)
        except ValueError as e:
            if record:
                self.storage.add_anomaly(now, "bad-body", str(e), env["device"], env["stream"],
                                         env["seq"], env["station"])

    def stream_heads(self) -> list[dict]:
        return self.storage.streams()


def _receipt_problem(body: dict) -> str | None:
    """Why the aggregation cannot count this receipt body (None: it can)."""
    if not (isinstance(body.get("receipt"), str) and isinstance(body.get("method"), str)
            and is_time(body.get("identified_at"))):
        return "receipt body lacks receipt/method/identified_at (a TIME)"
    if problem := pin_problem(body.get("pin")):  # a look-alike would dodge the double check
        return f"receipt PIN {str(body.get('pin'))[:20]!r} is malformed: {problem}"
    return None


def load_stations(obj: Any) -> list[dict]:
    """Station list from a stations JSON (list of stations) or package manifest(s)."""
    if isinstance(obj, dict) and "station" in obj:
        rows = (obj.get("voters") or {}).get("rows") if isinstance(obj.get("voters"), dict) else None
        st = obj["station"]
        # The package's own list is the registered one; a remote site's list is the national one
        # (every voter may come), never that site's list size.
        if isinstance(st, dict) and "voters_on_list" not in st and type(rows) is int \
                and st.get("kind") != "remote-site":
            st = {**st, "voters_on_list": rows}
        obj = [st]
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
    """A name as stored: plain text, or {"ky": …, "ru": …} kept whole as JSON text (the portal picks)."""
    if isinstance(v, dict):
        return json.dumps({k: t for k, t in v.items() if isinstance(t, str)}, ensure_ascii=False)
    return v if isinstance(v, str) else None
