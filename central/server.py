"""The receiver's HTTP server: the API of central/api.py under uvicorn, its processes and limits.

``serve(...)`` runs the receiver until SIGTERM/SIGINT (or ``stop``); ``make_server(receiver,
host, port)`` is the same server in this process on a port of its choice, for tests
(``.server_address``, ``.serve_forever()``, ``.shutdown()``, ``.server_close()``).

What the server bounds (``Limits``, docs/operations.md "Central server"):

- **Processes.** ``workers`` > 1: the parent binds the socket, then forks
  that many workers sharing it (the kernel hands each connection to one);
  each opens its own Receiver and storage, and dies with the parent
  (``PR_SET_PDEATHSIG``). A worker that dies is restarted; SIGTERM or SIGINT
  to the parent stops them all gracefully. One worker: no fork.
- **Listen backlog** ``backlog`` (2048; the kernel caps it at
  ``net.core.somaxconn``), so a crowd of stations connecting at once waits in
  the queue instead of being reset.
- **Slow clients.** uvicorn's h11 protocol has no deadline for a request's
  headers (h11 bounds their size, 16 KiB, not their time: a client sending one
  byte a second holds its connection forever, and the keep-alive timer is
  cancelled by any byte), so ``_GuardedH11`` adds one: the headers must be
  complete ``header_timeout`` seconds after the connection (or the previous
  answer), else 408 and close. The body's deadline is the app's
  (``ApiConfig.body_timeout``); after an answer given before the body was all
  sent (413, 404) the rest is read and dropped for ``LINGER`` seconds, then the
  connection is closed (so the client reads the answer instead of a reset). A TLS
  handshake is bounded by asyncio (60 s). An idle keep-alive connection is
  closed after ``keep_alive`` seconds. A TLS connection we close waits
  ``TLS_CLOSE_WAIT`` for the peer's close_notify, not asyncio's 30 s.
- **Connections.** At most ``max_connections`` per worker (beyond, a new
  connection gets 503 with Retry-After and is closed, and uvicorn answers 503
  to requests past it) and ``max_per_client`` per client address (IPv4, or the
  /64 of IPv6), so one host's connections leave room for everyone else.
- **TLS** 1.2 or newer from a PEM chain and key (``tls_context``); stations
  pin the CA (docs/technician-guide.md).

Example::

    serve("central.db", "0.0.0.0", 8700, "ack.key", "provisioning.pub", workers=4,
          tls_cert="server.pem", tls_key="server.key", operators="operators.txt")
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import resource
import signal
import socket
import ssl
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import uvicorn
from starlette.routing import BaseRoute
from uvicorn.protocols.http.h11_impl import H11Protocol

from base.paths import PACKAGE_MANIFEST
from central import aggregate
from central.api import ApiConfig, load_operators, make_api
from central.portal.app import PortalContext, portal_routes
from central.service import Receiver, client_key
from central.storage import is_postgres_url, open_storage
from sync import signing
from sync.canonical import parse
from sync.errors import SyncError

log = logging.getLogger("uchastok.central.server")


@dataclass(frozen=True)
class Limits:
    """Connection-level limits, per worker process (the app's are ``central.api.ApiConfig``)."""

    backlog: int = 2048
    keep_alive: float = 5.0          # an idle keep-alive connection is closed after this
    header_timeout: float = 20.0     # connection (or last answer) -> request headers complete
    max_connections: int = 2048
    max_per_client: int = 256        # stations behind one carrier NAT share an address
    graceful_shutdown: float = 10.0  # running requests get this long on SIGTERM


LINGER = 2.0   # seconds a connection answered before its body ended is drained, then closed
TLS_CLOSE_WAIT = 1.0   # seconds to wait for a TLS peer's close_notify once we close

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Retry-After: 5\r\nConnection: close\r\nContent-Length: 48\r\n\r\n"
         b'{"error":"busy","detail":"too many connections"}')
_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: 59\r\n\r\n"
            b'{"error":"request-timeout","detail":"headers not received"}')


