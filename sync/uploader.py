"""`uchastok-sync`: store-and-forward upload of the outboxes to the central receiver.

Guarantees (issue "Uploader"; docs/protocol.md sections 5-6):

- The outboxes are the only state: a restart (or kill -9) resumes from what
  is not yet acked. Nothing leaves an outbox except through a verified ack
  (sync/outbox.py), so resending is always safe and never loses anything.
- Each role's outbox is reached through the role's socket when the role serves
  one (the appliance: the uploader runs as its own user, may open neither role
  file nor key, and the role verifies each ack itself; sync/outbox_socket.py),
  else through the role's file (a single-user ``--home``: the demo, tests).
  Each stream is signed by its role's own key: batches name the outbox's
  device and carry its certificate. A role whose service does not answer is
  skipped and retried with backoff (``OutboxUnavailable``), never lost.
- Each request has a connect timeout, a per-read timeout AND an overall
  deadline: a watchdog shuts down the request's sockets when the deadline
  passes (a `requests` read timeout applies per socket read, so a server
  trickling bytes would otherwise hold the upload forever; FIELD-NOTES
  "Links"). The response is read in chunks against the same deadline and
  capped in size.
- TLS verifies the server against a pinned CA bundle (``ca``), never the
  system store; ``http://`` is accepted only for loopback addresses (tests).
- Batches are gzip-compressed; their size adapts (halved on failures and
  413, doubled on success).
- Failures back off exponentially with full jitter (delay uniform in
  0..min(max_backoff, base * 2^failures)); a ``Retry-After`` from 429/503 is
  honoured as the minimum wait.
- Priority across outboxes by kind: results protocols first, then summaries,
  polls events, receipts, heartbeats (sync/envelope.py ``PRIORITY``).
- The request body is exactly ``encode_batch`` of the envelopes
  (sync/envelope.py; docs/protocol.md section 5): one encoder for the station,
  the tests and the documentation.
- The link state (last success, last error, consecutive failures, next
  attempt, queue depths) is written atomically (base/files.py) to
  ``Paths.link_state`` (``<state>/sync/sync-link.json``) for ``uchastok status``
  (``link_status``).

Example::

    uchastok-sync --home /tmp/st1 --url https://cec.example/ --ca /etc/uchastok/cec-ca.pem
    uchastok-sync --home /tmp/st1 --url http://127.0.0.1:8700 --once
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import ipaddress
import json
import logging
import os
import random
import shutil
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
import urllib3
from requests.adapters import HTTPAdapter

from base.clock import SystemClock, iso
from base.files import atomic_write
from base.paths import Paths
from base.sdnotify import Notifier
from sync import signing
from sync.canonical import parse
from sync.device import load_device
from sync.envelope import MAX_BATCH_ENVELOPES, encode_batch, make_batch
from sync.errors import (
    EnvelopeError,
    ForkError,
    OutboxUnavailable,
    RemoteRejected,
    SyncError,
    TransportFault,
    VerificationError,
)
from sync.outbox import Outbox, Pending
from sync.outbox_socket import OutboxClient

log = logging.getLogger("uchastok.sync.uploader")

MAX_RESPONSE_BYTES = 1 << 20
MAX_BATCH_RAW_BYTES = 1 << 20
BATCH_PATH = "v1/batches"


# --- a session whose sockets a watchdog can cut -------------------------------------------


class SocketRegistry:
    """Raw sockets opened for the request in flight, so the deadline can shut them down.

    Shared with identify/claims.py, whose claim round trip has the same watchdog."""

    def __init__(self):
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []

    def add(self, s: socket.socket) -> None:
        with self._lock:
            self._socks.append(s)

    def cut(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def forget(self) -> None:
        with self._lock:
            self._socks = [s for s in self._socks if s.fileno() != -1]


def cuttable_adapter(registry: SocketRegistry) -> HTTPAdapter:
    """A ``requests`` adapter (no retries, one kept-alive connection) whose new sockets are added to
    ``registry``, so ``registry.cut()`` ends the request in flight at its deadline."""

    class Conn(urllib3.connection.HTTPConnection):
        def _new_conn(self):
            s = super()._new_conn()
            registry.add(s)
            return s

    class SConn(urllib3.connection.HTTPSConnection):
        def _new_conn(self):
            s = super()._new_conn()
            registry.add(s)
            return s

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Conn

    class SPool(urllib3.HTTPSConnectionPool):
        ConnectionCls = SConn

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *a, **kw):
            super().init_poolmanager(*a, **kw)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SPool}

    return Adapter(max_retries=0, pool_connections=1, pool_maxsize=1)


def is_loopback(url: str) -> bool:
    """The URL's host is a loopback address or ``localhost``: where plain ``http://`` is allowed."""
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- link state ----------------------------------------------------------------------------


