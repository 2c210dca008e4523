"""ZhianTec ZFM / R30x UART packets: pure framing, no I/O.

Every packet on the wire is::

    EF 01 | address (4, big-endian) | packet id (1) | length (2, big-endian) | payload | checksum (2)

where ``length`` = len(payload) + 2 and ``checksum`` is the low 16 bits of the
sum of the packet id, both length bytes and every payload byte. Packet ids:
01 command (host → module), 02 data (more follows), 07 acknowledgement
(module → host, first payload byte is the confirmation code), 08 end of data.

This module guarantees:

- ``encode_packet`` / ``decode_packet`` are exact inverses for every valid
  packet; ``decode_packet`` refuses anything else with a ``ProtocolError``
  subclass that says what was wrong (header, checksum, length).
- ``PacketParser`` accepts bytes in arbitrary slices (one byte, half a frame,
  three frames at once) and yields whole packets in order; garbage before a
  header is skipped and counted; a frame with a bad checksum raises
  ``ChecksumError`` after being consumed, so the next frame still parses.

Example::

    >>> raw = encode_packet(Packet(PacketId.COMMAND, bytes([Command.GEN_IMG])))
    >>> raw.hex(" ")
    'ef 01 ff ff ff ff 01 00 03 01 00 05'
    >>> parser = PacketParser()
    >>> parser.feed(raw[:5]), [p.payload for p in parser.feed(raw[5:])]
    ([], [b'\\x01'])
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from drivers.errors import ProtocolError

HEADER = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
# header 2 + address 4 + packet id 1 + length 2
PREFIX_LEN = 9
CHECKSUM_LEN = 2
# The longest payload a module sends is a 256-byte data packet; a length
# beyond this is line noise that happened to follow EF 01, not a frame.
MAX_PAYLOAD = 256

IMAGE_WIDTH = 256
IMAGE_HEIGHT = 288
# 4 bits per pixel, two pixels per byte, high nibble first.
IMAGE_BYTES = IMAGE_WIDTH * IMAGE_HEIGHT // 2
# A character file (template) buffer as uploaded by UpChar.
CHAR_FILE_BYTES = 512


class FrameError(ProtocolError):
    """Raised when bytes do not form a ZFM packet (bad header, length or packet id)."""


class ChecksumError(ProtocolError):
    """Raised when a ZFM packet's checksum does not match its contents."""

    def __init__(self, message: str, packets: tuple[Packet, ...] = ()) -> None:
        super().__init__(message)
        # Whole packets that preceded the bad one in the same feed().
        self.packets = packets


class PacketId(enum.IntEnum):
    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END = 0x08


class Command(enum.IntEnum):
    """Instruction codes (first payload byte of a command packet)."""

    GEN_IMG = 0x01
    IMG2TZ = 0x02
    MATCH = 0x03
    SEARCH = 0x04
    REG_MODEL = 0x05
    STORE = 0x06
    LOAD_CHAR = 0x07
    UP_CHAR = 0x08
    DOWN_CHAR = 0x09
    UP_IMAGE = 0x0A
    DOWN_IMAGE = 0x0B
    DELETE_CHAR = 0x0C
    EMPTY = 0x0D
    READ_SYS_PARA = 0x0F
    VFY_PWD = 0x13


class Confirmation(enum.IntEnum):
    """Confirmation codes (first payload byte of an acknowledgement)."""

    OK = 0x00
    PACKET_ERROR = 0x01
    NO_FINGER = 0x02
    ENROLL_FAILED = 0x03
    IMAGE_TOO_MESSY = 0x06
    TOO_FEW_FEATURES = 0x07
    NO_MATCH = 0x08
    NOT_FOUND = 0x09
    COMBINE_FAILED = 0x0A
    BAD_PAGE_ID = 0x0B
    TEMPLATE_READ_ERROR = 0x0C
    UPLOAD_TEMPLATE_ERROR = 0x0D
    CANNOT_RECEIVE_DATA = 0x0E
    UPLOAD_IMAGE_ERROR = 0x0F
    DELETE_FAILED = 0x10
    CLEAR_FAILED = 0x11
    WRONG_PASSWORD = 0x13
    NO_VALID_IMAGE = 0x15
    FLASH_ERROR = 0x18
    UNDEFINED_ERROR = 0x19
    BAD_REGISTER = 0x1A
    BAD_REGISTER_CONFIG = 0x1B
    BAD_NOTEPAD_PAGE = 0x1C
    PORT_ERROR = 0x1D
    PASSWORD_REQUIRED = 0x21

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]

    @classmethod
    def describe(cls, code: int) -> str:
        """A human sentence for any code, known or not (for logs and details)."""
        try:
            return f"0x{code:02X} {cls(code).meaning}"
        except ValueError:
            return f"0x{code:02X} unknown confirmation code"


_MEANINGS = {
    Confirmation.OK: "command executed",
    Confirmation.PACKET_ERROR: "error receiving the packet",
    Confirmation.NO_FINGER: "no finger on the sensor",
    Confirmation.ENROLL_FAILED: "failed to collect the finger image",
    Confirmation.IMAGE_TOO_MESSY: "image too messy to extract features",
    Confirmation.TOO_FEW_FEATURES: "too few feature points",
    Confirmation.NO_MATCH: "fingers do not match",
    Confirmation.NOT_FOUND: "no matching finger in the library",
    Confirmation.COMBINE_FAILED: "failed to combine character files",
    Confirmation.BAD_PAGE_ID: "page id beyond the library",
    Confirmation.TEMPLATE_READ_ERROR: "error reading the template or template invalid",
    Confirmation.UPLOAD_TEMPLATE_ERROR: "error uploading the template",
    Confirmation.CANNOT_RECEIVE_DATA: "module cannot receive the following data packets",
    Confirmation.UPLOAD_IMAGE_ERROR: "error uploading the image",
    Confirmation.DELETE_FAILED: "failed to delete the template",
    Confirmation.CLEAR_FAILED: "failed to clear the library",
    Confirmation.WRONG_PASSWORD: "wrong password",
    Confirmation.NO_VALID_IMAGE: "no valid primary image in the buffer",
    Confirmation.FLASH_ERROR: "error writing flash",
    Confirmation.UNDEFINED_ERROR: "undefined error",
    Confirmation.BAD_REGISTER: "invalid register number",
    Confirmation.BAD_REGISTER_CONFIG: "incorrect register configuration",
    Confirmation.BAD_NOTEPAD_PAGE: "wrong notepad page number",
    Confirmation.PORT_ERROR: "failed to operate the communication port",
    Confirmation.PASSWORD_REQUIRED: "password must be verified first",
}


