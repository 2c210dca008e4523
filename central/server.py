"""The receiver's HTTP face: POST /v1/batches, JSON aggregation, /openapi.json.

Standard library ``ThreadingHTTPServer``: enough for the reference receiver
(one writer behind the storage lock; reads are short) and no new dependency.
Every request is answered with JSON; a handler error is a 500, never a dead
server. Slow clients are cut by a socket timeout; bodies need a
Content-Length within the batch limit.

Example::

    server = make_server(receiver, "127.0.0.1", 8700)
    server.serve_forever()
"""

from __future__ import annotations

import gzip
import json
import logging
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from base.paths import PACKAGE_MANIFEST
from central import aggregate
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.canonical import parse
from sync.envelope import MAX_BATCH_BYTES
from sync.errors import SyncError

log = logging.getLogger("uchastok.central.server")
SOCKET_TIMEOUT = 30.0

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Uchastok reference receiver", "version": "1",
             "description": "Signed envelope intake and preliminary aggregation (docs/protocol.md)."},
    "paths": {
        "/v1/batches": {"post": {
            "summary": "Upload a batch of envelopes of one device and stream (gzip allowed)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Batch"}}}},
            "responses": {
                "200": {"description": "Signed ack", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SignedAck"}}}},
                "400": {"description": "Malformed batch"},
                "403": {"description": "Unenrolled device or bad certificate"},
                "413": {"description": "Batch too large"},
                "429": {"description": "Too much unauthenticated input from this client;"
                                       " see Retry-After"},
                "503": {"description": "Unavailable; see Retry-After"}}}},
        "/v1/turnout": {"get": {
            "summary": "Identified voters per station over time",
            "parameters": [{"name": "bucket", "in": "query",
                            "schema": {"type": "string", "enum": ["minute", "hour", "day"]}}],
            "responses": {"200": {"description": "Turnout series per station and the checked total"}}}},
        "/v1/results": {"get": {
            "summary": "Preliminary results from checked protocols by Region/ОИК/ТИК/УИК",
            "parameters": [{"name": "level", "in": "query",
                            "schema": {"type": "string", "enum": ["region", "oik", "tik", "uik"]}}],
            "responses": {"200": {"description": "Groups with contests and votes; held stations"}}}},
        "/v1/stations": {"get": {"summary": "Stations reported / verified / missing",
                                 "responses": {"200": {"description": "Station status lists"}}}},
        "/v1/anomalies": {"get": {"summary": "Signed evidence, gaps, PINs identified at two stations,"
                                             " unauthenticated junk per client",
                                  "responses": {"200": {"description": "Anomaly lists"}}}},
        "/v1/streams": {"get": {"summary": "Per device and stream: highest contiguous seq",
                                "responses": {"200": {"description": "Stream heads"}}}},
        "/v1/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
    },
    "components": {"schemas": {
        "Batch": {"type": "object", "required": ["type", "version", "device", "stream",
                                                   "certificate", "envelopes"],
                  "properties": {"type": {"type": "string", "enum": ["uchastok-batch"]},
                                 "version": {"type": "integer", "enum": [1]},
                                 "device": {"type": "string"},
                                 "stream": {"type": "string", "enum": ["identify", "count"]},
                                 "certificate": {"type": "object", "nullable": True},
                                 "envelopes": {"type": "array", "minItems": 1, "maxItems": 500,
                                               "items": {"$ref": "#/components/schemas/Envelope"}}}},
        "Envelope": {"type": "object", "additionalProperties": False,
                     "required": ["version", "kind", "election", "station", "device", "stream",
                                  "seq", "prev", "created_at", "body", "cert", "signature"],
                     "properties": {"version": {"type": "integer"}, "kind": {"type": "string"},
                                    "election": {"type": "string"}, "station": {"type": "string"},
                                    "device": {"type": "string"}, "stream": {"type": "string"},
                                    "seq": {"type": "integer", "minimum": 1},
                                    "prev": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "created_at": {"type": "string"}, "body": {"type": "object"},
                                    "cert": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                    "signature": {"type": "string"}}},
        "SignedAck": {"type": "object", "required": ["signed", "signer", "signature"],
                      "properties": {"signed": {"type": "object"}, "signer": {"type": "string"},
                                     "signature": {"type": "string"}}},
    }},
}


