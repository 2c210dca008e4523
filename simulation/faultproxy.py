"""A fault-injecting HTTP/1.1 proxy: the bad link between a station and the centre.

Product code, like the device simulators: it sits between the uploader and
the receiver on loopback and, per request, applies one fault drawn from a
``FaultPlan`` (named presets with probabilities). It understands just enough
HTTP (request head + Content-Length body) to place faults at the right
moment; each request is forwarded on a fresh upstream connection.

Faults (``Fault``):

- ``drop``: read the request, close without an answer (nothing forwarded).
- ``blackhole``: read the request and hold the connection silent (tests the
  uploader's overall deadline), then close.
- ``delay``: wait ``delay_s`` before forwarding.
- ``reset-request``: read the head and half the body, then TCP RST.
- ``reset-response``: forward (the receiver stores!), send part of the
  answer, then RST.
- ``truncate-response``: forward, send half the answer, then FIN.
- ``lost-ack``: forward, then close without sending any of the answer.
- ``duplicate``: forward the same request twice (a duplicated delivery),
  answer with the second response.
- ``http-500`` / ``http-503`` / ``http-429``: answer at once without
  forwarding (503 and 429 carry ``Retry-After``).
- ``trickle``: forward, then send the answer one byte every ``trickle_s``.

Independently, ``rate_bps`` throttles both directions and ``chunk_loss``
delays a fraction of 512-byte chunks by ``rto_s`` (a TCP retransmission as the
application sees it): the in-process stand-in for a 2G link where network
namespaces are not available.

Example::

    plan = FaultPlan({Fault.LOST_ACK: 0.1, Fault.HTTP_503: 0.05}, seed=7)
    with FaultProxy(("127.0.0.1", receiver_port), plan) as proxy:
        uploader = Uploader(..., url=proxy.url, ...)
"""

from __future__ import annotations

import argparse
import enum
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

MAX_HEAD = 64 * 1024


class Fault(enum.StrEnum):
    NONE = "none"
    DROP = "drop"
    BLACKHOLE = "blackhole"
    DELAY = "delay"
    RESET_REQUEST = "reset-request"
    RESET_RESPONSE = "reset-response"
    TRUNCATE_RESPONSE = "truncate-response"
    LOST_ACK = "lost-ack"
    DUPLICATE = "duplicate"
    HTTP_500 = "http-500"
    HTTP_503 = "http-503"
    HTTP_429 = "http-429"
    TRICKLE = "trickle"


@dataclass
class FaultPlan:
    """Probabilities per fault (the rest passes clean) and link shaping."""

    faults: dict[Fault, float] = field(default_factory=dict)
    seed: int | None = None
    delay_s: float = 0.3
    blackhole_s: float = 5.0
    trickle_s: float = 0.2
    retry_after: str = "1"
    rate_bps: float | None = None      # bytes per second, both directions
    chunk_loss: float = 0.0
    rto_s: float = 1.0

    def __post_init__(self):
        if sum(self.faults.values()) > 1:
            raise ValueError("fault probabilities add up to more than 1")
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def pick(self) -> Fault:
        with self._lock:
            x = self._rng.random()
        for f, p in self.faults.items():
            if x < p:
                return f
            x -= p
        return Fault.NONE

    def lose(self) -> bool:
        with self._lock:
            return self.chunk_loss > 0 and self._rng.random() < self.chunk_loss


PRESETS = {
    "clean": FaultPlan(),
    "chaos": FaultPlan({Fault.DROP: 0.05, Fault.DELAY: 0.05, Fault.RESET_REQUEST: 0.06,
                        Fault.RESET_RESPONSE: 0.06, Fault.TRUNCATE_RESPONSE: 0.05,
                        Fault.LOST_ACK: 0.08, Fault.DUPLICATE: 0.06, Fault.HTTP_500: 0.04,
                        Fault.HTTP_503: 0.02, Fault.HTTP_429: 0.02}),
    "2g": FaultPlan(rate_bps=5000, chunk_loss=0.05, rto_s=1.0),
}


def _recv_until(sock: socket.socket, buf: bytearray, marker: bytes, limit: int) -> int:
    while True:
        i = buf.find(marker)
        if i >= 0:
            return i
        if len(buf) > limit:
            raise ConnectionError("head too large")
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk


def read_message(sock: socket.socket, buf: bytearray, *, body_fraction: float = 1.0
                 ) -> tuple[bytes, bytes]:
    """Read one HTTP message (head, body) from ``sock``; leftover bytes stay in ``buf``."""
    i = _recv_until(sock, buf, b"\r\n\r\n", MAX_HEAD)
    head = bytes(buf[: i + 4])
    del buf[: i + 4]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    want = int(length * body_fraction)
    while len(buf) < want:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError
        buf += chunk
    body = bytes(buf[:want])
    del buf[:want]
    return head, body