@dataclass(frozen=True)
class Packet:
    pid: PacketId
    payload: bytes = b""
    address: int = DEFAULT_ADDRESS

    @property
    def confirmation(self) -> int:
        """The confirmation code of an acknowledgement packet."""
        if self.pid != PacketId.ACK or not self.payload:
            raise FrameError(f"not an acknowledgement with a code: {self!r}")
        return self.payload[0]


def checksum(pid: int, payload: bytes) -> int:
    length = len(payload) + CHECKSUM_LEN
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


def encode_packet(packet: Packet) -> bytes:
    if len(packet.payload) > MAX_PAYLOAD:
        raise FrameError(f"payload of {len(packet.payload)} bytes exceeds {MAX_PAYLOAD}")
    if not 0 <= packet.address <= 0xFFFFFFFF:
        raise FrameError(f"address {packet.address!r} does not fit 4 bytes")
    length = len(packet.payload) + CHECKSUM_LEN
    return (
        HEADER
        + packet.address.to_bytes(4, "big")
        + bytes([packet.pid])
        + length.to_bytes(2, "big")
        + packet.payload
        + checksum(packet.pid, packet.payload).to_bytes(2, "big")
    )


def command_packet(command: Command, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> Packet:
    return Packet(PacketId.COMMAND, bytes([command]) + params, address)


def ack_packet(code: int, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> Packet:
    return Packet(PacketId.ACK, bytes([code]) + params, address)


def data_packets(data: bytes, chunk: int = 128, address: int = DEFAULT_ADDRESS) -> list[Packet]:
    """Split ``data`` into data packets of ``chunk`` bytes, the last one an end packet."""
    if chunk not in (32, 64, 128, 256):
        raise ValueError(f"data packet size must be 32, 64, 128 or 256, not {chunk}")
    pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [b""]
    packets = [Packet(PacketId.DATA, p, address) for p in pieces[:-1]]
    packets.append(Packet(PacketId.END, pieces[-1], address))
    return packets


def _frame_length(prefix: bytes) -> int:
    """Total length of the frame whose first 9 bytes are ``prefix`` (validated)."""
    if prefix[:2] != HEADER:
        raise FrameError(f"bad header {prefix[:2].hex(' ')}")
    pid = prefix[6]
    if pid not in PacketId._value2member_map_:
        raise FrameError(f"unknown packet id 0x{pid:02X}")
    length = int.from_bytes(prefix[7:9], "big")
    if not CHECKSUM_LEN <= length <= MAX_PAYLOAD + CHECKSUM_LEN:
        raise FrameError(f"length field {length} out of range")
    return PREFIX_LEN + length


def decode_packet(raw: bytes) -> Packet:
    """Decode exactly one whole frame."""
    if len(raw) < PREFIX_LEN + CHECKSUM_LEN:
        raise FrameError(f"frame of {len(raw)} bytes is shorter than the minimum 11")
    total = _frame_length(raw[:PREFIX_LEN])
    if len(raw) != total:
        raise FrameError(f"frame of {len(raw)} bytes, its length field says {total}")
    pid = raw[6]
    payload = raw[PREFIX_LEN:-CHECKSUM_LEN]
    got = int.from_bytes(raw[-CHECKSUM_LEN:], "big")
    want = checksum(pid, payload)
    if got != want:
        raise ChecksumError(f"checksum 0x{got:04X}, expected 0x{want:04X}")
    return Packet(PacketId(pid), bytes(payload), int.from_bytes(raw[2:6], "big"))


class PacketParser:
    """Reassembles packets from a byte stream delivered in arbitrary slices.

    ``feed`` returns the packets completed by the new bytes. ``pending`` is the
    number of bytes held for an unfinished frame (a truncated frame shows as
    pending bytes that never complete). ``skipped`` counts garbage bytes
    dropped while hunting for a header.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0

    @property
    def pending(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Packet]:
        self._buf += data
        out: list[Packet] = []
        while True:
            start = self._buf.find(HEADER)
            if start < 0:
                # Keep a trailing EF: it may be the first half of a header.
                keep = 1 if self._buf[-1:] == HEADER[:1] else 0
                self.skipped += len(self._buf) - keep
                del self._buf[: len(self._buf) - keep]
                return out
            if start:
                self.skipped += start
                del self._buf[:start]
            if len(self._buf) < PREFIX_LEN:
                return out
            try:
                total = _frame_length(bytes(self._buf[:PREFIX_LEN]))
            except FrameError:
                # EF 01 inside noise: drop the header and hunt again.
                self.skipped += 2
                del self._buf[:2]
                continue
            if len(self._buf) < total:
                return out
            raw = bytes(self._buf[:total])
            del self._buf[:total]
            try:
                out.append(decode_packet(raw))
            except ChecksumError as exc:
                # Packets completed before the bad one ride on the exception.
                raise ChecksumError(str(exc), tuple(out)) from None
