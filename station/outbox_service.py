"""A role's outbox, served to the uploader on a local socket (the wire: sync/outbox_socket.py).

Runs as the role's Unix user: ``uchastok-outbox --role identify`` (on the
appliance ``systemd/uchastok-identify-outbox.socket`` and ``.service``; in a
``--home`` by hand or from a test). Besides the role's daemon and the
technician's commands it is the only process that opens the role's file, and
of the station it reads nothing else but the role's key and certificate and
the package's trust keys. The uploader, which has the network, gets signed
envelopes and hands in acks; it never sees the file (docs/technician-guide.md
"Who can read what").

Guarantees:

- It answers ``hello``, ``status``, ``pending``, ``ack`` and ``heartbeat``,
  nothing else; a malformed or unknown request gets ``bad-request`` and
  changes nothing.
- ``ack``: ``Outbox.acknowledge`` verifies the receiver's signature with the
  package's pinned ack key (``Paths.ack_pub``) before any row moves
  (ARCHITECTURE.md invariant 3); a fork or a bad signature is answered as such
  and moves nothing.
- ``heartbeat``: the body is checked field by field (``power``,
  ``battery_pct``, ``queue_depth``; the ``clock`` and ``disk_free_mb`` are
  the role's own: the uploader's sandbox shows it an empty file system over
  the state directory), at most one per ``HEARTBEAT_MIN_S``, and none while the outbox
  is at its warning level or above: the uploader cannot fill the queue that the
  role's state changes need (sync/outbox.py cap).
- The role file and the signer are opened per connection: a role provisioned
  after the service started is served without a restart; a role with no key,
  certificate or outbox yet answers ``unavailable`` (the uploader retries).
- One connection at a time (one uploader per station), closed after
  ``IDLE_S`` without a request.
- The socket is systemd's (socket activation, ``LISTEN_FDS``) or, outside
  systemd, bound at ``Paths.role(R).outbox_socket`` with mode 0660 and removed
  on exit. Under systemd: READY once listening, and a watchdog ping at least
  every second (base/sdnotify.py).

Example::

    uchastok-outbox --home /tmp/st1 --role identify      # serves /tmp/st1/var/run/identify-outbox.sock
    OutboxService(Paths.from_env("/tmp/st1"), "identify").serve(stop)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from base.clock import SystemClock, iso
from base.paths import ROLES, Paths
from base.sdnotify import Heartbeat, Notifier
from base.sqlite import connect
from sync import signing
from sync.device import load_device
from sync.errors import OutboxUnavailable, SyncError
from sync.outbox import Outbox, OutboxLevel
from sync.outbox_socket import (
    MAX_PENDING,
    MAX_REQUEST_BYTES,
    decode_line,
    encode_line,
    error_code,
    pending_to_wire,
)

log = logging.getLogger("uchastok.outbox")

HEARTBEAT_MIN_S = 60.0
OUTBOX_CAP = 100_000          # the roles' outbox cap (sync/outbox.py default): the same levels
IDLE_S = 600.0
TICK_S = 1.0
SD_LISTEN_FDS_START = 3


class BadRequest(SyncError):
    """Raised when a request is not one this service answers, or its fields are malformed."""


def _count(v: Any, name: str, hi: int) -> int:
    if type(v) is not int or not 0 <= v <= hi:
        raise BadRequest(f"heartbeat {name} must be a whole number 0..{hi}")
    return v


def heartbeat_body(given: Any, clock, disk_path) -> dict[str, Any]:
    """The heartbeat the role signs: the uploader's figures checked, the role's own clock and free space."""
    if not isinstance(given, dict) or set(given) - {"power", "battery_pct", "disk_free_mb", "queue_depth",
                                                    "clock"}:
        raise BadRequest("heartbeat body: only power, battery_pct, disk_free_mb, queue_depth")
    if given.get("power") not in ("mains", "battery"):
        raise BadRequest("heartbeat power must be mains or battery")
    battery = given.get("battery_pct")
    _count(given.get("disk_free_mb"), "disk_free_mb", 1 << 40)     # checked, then measured here instead
    return {"power": given["power"],
            "battery_pct": None if battery is None else _count(battery, "battery_pct", 100),
            "disk_free_mb": shutil.disk_usage(disk_path).free // (1024 * 1024),
            "queue_depth": _count(given.get("queue_depth"), "queue_depth", 1 << 40),
            "clock": iso(clock.now())}


class _Session:
    """What one connection serves: the role's outbox on its own connection to the role file."""

    def __init__(self, paths: Paths, role: str, clock, cap: int):
        files = paths.role(role)
        if not files.db.exists():
            raise OutboxUnavailable(f"{files.db} does not exist yet (load the election package)")
        authority = paths.provisioning_pub
        try:
            device = load_device(files.key, files.cert, clock=clock,
                                 authority_pub=signing.load_public_key(authority) if authority.exists() else None)
            self.ack_pub = signing.load_public_key(paths.ack_pub)
        except (SyncError, OSError) as e:
            raise OutboxUnavailable(f"{role} is not ready to send: {e}") from e
        try:
            self.conn = connect(files.db)
            has_outbox = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE name = 'outbox_head'").fetchone() is not None
        except sqlite3.Error as e:
            raise OutboxUnavailable(f"{files.db} cannot be opened: {e}") from e
        if not has_outbox:
            self.conn.close()
            raise OutboxUnavailable(f"{files.db} has no outbox yet")
        self.certificate = device.certificate
        self.outbox = Outbox(self.conn, device.signer, role, cap=cap)

    def close(self) -> None:
        self.conn.close()


