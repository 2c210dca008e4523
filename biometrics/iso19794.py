"""Finger minutiae records: ISO/IEC 19794-2:2005 (read and write), ANSI INCITS 378-2004 (read).

The population register enrols voters as ISO/IEC 19794-2:2005 minutiae
records; they travel in the election package and are matched on the station.
This module is the only place that knows their bytes.

Guarantees:

* ``encode(t)`` writes the 2005 record format byte for byte: header ``FMR\\0``,
  version `` 20\\0``, 4-byte record length, 2-byte capture equipment
  (compliance and id), width, height, x and y resolution in pixels per
  centimetre, number of views, a reserved zero byte; then per view: finger
  position, view number and impression type (4 bits each), finger quality,
  minutiae count, 6 bytes per minutia (2-bit type and 14-bit x; 2 reserved
  bits and 14-bit y; angle in units of 360/256 = 1.40625 degrees,
  counter-clockwise from the x axis; quality 0-100) and a 2-byte extended data
  length followed by that many bytes.
* ``decode(b)`` reads the 2005 format and ANSI INCITS 378-2004 (2- or 6-byte
  record length, CBEFF product id, angle in 2-degree units) and raises
  ``TemplateError`` naming the fault for anything malformed: wrong magic or
  version, a record length that disagrees with the data, truncated views or
  minutiae, trailing bytes, minutiae outside the image, reserved type or
  reserved bits set, a non-zero reserved header byte, out-of-range quality,
  finger position or impression type. A record that decodes is safe to match.
* ``decode(encode(t)) == t`` when the angles are multiples of 1.40625 degrees
  (otherwise they are rounded to the nearest unit), and
  ``encode_views(decode_views(b)) == b`` for every 2005 record that decodes
  (``encode(decode(b)) == b`` for a single-view one): nothing the decoder
  accepts is dropped on the way (tests/fuzz checks it on arbitrary bytes).

Example::

    t = Template(width=256, height=288, x_res_ppcm=197, y_res_ppcm=197,
                 finger_position=2, impression_type=0, quality=80,
                 minutiae=(Minutia("ending", 100, 120, 45.0, 60),))
    record = encode(t)            # 38 bytes, starts with b"FMR\\0 20\\0"
    assert decode(record) == t
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from typing import Literal

from biometrics.errors import TemplateError

MAGIC = b"FMR\x00"
VERSION = b" 20\x00"
ISO_ANGLE_UNIT = 360.0 / 256.0  # 1.40625 degrees
ANSI_ANGLE_UNIT = 2.0
ISO_HEADER_LEN = 24
ANSI_HEADER_LEN = 26
VIEW_HEADER_LEN = 4
MINUTIA_LEN = 6
MAX_COORD = (1 << 14) - 1
# Impression types of ISO/IEC 19794-2 table 2: live-scan plain/rolled,
# non-live plain/rolled, swipe.
IMPRESSION_TYPES = frozenset({0, 1, 2, 3, 8})
MAX_FINGER_POSITION = 10


class MinutiaKind(enum.IntEnum):
    """The 2-bit minutia type of the record."""

    OTHER = 0
    ENDING = 1
    BIFURCATION = 2

    def __str__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Minutia:
    """One minutia: pixel coordinates (origin top left, y down), angle in degrees
    counter-clockwise from the x axis, quality 0-100 (0: not reported)."""

    kind: MinutiaKind
    x: int
    y: int
    angle_deg: float
    quality: int = 0

    def __post_init__(self) -> None:
        kind = self.kind
        if isinstance(kind, str):
            try:
                kind = MinutiaKind[kind.upper()]
            except KeyError:
                raise TemplateError(f"unknown minutia kind {self.kind!r}") from None
        object.__setattr__(self, "kind", MinutiaKind(kind))


@dataclass(frozen=True)
class Template:
    """One finger view with its record header fields."""

    width: int
    height: int
    x_res_ppcm: int
    y_res_ppcm: int
    finger_position: int
    impression_type: int
    quality: int
    minutiae: tuple[Minutia, ...] = ()
    view_number: int = 0
    capture_equipment: int = 0  # 4 bits compliance, 12 bits equipment id
    extended: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "minutiae", tuple(self.minutiae))


def encode(template: Template) -> bytes:
    """The ISO/IEC 19794-2:2005 record of one finger view."""
    return encode_views([template])


def encode_views(views: list[Template]) -> bytes:
    """One record holding several views; the header fields come from the first."""
    if not views:
        raise TemplateError("a record needs at least one finger view")
    head = views[0]
    _check_header(head.width, head.height, head.x_res_ppcm, head.y_res_ppcm)
    body = b"".join(_encode_view(v, head.width, head.height) for v in views)
    length = ISO_HEADER_LEN + len(body)
    header = MAGIC + VERSION + struct.pack(
        ">IHHHHHBB", length, head.capture_equipment & 0xFFFF, head.width, head.height,
        head.x_res_ppcm, head.y_res_ppcm, len(views), 0,
    )
    return header + body


def _encode_view(v: Template, width: int, height: int) -> bytes:
    if not 0 <= v.finger_position <= MAX_FINGER_POSITION:
        raise TemplateError(f"finger position {v.finger_position} is not 0-10")
    if v.impression_type not in IMPRESSION_TYPES:
        raise TemplateError(f"impression type {v.impression_type} is not one of 0-3, 8")
    if not 0 <= v.view_number <= 15:
        raise TemplateError(f"view number {v.view_number} is not 0-15")
    if not 0 <= v.quality <= 100:
        raise TemplateError(f"finger quality {v.quality} is not 0-100")
    if len(v.minutiae) > 255:
        raise TemplateError(f"{len(v.minutiae)} minutiae do not fit in one view (max 255)")
    if len(v.extended) > 0xFFFF:
        raise TemplateError("extended data longer than 65535 bytes")
    out = bytearray(struct.pack(">BBBB", v.finger_position,
                                (v.view_number << 4) | v.impression_type,
                                v.quality, len(v.minutiae)))
    for m in v.minutiae:
        if not (0 <= m.x < width and 0 <= m.y < height):
            raise TemplateError(f"minutia ({m.x}, {m.y}) outside the {width}x{height} image")
        if not 0 <= m.quality <= 100:
            raise TemplateError(f"minutia quality {m.quality} is not 0-100")
        code = round(m.angle_deg / ISO_ANGLE_UNIT) % 256
        out += struct.pack(">HHBB", (int(m.kind) << 14) | m.x, m.y, code, m.quality)
    out += struct.pack(">H", len(v.extended)) + v.extended
    return bytes(out)


def _check_header(width: int, height: int, xres: int, yres: int) -> None:
    if not (0 < width <= MAX_COORD + 1 and 0 < height <= MAX_COORD + 1):
        raise TemplateError(f"image size {width}x{height} is not 1-16384 pixels")
    if not (0 < xres <= 0xFFFF and 0 < yres <= 0xFFFF):
        raise TemplateError(f"resolution {xres}x{yres} pixels/cm is not positive")


def decode(record: bytes, *, standard: Literal["auto", "iso", "ansi"] = "auto") -> Template:
    """The first finger view of a record (``decode_views`` gives them all)."""
    return decode_views(record, standard=standard)[0]


def detect_standard(record: bytes) -> Literal["iso", "ansi"]:
    """Which of the two formats a record claims by its length field.

    Both start with ``FMR\\0 20\\0``; ISO 2005 has a 4-byte length, ANSI 2004 a
    2-byte one (or 0 and then 4 bytes), so the field that equals the size of
    the data names the format.
    """
    _check_magic(record)
    n = len(record)
    if n >= 12 and struct.unpack_from(">I", record, 8)[0] == n:
        return "iso"
    if n >= 10:
        short = struct.unpack_from(">H", record, 8)[0]
        if short == n:
            return "ansi"
        if short == 0 and n >= 14 and struct.unpack_from(">I", record, 10)[0] == n:
            return "ansi"
    raise TemplateError(f"record length field disagrees with the {n} bytes of data")


def _check_magic(record: bytes) -> None:
    if len(record) < 8:
        raise TemplateError(f"truncated record: {len(record)} bytes")
    if record[:4] != MAGIC:
        raise TemplateError(f"wrong magic {record[:4]!r}, expected b'FMR\\x00'")
    if record[4:8] != VERSION:
        raise TemplateError(f"unsupported version {record[4:8]!r}, expected b' 20\\x00'")


def decode_views(record: bytes,
                 *, standard: Literal["auto", "iso", "ansi"] = "auto") -> list[Template]:
    """Every finger view of an ISO 2005 or ANSI 2004 record; ``TemplateError`` if malformed."""
    record = bytes(record)
    _check_magic(record)
    if standard == "auto":
        standard = detect_standard(record)
    n = len(record)
    if standard == "iso":
        if n < ISO_HEADER_LEN:
            raise TemplateError(f"truncated header: {n} of {ISO_HEADER_LEN} bytes")
        (length, equipment, width, height, xres, yres, nviews,
         reserved) = struct.unpack_from(">IHHHHHBB", record, 8)
        pos = ISO_HEADER_LEN
        unit = ISO_ANGLE_UNIT
    elif standard == "ansi":
        if n < ANSI_HEADER_LEN:
            raise TemplateError(f"truncated header: {n} of {ANSI_HEADER_LEN} bytes")
        length = struct.unpack_from(">H", record, 8)[0]
        pos = 10
        if length == 0:
            if n < ANSI_HEADER_LEN + 4:
                raise TemplateError("truncated header")
            length = struct.unpack_from(">I", record, 10)[0]
            pos = 14
        pos += 4  # CBEFF product identifier: owner and type
        equipment, width, height, xres, yres, nviews, reserved = struct.unpack_from(
            ">HHHHHBB", record, pos)
        pos += 12
        unit = ANSI_ANGLE_UNIT
    else:
        raise ValueError(f"unknown standard {standard!r}")
    if length != n:
        raise TemplateError(f"record length field says {length} bytes, the data has {n}")
    if reserved:
        # Kept nowhere (encode writes 0), so accepting it would break encode(decode(b)) == b.
        raise TemplateError(f"reserved header byte is 0x{reserved:02X}, not 0")
    _check_header(width, height, xres, yres)
    if nviews == 0:
        raise TemplateError("record holds no finger views")
    views = []
    for index in range(nviews):
        view, pos = _decode_view(record, pos, index, standard, unit, width, height)
        views.append(Template(width=width, height=height, x_res_ppcm=xres, y_res_ppcm=yres,
                              capture_equipment=equipment, **view))
    if pos != n:
        raise TemplateError(f"{n - pos} trailing bytes after the last finger view")
    return views


def _decode_view(record: bytes, pos: int, index: int, standard: str, unit: float,
                 width: int, height: int) -> tuple[dict, int]:
    n = len(record)
    if pos + VIEW_HEADER_LEN > n:
        raise TemplateError(f"truncated finger view {index}: header missing")
    finger, view_imp, quality, count = struct.unpack_from(">BBBB", record, pos)
    pos += VIEW_HEADER_LEN
    impression = view_imp & 0x0F
    if finger > MAX_FINGER_POSITION:
        raise TemplateError(f"view {index}: finger position {finger} is not 0-10")
    if impression not in IMPRESSION_TYPES:
        raise TemplateError(f"view {index}: impression type {impression} is not one of 0-3, 8")
    if quality > 100:
        raise TemplateError(f"view {index}: finger quality {quality} is not 0-100")
    end = pos + count * MINUTIA_LEN
    if end + 2 > n:
        raise TemplateError(
            f"truncated finger view {index}: {count} minutiae need {count * MINUTIA_LEN} bytes")
    minutiae = []
    for i in range(count):
        tx, ry, angle, mq = struct.unpack_from(">HHBB", record, pos + i * MINUTIA_LEN)
        kind, x, y = tx >> 14, tx & 0x3FFF, ry & 0x3FFF
        if kind == 3:
            raise TemplateError(f"view {index} minutia {i}: reserved minutia type 11b")
        if ry >> 14:
            raise TemplateError(f"view {index} minutia {i}: reserved bits of y are set")
        if x >= width or y >= height:
            raise TemplateError(
                f"view {index} minutia {i}: ({x}, {y}) outside the {width}x{height} image")
        if standard == "ansi" and angle > 179:
            raise TemplateError(f"view {index} minutia {i}: angle code {angle} is not 0-179")
        if mq > 100:
            raise TemplateError(f"view {index} minutia {i}: quality {mq} is not 0-100")
        minutiae.append(Minutia(MinutiaKind(kind), x, y, angle * unit, mq))
    pos = end
    ext_len = struct.unpack_from(">H", record, pos)[0]
    pos += 2
    if pos + ext_len > n:
        raise TemplateError(
            f"view {index}: extended data of {ext_len} bytes runs past the end of the record")
    extended = record[pos:pos + ext_len]
    pos += ext_len
    return dict(finger_position=finger, impression_type=impression, quality=quality,
                minutiae=tuple(minutiae), view_number=view_imp >> 4,
                extended=extended), pos
