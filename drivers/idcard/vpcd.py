"""Connect a chip emulator to vsmartcard-vpcd, pcscd's virtual reader.

vpcd (Debian ``vsmartcard-vpcd``) is a pcscd reader driver that listens on
TCP 35963 for one card emulator (FIELD-NOTES "PC/SC and ID cards"). Its
protocol: every message is a 2-byte big-endian length then the payload; a
1-byte payload is a control code (0 power off, 1 power on, 2 reset, 4 get
ATR, which we answer with the ATR), any longer payload is an APDU we answer
with response data + SW1 SW2.

``VpcdLink(emulator)`` runs that loop in a background thread. While the link
is up, the card is in the virtual reader; ``close()`` (or the emulator's
"card-pulled" preset) drops the socket, which pcscd sees as the card leaving.
A mute chip (preset "no-chip-answer") is answered by nothing for
``mute_seconds`` and then dropped, as a reader drops a card that does not
answer within its waiting time (vpcd itself would wait forever).
For tests and the demo only: never install vpcd on an appliance, its reader
listens on all interfaces.

Example::

    with VpcdLink(EmrtdEmulator(mrz, jpeg, pki)) as link:
        link.wait_until_inserted(PcscTransport())
        ...  # read the card through pcscd
"""

from __future__ import annotations

import socket
import threading
import time

from drivers.idcard.base import CardStatus
from drivers.idcard.errors import CardRemovedError, ReaderUnavailableError

VPCD_PORT = 35963
_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0, 1, 2, 4


class VpcdLink:
    """One emulated card in vpcd's reader, served from a background thread."""

    def __init__(self, emulator, host: str = "127.0.0.1", port: int = VPCD_PORT, *,
                 connect_timeout: float = 5.0, mute_seconds: float = 0.3):
        self.emulator = emulator
        self.mute_seconds = mute_seconds
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.apdus = 0
        self.error: BaseException | None = None

    def __repr__(self) -> str:
        return f"VpcdLink({self.host}:{self.port}, connected={self.connected}, apdus={self.apdus})"

    def __enter__(self) -> VpcdLink:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def start(self) -> None:
        """Connect to vpcd (retrying until ``connect_timeout``) and serve in a thread."""
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise ReaderUnavailableError(
                        f"vpcd is not listening on {self.host}:{self.port}: {exc}") from exc
                time.sleep(0.05)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="vpcd-link", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Take the card out: close the socket and wait for the thread (idempotent)."""
        self._drop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
            self._thread = None

    def _drop(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            # vpcd writes the length and the APDU separately; acknowledging at once
            # keeps Nagle + delayed ACK from costing ~40 ms per APDU.
            if hasattr(socket, "TCP_QUICKACK"):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            part = sock.recv(n - len(data))
            if not part:
                return None
            data += part
        return data

    def _send(self, sock: socket.socket, payload: bytes) -> None:
        sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def _serve(self) -> None:
        sock = self._sock
        try:
            while sock is not None:
                header = self._recv_exact(sock, 2)
                if header is None:
                    break
                payload = self._recv_exact(sock, int.from_bytes(header, "big"))
                if payload is None:
                    break
                if len(payload) == 1:
                    code = payload[0]
                    if code == _POWER_OFF:
                        self.emulator.power_off()
                    elif code == _POWER_ON:
                        self.emulator.power_on()
                    elif code == _RESET:
                        self.emulator.reset()
                    elif code == _GET_ATR:
                        self._send(sock, self.emulator.atr)
                    continue
                self.apdus += 1
                try:
                    response = self.emulator.transmit(payload)
                except CardRemovedError:
                    break  # the card left the field: vpcd sees the link drop
                if not response:
                    # vpcd has no command timeout (it would wait forever); a real
                    # reader gives up on a mute card and drops it: do the same.
                    time.sleep(self.mute_seconds)
                    break
                self._send(sock, response)
        except OSError as exc:
            if self._sock is not None:
                self.error = exc
        finally:
            self._drop()

    def wait_until_inserted(self, transport, timeout: float = 5.0) -> None:
        """Wait until pcscd reports the card present (it polls vpcd every ~0.4 s).

        vpcd re-opens its listening socket after a card leaves; a connection
        made in that gap is never accepted, so reconnect when nothing shows.
        """

        deadline = time.monotonic() + timeout
        retry_at = time.monotonic() + 1.5
        while transport.status() is not CardStatus.READY:
            now = time.monotonic()
            if now >= deadline:
                raise ReaderUnavailableError("pcscd did not see the emulated card in time")
            if now >= retry_at or not self.connected:
                self.close()
                self.start()
                retry_at = now + 1.5
            time.sleep(0.05)