class OutboxService:
    """Serves one role's outbox; see the module docstring."""

    def __init__(self, paths: Paths, role: str, *, clock=None, cap: int = OUTBOX_CAP,
                 heartbeat_min_s: float = HEARTBEAT_MIN_S, idle_s: float = IDLE_S,
                 monotonic: Callable[[], float] = time.monotonic, logger: logging.Logger | None = None):
        if role not in ROLES:
            raise SyncError(f"unknown role {role!r} (expected one of {ROLES})")
        self.paths = paths
        self.role = role
        self.clock = clock or SystemClock()
        self.cap = cap
        self.heartbeat_min_s = heartbeat_min_s
        self.idle_s = idle_s
        self.monotonic = monotonic
        self.log = logger or log
        self._last_heartbeat: float | None = None

    def __repr__(self) -> str:
        return f"OutboxService({self.role!r}, {self.paths.role(self.role).outbox_socket})"

    # --- one request ---------------------------------------------------------------------

    def answer(self, session: _Session, request: dict[str, Any]) -> dict[str, Any]:
        """The answer to one request (never raises for a refusal: it is the answer)."""
        try:
            return {"ok": True, **self._do(session, request)}
        except SyncError as e:
            if not isinstance(e, BadRequest | OutboxUnavailable):
                self.log.warning("%s outbox refused %s: %s", self.role, request.get("op"), e)
            return {"ok": False, "error": error_code(e), "detail": str(e)}
        except (KeyError, TypeError, ValueError) as e:   # a request of the wrong shape: nothing was written
            return {"ok": False, "error": "bad-request", "detail": f"{type(e).__name__}: {e}"}
        except sqlite3.Error as e:                        # busy or damaged file: the uploader retries
            self.log.error("%s outbox: %s", self.role, e)
            return {"ok": False, "error": "unavailable", "detail": f"database: {e}"}

    def _do(self, s: _Session, req: dict[str, Any]) -> dict[str, Any]:
        op, ob = req.get("op"), s.outbox
        if op == "hello":
            return {"stream": self.role, "device_id": ob.device_id, "certificate": s.certificate}
        if op == "status":
            return {"status": ob.status().to_json(), "best_priority": ob.best_priority()}
        if op == "pending":
            limit = req.get("limit")
            if type(limit) is not int or not 1 <= limit <= MAX_PENDING:
                raise BadRequest(f"pending limit must be 1..{MAX_PENDING}")
            return {"pending": [pending_to_wire(p) for p in ob.pending(limit)]}
        if op == "ack":
            outcome = ob.acknowledge(req.get("ack"), s.ack_pub)
            return {"acked": outcome.acked, "contiguous_seq": outcome.contiguous_seq,
                    "rejected": [list(r) for r in outcome.rejected]}
        if op == "heartbeat":
            body = heartbeat_body(req.get("body"), self.clock, self.paths.role(self.role).dir)
            now = self.monotonic()
            if self._last_heartbeat is not None and now - self._last_heartbeat < self.heartbeat_min_s:
                raise BadRequest(f"one heartbeat per {self.heartbeat_min_s:.0f} s")
            if ob.level_for(ob.depth()) is not OutboxLevel.OK:
                raise BadRequest("the outbox is filling: no heartbeat until it drains")
            done = ob.enqueue_heartbeat(body)
            self._last_heartbeat = now
            return {"seq": done.seq, "hash": done.hash}
        raise BadRequest(f"unknown request {op!r}")

    # --- connections ---------------------------------------------------------------------

    def handle(self, conn: socket.socket, stop: threading.Event, beat: Callable[[], object]) -> None:
        """Serve one connection until it closes, idles out, or ``stop`` is set."""
        conn.settimeout(TICK_S)
        buf, idle_since, session = b"", self.monotonic(), None
        try:
            while not stop.is_set():
                beat()
                while b"\n" not in buf:
                    if len(buf) > MAX_REQUEST_BYTES:
                        conn.sendall(encode_line({"ok": False, "error": "bad-request",
                                                  "detail": "request too long"}))
                        return
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        beat()
                        if stop.is_set() or self.monotonic() - idle_since > self.idle_s:
                            return
                        continue
                    if not chunk:
                        return
                    buf += chunk
                line, buf = buf.split(b"\n", 1)
                idle_since = self.monotonic()
                try:
                    request = decode_line(line)
                    if session is None:
                        session = _Session(self.paths, self.role, self.clock, self.cap)
                    reply = self.answer(session, request)
                except SyncError as e:
                    reply = {"ok": False, "error": error_code(e), "detail": str(e)}
                conn.sendall(encode_line(reply))
        except OSError as e:
            self.log.info("%s outbox connection ended: %s", self.role, e)
        finally:
            if session is not None:
                session.close()
            conn.close()

    def serve(self, stop: threading.Event | None = None, *, listener: socket.socket | None = None,
              notifier: Notifier | None = None) -> None:
        """Accept and serve connections one at a time until ``stop`` is set."""
        stop = stop or threading.Event()
        notifier = notifier or Notifier(None)
        heartbeat = Heartbeat(notifier)
        own = listener is None
        path = self.paths.role(self.role).outbox_socket
        if own:
            listener = bind_socket(path)
        listener.settimeout(TICK_S)
        notifier.ready(f"serving the {self.role} outbox")
        try:
            while not stop.is_set():
                heartbeat.beat()
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                self.handle(conn, stop, heartbeat.beat)
        finally:
            notifier.stopping()
            listener.close()
            if own:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def bind_socket(path) -> socket.socket:
    """Listen at ``path``, mode 0660 (the role and the uploader's group); a stale socket file is replaced.

    Bound under a temporary name and renamed into place once listening: whoever finds the path
    can connect (a client never meets a socket that refuses because it is not listening yet).
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.bind(str(tmp))
        os.chmod(tmp, 0o660)
        s.listen(4)
        os.replace(tmp, path)
    except OSError:
        s.close()
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return s


def systemd_listener(environ=None) -> socket.socket | None:
    """The listening socket systemd passed (sd_listen_fds(3): LISTEN_PID is us, LISTEN_FDS >= 1)."""
    env = os.environ if environ is None else environ
    if env.get("LISTEN_PID") != str(os.getpid()) or not env.get("LISTEN_FDS", "").isdigit():
        return None
    if int(env["LISTEN_FDS"]) < 1:
        return None
    return socket.socket(fileno=SD_LISTEN_FDS_START)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="uchastok-outbox",
        description="Serve one role's outbox to the uploader on a local socket (runs as the role's user).",
        epilog="Example: uchastok-outbox --home /tmp/st1 --role identify")
    ap.add_argument("--home", help="station home (DIR/etc, DIR/var); default /etc + /var/lib")
    ap.add_argument("--role", required=True, choices=ROLES)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    paths = Paths.from_env(args.home)
    with Notifier.from_env() as notifier:
        OutboxService(paths, args.role).serve(stop, listener=systemd_listener(), notifier=notifier)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
