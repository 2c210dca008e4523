"""ZhianTec ZFM / R30x fingerprint module over a serial port (pyserial URL).

``ZfmSensor(url)`` opens the port lazily with ``serial.serial_for_url`` (a
device path, ``socket://host:port``, ``loop://``...), verifies the password
(VfyPwd) on every (re)connect, and then:

- ``capture(deadline_s)`` sends GenImg until the module reports a finger or
  the deadline passes, then UpImage, and returns a ``Capture`` value; faults
  become statuses with a detail, never exceptions: no finger in time or a
  finger lifted before the upload → NO_FINGER; port missing, unplugged or
  silent → DISCONNECTED; a corrupt or truncated frame, a wrong password, a
  refusal → ERROR. After any fault the port is closed and reopened on the
  next call (lazy reconnect after an unplug).
- the module's commands are available as methods that raise instead
  (``verify_password``, ``gen_img``, ``up_image``, ``img2tz``, ``up_char``,
  ``down_char``, ``read_sys_para``): ``TransportError`` when the link fails,
  ``ProtocolError`` when the bytes are wrong, ``SensorRefusedError`` when the
  module answers with a confirmation code other than OK.

Reads never trust one ``read()``: a pty or USB adapter hands over partial
frames, so each reply is read in a loop until the frame is complete or its
``reply_timeout_s`` passes (the timeout restarts at each received packet, so
a 6.5 s image upload at 57,600 baud is fine with a 1 s reply timeout).

A data transfer (UpImage, UpChar) is bounded twice, whatever the module
sends: it must end (an end packet) within ``transfer_timeout_s`` (10 s: an
image takes 6.95 s at 57,600 baud in 128-byte packets, and the daemon's 5 s
finger wait plus this stay inside its 30 s watchdog, pinged at most every 15 s)
or it raises ``TransferTimeoutError``; and it may not bring more bytes than
the buffer it uploads holds (``IMAGE_BYTES``, ``CHAR_FILE_BYTES``) or it raises
``FrameError``. Either is an ERROR capture, never a hang past the watchdog.

Example::

    with ZfmSensor("/dev/serial/by-id/usb-ZFM", password=0) as sensor:
        capture = sensor.capture(deadline_s=5.0)
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np
import serial

from drivers.errors import DeviceError, ProtocolError, TransportError
from drivers.fingerprint.base import Capture, FingerprintSensor, SensorStatus, unpack_image
from drivers.fingerprint.packets import (
    CHAR_FILE_BYTES,
    DEFAULT_ADDRESS,
    IMAGE_BYTES,
    ChecksumError,
    Command,
    Confirmation,
    FrameError,
    Packet,
    PacketId,
    PacketParser,
    command_packet,
    data_packets,
    encode_packet,
)


class SensorRefusedError(DeviceError):
    """Raised when the module answers a command with a confirmation code other than OK."""

    def __init__(self, command: Command, code: int) -> None:
        super().__init__(f"{command.name}: {Confirmation.describe(code)}")
        self.command = command
        self.code = code


class ReplyTimeoutError(TransportError):
    """Raised when a reply frame is not complete by its deadline (``received`` bytes came)."""

    def __init__(self, message: str, received: int) -> None:
        super().__init__(message)
        self.received = received


class TransferTimeoutError(ProtocolError):
    """Raised when a data transfer does not end within ``transfer_timeout_s`` (packets that never stop)."""


class PortUnavailableError(TransportError):
    """Raised when the serial port cannot be opened, read or written (missing or unplugged)."""


class ZfmSensor(FingerprintSensor):
    def __init__(
        self,
        url: str,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        baudrate: int = 57600,
        *,
        reply_timeout_s: float = 1.0,
        transfer_timeout_s: float = 10.0,
        poll_interval_s: float = 0.05,
        open_port: Callable[..., serial.SerialBase] = serial.serial_for_url,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.address = address
        self.password = password
        self.baudrate = baudrate
        self.reply_timeout_s = reply_timeout_s
        self.transfer_timeout_s = transfer_timeout_s
        self.poll_interval_s = poll_interval_s
        self._open_port = open_port
        self._clock = clock
        self._port: serial.SerialBase | None = None
        self._parser = PacketParser()
        self._ready: deque[Packet] = deque()
        self._closed = False
        # One exchange at a time: a status probe from another thread waits
        # for a capture instead of splitting its frames.
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("open" if self._port else "not connected")
        return f"<ZfmSensor url={self.url!r} address=0x{self.address:08X} {state}>"

    # -- the seam ----------------------------------------------------------

    def capture(self, deadline_s: float) -> Capture:
        with self._lock:
            return self._capture(deadline_s)

    def _capture(self, deadline_s: float) -> Capture:
        end = self._clock() + deadline_s
        try:
            while not self.gen_img():
                if self._clock() >= end:
                    return Capture(
                        SensorStatus.NO_FINGER,
                        detail=f"no finger on the sensor within {deadline_s:g} s",
                    )
                time.sleep(self.poll_interval_s)
            return Capture(SensorStatus.READY, self.up_image())
        except SensorRefusedError as exc:
            if exc.code in (Confirmation.NO_FINGER, Confirmation.NO_VALID_IMAGE):
                return Capture(
                    SensorStatus.NO_FINGER,
                    detail=f"finger lifted before the image was read ({exc})",
                )
            return self._fault(SensorStatus.ERROR, f"sensor refused: {exc}")
        except ReplyTimeoutError as exc:
            if exc.received:
                return self._fault(SensorStatus.ERROR, f"truncated frame: {exc}")
            return self._fault(SensorStatus.DISCONNECTED, f"sensor does not answer: {exc}")
        except TransportError as exc:
            return self._fault(SensorStatus.DISCONNECTED, str(exc))
        except ProtocolError as exc:
            return self._fault(SensorStatus.ERROR, f"bad frame from the sensor: {exc}")

    def status(self) -> SensorStatus:
        """Probe the module (VfyPwd); reconnects if needed."""
        with self._lock:
            return self._status()

    def _status(self) -> SensorStatus:
        try:
            if self._port is None:
                self._connect()
            else:
                self.verify_password()
            return SensorStatus.READY
        except ReplyTimeoutError as exc:
            if exc.received:
                return self._fault(SensorStatus.ERROR, str(exc)).status
            return self._fault(SensorStatus.DISCONNECTED, str(exc)).status
        except TransportError as exc:
            return self._fault(SensorStatus.DISCONNECTED, str(exc)).status
        except (ProtocolError, DeviceError) as exc:
            return self._fault(SensorStatus.ERROR, str(exc)).status

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    # -- module commands ---------------------------------------------------

    def verify_password(self) -> None:
        self._command(Command.VFY_PWD, self.password.to_bytes(4, "big"))

    def gen_img(self) -> bool:
        """Take an image into the module's buffer; False when no finger is on the sensor."""
        try:
            self._command(Command.GEN_IMG)
        except SensorRefusedError as exc:
            if exc.code == Confirmation.NO_FINGER:
                return False
            raise
        return True

    def up_image(self) -> np.ndarray:
        """Upload the image buffer: 288×256 uint8, 4-bit levels scaled to 0..255."""
        data = self._command_with_data(Command.UP_IMAGE, b"", IMAGE_BYTES)
        if len(data) != IMAGE_BYTES:
            raise FrameError(f"image of {len(data)} bytes, expected {IMAGE_BYTES}")
        return unpack_image(data)

    def img2tz(self, buffer_id: int = 1) -> None:
        """Extract a character file from the image buffer into buffer 1 or 2."""
        self._command(Command.IMG2TZ, bytes([_buffer(buffer_id)]))

    def up_char(self, buffer_id: int = 1) -> bytes:
        return self._command_with_data(Command.UP_CHAR, bytes([_buffer(buffer_id)]), CHAR_FILE_BYTES)

    def down_char(self, data: bytes, buffer_id: int = 1, chunk: int = 128) -> None:
        if len(data) != CHAR_FILE_BYTES:
            raise ValueError(f"a character file is {CHAR_FILE_BYTES} bytes, got {len(data)}")
        with self._exchanging():
            self._exchange(Command.DOWN_CHAR, bytes([_buffer(buffer_id)]))
            for packet in data_packets(data, chunk, self.address):
                self._send(packet)

    def read_sys_para(self) -> dict[str, int]:
        p = self._command(Command.READ_SYS_PARA).payload[1:]
        if len(p) != 16:
            raise FrameError(f"system parameters of {len(p)} bytes, expected 16")
        return {
            "status": int.from_bytes(p[0:2], "big"),
            "system_id": int.from_bytes(p[2:4], "big"),
            "library_size": int.from_bytes(p[4:6], "big"),
            "security_level": int.from_bytes(p[6:8], "big"),
            "address": int.from_bytes(p[8:12], "big"),
            "data_packet_size": 32 << int.from_bytes(p[12:14], "big"),
            "baudrate": 9600 * int.from_bytes(p[14:16], "big"),
        }

    # -- the link ------------------------------------------------------------

    def _fault(self, status: SensorStatus, detail: str) -> Capture:
        # Whatever is still in flight belongs to the failed exchange: start over.
        self._drop()
        return Capture(status, detail=detail)

    def _drop(self) -> None:
        port, self._port = self._port, None
        self._parser.reset()
        self._ready.clear()
        if port is not None:
            try:
                port.close()
            except (OSError, serial.SerialException):
                pass  # an unplugged port may fail to close; it is gone either way

    def _connect(self) -> None:
        if self._closed:
            raise PortUnavailableError(f"{self!r} is closed")
        try:
            port = self._open_port(
                self.url,
                baudrate=self.baudrate,
                timeout=self.poll_interval_s,
                write_timeout=self.reply_timeout_s,
            )
            port.reset_input_buffer()
        except (OSError, ValueError, serial.SerialException) as exc:
            raise PortUnavailableError(f"cannot open {self.url}: {exc}") from exc
        self._port = port
        self._parser.reset()
        self._ready.clear()
        try:
            self.verify_password()
        except Exception:
            self._drop()
            raise

    def _send(self, packet: Packet) -> None:
        if self._port is None:
            self._connect()
        assert self._port is not None
        try:
            self._port.write(encode_packet(packet))
        except (OSError, serial.SerialException) as exc:
            self._drop()
            raise PortUnavailableError(f"write to {self.url} failed: {exc}") from exc

    def _receive(self) -> Packet:
        """The next whole packet, read in a loop until complete or ``reply_timeout_s`` passes."""
        assert self._port is not None
        deadline = self._clock() + self.reply_timeout_s
        received = self._parser.pending
        while not self._ready:
            if self._clock() >= deadline:
                raise ReplyTimeoutError(
                    f"no whole frame from {self.url} within {self.reply_timeout_s:g} s "
                    f"({received} bytes received)",
                    received,
                )
            try:
                chunk = self._port.read(max(1, self._port.in_waiting))
            except (OSError, serial.SerialException) as exc:
                self._drop()
                raise PortUnavailableError(f"read from {self.url} failed: {exc}") from exc
            received += len(chunk)
            try:
                self._ready.extend(self._parser.feed(chunk))
            except ChecksumError as exc:
                raise ChecksumError(str(exc)) from None
        packet = self._ready.popleft()
        if packet.address != self.address:
            raise FrameError(
                f"packet from address 0x{packet.address:08X}, expected 0x{self.address:08X}"
            )
        return packet

    @contextlib.contextmanager
    def _exchanging(self):
        """Hold the link; after a broken exchange start the next one afresh."""
        with self._lock:
            try:
                yield
            except (ProtocolError, TransportError):
                # Frames of the broken exchange may still be in flight.
                self._drop()
                raise

    def _command(self, command: Command, params: bytes = b"") -> Packet:
        with self._exchanging():
            return self._exchange(command, params)

    def _exchange(self, command: Command, params: bytes) -> Packet:
        if self._port is None and command != Command.VFY_PWD:
            self._connect()
        self._send(command_packet(command, params, self.address))
        ack = self._receive()
        # Data packets of an aborted transfer (a module still streaming an image after our
        # TransferTimeoutError) may stand before the acknowledgement: skip them, for no longer
        # than one reply timeout.
        stale_until = self._clock() + self.reply_timeout_s
        while ack.pid in (PacketId.DATA, PacketId.END) and self._clock() < stale_until:
            ack = self._receive()
        if ack.pid != PacketId.ACK or not ack.payload:
            raise FrameError(f"{command.name}: expected an acknowledgement, got {ack.pid.name}")
        if ack.confirmation != Confirmation.OK:
            raise SensorRefusedError(command, ack.confirmation)
        return ack

    def _command_with_data(self, command: Command, params: bytes, max_bytes: int) -> bytes:
        with self._exchanging():
            return self._exchange_with_data(command, params, max_bytes)

    def _exchange_with_data(self, command: Command, params: bytes, max_bytes: int) -> bytes:
        """The data packets after ``command``'s ack, up to the end packet (see the module docstring)."""
        self._exchange(command, params)
        end = self._clock() + self.transfer_timeout_s
        data = bytearray()
        while True:
            if self._clock() >= end:
                raise TransferTimeoutError(
                    f"{command.name}: no end packet within {self.transfer_timeout_s:g} s "
                    f"({len(data)} bytes of data came)")
            packet = self._receive()
            if packet.pid not in (PacketId.DATA, PacketId.END):
                raise FrameError(f"{command.name}: expected data, got {packet.pid.name}")
            data += packet.payload
            if len(data) > max_bytes:
                raise FrameError(f"{command.name}: data overruns the {max_bytes}-byte buffer "
                                 "(no end packet)")
            if packet.pid == PacketId.END:
                return bytes(data)


def _buffer(buffer_id: int) -> int:
    if buffer_id not in (1, 2):
        raise ValueError(f"character buffer is 1 or 2, not {buffer_id}")
    return buffer_id
