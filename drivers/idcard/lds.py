"""Logical Data Structure files (ICAO 9303 Parts 10 and 11): read and build.

Guarantees:

* ``parse_com`` gives the LDS version and the data-group tags EF.COM lists.
* ``parse_dg1`` gives the MRZ text of DG1 (tag 61 / 5F1F) parsed by ``mrz``.
* ``parse_dg2`` gives the first face image of DG2 (tag 75 / 7F61 / 7F60 /
  5F2E or 7F2E), taken from its ISO/IEC 19794-5 facial record: the JPEG or
  JPEG 2000 bytes and their format. A DG2 that does not follow the format
  raises ``MalformedDataError``.
* ``parse_dg11`` gives the additional personal details of DG11 (tag 6B) by
  name: ``personal_number`` (5F10, where Kyrgyz chips may carry the PIN),
  ``full_name`` (5F0E), ``full_birth_date`` (5F2B), ``place_of_birth`` (5F11).
* ``parse_card_access`` lists the PACE protocols EF.CardAccess advertises
  (Part 11 §9.2: PACEInfo, OID under id-PACE 0.4.0.127.0.7.2.2.4). The file
  is readable without BAC, so it is the first thing a hostile card can feed
  us: an empty or cut-off object identifier is ``MalformedDataError`` too.
* Every ``parse_*`` raises only ``MalformedDataError`` (and ``parse_dg1``
  ``InvalidMrzError`` for an MRZ that fails its checks), whatever the bytes.
* ``build_*`` compose the same files (for the chip emulator).

Example::

    >>> parse_com(bytes.fromhex("60145F0104303130365F36063034303030305C026175"))
    ('0106', [97, 117])
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from drivers.errors import ProtocolError
from drivers.idcard.apdu import encode_tlv, parse_tlvs, read_tlv
from drivers.idcard.errors import MalformedDataError
from drivers.idcard.mrz import MRZ, PinLocation, parse_mrz

# Data-group number -> EF.COM tag, short file identifier (file id 01xx).
DG_TAGS = {1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 7: 0x67, 11: 0x6B, 12: 0x6C,
           14: 0x6E, 15: 0x6F}
FID_COM = 0x011E
FID_SOD = 0x011D
FID_CARD_ACCESS = 0x011C
EMRTD_AID = bytes.fromhex("A0000002471001")
ID_PACE = "0.4.0.127.0.7.2.2.4"


def dg_fid(number: int) -> int:
    return 0x0100 + number


def _tlv(buf: bytes, expected_tag: int, what: str) -> bytes:
    try:
        tag, value, _ = read_tlv(buf)
    except ProtocolError as exc:
        raise MalformedDataError(f"{what}: {exc}") from exc
    if tag != expected_tag:
        raise MalformedDataError(f"{what} starts with tag {tag:X}, not {expected_tag:X}")
    return value


def _children(value: bytes, what: str) -> dict[int, bytes]:
    try:
        return dict(parse_tlvs(value))
    except ProtocolError as exc:
        raise MalformedDataError(f"{what}: {exc}") from exc


def parse_com(ef_com: bytes) -> tuple[str, list[int]]:
    inner = _children(_tlv(ef_com, 0x60, "EF.COM"), "EF.COM")
    version = inner.get(0x5F01, b"").decode("ascii", "replace")
    return version, list(inner.get(0x5C, b""))


def build_com(dg_numbers: list[int]) -> bytes:
    return encode_tlv(0x60, encode_tlv(0x5F01, b"0107") + encode_tlv(0x5F36, b"040000")
                      + encode_tlv(0x5C, bytes(DG_TAGS[n] for n in dg_numbers)))


def parse_dg1(dg1: bytes, *, pin_locations: dict[str, PinLocation] | None = None) -> MRZ:
    inner = _children(_tlv(dg1, 0x61, "DG1"), "DG1")
    if 0x5F1F not in inner:
        raise MalformedDataError("DG1 has no MRZ data object (5F1F)")
    text = inner[0x5F1F].decode("ascii", "replace")
    width = {90: 30, 88: 44}.get(len(text))
    if width is None:
        raise MalformedDataError(f"DG1 MRZ has {len(text)} characters, not 90 (TD1) or 88 (TD3)")
    return parse_mrz(tuple(text[i : i + width] for i in range(0, len(text), width)),
                     pin_locations=pin_locations)


def build_dg1(mrz_lines: tuple[str, ...]) -> bytes:
    return encode_tlv(0x61, encode_tlv(0x5F1F, "".join(mrz_lines).encode("ascii")))


_DG11_FIELDS = {0x5F0E: "full_name", 0x5F10: "personal_number", 0x5F2B: "full_birth_date",
                0x5F11: "place_of_birth", 0x5F42: "address"}


def parse_dg11(dg11: bytes) -> dict[str, str]:
    inner = _children(_tlv(dg11, 0x6B, "DG11"), "DG11")
    return {name: inner[tag].decode("utf-8", "replace")
            for tag, name in _DG11_FIELDS.items() if tag in inner}


def build_dg11(**fields: str) -> bytes:
    tags = {name: tag for tag, name in _DG11_FIELDS.items()}
    body = b"".join(encode_tlv(tags[name], value.encode("utf-8"))
                    for name, value in fields.items())
    tag_list = b"".join(tags[name].to_bytes(2, "big") for name in fields)
    return encode_tlv(0x6B, encode_tlv(0x5C, tag_list) + body)


@dataclass(frozen=True)
class FaceImage:
    data: bytes
    format: str  # "jpeg" or "jpeg2000"
    width: int
    height: int


_FORMATS = {0: "jpeg", 1: "jpeg2000"}
_JP2_MAGIC = bytes.fromhex("0000000C6A5020200D0A870A")


def parse_dg2(dg2: bytes) -> FaceImage:
    """The first face image of DG2, from its ISO/IEC 19794-5 facial record."""
    group = _children(_tlv(dg2, 0x75, "DG2"), "DG2")
    if 0x7F61 not in group:
        raise MalformedDataError("DG2 has no biometric information group template (7F61)")
    templates = _children(group[0x7F61], "DG2 7F61")
    if 0x7F60 not in templates:
        raise MalformedDataError("DG2 has no biometric information template (7F60)")
    bit = _children(templates[0x7F60], "DG2 7F60")
    record = bit.get(0x5F2E) or bit.get(0x7F2E)
    if record is None:
        raise MalformedDataError("DG2 has no biometric data block (5F2E or 7F2E)")
    return parse_facial_record(record)


def parse_facial_record(record: bytes) -> FaceImage:
    """ISO/IEC 19794-5:2005 facial record: header, facial information, image."""
    if record[:4] != b"FAC\x00" or len(record) < 14 + 20 + 12:
        raise MalformedDataError("biometric data block is not an ISO/IEC 19794-5 facial record")
    offset = 14  # format id, version, record length (4), number of images (2)
    block_length, feature_points = struct.unpack(">IH", record[offset : offset + 6])
    if block_length < 20 + 12 + 8 * feature_points or offset + block_length > len(record):
        raise MalformedDataError("facial information block has a bad length")
    image_info = offset + 20 + 8 * feature_points
    image_type, width, height = struct.unpack(">xBHH", record[image_info : image_info + 6])
    data = record[image_info + 12 : offset + block_length]
    fmt = _FORMATS.get(image_type)
    if fmt == "jpeg" and not data.startswith(b"\xFF\xD8"):
        fmt = None
    if fmt == "jpeg2000" and not (data.startswith(_JP2_MAGIC) or data.startswith(b"\xFF\x4F")):
        fmt = None
    if fmt is None:
        raise MalformedDataError(f"face image of type {image_type} is neither JPEG nor JPEG 2000")
    return FaceImage(data, fmt, width, height)


def build_dg2(image: bytes, *, width: int = 0, height: int = 0) -> bytes:
    """DG2 with one ISO/IEC 19794-5 facial record around a JPEG or JPEG 2000 image."""
    image_type = 1 if image.startswith(_JP2_MAGIC) or image.startswith(b"\xFF\x4F") else 0
    facial_info = struct.pack(">IHBBB3sH3s3s", 20 + 12 + len(image), 0, 0, 0, 0,
                              b"\x00\x00\x00", 0, b"\x00\x00\x00", b"\x00\x00\x00")
    image_info = struct.pack(">BBHHBBHH", 1, image_type, width, height, 1, 2, 0, 0)
    body = facial_info + image_info + image
    record = b"FAC\x00" + b"010\x00" + struct.pack(">IH", 14 + len(body), 1) + body
    bht = encode_tlv(0xA1, encode_tlv(0x80, b"\x01\x01") + encode_tlv(0x87, b"\x01\x01")
                     + encode_tlv(0x88, b"\x00\x08"))
    template = encode_tlv(0x7F60, bht + encode_tlv(0x5F2E, record))
    return encode_tlv(0x75, encode_tlv(0x7F61, encode_tlv(0x02, b"\x01") + template))


def _oid_text(raw: bytes) -> str:
    """Dotted text of a DER OBJECT IDENTIFIER's contents (X.690 §8.19)."""
    if not raw:
        raise MalformedDataError("object identifier is empty")
    if raw[-1] & 0x80:
        raise MalformedDataError("object identifier ends inside a subidentifier")
    if len(raw) > 64:
        raise MalformedDataError(f"object identifier of {len(raw)} bytes is not a protocol OID")
    first = raw[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for b in raw[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _oid_bytes(text: str) -> bytes:
    nums = [int(x) for x in text.split(".")]
    out = bytearray([nums[0] * 40 + nums[1]])
    for n in nums[2:]:
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def parse_card_access(ef_card_access: bytes) -> list[str]:
    """PACE protocol OIDs (dotted) EF.CardAccess advertises; [] when none."""
    infos = _tlv(ef_card_access, 0x31, "EF.CardAccess")
    protocols = []
    try:
        for tag, info in parse_tlvs(infos):
            if tag != 0x30:
                continue
            oid_tag, oid, _ = read_tlv(info)
            if oid_tag == 0x06:
                text = _oid_text(oid)
                if text.startswith(ID_PACE + "."):
                    protocols.append(text)
    except ProtocolError as exc:
        raise MalformedDataError(f"EF.CardAccess: {exc}") from exc
    return protocols


def build_card_access(pace_protocol: str = ID_PACE + ".2.2", parameter_id: int = 13) -> bytes:
    """EF.CardAccess with one PACEInfo (default: ECDH generic mapping, AES-128, brainpoolP256r1)."""
    info = (encode_tlv(0x06, _oid_bytes(pace_protocol)) + encode_tlv(0x02, b"\x02")
            + encode_tlv(0x02, bytes([parameter_id])))
    return encode_tlv(0x31, encode_tlv(0x30, info))