@dataclass
class LinkState:
    url: str = ""
    last_success: str | None = None
    last_attempt: str | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    next_attempt: str | None = None
    batch_size: int = 0
    delivered_total: int = 0
    queues: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(obj, indent=1, sort_keys=True).encode())


@dataclass(frozen=True)
class SendResult:
    """What one attempt did: ``delivered`` envelopes acked, or the wait before the next."""

    sent: int
    delivered: int
    idle: bool = False
    error: str | None = None
    wait: float = 0.0


class Uploader:
    """Sends the outboxes' envelopes in batches until each is acked."""

    def __init__(self, outboxes: Sequence[Outbox | OutboxClient], url: str, ack_pub: signing.PublicKey | None,
                 *, certificate: dict[str, Any] | None = None,
                 certificates: dict[str, dict[str, Any]] | None = None, ca: str | os.PathLike | None = None,
                 connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 deadline: float = 90.0, batch_size: int = 200, base_backoff: float = 1.0,
                 max_backoff: float = 300.0, state_path: str | os.PathLike | None = None,
                 rng: random.Random | None = None, clock=None,
                 sleep: Callable[[float], None] = time.sleep, compress: bool = True,
                 logger: logging.Logger | None = None):
        if not outboxes:
            raise SyncError("nothing to upload: no outbox given")
        streams = [o.stream for o in outboxes]
        if len(set(streams)) != len(streams):
            raise SyncError(f"one outbox per stream, not {streams}")
        scheme = urlparse(url).scheme
        if scheme == "https":
            if ca is None:
                raise SyncError("https needs a pinned CA bundle (--ca)")
        elif scheme != "http" or not is_loopback(url):
            raise SyncError(f"{url}: only https, or http to a loopback address, is allowed")
        self.outboxes = list(outboxes)
        self.url = urljoin(url if url.endswith("/") else url + "/", BATCH_PATH)
        # Direct outboxes verify acks with this key; an OutboxClient's role uses its own copy.
        self.ack_pub = ack_pub
        # The certificate a batch carries: the stream's own (each role has its key), else one for all.
        self.certificate = certificate
        self.certificates = dict(certificates or {})
        self.timeouts = (connect_timeout, read_timeout)
        self.deadline = deadline
        self.max_batch = min(batch_size, MAX_BATCH_ENVELOPES)
        self.batch_size = self.max_batch
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.rng = rng or random.Random()
        self.clock = clock or SystemClock()
        self.sleep = sleep
        self.compress = compress
        self.log = logger or log
        self.state_path = Path(state_path) if state_path else None
        self.state = self._load_state()
        self.notifier: Notifier | None = None    # systemd's, set by main() (base.sdnotify)
        self._last_status: str | None = None
        self.state.url = url
        self._registry = SocketRegistry()
        self.session = requests.Session()
        self.session.trust_env = False  # no proxies or netrc from the environment
        self.session.verify = str(ca) if ca else True
        self.session.mount("http://", cuttable_adapter(self._registry))
        self.session.mount("https://", cuttable_adapter(self._registry))
        self.bytes_sent = 0
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"Uploader(-> {self.url}, streams={[o.stream for o in self.outboxes]})"

    def close(self) -> None:
        self.session.close()
        for o in self.outboxes:
            if isinstance(o, OutboxClient):
                o.close()

    def __enter__(self) -> Uploader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- state -----------------------------------------------------------------------------

    def _load_state(self) -> LinkState:
        if self.state_path and self.state_path.exists():
            try:
                d = json.loads(self.state_path.read_text())
                return LinkState(**{k: v for k, v in d.items() if k in LinkState.__dataclass_fields__})
            except (OSError, ValueError, TypeError):
                self.log.warning("link state %s unreadable; starting afresh", self.state_path)
        return LinkState()

    def _save_state(self) -> None:
        queues = {}
        for o in self.outboxes:
            try:
                queues[o.stream] = o.status().to_json()
            except OutboxUnavailable as e:
                queues[o.stream] = {"error": str(e)}
        self.state.queues = queues
        self.state.batch_size = self.batch_size
        if self.state_path:
            try:
                _write_json(self.state_path, self.state.to_json())
            except OSError as e:
                self.log.warning("cannot write link state %s: %s", self.state_path, e)

    # --- one attempt -------------------------------------------------------------------------

    def _choose(self) -> Outbox | OutboxClient | None:
        best, best_p, down = None, None, None
        for o in self.outboxes:
            try:
                if o.depth() == 0:
                    continue
                p = o.best_priority()
            except OutboxUnavailable as e:  # that role's service is down: the others still go
                self.log.warning("%s", e)
                down = e
                continue
            p = 99 if p is None else p  # only rejected envelopes left: after everything else
            if best_p is None or p < best_p:
                best, best_p = o, p
        if best is None and down is not None:
            raise down   # nothing else to send, and that one may hold records: not idle, retry later
        return best

    def _only_rejected(self) -> bool:
        for o in self.outboxes:
            try:
                if o.best_priority() is not None:
                    return False
            except OutboxUnavailable:
                return False   # it may hold records to send: back off and retry, do not give up
        return True

    def queue_depth(self) -> int:
        """Undelivered envelopes in the outboxes that answer."""
        n = 0
        for o in self.outboxes:
            try:
                n += o.depth()
            except OutboxUnavailable:
                continue
        return n

    def certificate_of(self, outbox: Outbox | OutboxClient) -> dict[str, Any] | None:
        if outbox.stream in self.certificates:
            return self.certificates[outbox.stream]
        return getattr(outbox, "certificate", None) or self.certificate

    def batch_body(self, outbox: Outbox | OutboxClient, pending: Sequence[Pending]) -> bytes:
        """The request body for ``pending``: ``encode_batch`` of their envelopes, nothing else."""
        batch = make_batch(outbox.device_id, outbox.stream, [p.envelope for p in pending],
                           self.certificate_of(outbox))
        return encode_batch(batch, compress=self.compress)

    def send_once(self) -> SendResult:
        """Send one batch of the highest-priority outbox; never raises for link trouble."""
        outbox = self._choose()
        if outbox is None:
            self._save_state()
            return SendResult(0, 0, idle=True)
        envs, total = [], 0
        for p in outbox.pending(self.batch_size):
            if envs and total + len(p.data) > MAX_BATCH_RAW_BYTES:
                break
            envs.append(p)
            total += len(p.data)
        body = self.batch_body(outbox, envs)
        self.state.last_attempt = iso(self.clock.now())
        try:
            ack = self._post(body)
            outcome = outbox.acknowledge(ack, self.ack_pub)
        except RemoteRejected as e:
            return self._failed(len(envs), str(e), getattr(e, "retry_after", None),
                                too_large=getattr(e, "status", 0) == 413)
        except (TransportFault, EnvelopeError) as e:
            return self._failed(len(envs), str(e), getattr(e, "retry_after", None))
        except ForkError as e:
            self.log.critical("receiver ack contradicts our chain: %s", e)
            return self._failed(len(envs), f"fork: {e}", None)
        except VerificationError as e:
            self.log.error("ack did not verify: %s", e)
            return self._failed(len(envs), f"bad ack: {e}", None)
        if outcome.acked == 0 and outcome.rejected:
            # Refused, not lost: the rows stay queued with their reason; back off, do not spin.
            return self._failed(len(envs), f"{len(outcome.rejected)} rejected, e.g. "
                                f"{outcome.rejected[0]}", None)
        self.state.consecutive_failures = 0
        self.state.last_success = self.state.last_attempt
        self.state.next_attempt = None
        self.state.delivered_total += outcome.acked
        if outcome.rejected:
            self.state.last_error = f"{len(outcome.rejected)} rejected, e.g. {outcome.rejected[0]}"
        self.batch_size = min(self.max_batch, self.batch_size * 2)
        self._save_state()
        return SendResult(len(envs), outcome.acked,
                          error=self.state.last_error if outcome.rejected else None)

    def _failed(self, sent: int, error: str, retry_after: float | None, *,
                too_large: bool = False) -> SendResult:
        st = self.state
        st.consecutive_failures += 1
        st.last_error = error
        self.batch_size = max(1, self.batch_size // 2)
        cap = min(self.max_backoff, self.base_backoff * 2 ** min(st.consecutive_failures, 30))
        wait = 0.0 if too_large else self.rng.uniform(0, cap)
        if retry_after is not None:
            wait = max(wait, min(retry_after, 3600.0))
        st.next_attempt = iso(self.clock.now() + dt.timedelta(seconds=wait))
        self.log.warning("upload failed (%d in a row): %s; next attempt in %.1f s",
                         st.consecutive_failures, error, wait)
        self._save_state()
        return SendResult(sent, 0, error=error, wait=wait)

    def _post(self, body: bytes) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.compress:  # batch_body compressed it
            headers["Content-Encoding"] = "gzip"
        self.bytes_sent += len(body)
        self.requests_made += 1
        end = time.monotonic() + self.deadline
        cut = threading.Event()

        def watchdog():
            cut.set()
            self._registry.cut()

        timer = threading.Timer(self.deadline, watchdog)
        timer.daemon = True
        timer.start()
        try:
            try:
                resp = self.session.post(self.url, data=body, headers=headers,
                                         timeout=self.timeouts, stream=True, allow_redirects=False)
            except requests.RequestException as e:
                raise TransportFault(("deadline passed: " if cut.is_set() else "")
                                     + f"{type(e).__name__}: {e}") from e
            try:
                data = self._read(resp, end, cut)
            finally:
                resp.close()
        finally:
            timer.cancel()
            self._registry.forget()
        if resp.status_code == 200:
            try:
                return parse(data, max_bytes=MAX_RESPONSE_BYTES)
            except EnvelopeError as e:
                raise TransportFault(f"unparseable ack: {e}") from e
        detail = data[:300].decode("utf-8", "replace")
        retry_after = _retry_after(resp.headers.get("Retry-After"))
        if resp.status_code in (429, 503) or resp.status_code >= 500:
            err = TransportFault(f"HTTP {resp.status_code}: {detail}")
        else:
            err = RemoteRejected(f"HTTP {resp.status_code}: {detail}")
        err.retry_after = retry_after  # type: ignore[attr-defined]
        err.status = resp.status_code  # type: ignore[attr-defined]
        raise err

    @staticmethod
    def _read(resp: requests.Response, end: float, cut: threading.Event) -> bytes:
        chunks, n = [], 0
        try:
            for chunk in resp.iter_content(8192):
                if cut.is_set() or time.monotonic() > end:
                    raise TransportFault("deadline passed while reading the response")
                n += len(chunk)
                if n > MAX_RESPONSE_BYTES:
                    raise TransportFault("response too large")
                chunks.append(chunk)
        except requests.RequestException as e:
            raise TransportFault(("deadline passed: " if cut.is_set() else "")
                                 + f"{type(e).__name__}: {e}") from e
        except (OSError, urllib3.exceptions.HTTPError) as e:
            raise TransportFault(f"{type(e).__name__}: {e}") from e
        if cut.is_set():
            raise TransportFault("deadline passed while reading the response")
        return b"".join(chunks)

    # --- loops -------------------------------------------------------------------------------

    def drain(self, *, max_attempts: int | None = None, stop: threading.Event | None = None,
              max_wait: float | None = None) -> int:
        """Send until every outbox is empty (or stopped); return envelopes delivered."""
        delivered, attempts = 0, 0
        while not (stop and stop.is_set()):
            try:
                r = self.send_once()
            except OutboxUnavailable as e:  # the chosen role's service went away mid-attempt
                r = self._failed(0, str(e), None)
            delivered += r.delivered
            self._alive()
            if r.idle:
                break
            attempts += 1
            if max_attempts is not None and attempts >= max_attempts:
                break
            if r.error and self._only_rejected():
                break  # what is left was refused by the receiver: an alarm, not a retry loop
            if r.wait:
                self._wait(min(r.wait, max_wait) if max_wait is not None else r.wait, stop)
        return delivered

    def heartbeat(self, *, power: str = "mains", battery_pct: int | None = None,
                  disk_path: str | os.PathLike = "/") -> int:
        """Enqueue a heartbeat (device status) in the last outbox (the count stream when present),
        in its own transaction; through a role's service, the role checks it and signs its own clock."""
        outbox = self.outboxes[-1]  # count stream when present (role files in identify, count order)
        body = {"power": power, "battery_pct": battery_pct,
                "disk_free_mb": shutil.disk_usage(disk_path).free // (1024 * 1024),
                "queue_depth": self.queue_depth(),
                "clock": iso(self.clock.now())}
        return outbox.enqueue_heartbeat(body).seq

    def run(self, stop: threading.Event | None = None, poll: float = 5.0,
            heartbeat: float | None = None, disk_path: str | os.PathLike = "/") -> None:
        """Serve forever: drain, then look again every ``poll`` seconds; heartbeat if asked."""
        stop = stop or threading.Event()
        next_beat = time.monotonic()
        while not stop.is_set():
            if heartbeat and time.monotonic() >= next_beat:
                try:
                    self.heartbeat(disk_path=disk_path)
                except SyncError as e:  # a full outbox refuses heartbeats first: that is fine
                    self.log.warning("heartbeat not queued: %s", e)
                next_beat = time.monotonic() + heartbeat
            self.drain(stop=stop)
            self._alive()
            self._wait(poll, stop)

    def _alive(self) -> None:
        """Tell systemd the loop turns (WATCHDOG=1) and what the link does (STATUS=), when under it."""
        if self.notifier is None:
            return
        self.notifier.watchdog()
        try:
            queue = f"queue {self.queue_depth()}; "
        except SyncError:               # a role's outbox service is away: its depth is unknown
            queue = "queue unknown; "
        line = queue + (f"last error: {self.state.last_error}" if self.state.last_error else "link up")
        if line != self._last_status:
            self.notifier.status(line)
            self._last_status = line

    def _wait(self, seconds: float, stop: threading.Event | None) -> None:
        if self.notifier is None:
            if stop is not None:
                stop.wait(seconds)
            else:
                self.sleep(seconds)
            return
        # Under systemd: in slices, pinging the watchdog between them (a backoff may last minutes).
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not (stop is not None and stop.is_set()):
            if stop is not None:
                stop.wait(min(left, 5.0))
            else:
                self.sleep(min(left, 5.0))
            self._alive()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


# --- the station's files -------------------------------------------------------------------


def connect_role_file(path: Path) -> sqlite3.Connection:
    """Open an existing role file with the station's durability settings (no migrations)."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=False)
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def _has_outbox(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='outbox_head'"
                        ).fetchone() is not None


def open_station(paths: Paths, clock=None) -> tuple[list[Outbox | OutboxClient], dict[str, dict[str, Any]],
                                                      signing.PublicKey | None]:
    """The outbox of each role: its socket when one exists (the role's service answers there), else
    its file opened with the role's own key and certificate. Returns the outboxes, the certificates of
    the directly opened ones by stream (a client's comes from its service), and the ack key that
    direct outboxes verify with (None when every role is behind a socket)."""
    authority = paths.provisioning_pub
    authority_pub = None
    outboxes: list[Outbox | OutboxClient] = []
    certificates: dict[str, dict[str, Any]] = {}
    ack_pub = None
    for stream, files in paths.roles.items():
        if files.outbox_socket.exists():
            outboxes.append(OutboxClient(files.outbox_socket, stream))
            continue
        if not files.db.exists():
            continue
        if authority_pub is None and authority.exists():
            authority_pub = signing.load_public_key(authority)
        device = load_device(files.key, files.cert, clock=clock, authority_pub=authority_pub)
        conn = connect_role_file(files.db)
        if not _has_outbox(conn):
            log.warning("%s has no outbox yet; skipping stream %s", files.db, stream)
            conn.close()
            continue
        if ack_pub is None:
            ack_pub = signing.load_public_key(paths.ack_pub)
        outboxes.append(Outbox(conn, device.signer, stream))
        certificates[stream] = device.certificate
    if not outboxes:
        raise SyncError(f"no role outbox (socket in {paths.run_dir} or role file under {paths.state_dir})")
    return outboxes, certificates, ack_pub


def link_status(where: Paths | str | os.PathLike) -> dict[str, Any]:
    """The link and queue state for ``uchastok status`` (``where``: the station's Paths or its
    state directory); never raises on missing files."""
    paths = where if isinstance(where, Paths) else Paths.from_state_dir(where)
    out: dict[str, Any] = {"link": None, "queues": {}}
    p = paths.link_state
    if p.exists():
        try:
            out["link"] = json.loads(p.read_text())
        except (OSError, ValueError) as e:
            out["link"] = {"error": f"unreadable: {e}"}
    for stream, db in paths.role_dbs.items():
        if not db.exists():
            continue
        try:
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5.0)
            try:
                row = conn.execute("SELECT seq, pending, acked_seq, last_ack_at FROM outbox_head"
                                   " WHERE stream=?", (stream,)).fetchone()
                rej = conn.execute("SELECT count(*) FROM outbox WHERE stream=? AND acked_at IS NULL"
                                   " AND rejected IS NOT NULL", (stream,)).fetchone()[0]
            finally:
                conn.close()
        except sqlite3.Error as e:
            out["queues"][stream] = {"error": str(e)}
            continue
        head, depth, acked, last = row if row else (0, 0, 0, None)
        out["queues"][stream] = {"depth": depth, "head_seq": head, "acked_seq": acked,
                                 "last_ack_at": last, "rejected": rej}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="uchastok-sync",
        description="Upload the station's outboxes to the central receiver.",
        epilog="Example: uchastok-sync --home /tmp/st1 --url http://127.0.0.1:8700 --once")
    ap.add_argument("--home", help="station home (DIR/etc, DIR/var); default /etc + /var/lib")
    ap.add_argument("--url", default=os.environ.get("UCHASTOK_SYNC_URL") or None,
                    help="receiver base URL (default: $UCHASTOK_SYNC_URL, set in /etc/uchastok/sync.env)")
    ap.add_argument("--ca", default=os.environ.get("UCHASTOK_SYNC_CA") or None,
                    help="pinned CA bundle for https (default: $UCHASTOK_SYNC_CA)")
    ap.add_argument("--once", action="store_true", help="drain once and exit")
    ap.add_argument("--max-attempts", type=int, default=50, help="with --once: give up after N")
    ap.add_argument("--batch", type=int, default=200, help="envelopes per batch (max 500)")
    ap.add_argument("--deadline", type=float, default=90.0, help="overall seconds per request")
    ap.add_argument("--max-backoff", type=float, default=300.0)
    ap.add_argument("--poll", type=float, default=5.0, help="seconds between looks when idle")
    ap.add_argument("--heartbeat", type=float, default=0.0,
                    help="queue a heartbeat (device status) every SECONDS while running (0: off)")
    ap.add_argument("--no-compress", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not args.url:
        print("error: no receiver URL: give --url or set UCHASTOK_SYNC_URL in /etc/uchastok/sync.env",
              flush=True)
        return 2
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    paths = Paths.from_env(args.home)
    try:
        outboxes, certificates, ack_pub = open_station(paths)
        up = Uploader(outboxes, args.url, ack_pub, certificates=certificates, ca=args.ca,
                      batch_size=args.batch, deadline=args.deadline,
                      max_backoff=args.max_backoff, state_path=paths.link_state,
                      compress=not args.no_compress)
    except SyncError as e:
        print(f"error: {e}", flush=True)
        return 2
    with up:
        if args.once:
            t0 = time.monotonic()
            n = up.drain(max_attempts=args.max_attempts)
            try:
                left = sum(o.depth() for o in outboxes)
            except OutboxUnavailable as e:   # unknown is not zero
                left, up.state.last_error = None, str(e)
            print(json.dumps({"delivered": n, "left": left, "seconds": round(time.monotonic() - t0, 3),
                              "requests": up.requests_made, "bytes_sent": up.bytes_sent,
                              "last_error": up.state.last_error}), flush=True)
            return 0 if left == 0 else 1
        stop = threading.Event()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        up.notifier = Notifier.from_env()
        up.notifier.ready(f"uploading to {args.url}")
        try:
            up.run(stop, poll=args.poll, heartbeat=args.heartbeat or None, disk_path=paths.state_dir)
        finally:
            up.notifier.stopping()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

