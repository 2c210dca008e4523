"""A ZFM / R30x fingerprint module simulated on a pseudo-terminal.

``SensorSimulator`` opens a pty pair (``os.openpty`` + ``tty.setraw``) and a
thread that answers the module's real packets on the master side; the driver
opens ``.port`` (a stable symlink to the slave device, like a udev by-id name)
with pyserial exactly as it would open ``/dev/ttyUSB0``. What the sensor sees
is set with ``place_finger(image)`` / ``lift_finger()``, or an
``image_source`` callable asked at each GenImg (return ``None`` for no finger).

Commands answered: VfyPwd, GenImg, UpImage (ack then 256×288 4-bit pixels in
data packets of ``data_packet_size`` bytes, the last an end packet), Img2Tz,
UpChar, DownChar, ReadSysPara. Img2Tz makes a 512-byte character file that is
a digest of the image (enough to exercise UpChar/DownChar; no minutiae).
Packets to another address are ignored; a host packet with a bad checksum is
answered with confirmation 0x01, as the module does.

Failure presets (``preset=`` or ``set_preset()``, any time; they last until
changed):

- ``corrupt-checksum``: the last frame of every answer has a wrong checksum.
- ``truncated-frame``: every answer stops in the middle of its last frame.
- ``no-answer``: commands are read and never answered.
- ``unplugged-mid-transfer``: during UpImage, after half the data packets,
  the pty is closed and its name removed, like a USB adapter pulled out; it
  stays unplugged until ``replug()``.
- ``finger-lifted-early``: GenImg succeeds, then the finger is gone: the image
  buffer is invalid and UpImage answers 0x15 (no valid primary image).
- ``wrong-password``: VfyPwd answers 0x13 and every other command 0x21.
- ``no-end-packet``: UpImage is acknowledged, then the image's data packets
  come over and over and never an end packet (until the preset changes, the
  module is unplugged or the simulator stops: meanwhile it hears nothing).

Example::

    with SensorSimulator() as sim, ZfmSensor(sim.port) as sensor:
        sim.place_finger(impression)
        capture = sensor.capture(deadline_s=2.0)

Standalone: ``python -m drivers.fingerprint.simulator --finger`` prints the
port to open from another process and serves until interrupted.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import os
import select
import shutil
import signal
import sys
import tempfile
import threading
import time
import tty
from collections.abc import Callable

import numpy as np

from drivers.errors import ProtocolError
from drivers.fingerprint.base import IMAGE_SHAPE, pack_image
from drivers.fingerprint.packets import (
    CHAR_FILE_BYTES,
    DEFAULT_ADDRESS,
    Command,
    Confirmation,
    Packet,
    PacketId,
    PacketParser,
    ack_packet,
    data_packets,
    encode_packet,
)
from drivers.simulation import FailurePresets

PRESETS = (
    "corrupt-checksum",
    "truncated-frame",
    "no-answer",
    "unplugged-mid-transfer",
    "finger-lifted-early",
    "wrong-password",
    "no-end-packet",
)

_PACKET_SIZE_CODES = {32: 0, 64: 1, 128: 2, 256: 3}


def fit_image(image: np.ndarray) -> np.ndarray:
    """Centre ``image`` (2-D uint8, any size) on the 288×256 sensor window.

    Cropping or padding with white keeps the ridge spacing (the sensor's
    500 dpi); scaling would change it.
    """
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"an impression is a 2-D uint8 array, got {image.dtype} {image.shape}")
    out = np.full(IMAGE_SHAPE, 255, dtype=np.uint8)
    rows = min(image.shape[0], IMAGE_SHAPE[0])
    cols = min(image.shape[1], IMAGE_SHAPE[1])
    sr, sc = (image.shape[0] - rows) // 2, (image.shape[1] - cols) // 2
    dr, dc = (IMAGE_SHAPE[0] - rows) // 2, (IMAGE_SHAPE[1] - cols) // 2
    out[dr : dr + rows, dc : dc + cols] = image[sr : sr + rows, sc : sc + cols]
    return out


def ridge_pattern(seed: int = 0) -> np.ndarray:
    """A finger-like image of concentric ridges (for the CLI, tests and benchmarks)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0 : IMAGE_SHAPE[0], 0 : IMAGE_SHAPE[1]].astype(np.float64)
    cy, cx = IMAGE_SHAPE[0] * rng.uniform(0.4, 0.6), IMAGE_SHAPE[1] * rng.uniform(0.4, 0.6)
    radius = np.hypot((rows - cy) * 0.8, cols - cx)
    ridges = 0.5 + 0.5 * np.cos(radius * 2 * np.pi / rng.uniform(8.0, 10.0))
    inside = ((rows - cy) / 130) ** 2 + ((cols - cx) / 100) ** 2 < 1
    image = np.where(inside, 255 * (1 - 0.85 * ridges), 255)
    return image.astype(np.uint8)


