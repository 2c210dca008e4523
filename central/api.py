"""The central API as an ASGI app (Starlette): intake of batches and the JSON views.

``make_api(receiver, config=ApiConfig(...), extra_routes=[...])`` answers
docs/protocol.md sections 5 and 9: ``POST /v1/batches``; ``GET /v1/turnout``,
``/v1/results``, ``/v1/stations``, ``/v1/remote-voting``, ``/v1/streams``,
``/v1/anomalies``, ``/v1/health`` and ``/openapi.json``; ``extra_routes`` (the portal's pages)
are served after them under the same limits. central/server.py runs it under
uvicorn. What it guarantees:

- **Nothing slow on the event loop.** ``Receiver.handle_batch`` (Ed25519,
  the database) runs in the intake thread pool, every database read and every
  JSON rendering in the read pool; two capacity limiters, so a crowd of
  readers never takes the threads uploads need.
- **Bodies are bounded in size and time.** A ``Content-Length`` over the
  limit (the batch limit, ``MAX_BATCH_BYTES``) is refused 413 before a byte
  of the body is read; a chunked body is cut at the limit (413); a body not
  received within ``body_timeout`` seconds is 408. The connection is then
  drained a moment and closed by central/server.py (no ``Connection: close``
  here: with it uvicorn closes at once, the unread body resets the connection
  and the client may never read the answer). uvicorn times out neither a slow
  body nor slow headers: the header deadline is central/server.py's. What the receiver makes of the
  bytes (gzip within the limit, strict JSON, shapes) is central/service.py's.
- **Rate limits** (token buckets, in memory, per process: with N worker
  processes a client gets up to N times the figures). Per device, batches
  (``device_batches``: a burst, then a rate): a batch counts only when the
  device signed something in it (an envelope stored, or signed evidence),
  since anyone can name a device; a device past its budget gets 429 with
  ``Retry-After`` before its batch is verified. Per client address (IPv4, or
  the /64 of IPv6: ``central.service.client_key``), GETs (``gets``), except
  for an operator's token; unauthenticated input to ``/v1/batches`` is the
  receiver's own ``JunkBudget`` (429 past it).
- **PINs only to operators.** ``/v1/anomalies`` lists voter PINs identified
  at two stations only to a request carrying ``Authorization: Bearer TOKEN``
  whose SHA-256 is among ``config.operators`` (``load_operators``: a file of
  hex hashes, compared in constant time; a wrong token is 401), as
  ``aggregate.anomalies``. Anyone else gets ``aggregate.public_anomalies``:
  counts only (evidence per code and station, streams with gaps, PINs
  identified twice, unauthenticated events), never a PIN or a text.
- **Reads computed once.** Each view (per query and per public/operator
  view) is computed at most once per ``read_cache`` seconds however many
  clients ask at the same time; the others wait for that answer.
- Every answer is JSON (gzip over 1 KiB when asked); a failing handler is a
  500 ``{"error": "internal"}`` and the worker goes on.

Example::

    app = make_api(receiver, config=ApiConfig(operators=load_operators("operators.txt")))
    uvicorn.run(app)      # central/server.py: make_server / serve do it with the limits
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import hmac
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from central import aggregate
from central.claims import ClaimDesk
from central.service import UNAUTHENTICATED, Receiver, Reply, client_key
from sync.envelope import MAX_BATCH_BYTES, decompress, parse_batch
from sync.errors import EnvelopeError, SyncError

log = logging.getLogger("uchastok.central.api")

GZIP_ABOVE = 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class OperatorsError(SyncError):
    """Raised when the operators file cannot be read or holds a line that is not a SHA-256 hash."""


@dataclass(frozen=True)
class Bucket:
    """A token bucket's shape: ``burst`` at once, then ``per_second``."""

    burst: float
    per_second: float


@dataclass(frozen=True)
class ApiConfig:
    """What the app enforces; central/server.py's ``Limits`` hold the connection-level ones."""

    max_body: int = MAX_BATCH_BYTES
    body_timeout: float = 60.0           # headers done -> whole body received
    # A station sends a batch per ack (<= 500 envelopes): catching up 3,000 receipts after
    # hours offline took 15 batches in tests/central/test_server_limits.py; 120 at once,
    # then one a second, is far above any station and bounds a stolen key's flood.
    device_batches: Bucket | None = Bucket(120, 1.0)
    gets: Bucket | None = Bucket(60, 20.0)     # per client address: a portal page and its files
    operators: frozenset[str] = frozenset()    # SHA-256 hex of each operator token
    read_cache: float = 5.0                    # seconds a computed view is reused (the portal's age too)
    intake_threads: int = 4
    read_threads: int = 8