def _reset(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def _answer(status: int, reason: str, extra: str = "") -> bytes:
    body = b'{"error":"injected"}'
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class FaultProxy:
    """Listens on loopback and forwards to ``upstream`` with faults from ``plan``."""

    def __init__(self, upstream: tuple[str, int], plan: FaultPlan | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        self.upstream = upstream
        self.plan = plan or FaultPlan()
        self.stats: Counter[str] = Counter()
        self.bytes_up = 0      # HTTP bytes from the client (heads + bodies)
        self.bytes_down = 0    # HTTP bytes to the client
        self._lsock = socket.create_server((host, port), reuse_port=False)
        self._lsock.settimeout(0.2)
        self.address = self._lsock.getsockname()
        self.url = f"http://{self.address[0]}:{self.address[1]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, daemon=True, name="faultproxy")
        self._acceptor.start()

    def __repr__(self) -> str:
        return f"FaultProxy({self.url} -> {self.upstream[0]}:{self.upstream[1]})"

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._acceptor.join(2)
        self._lsock.close()
        with self._lock:
            for s in list(self._socks):
                try:
                    s.close()
                except OSError:
                    pass

    def replan(self, faults: dict[Fault, float] | None = None, **settings) -> None:
        """Change the link now: new ``faults`` (None: a clean link) and plan settings (``delay_s`` ...).

        A kept-alive client connection has its next fault drawn already, so every open client
        connection is closed: the next request of every client opens a new one under the new plan
        (a cut link drops what comes next, a restored one forwards it).
        """
        self.plan.faults = dict(faults or {})
        for name, value in settings.items():
            setattr(self.plan, name, value)
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass

    def cut(self) -> None:
        """Every request dropped unanswered (the link is down)."""
        self.replan({Fault.DROP: 1.0})

    def restore(self) -> None:
        """A clean link again."""
        self.replan(None)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                c, _ = self._lsock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            t.start()

    def _count(self, what: str) -> None:
        with self._lock:
            self.stats[what] += 1

    # --- shaping ------------------------------------------------------------------------------

    def _pace(self, n: int) -> None:
        p = self.plan
        if p.rate_bps:
            time.sleep(n / p.rate_bps)
        for _ in range(max(1, n // 512) if p.chunk_loss else 0):
            if p.lose():
                self._count("retransmit")
                time.sleep(p.rto_s)

    def _send(self, sock: socket.socket, data: bytes) -> None:
        if not self.plan.rate_bps and not self.plan.chunk_loss:
            sock.sendall(data)
            return
        for i in range(0, len(data), 512):
            chunk = data[i:i + 512]
            self._pace(len(chunk))
            sock.sendall(chunk)

    def _forward(self, head: bytes, body: bytes) -> bytes:
        up = socket.create_connection(self.upstream, timeout=60)
        try:
            up.sendall(head + body)
            rh, rb = read_message(up, bytearray())
            return rh + rb
        finally:
            up.close()

    # --- one client connection -----------------------------------------------------------------

    def _serve(self, c: socket.socket) -> None:
        with self._lock:
            self._socks.add(c)
        buf = bytearray()
        c.settimeout(120)
        try:
            while not self._stop.is_set():
                fault = self.plan.pick()
                if fault is Fault.RESET_REQUEST:
                    read_message(c, buf, body_fraction=0.5)
                    self._count(fault)
                    _reset(c)
                    return
                head, body = read_message(c, buf)
                self._pace(len(head) + len(body))  # the upload's time on the link
                self._count(fault)
                with self._lock:
                    self.bytes_up += len(head) + len(body)
                if fault is Fault.DROP:
                    c.close()
                    return
                if fault is Fault.BLACKHOLE:
                    self._stop.wait(self.plan.blackhole_s)
                    c.close()
                    return
                if fault in (Fault.HTTP_500, Fault.HTTP_503, Fault.HTTP_429):
                    status = int(fault.value[-3:])
                    extra = f"Retry-After: {self.plan.retry_after}\r\n" if status != 500 else ""
                    c.sendall(_answer(status, "Injected", extra))
                    continue
                if fault is Fault.DELAY:
                    time.sleep(self.plan.delay_s)
                try:
                    resp = self._forward(head, body)
                    if fault is Fault.DUPLICATE:
                        resp = self._forward(head, body)
                except (OSError, EOFError, ConnectionError, ValueError):
                    self._count("upstream-down")
                    c.sendall(_answer(502, "Bad Gateway"))
                    continue
                if fault is Fault.LOST_ACK:
                    c.close()
                    return
                if fault is Fault.RESET_RESPONSE:
                    c.sendall(resp[: max(1, len(resp) // 3)])
                    _reset(c)
                    return
                if fault is Fault.TRUNCATE_RESPONSE:
                    c.sendall(resp[: len(resp) // 2])
                    c.close()
                    return
                if fault is Fault.TRICKLE:
                    for b in resp:
                        if self._stop.wait(self.plan.trickle_s):
                            break
                        c.sendall(bytes([b]))
                    c.close()
                    return
                with self._lock:
                    self.bytes_down += len(resp)
                self._send(c, resp)
        except (OSError, EOFError, ConnectionError, ValueError):
            pass
        finally:
            with self._lock:
                self._socks.discard(c)
            try:
                c.close()
            except OSError:
                pass


def main(argv=None) -> None:
    """``python -m simulation.faultproxy --listen PORT --upstream HOST:PORT --preset chaos``."""

    ap = argparse.ArgumentParser(prog="python -m simulation.faultproxy")
    ap.add_argument("--listen", type=int, default=0)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="chaos")
    a = ap.parse_args(argv)
    host, _, port = a.upstream.rpartition(":")
    proxy = FaultProxy((host or "127.0.0.1", int(port)), PRESETS[a.preset], port=a.listen)
    print(f"{proxy.url} -> {a.upstream} ({a.preset})", flush=True)
    try:
        while True:
            time.sleep(5)
            print(dict(proxy.stats), flush=True)
    except KeyboardInterrupt:
        proxy.close()


if __name__ == "__main__":
    main()