def _guarded_protocol(limits: Limits) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a header deadline and connection caps (one class per server)."""
    per_client: Counter[str] = Counter()

    class _GuardedH11(H11Protocol):
        _header_timer: Any = None
        _client_key: str | None = None
        _abort_armed = False
        _lost = False

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            # h11 writes an answer's head and body apart; with Nagle on, the body waits for the
            # client's delayed ACK of the head: 40 ms added to every answer (measured: 44 ms).
            sock = transport.get_extra_info("socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            key = client_key(self.client[0] if self.client else None)
            if len(self.connections) > limits.max_connections or per_client[key] >= limits.max_per_client:
                transport.write(_BUSY)
                transport.close()
                return
            self._client_key = key
            per_client[key] += 1
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._lost = True
            self._disarm()
            if self._client_key is not None:
                per_client[self._client_key] -= 1
                if per_client[self._client_key] <= 0:
                    del per_client[self._client_key]
                self._client_key = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:   # the headers are in: the app times the body
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self.transport.is_closing():
                return
            if self.conn.their_state is h11.SEND_BODY:
                # Answered before the body was all sent (413, 404...): reading on would let a
                # client trickle the rest forever (the keep-alive timer restarts on each byte),
                # closing at once, with its body unread, would reset the connection and could
                # lose the answer. So the rest is read and dropped for LINGER seconds, then closed.
                self._disarm()
                self._header_timer = self.loop.call_later(LINGER, self._close)
            elif self.conn.their_state is h11.IDLE:
                self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(limits.header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                if self.conn.trailing_data[0]:   # part of a request came: say why it is cut
                    self.transport.write(_TIMEOUT)
                self._close()

        def _close(self) -> None:
            """Close; over TLS, stop waiting for the peer's close_notify after TLS_CLOSE_WAIT
            (asyncio would wait 30 s, the connection counted all along)."""
            if not self.transport.is_closing():   # a second close() of a TLS transport drops
                self.transport.close()            # its protocol, and abort() would then do nothing
            if self.scheme == "https" and not self._abort_armed:
                self._abort_armed = True
                self.loop.call_later(TLS_CLOSE_WAIT, self._abort)

        def _abort(self) -> None:
            if not self._lost:
                self.transport.abort()

        def timeout_keep_alive_handler(self) -> None:
            super().timeout_keep_alive_handler()
            self._close()

        def shutdown(self) -> None:
            super().shutdown()
            if self.transport.is_closing():
                self._close()

    return _GuardedH11


class _Uvicorn(uvicorn.Server):
    """uvicorn's server, stopping on SIGTERM/SIGINT without re-raising the signal afterwards
    (so the caller closes its storage and returns)."""

    @contextlib.contextmanager
    def capture_signals(self):
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        old = {s: signal.signal(s, self.handle_exit) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


class ApiServer:
    """The API on a bound socket, served by uvicorn in the calling thread."""

    def __init__(self, app, sock: socket.socket, *, tls: ssl.SSLContext | None = None,
                 limits: Limits | None = None):
        limits = limits or Limits()
        self.socket = sock
        self.server_address = sock.getsockname()[:2]
        self.tls = tls
        config = uvicorn.Config(
            app, http=_guarded_protocol(limits), loop="asyncio", lifespan="auto",
            ssl_context_factory=(lambda _config, _default: tls) if tls else None,
            backlog=limits.backlog, timeout_keep_alive=limits.keep_alive,  # type: ignore[arg-type]
            limit_concurrency=limits.max_connections,
            timeout_graceful_shutdown=limits.graceful_shutdown,  # type: ignore[arg-type]
            # No proxy in front: the peer is the client the limits count.
            proxy_headers=False, server_header=False, access_log=False, log_config=None)
        self._server = _Uvicorn(config)
        self._running = threading.Event()
        self._done = threading.Event()

    def __repr__(self) -> str:
        return f"ApiServer({self.url})"

    @property
    def url(self) -> str:
        host, port = self.server_address
        return f"{'https' if self.tls else 'http'}://{host}:{port}"

    def serve_forever(self, poll_interval: float | None = None) -> None:
        """Serve until ``shutdown`` (or SIGTERM/SIGINT in the main thread); ``poll_interval``
        is accepted for the standard library's signature (uvicorn looks every 0.1 s)."""
        self._running.set()
        try:
            self._server.run(sockets=[self.socket])
        finally:
            self._done.set()

    def shutdown(self) -> None:
        """Stop serving and wait until ``serve_forever`` has returned."""
        self._server.should_exit = True
        if self._running.is_set():
            self._done.wait()

    def server_close(self) -> None:
        self.socket.close()