def load_operators(path: str | Path) -> frozenset[str]:
    """The SHA-256 hashes (hex, one a line; ``#`` comments) of the operators' bearer tokens."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as e:
        raise OperatorsError(f"cannot read operators file {path}: {e}") from e
    hashes = set()
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip().lower()
        if not line:
            continue
        if not _HEX64.match(line):
            raise OperatorsError(f"{path}:{n}: expected the SHA-256 (64 hex digits) of a token")
        hashes.add(line)
    return frozenset(hashes)


def token_hash(token: str) -> str:
    """The line ``load_operators`` expects for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_operator(authorization: str | None, operators: frozenset[str]) -> bool | None:
    """True for a configured token, False for another one, None when no bearer token is sent.

    Every configured hash is compared, in constant time each, whether or not one matched.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False
    h = token_hash(token.strip()).encode()
    found = False
    for known in operators:
        found |= hmac.compare_digest(h, known.encode())
    return found


class RateBuckets:
    """Token buckets per key (bounded: the ``max_keys`` most recent), safe across threads.

    ``ready`` looks without spending, ``charge`` spends after the fact (a device's
    batch counts once it is known to be the device's), ``take`` does both at once.
    Time is the caller's (seconds), so tests need no waiting.
    """

    def __init__(self, shape: Bucket, max_keys: int = 65536):
        self.shape = shape
        self.max_keys = max_keys
        self._tokens: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RateBuckets({self.shape.burst} at once, {self.shape.per_second}/s, {len(self._tokens)} keys)"

    def _level(self, key: str, now: float) -> float:
        tokens, then = self._tokens.pop(key, (self.shape.burst, now))
        return min(self.shape.burst, tokens + max(0.0, now - then) * self.shape.per_second)

    def _put(self, key: str, tokens: float, now: float) -> None:
        self._tokens[key] = (tokens, now)
        while len(self._tokens) > self.max_keys:
            self._tokens.popitem(last=False)

    def ready(self, key: str, now: float) -> bool:
        with self._lock:
            level = self._level(key, now)
            self._put(key, level, now)
            return level >= 1

    def charge(self, key: str, now: float) -> None:
        with self._lock:
            self._put(key, max(-self.shape.burst, self._level(key, now) - 1), now)

    def take(self, key: str, now: float) -> bool:
        with self._lock:
            level = self._level(key, now)
            ok = level >= 1
            self._put(key, level - 1 if ok else level, now)
            return ok

    def retry_after(self, key: str, now: float) -> int:
        """Whole seconds until ``key`` has a token again (at least 1)."""
        with self._lock:
            level = self._level(key, now)
            self._put(key, level, now)
        return max(1, math.ceil((1 - level) / self.shape.per_second))


class _Views:
    """Each view computed once per ``seconds`` however many ask at once (single flight)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict[tuple, tuple[float, asyncio.Future]] = {}

    async def get(self, key: tuple, compute: Callable[[], Any]) -> Any:
        now = time.monotonic()
        hit = self._entries.get(key)
        if hit is not None and (hit[0] > now or not hit[1].done()):
            return await asyncio.shield(hit[1])
        fut: asyncio.Future = asyncio.get_running_loop().create_future()
        self._entries[key] = (now + self.seconds, fut)
        try:
            value = await compute()
        except BaseException as e:
            self._entries.pop(key, None)   # errors are not kept (and bad queries add no keys)
            fut.set_exception(e if isinstance(e, Exception) else RuntimeError("cancelled"))
            fut.exception()                # retrieved: no "never retrieved" warning
            raise
        fut.set_result(value)
        if self.seconds <= 0:
            self._entries.pop(key, None)
        return value


class _Rendered:
    """A JSON answer rendered once, with its gzip form for answers over ``GZIP_ABOVE``."""

    __slots__ = ("status", "data", "gz", "headers")

    def __init__(self, status: int, obj: Any, headers: dict[str, str] | None = None):
        self.status = status
        self.data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
        self.gz = gzip.compress(self.data, compresslevel=6, mtime=0) \
            if len(self.data) > GZIP_ABOVE else None   # acks and views cross 2G links too
        self.headers = dict(headers or {})

    def response(self, request: Request | None = None) -> Response:
        headers = dict(self.headers)
        body = self.data
        if self.gz is not None and request is not None \
                and "gzip" in request.headers.get("accept-encoding", ""):
            body = self.gz
            headers["Content-Encoding"] = "gzip"
        if self.gz is not None:
            headers["Vary"] = "Accept-Encoding"
        return Response(body, self.status, headers, media_type="application/json")


def _error(status: int, code: str, detail: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    body = {"error": code} if detail is None else {"error": code, "detail": detail}
    return _Rendered(status, body, headers).response()


class _TooLarge(Exception):
    pass


class _Api:
    """The routes' state: the receiver, the limits, the pools, the buckets, the cached views."""

    def __init__(self, receiver: Receiver, config: ApiConfig):
        self.receiver = receiver
        self.config = config
        self.intake = anyio.CapacityLimiter(config.intake_threads)
        self.reads = anyio.CapacityLimiter(config.read_threads)
        self.devices = RateBuckets(config.device_batches) if config.device_batches else None
        self.gets = RateBuckets(config.gets) if config.gets else None
        self.views = _Views(config.read_cache)
        self.claims = ClaimDesk(receiver)

    def now(self) -> float:
        return self.receiver.clock.now().timestamp()

    # --- intake ---------------------------------------------------------------------------------

    async def _posted(self, request: Request) -> bytes | Response:
        """The body of a POST, or the answer when it is too large, too slow, gone or unsized."""
        try:
            data = await self._body(request)
        except _TooLarge as e:
            return _error(413, "too-large", str(e))
        except TimeoutError:
            return _error(408, "request-timeout",
                          f"body not received within {self.config.body_timeout:g} s")
        except ClientDisconnect:
            return Response(status_code=400)   # nobody is there to read it
        if data is None:
            return _error(411, "length-required", "a Content-Length or a chunked body")
        return data

    async def batches(self, request: Request) -> Response:
        data = await self._posted(request)
        if isinstance(data, Response):
            return data
        client = request.client.host if request.client else None
        rendered = await anyio.to_thread.run_sync(
            self._intake, data, request.headers.get("content-encoding"), client, limiter=self.intake)
        return rendered.response(request)

    async def _body(self, request: Request) -> bytes | None:
        """The request body within the size limit and the time limit; None if it has no length."""
        limit = self.config.max_body
        length = request.headers.get("content-length")
        if length is None and "chunked" not in request.headers.get("transfer-encoding", "").lower():
            return None
        if length is not None and int(length) > limit:   # h11 has checked it is digits
            raise _TooLarge(f"{int(length)} bytes exceed {limit}")
        chunks, n = [], 0
        with anyio.fail_after(self.config.body_timeout):
            async for chunk in request.stream():
                n += len(chunk)
                if n > limit:
                    raise _TooLarge(f"body exceeds {limit} bytes")
                chunks.append(chunk)
        return b"".join(chunks)

    async def claim(self, request: Request) -> Response:
        """POST /v1/claims: one signed claim (sync/claims.py), answered with a signed decision."""
        data = await self._posted(request)
        if isinstance(data, Response):
            return data
        client = request.client.host if request.client else None
        reply: Reply = await anyio.to_thread.run_sync(self.claims.handle, data, client,
                                                      limiter=self.intake)
        return _Rendered(reply.status, reply.body, reply.headers).response(request)

    def _intake(self, data: bytes, encoding: str | None, client: str | None) -> _Rendered:
        """In the intake pool: the device's budget, then ``Receiver.handle_batch``."""
        device = None
        if self.devices is not None:
            try:   # only to know whose budget: the receiver parses and checks it again
                data, encoding = decompress(data, encoding), None
                device = parse_batch(data)["device"]
            except EnvelopeError:
                pass    # the receiver answers it (and counts it against the client)
            if device is not None and not self.devices.ready(device, self.now()):
                wait = self.devices.retry_after(device, self.now())
                return _Rendered(429, {"error": "rate-limited",
                                       "detail": f"device {device}: too many batches; retry after {wait} s"},
                                 {"Retry-After": str(wait)})
        reply: Reply = self.receiver.handle_batch(data, encoding, client)
        if device is not None and reply.status == 200 and _signed_by_device(reply.body):
            self.devices.charge(device, self.now())
        return _Rendered(reply.status, reply.body, reply.headers)

    # --- views ----------------------------------------------------------------------------------

    async def view(self, key: tuple, make: Callable[[], Any], request: Request) -> Response:
        async def compute() -> _Rendered:
            return await anyio.to_thread.run_sync(lambda: _Rendered(200, make()), limiter=self.reads)
        try:
            rendered = await self.views.get(key, compute)
        except ValueError as e:   # a query the aggregation does not know
            return _error(400, "bad-request", str(e))
        return rendered.response(request)

    async def turnout(self, request: Request) -> Response:
        bucket = request.query_params.get("bucket", "hour")
        return await self.view(("turnout", bucket),
                               lambda: aggregate.turnout(self.receiver.storage, bucket), request)

    async def results(self, request: Request) -> Response:
        level = request.query_params.get("level", "region")
        return await self.view(("results", level),
                               lambda: aggregate.results(self.receiver.storage, level), request)

    async def stations(self, request: Request) -> Response:
        return await self.view(("stations",), lambda: aggregate.stations(self.receiver.storage),
                               request)

    async def streams(self, request: Request) -> Response:
        return await self.view(("streams",), self.receiver.storage.streams, request)

    async def remote(self, request: Request) -> Response:
        return await self.view(("remote",), lambda: aggregate.remote_voting(self.receiver.storage), request)

    async def anomalies(self, request: Request) -> Response:
        who = is_operator(request.headers.get("authorization"), self.config.operators)
        if who is False:
            return _error(401, "unauthorized", "unknown operator token",
                          {"WWW-Authenticate": 'Bearer realm="uchastok"'})
        if who:
            return await self.view(("anomalies", "operator"),
                                   lambda: aggregate.anomalies(self.receiver.storage), request)
        return await self.view(("anomalies", "public"),
                               lambda: aggregate.public_anomalies(self.receiver.storage), request)

    async def health(self, request: Request) -> Response:
        return await self.view(("health",), lambda: {"ok": True,
                                                      "envelopes": self.receiver.storage.envelope_count()},
                               request)

    async def openapi(self, request: Request) -> Response:
        return _OPENAPI.response(request)


def _signed_by_device(ack: dict[str, Any]) -> bool:
    """True if the ack names an envelope stored, or rejected after the device's signature verified."""
    for r in (ack.get("signed") or {}).get("results", []):
        if r.get("status") == "stored":
            return True
        if r.get("status") == "rejected" and (r.get("reason") or "").split(":", 1)[0] not in UNAUTHENTICATED:
            return True
    return False


class _GetLimit:
    """Per client address, GETs (and HEADs) within a token bucket: 429 with Retry-After past it.

    An operator's token is not limited (a wrong one is, like no token).
    """

    def __init__(self, app: ASGIApp, api: _Api):
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        buckets = self.api.gets
        if buckets is None or scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        request = Request(scope)
        if is_operator(request.headers.get("authorization"), self.api.config.operators):
            return await self.app(scope, receive, send)
        key = client_key(request.client.host if request.client else None)
        now = self.api.now()
        if buckets.take(key, now):
            return await self.app(scope, receive, send)
        wait = buckets.retry_after(key, now)
        response = _error(429, "rate-limited", f"too many requests from {key}; retry after {wait} s",
                          {"Retry-After": str(wait)})
        return await response(scope, receive, send)


def _guarded(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except Exception:   # a bug is a 500 for this request, never a dead worker
            log.exception("%s %s failed", request.method, request.url.path)
            return _error(500, "internal")
    endpoint.__name__ = getattr(handler, "__name__", "endpoint")
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    status = getattr(exc, "status_code", 500)
    code = {404: "not-found", 405: "method-not-allowed"}.get(status, "bad-request")
    return _error(status, code, None, dict(getattr(exc, "headers", None) or {}))


def make_api(receiver: Receiver, *, config: ApiConfig | None = None,
             extra_routes: Sequence[BaseRoute] = (), lifespan: Any = None) -> Starlette:
    """The API over ``receiver`` with ``config``'s limits; ``extra_routes`` (the portal) after ours."""
    api = _Api(receiver, config or ApiConfig())
    routes = [
        Route("/v1/batches", _guarded(api.batches), methods=["POST"]),
        Route("/v1/claims", _guarded(api.claim), methods=["POST"]),
        Route("/v1/turnout", _guarded(api.turnout), methods=["GET"]),
        Route("/v1/results", _guarded(api.results), methods=["GET"]),
        Route("/v1/stations", _guarded(api.stations), methods=["GET"]),
        Route("/v1/remote-voting", _guarded(api.remote), methods=["GET"]),
        Route("/v1/streams", _guarded(api.streams), methods=["GET"]),
        Route("/v1/anomalies", _guarded(api.anomalies), methods=["GET"]),
        Route("/v1/health", _guarded(api.health), methods=["GET"]),
        Route("/openapi.json", _guarded(api.openapi), methods=["GET"]),
        *extra_routes,
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error},
                    lifespan=lifespan)
    app.add_middleware(_GetLimit, api=api)
    app.state.api = api
    return app


OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "Uchastok central receiver", "version": "1",
             "description": "Signed envelope intake and preliminary aggregation (docs/protocol.md"
                            " sections 5 and 9). Every answer is JSON; 429 answers carry Retry-After."},
    "components": {
        "securitySchemes": {"operator": {
            "type": "http", "scheme": "bearer",
            "description": "An operator token; the server keeps only its SHA-256 (--operators FILE)."}},
        "responses": {
            "RateLimited": {"description": "Over a per-device or per-address budget; see Retry-After"}},
        "schemas": {
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
    "paths": {
        "/v1/claims": {"post": {
            "summary": "An online claim before a ballot is issued (remote voting; sync/claims.py):"
                       " the centre grants each voter once across all stations",
            "responses": {"200": {"description": "A signed answer: granted, or refused with the reason"
                                                 " and where/when the voter was identified"},
                          "400": {"description": "Malformed claim"},
                          "403": {"description": "Unenrolled device, bad signature, or a certificate"
                                                 " that does not cover the claim"},
                          "413": {"description": "Claim too large"},
                          "429": {"description": "Rate limited; see Retry-After"}}}},
        "/v1/batches": {"post": {
            "summary": "Upload a batch of envelopes of one device and stream (gzip allowed)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Batch"}}}},
            "responses": {
                "200": {"description": "Signed ack", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SignedAck"}}}},
                "400": {"description": "Malformed batch"},
                "403": {"description": "Unenrolled device or bad certificate"},
                "408": {"description": "Body not received in time; the connection is closed"},
                "411": {"description": "Neither Content-Length nor a chunked body"},
                "413": {"description": "Batch too large (Content-Length, body or decompressed)"},
                "429": {"$ref": "#/components/responses/RateLimited"},
                "503": {"description": "Unavailable; see Retry-After"}}}},
        "/v1/turnout": {"get": {
            "summary": "Identified voters per station over time",
            "parameters": [{"name": "bucket", "in": "query",
                            "schema": {"type": "string", "enum": ["hour", "day"]}}],
            "responses": {"200": {"description": "Turnout series per station and the checked total"},
                          "400": {"description": "Unknown bucket"},
                          "429": {"$ref": "#/components/responses/RateLimited"}}}},
        "/v1/results": {"get": {
            "summary": "Preliminary results from checked protocols by Region/ОИК/ТИК/УИК",
            "parameters": [{"name": "level", "in": "query",
                            "schema": {"type": "string", "enum": ["region", "oik", "tik", "uik"]}}],
            "responses": {"200": {"description": "Groups with contests and votes; held stations"},
                          "400": {"description": "Unknown level"},
                          "429": {"$ref": "#/components/responses/RateLimited"}}}},
        "/v1/remote-voting": {"get": {
            "summary": "Remote-voting sites: voters identified per home district, the districts of"
                       " each site's protocol (aggregate.remote_voting); counts only",
            "responses": {"200": {"description": "Sites and totals per home district"},
                          "429": {"$ref": "#/components/responses/RateLimited"}}}},
        "/v1/stations": {"get": {"summary": "Stations reported / verified / missing",
                                 "responses": {"200": {"description": "Station status lists"},
                                               "429": {"$ref": "#/components/responses/RateLimited"}}}},
        "/v1/anomalies": {"get": {
            "summary": "Signed evidence, gaps, PINs identified at two stations, unauthenticated junk"
                       " per client (operators); without an operator token, counts only, never a PIN",
            "security": [{}, {"operator": []}],
            "responses": {"200": {"description": "Anomaly lists"},
                          "401": {"description": "A bearer token that is no operator's"},
                          "429": {"$ref": "#/components/responses/RateLimited"}}}},
        "/v1/streams": {"get": {"summary": "Per device and stream: highest contiguous seq",
                                "responses": {"200": {"description": "Stream heads"},
                                              "429": {"$ref": "#/components/responses/RateLimited"}}}},
        "/v1/health": {"get": {"summary": "Liveness and the count of stored envelopes",
                               "responses": {"200": {"description": "ok"}}}},
    },
}
_OPENAPI = _Rendered(200, OPENAPI)