class SensorSimulator(FailurePresets):
    """A simulated ZFM module on a pty; a context manager with ``.port``."""

    PRESETS = PRESETS

    def __init__(
        self,
        image_source: Callable[[], np.ndarray | None] | None = None,
        *,
        preset: str | None = None,
        address: int = DEFAULT_ADDRESS,
        password: int = 0,
        data_packet_size: int = 128,
        pace_baud: int | None = None,
        link_dir: str | None = None,
    ) -> None:
        if data_packet_size not in _PACKET_SIZE_CODES:
            raise ValueError(f"data packet size must be one of {sorted(_PACKET_SIZE_CODES)}")
        self._image_source = image_source
        self.address = address
        self.password = password
        self.data_packet_size = data_packet_size
        # Bytes per second on a real UART: 10 bits per byte (start, 8 data, stop).
        self.pace_baud = pace_baud
        self._lock = threading.Lock()
        self._preset: str | None = None
        self.set_preset(preset)
        self._finger: np.ndarray | None = None
        self._image_buffer: bytes | None = None
        self._char_buffers: dict[int, bytes] = {}
        self._receiving: tuple[int, bytearray] | None = None
        self._verified = False
        self._own_dir = link_dir is None
        self._dir = link_dir or tempfile.mkdtemp(prefix="uchastok-zfm-")
        self.port = os.path.join(self._dir, "ttyZFM0")
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.commands_seen: list[Command | int] = []
        self._closed = False

    # -- life cycle --------------------------------------------------------

    def start(self) -> SensorSimulator:
        if self._thread is not None:
            return self
        self._plug()
        self._thread = threading.Thread(target=self._serve, name="zfm-simulator", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._unplug()
        if self._own_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> SensorSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "unplugged" if self.unplugged else "plugged"
        return (
            f"<SensorSimulator port={self.port} {state} preset={self._preset} "
            f"finger={'yes' if self._finger is not None else 'no'}>"
        )

    # -- what the sensor sees, and its faults -------------------------------

    def place_finger(self, image: np.ndarray) -> None:
        fitted = fit_image(image)
        with self._lock:
            self._finger = fitted

    def lift_finger(self) -> None:
        with self._lock:
            self._finger = None

    @property
    def unplugged(self) -> bool:
        return self._master is None

    def unplug(self) -> None:
        """Pull the cable: the port's name disappears and open ports fail."""
        with self._lock:
            self._unplug()

    def replug(self) -> None:
        """Plug back in: the same ``.port`` name opens a fresh link (module state reset)."""
        with self._lock:
            if self._master is None:
                self._plug()

    def _plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        # The simulator keeps the slave open so the master never sees a hang-up
        # between the driver's opens.
        self._master, self._slave = master, slave
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)
        os.symlink(os.ttyname(slave), self.port)
        self._verified = False
        self._image_buffer = None
        self._receiving = None

    def _unplug(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.port)
        # Mark unplugged before closing, so whoever sees the link fail sees it unplugged.
        fds = (self._master, self._slave)
        self._master = self._slave = None
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    # -- the wire ------------------------------------------------------------

    def _serve(self) -> None:
        parser = PacketParser()
        while not self._stop.is_set():
            master = self._master
            if master is None:
                parser.reset()
                self._stop.wait(0.02)
                continue
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                # Under the lock, and only if it is still our master: an unplug closes the fd
                # and a replug (or anyone else's open, a directory for an fsync) may reuse its
                # number; reading that would be someone else's file (seen: IsADirectoryError).
                with self._lock:
                    if self._master != master:
                        continue
                    data = os.read(master, 4096)
            except OSError as exc:
                # EIO: nobody holds the slave; EBADF: unplugged under us.
                if exc.errno not in (errno.EIO, errno.EBADF, errno.EAGAIN):
                    raise
                self._stop.wait(0.01)
                continue
            try:
                packets = parser.feed(data)
                bad = False
            except ProtocolError as exc:
                packets = list(getattr(exc, "packets", ()))
                bad = True
            for packet in packets:
                self._handle(packet)
            if bad:
                self._answer([ack_packet(Confirmation.PACKET_ERROR, address=self.address)])

    def _write(self, data: bytes, *, while_preset: str | None = None) -> bool:
        """Write all of ``data`` to the master; False if unplugged or stopping
        (or, given ``while_preset``, once that preset is switched off)."""
        view = memoryview(data)
        step = 64 if self.pace_baud else len(view)
        while view:
            master = self._master
            if master is None or self._stop.is_set():
                return False
            if while_preset is not None and self._preset != while_preset:
                return False
            try:
                _, ready, _ = select.select([], [master], [], 0.05)
                if not ready:
                    continue
                with self._lock:                     # still our master? (see _serve)
                    if self._master != master:
                        return False
                    n = os.write(master, view[:step])
            except OSError:
                return False
            if self.pace_baud:
                time.sleep(n * 10 / self.pace_baud)
            view = view[n:]
        return True

    def _answer(self, packets: list[Packet], unplug_after: int | None = None) -> None:
        preset = self._preset
        if preset == "no-answer":
            return
        frames = [encode_packet(p) for p in packets]
        if preset == "corrupt-checksum":
            last = bytearray(frames[-1])
            last[-1] ^= 0x5A
            frames[-1] = bytes(last)
        elif preset == "truncated-frame":
            frames[-1] = frames[-1][: len(frames[-1]) // 2]
        for i, frame in enumerate(frames):
            if unplug_after is not None and i == unplug_after:
                self.unplug()
                return
            if not self._write(frame):
                return

    # -- the module ----------------------------------------------------------

    def _handle(self, packet: Packet) -> None:
        if packet.address != self.address:
            return
        if packet.pid in (PacketId.DATA, PacketId.END):
            self._receive_data(packet)
            return
        if packet.pid != PacketId.COMMAND or not packet.payload:
            self._ack(Confirmation.PACKET_ERROR)
            return
        code, params = packet.payload[0], packet.payload[1:]
        try:
            command = Command(code)
        except ValueError:
            self.commands_seen.append(code)
            self._ack(Confirmation.PACKET_ERROR)
            return
        self.commands_seen.append(command)
        if command == Command.VFY_PWD:
            self._vfy_pwd(params)
            return
        if self._preset == "wrong-password" or (self.password and not self._verified):
            self._ack(Confirmation.PASSWORD_REQUIRED)
            return
        handler = {
            Command.GEN_IMG: self._gen_img,
            Command.UP_IMAGE: self._up_image,
            Command.IMG2TZ: self._img2tz,
            Command.UP_CHAR: self._up_char,
            Command.DOWN_CHAR: self._down_char,
            Command.READ_SYS_PARA: self._read_sys_para,
        }.get(command)
        if handler is None:
            self._ack(Confirmation.UNDEFINED_ERROR)
        else:
            handler(params)

    def _ack(self, code: int, params: bytes = b"") -> None:
        self._answer([ack_packet(code, params, self.address)])

    def _vfy_pwd(self, params: bytes) -> None:
        if len(params) != 4:
            self._ack(Confirmation.PACKET_ERROR)
            return
        ok = self._preset != "wrong-password" and int.from_bytes(params, "big") == self.password
        self._verified = ok
        self._ack(Confirmation.OK if ok else Confirmation.WRONG_PASSWORD)

    def _current_finger(self) -> np.ndarray | None:
        with self._lock:
            finger = self._finger
        if finger is None and self._image_source is not None:
            offered = self._image_source()
            finger = None if offered is None else fit_image(offered)
        return finger

    def _gen_img(self, params: bytes) -> None:
        finger = self._current_finger()
        if finger is None:
            self._ack(Confirmation.NO_FINGER)
            return
        if self._preset == "finger-lifted-early":
            self._image_buffer = None
            self.lift_finger()
        else:
            self._image_buffer = pack_image(finger)
        self._ack(Confirmation.OK)

    def _up_image(self, params: bytes) -> None:
        if self._image_buffer is None:
            self._ack(Confirmation.NO_VALID_IMAGE)
            return
        if self._preset == "no-end-packet":
            self._endless_image()
            return
        packets = [ack_packet(Confirmation.OK, address=self.address)]
        packets += data_packets(self._image_buffer, self.data_packet_size, self.address)
        unplug_after = len(packets) // 2 if self._preset == "unplugged-mid-transfer" else None
        self._answer(packets, unplug_after=unplug_after)

    def _endless_image(self) -> None:
        """The "no-end-packet" module: the image's data packets over and over, no end packet."""
        preset = "no-end-packet"
        if not self._write(encode_packet(ack_packet(Confirmation.OK, address=self.address)),
                           while_preset=preset):
            return
        frames = [encode_packet(Packet(PacketId.DATA, p.payload, self.address))
                  for p in data_packets(self._image_buffer, self.data_packet_size, self.address)]
        while True:
            for frame in frames:
                if not self._write(frame, while_preset=preset):
                    return

    def _buffer_id(self, params: bytes) -> int | None:
        return params[0] if len(params) == 1 and params[0] in (1, 2) else None

    def _img2tz(self, params: bytes) -> None:
        buffer_id = self._buffer_id(params)
        if buffer_id is None:
            self._ack(Confirmation.PACKET_ERROR)
        elif self._image_buffer is None:
            self._ack(Confirmation.NO_VALID_IMAGE)
        else:
            digest = hashlib.shake_256(self._image_buffer).digest(CHAR_FILE_BYTES)
            self._char_buffers[buffer_id] = digest
            self._ack(Confirmation.OK)

    def _up_char(self, params: bytes) -> None:
        buffer_id = self._buffer_id(params)
        if buffer_id is None:
            self._ack(Confirmation.PACKET_ERROR)
        elif buffer_id not in self._char_buffers:
            self._ack(Confirmation.UPLOAD_TEMPLATE_ERROR)
        else:
            data = self._char_buffers[buffer_id]
            self._answer(
                [
                    ack_packet(Confirmation.OK, address=self.address),
                    *data_packets(data, self.data_packet_size, self.address),
                ]
            )

    def _down_char(self, params: bytes) -> None:
        buffer_id = self._buffer_id(params)
        if buffer_id is None:
            self._ack(Confirmation.PACKET_ERROR)
            return
        self._receiving = (buffer_id, bytearray())
        self._ack(Confirmation.OK)

    def _receive_data(self, packet: Packet) -> None:
        if self._receiving is None:
            return
        buffer_id, data = self._receiving
        data += packet.payload
        if packet.pid == PacketId.END:
            self._char_buffers[buffer_id] = bytes(data)
            self._receiving = None

    def char_buffer(self, buffer_id: int) -> bytes | None:
        """What the module holds in character buffer 1 or 2 (for tests)."""
        return self._char_buffers.get(buffer_id)

    def _read_sys_para(self, params: bytes) -> None:
        para = (
            (0).to_bytes(2, "big")  # status register
            + (0x0009).to_bytes(2, "big")  # system identifier code
            + (1000).to_bytes(2, "big")  # finger library size
            + (3).to_bytes(2, "big")  # security level
            + self.address.to_bytes(4, "big")
            + _PACKET_SIZE_CODES[self.data_packet_size].to_bytes(2, "big")
            + (57600 // 9600).to_bytes(2, "big")  # baud rate as N × 9600
        )
        self._ack(Confirmation.OK, para)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Serve a simulated ZFM fingerprint sensor on a pty."
    )
    parser.add_argument("--preset", choices=PRESETS, default=None)
    parser.add_argument("--finger", action="store_true", help="keep a test-pattern finger placed")
    parser.add_argument("--password", type=lambda s: int(s, 0), default=0)
    parser.add_argument("--baud", type=int, default=None, help="pace answers like a UART")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the pty and its link are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with SensorSimulator(preset=args.preset, password=args.password, pace_baud=args.baud) as sim:
        if args.finger:
            sim.place_finger(ridge_pattern())
        print(sim.port, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