def tls_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """Server-side TLS 1.2+ context from a PEM certificate chain and key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert_file), str(key_file))
    return ctx


def bind_socket(host: str, port: int, backlog: int = Limits.backlog) -> socket.socket:
    """A listening TCP socket (IPv6 when ``host`` is an IPv6 address), inheritable by workers."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def make_server(receiver: Receiver, host: str = "127.0.0.1", port: int = 0, *,
                tls: ssl.SSLContext | None = None, config: ApiConfig | None = None,
                limits: Limits | None = None, extra_routes: Sequence[BaseRoute] = ()) -> ApiServer:
    """The API over ``receiver`` bound to ``host``:``port`` (0: a free port), not yet serving."""
    limits = limits or Limits()
    return ApiServer(make_api(receiver, config=config, extra_routes=extra_routes),
                     bind_socket(host, port, limits.backlog), tls=tls, limits=limits)


def portal_for(db: str | Path, downloads: str | Path | None = None,
               package_dir: str | Path | None = None) -> Callable[[Receiver], Sequence[BaseRoute]]:
    """The portal's routes for a receiver (made in each worker from its own storage)."""
    if downloads is None:
        downloads = Path(db).parent / "downloads" if not is_postgres_url(db) else Path("central-downloads")
    contests = None
    if package_dir:
        manifest = parse((Path(package_dir) / PACKAGE_MANIFEST).read_bytes())
        contests = manifest.get("contests") if isinstance(manifest, dict) else None
        tz = (manifest.get("election") or {}).get("time_zone") if isinstance(manifest, dict) else None
    else:
        tz = None

    def routes(rx: Receiver) -> Sequence[BaseRoute]:
        Path(downloads).mkdir(parents=True, exist_ok=True)
        return portal_routes(PortalContext(rx.storage, rx.authority_pub, rx.ack_key, rx.election_id,
                                           Path(downloads), contests=contests, clock=rx.clock,
                                           time_zone=tz or "Asia/Bishkek"))
    return routes


def open_receiver(db: str | Path, ack_key: str | Path, trust: str | Path, *,
                  election: str | None = None, package_dir: str | Path | None = None,
                  stations: str | Path | None = None) -> Receiver:
    """A Receiver over ``db`` with the ack key, the provisioning authority and station lists."""
    rx = Receiver(open_storage(db), signing.load_private_key(ack_key), signing.load_public_key(trust),
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
          stop: threading.Event | None = None, workers: int = 1, backlog: int = Limits.backlog,
          operators: str | Path | None = None, limits: Limits | None = None,
          config: ApiConfig | None = None,
          routes_for: Callable[[Receiver], Sequence[BaseRoute]] | None = None,
          portal: bool = True, downloads: str | Path | None = None) -> None:
    """Run the receiver until stopped (SIGTERM/SIGINT or ``stop``); TLS with cert and key.

    With ``portal`` (the default) the public results portal (central/portal) is served
    beside the API at ``/``; its bulk file is written under ``downloads`` (default: a
    ``downloads`` folder beside a SQLite database, else ``./central-downloads``).

    ``workers`` processes share one listening socket; ``operators`` is the file of
    operator token hashes (``central.api.load_operators``). ``routes_for(receiver)``
    makes routes served beside the API (the portal's), in each worker after its
    fork, from that worker's own receiver and storage.
    """
    if workers < 1:
        raise SyncError(f"workers must be at least 1, not {workers}")
    limits = limits or Limits(backlog=backlog)
    if config is None:
        config = ApiConfig(operators=load_operators(operators) if operators else frozenset())
    # Everything that can fail on a typo fails here, once, before a socket or a fork.
    tls = tls_context(tls_cert, tls_key) if tls_cert else None
    rx = open_receiver(db, ack_key, trust, election=election, package_dir=package_dir,
                       stations=stations)
    if routes_for is None and portal:
        routes_for = portal_for(db, downloads, package_dir)
    _raise_file_limit()
    sock = bind_socket(host, port, limits.backlog)
    scheme = "https" if tls else "http"
    shown = f"[{sock.getsockname()[0]}]" if sock.family == socket.AF_INET6 else sock.getsockname()[0]
    print(json.dumps({"listening": f"{scheme}://{shown}:{sock.getsockname()[1]}",
                      "workers": workers}), flush=True)
    if workers == 1:
        server = ApiServer(make_api(rx, config=config, extra_routes=routes_for(rx) if routes_for else ()),
                           sock, tls=tls, limits=limits)
        if stop:
            threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True).start()
        if ready:
            ready.set()
        try:
            server.serve_forever()
        finally:
            sock.close()
            rx.storage.close()
        return
    election_id = rx.election_id
    rx.storage.close()   # each worker opens its own, after the fork

    def worker() -> None:
        wrx = Receiver(open_storage(db), signing.load_private_key(ack_key),
                       signing.load_public_key(trust), election_id=election_id)
        try:
            extra = routes_for(wrx) if routes_for else ()
            ApiServer(make_api(wrx, config=config, extra_routes=extra), sock, tls=tls,
                      limits=limits).serve_forever()
        finally:
            wrx.storage.close()

    try:
        _prefork(workers, worker, ready=ready, stop=stop)
    finally:
        sock.close()