class ReceiverServer(ThreadingHTTPServer):
    """Threaded HTTP server; with ``tls`` (an ``ssl.SSLContext``) each connection is TLS,
    the handshake done in the connection's own thread under the socket timeout."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, receiver: Receiver, tls: ssl.SSLContext | None = None):
        super().__init__(addr, _Handler)
        self.receiver = receiver
        self.tls = tls

    def finish_request(self, request, client_address):
        if self.tls is not None:
            request.settimeout(SOCKET_TIMEOUT)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as e:
                log.info("TLS handshake with %s failed: %s", client_address, e)
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: ReceiverServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT

    def log_message(self, fmt, *args):  # route to logging, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        headers = dict(headers or {})
        if len(data) > 1024 and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            data = gzip.compress(data, compresslevel=6, mtime=0)  # acks cross 2G links too
            headers["Content-Encoding"] = "gzip"
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def do_POST(self):  # noqa: N802 (http.server naming)
        try:
            if urlparse(self.path).path != "/v1/batches":
                return self._send(404, {"error": "not-found"})
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                return self._send(411, {"error": "length-required"})
            n = int(length)
            if n > MAX_BATCH_BYTES:
                self.close_connection = True
                return self._send(413, {"error": "too-large", "detail": f"{n} bytes"})
            data = self.rfile.read(n)
            if len(data) != n:
                self.close_connection = True
                return None
            reply = self.server.receiver.handle_batch(data, self.headers.get("Content-Encoding"),
                                                      self.client_address[0])
            return self._send(reply.status, reply.body, reply.headers)
        except OSError:
            self.close_connection = True
        except Exception:
            log.exception("POST failed")
            self._send(500, {"error": "internal"})

    def do_GET(self):  # noqa: N802
        u = urlparse(self.path)
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        st = self.server.receiver.storage
        try:
            if u.path == "/openapi.json":
                return self._send(200, OPENAPI)
            if u.path == "/v1/health":
                return self._send(200, {"ok": True, "envelopes": st.envelope_count()})
            if u.path == "/v1/turnout":
                return self._send(200, aggregate.turnout(st, q.get("bucket", "hour")))
            if u.path == "/v1/results":
                return self._send(200, aggregate.results(st, q.get("level", "region")))
            if u.path == "/v1/stations":
                return self._send(200, aggregate.stations(st))
            if u.path == "/v1/anomalies":
                return self._send(200, aggregate.anomalies(st))
            if u.path == "/v1/streams":
                return self._send(200, st.streams())
            return self._send(404, {"error": "not-found"})
        except ValueError as e:
            return self._send(400, {"error": "bad-request", "detail": str(e)})
        except Exception:
            log.exception("GET %s failed", u.path)
            return self._send(500, {"error": "internal"})


def tls_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """Server-side TLS 1.2+ context from a PEM certificate chain and key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def make_server(receiver: Receiver, host: str = "127.0.0.1", port: int = 0, *,
                tls: ssl.SSLContext | None = None) -> ReceiverServer:
    return ReceiverServer((host, port), receiver, tls)


def open_receiver(db: str | Path, ack_key: str | Path, trust: str | Path, *,
                  election: str | None = None, package_dir: str | Path | None = None,
                  stations: str | Path | None = None) -> Receiver:
    """A Receiver over ``db`` with the ack key, the provisioning authority and station lists."""
    rx = Receiver(Storage(db), signing.load_private_key(ack_key), signing.load_public_key(trust),
                  election_id=election)
    for src in (Path(package_dir) / PACKAGE_MANIFEST if package_dir else None, stations):
        if src:
            obj = parse(Path(src).read_bytes())
            if rx.election_id is None and isinstance(obj, dict) and isinstance(obj.get("election"), dict):
                rx.election_id = obj["election"].get("id")
            rx.register_stations(obj)
    return rx


def serve(db: str | Path, host: str, port: int, ack_key: str | Path, trust: str | Path, *,
          election: str | None = None, package_dir: str | Path | None = None,
          stations: str | Path | None = None, tls_cert: str | Path | None = None,
          tls_key: str | Path | None = None, ready: threading.Event | None = None,
          stop: threading.Event | None = None) -> None:
    """Run the receiver until stopped (SIGTERM/SIGINT or ``stop``); TLS with cert and key."""
    rx = open_receiver(db, ack_key, trust, election=election, package_dir=package_dir,
                       stations=stations)
    tls = tls_context(tls_cert, tls_key) if tls_cert else None
    server = make_server(rx, host, port, tls=tls)
    scheme = "https" if tls else "http"
    print(json.dumps({"listening": f"{scheme}://{server.server_address[0]}:{server.server_address[1]}"}),
          flush=True)
    if ready:
        ready.set()
    if stop:
        threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        rx.storage.close()


def enroll_file(db: str | Path, trust: str | Path, cert_file: str | Path) -> dict[str, Any]:
    """Enrol the device certificate in ``cert_file`` (verified against ``trust``)."""
    storage = Storage(db)
    try:
        rx = Receiver(storage, None, signing.load_public_key(trust))  # type: ignore[arg-type]
        cert = rx.enroll(parse(Path(cert_file).read_bytes()))
    finally:
        storage.close()
    return {"device_id": cert.device_id, "station_id": cert.station_id,
            "election_id": cert.election_id, "cert_ref": cert.ref, "roles": list(cert.roles)}


def report(db: str | Path, what: str, **kw) -> dict[str, Any]:
    """One aggregation (``results``, ``turnout``, ``stations``, ``anomalies``) of ``db``."""
    if not Path(db).exists():

        raise SyncError(f"no receiver database at {db}")
    storage = Storage(db)
    try:
        return getattr(aggregate, what)(storage, **kw)
    finally:
        storage.close()
