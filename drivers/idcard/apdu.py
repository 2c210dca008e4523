"""ISO/IEC 7816-4 command and response APDUs, and BER-TLV.

Guarantees: ``CommandApdu.encode`` picks the short form when data fits in 255
bytes and Le in 256, the extended form otherwise; ``CommandApdu.decode`` reads
all seven cases (1, 2S, 3S, 4S, 2E, 3E, 4E) and refuses anything else with
``ProtocolError``; TLV reading never reads past its buffer.

Example::

    >>> CommandApdu(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001")).encode().hex()
    '00a4040c07a0000002471001'
    >>> ResponseApdu.decode(bytes.fromhex("6a82")).sw
    27266
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import ProtocolError

SW_OK = 0x9000
SW_FILE_NOT_FOUND = 0x6A82
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_FAILED = 0x6300
SW_SM_MISSING = 0x6987
SW_SM_INCORRECT = 0x6988
SW_WRONG_LENGTH = 0x6700
SW_WRONG_P1P2 = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CONDITIONS = 0x6985
SW_WRONG_DATA = 0x6A80
SW_END_OF_FILE = 0x6282

INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_GET_CHALLENGE = 0x84
INS_MUTUAL_AUTHENTICATE = 0x82


@dataclass(frozen=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None  # None: no Le; 256 (short) or 65536 (extended) mean "all"

    def encode(self, *, extended: bool | None = None) -> bytes:
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        if extended is None:
            extended = len(self.data) > 255 or (self.le is not None and self.le > 256)
        if not extended:
            body = bytes([len(self.data)]) + self.data if self.data else b""
            if self.le is not None:
                body += bytes([self.le & 0xFF])
            return header + body
        body = b""
        if self.data:
            body = b"\x00" + len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            le = (self.le & 0xFFFF).to_bytes(2, "big")
            body += le if self.data else b"\x00" + le
        return header + body

    @classmethod
    def decode(cls, raw: bytes) -> CommandApdu:
        if len(raw) < 4:
            raise ProtocolError(f"command APDU of {len(raw)} bytes is shorter than its header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        n = len(body)
        if n == 0:
            return cls(cla, ins, p1, p2)
        if n == 1:
            return cls(cla, ins, p1, p2, b"", body[0] or 256)
        if body[0] != 0:
            lc = body[0]
            if n == 1 + lc:
                return cls(cla, ins, p1, p2, body[1:])
            if n == 2 + lc:
                return cls(cla, ins, p1, p2, body[1 : 1 + lc], body[-1] or 256)
            raise ProtocolError(f"command APDU body of {n} bytes does not match Lc {lc}")
        if n == 3:
            return cls(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536)
        lc = int.from_bytes(body[1:3], "big")
        if n == 3 + lc:
            return cls(cla, ins, p1, p2, body[3:])
        if n == 5 + lc:
            return cls(cla, ins, p1, p2, body[3 : 3 + lc],
                       int.from_bytes(body[-2:], "big") or 65536)
        raise ProtocolError(f"extended command APDU body of {n} bytes does not match Lc {lc}")


@dataclass(frozen=True)
class ResponseApdu:
    data: bytes
    sw: int

    @classmethod
    def decode(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ProtocolError(f"response of {len(raw)} bytes has no status word")
        return cls(raw[:-2], int.from_bytes(raw[-2:], "big"))

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK


# --- BER-TLV (ISO/IEC 7816-4 §5.2, ICAO 9303 Part 10) --------------------------


def read_tlv(buf: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """Read one TLV at ``offset``: (tag, value, offset after it)."""
    try:
        start = offset
        tag = buf[offset]
        offset += 1
        if tag & 0x1F == 0x1F:
            while True:
                tag = (tag << 8) | buf[offset]
                offset += 1
                if not buf[offset - 1] & 0x80:
                    break
                if offset - start > 4:
                    raise ProtocolError("TLV tag longer than 4 bytes")
        length, offset = read_length(buf, offset)
    except IndexError as exc:
        raise ProtocolError("TLV runs past the end of its buffer") from exc
    if offset + length > len(buf):
        raise ProtocolError(f"TLV value of {length} bytes runs past the end of its buffer")
    return tag, buf[offset : offset + length], offset + length


def read_length(buf: bytes, offset: int) -> tuple[int, int]:
    """Read a BER length at ``offset``: (length, offset after it)."""
    first = buf[offset]
    if first < 0x80:
        return first, offset + 1
    n = first & 0x7F
    if n == 0 or n > 3:
        raise ProtocolError(f"BER length form 0x{first:02X} is not supported")
    if offset + 1 + n > len(buf):
        raise IndexError("length runs past the buffer")
    return int.from_bytes(buf[offset + 1 : offset + 1 + n], "big"), offset + 1 + n


def header_size(buf: bytes) -> int:
    """Bytes taken by the tag and length at the start of ``buf`` (for whole-file reads)."""
    tag_len = 1
    if buf[0] & 0x1F == 0x1F:
        while buf[tag_len] & 0x80:
            tag_len += 1
        tag_len += 1
    _, after = read_length(buf, tag_len)
    return after


def parse_tlvs(buf: bytes) -> list[tuple[int, bytes]]:
    """All TLVs in ``buf`` one after the other (00/FF padding between them is skipped)."""
    out = []
    offset = 0
    while offset < len(buf):
        if buf[offset] in (0x00, 0xFF):
            offset += 1
            continue
        tag, value, offset = read_tlv(buf, offset)
        out.append((tag, value))
    return out


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    if n < 0x10000:
        return b"\x82" + n.to_bytes(2, "big")
    return b"\x83" + n.to_bytes(3, "big")


def encode_tlv(tag: int, value: bytes) -> bytes:
    tag_bytes = tag.to_bytes((tag.bit_length() + 7) // 8 or 1, "big")
    return tag_bytes + encode_length(len(value)) + value