def _raise_file_limit() -> None:
    """Each connection is a file descriptor: take the hard limit as the soft one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _prefork(workers: int, run: Callable[[], None], *, ready: threading.Event | None,
             stop: threading.Event | None) -> None:
    """Fork ``workers`` processes running ``run``; restart any that dies; stop all on a signal."""
    parent = os.getpid()
    children: dict[int, float] = {}
    stopping: list[int] = []   # a plain list: a signal handler must not take the locks an Event waits on

    def spawn() -> None:
        pid = os.fork()
        if pid == 0:   # the worker: default signals (uvicorn installs its own), dies with the parent
            code = 0
            try:
                for s in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
                    signal.signal(s, signal.SIG_DFL)
                _die_with_parent()
                if os.getppid() != parent:   # the parent died before prctl
                    os._exit(0)
                run()
            except BaseException:   # noqa: BLE001 - a worker reports and exits, never returns
                log.exception("receiver worker %d failed", os.getpid())
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = time.monotonic()

    def on_signal(signum, frame) -> None:
        stopping.append(signum)

    old = {}
    if threading.current_thread() is threading.main_thread():
        old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for _ in range(workers):
            spawn()
        if ready:
            ready.set()
        while not stopping and not (stop and stop.is_set()):
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, status = 0, 0
            if pid and pid in children:
                started = children.pop(pid)
                log.error("receiver worker %d exited (status %d); starting another", pid, status)
                if time.monotonic() - started < 1.0:
                    time.sleep(1.0)   # a worker failing at start: do not spin
                spawn()
            else:
                time.sleep(0.2)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + Limits.graceful_shutdown + 5
        while children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid:
                children.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        for s, h in old.items():
            signal.signal(s, h)
        sys.stdout.flush()


def enroll_file(db: str | Path, trust: str | Path, cert_file: str | Path) -> dict[str, Any]:
    """Enrol the device certificate in ``cert_file`` (verified against ``trust``)."""
    storage = open_storage(db)
    try:
        rx = Receiver(storage, None, signing.load_public_key(trust))  # type: ignore[arg-type]
        cert = rx.enroll(parse(Path(cert_file).read_bytes()))
    finally:
        storage.close()
    return {"device_id": cert.device_id, "station_id": cert.station_id,
            "election_id": cert.election_id, "cert_ref": cert.ref, "roles": list(cert.roles)}


def report(db: str | Path, what: str, **kw) -> dict[str, Any]:
    """One aggregation (``results``, ``turnout``, ``stations``, ``anomalies``) of ``db``."""
    if not is_postgres_url(db) and not Path(db).exists():
        raise SyncError(f"no receiver database at {db}")
    storage = open_storage(db)
    try:
        return getattr(aggregate, what)(storage, **kw)
    finally:
        storage.close()
