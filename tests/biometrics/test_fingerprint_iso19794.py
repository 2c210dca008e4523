"""ISO/IEC 19794-2:2005 and ANSI INCITS 378-2004 records: hand-built bytes, round trips, faults."""

import struct

import pytest

from biometrics.errors import TemplateError
from biometrics.iso19794 import (
    Minutia,
    MinutiaKind,
    Template,
    decode,
    decode_views,
    detect_standard,
    encode,
    encode_views,
)
from station.errors import StationError

# One view, two minutiae, hand-assembled from the standard's field table.
ISO_VECTOR = bytes.fromhex(
    "464d5200"      # "FMR\0"
    "20323000"      # " 20\0"
    "00000032"      # record length 50 = 24 + 4 + 2 * 6 + 2 + 8 extended
    "0000"          # capture equipment: compliance 0, id 0
    "0100" "0120"   # width 256, height 288
    "00c5" "00c5"   # 197 pixels/cm (500 dpi) each way
    "01" "00"       # one view, reserved
    "02" "10" "50" "02"  # finger 2, view 1 / impression 0, quality 80, 2 minutiae
    "4064" "0078" "20" "3c"  # ending (01b) x=100, y=120, angle 32*1.40625=45, q 60
    "80ff" "011f" "ff" "64"  # bifurcation (10b) x=255, y=287, angle 255 units, q 100
    "0008" "0102030405060708"  # 8 bytes of extended data
)
ISO_TEMPLATE = Template(
    width=256, height=288, x_res_ppcm=197, y_res_ppcm=197, finger_position=2,
    impression_type=0, quality=80, view_number=1, extended=bytes(range(1, 9)),
    minutiae=(Minutia(MinutiaKind.ENDING, 100, 120, 45.0, 60),
              Minutia(MinutiaKind.BIFURCATION, 255, 287, 255 * 1.40625, 100)),
)

# The same view as ANSI INCITS 378-2004: 2-byte length, CBEFF product id, 2-degree angles.
ANSI_VECTOR = bytes.fromhex(
    "464d5200" "20323000"
    "002c"          # record length 44 (2 bytes)
    "00330001"      # CBEFF product identifier: owner 0x0033, type 1
    "0000" "0100" "0120" "00c5" "00c5" "01" "00"
    "02" "00" "50" "02"
    "4064" "0078" "16" "3c"  # angle 22 * 2 = 44 degrees
    "80ff" "011f" "b3" "64"  # angle 179 * 2 = 358 degrees
    "0000"
)


def test_hand_built_iso_vector_decodes_field_by_field():
    assert len(ISO_VECTOR) == 0x32
    assert detect_standard(ISO_VECTOR) == "iso"
    assert decode(ISO_VECTOR) == ISO_TEMPLATE


def test_encode_writes_the_hand_built_vector_byte_for_byte():
    assert encode(ISO_TEMPLATE) == ISO_VECTOR


def test_hand_built_ansi_vector_decodes():
    t = decode(ANSI_VECTOR)
    assert detect_standard(ANSI_VECTOR) == "ansi"
    assert (t.width, t.height, t.x_res_ppcm, t.finger_position, t.quality) == (256, 288, 197, 2, 80)
    assert [(m.kind, m.x, m.y, m.angle_deg, m.quality) for m in t.minutiae] == [
        (MinutiaKind.ENDING, 100, 120, 44.0, 60), (MinutiaKind.BIFURCATION, 255, 287, 358.0, 100)]


def test_ansi_long_length_form():
    body = ANSI_VECTOR[10:]
    long_form = ANSI_VECTOR[:8] + b"\x00\x00" + struct.pack(">I", len(body) + 14) + body
    assert decode(long_form).minutiae == decode(ANSI_VECTOR).minutiae


def test_empty_view_has_the_minimal_size():
    t = Template(256, 288, 197, 197, 0, 0, 0)
    record = encode(t)
    assert len(record) == 24 + 4 + 2
    assert decode(record) == t and decode(record).minutiae == ()


@pytest.mark.parametrize("angle, code", [(0.0, 0), (1.40625, 1), (180.0, 128), (359.9, 0),
                                         (-1.40625, 255), (2.0, 1), (45.7, 32)],
                         ids=["zero", "one-unit", "half-turn", "wraps", "negative", "rounds-down",
                              "rounds-to-nearest"])
def test_angles_are_quantised_to_1_40625_degrees(angle, code):
    t = Template(256, 288, 197, 197, 1, 0, 50, (Minutia("ending", 1, 2, angle, 10),))
    assert encode(t)[28 + 4] == code


@pytest.mark.parametrize("n", [1, 17, 255])
def test_round_trip_many_minutiae(n):
    ms = tuple(Minutia(MinutiaKind(i % 3), (i * 37) % 256, (i * 53) % 288, (i % 256) * 1.40625,
                       i % 101) for i in range(n))
    t = Template(256, 288, 197, 197, 7, 1, 42, ms)
    record = encode(t)
    assert decode(record) == t
    assert encode(decode(record)) == record


def test_several_views_round_trip():
    a = Template(256, 288, 197, 197, 1, 0, 60, (Minutia("ending", 3, 4, 0.0, 1),))
    b = Template(256, 288, 197, 197, 6, 0, 70, (Minutia("bifurcation", 5, 6, 90.0, 2),),
                 view_number=1)
    assert decode_views(encode_views([a, b])) == [a, b]


def _with(vector: bytes, offset: int, new: bytes) -> bytes:
    return vector[:offset] + new + vector[offset + len(new):]


MALFORMED = [
    ("wrong-magic", b"FIR\x00" + ISO_VECTOR[4:]),
    ("wrong-version", _with(ISO_VECTOR, 4, b" 30\x00")),
    ("length-says-more", _with(ISO_VECTOR, 8, struct.pack(">I", 51))),
    ("length-says-less", _with(ISO_VECTOR, 8, struct.pack(">I", 49))),
    ("truncated-in-minutiae", ISO_VECTOR[:34]),
    ("truncated-header", ISO_VECTOR[:16]),
    ("too-short-for-magic", b"FMR"),
    ("empty", b""),
    ("truncated-with-fixed-length", _with(ISO_VECTOR[:40], 8, struct.pack(">I", 40))),
    ("count-says-more-minutiae", _with(ISO_VECTOR, 27, b"\x05")),
    ("extended-length-overruns", _with(ISO_VECTOR, 40, b"\x00\x09")),
    ("trailing-bytes", _with(ISO_VECTOR + b"\x00", 8, struct.pack(">I", 51))),
    ("x-outside-image", _with(ISO_VECTOR, 28, struct.pack(">H", (1 << 14) | 256))),
    ("y-outside-image", _with(ISO_VECTOR, 30, struct.pack(">H", 288))),
    ("reserved-type", _with(ISO_VECTOR, 28, struct.pack(">H", (3 << 14) | 100))),
    ("reserved-y-bits", _with(ISO_VECTOR, 30, struct.pack(">H", (1 << 14) | 120))),
    ("minutia-quality-over-100", _with(ISO_VECTOR, 33, b"\x65")),
    ("finger-quality-over-100", _with(ISO_VECTOR, 26, b"\xff")),
    ("finger-position-11", _with(ISO_VECTOR, 24, b"\x0b")),
    ("impression-type-5", _with(ISO_VECTOR, 25, b"\x15")),
    ("no-views", _with(ISO_VECTOR, 22, b"\x00")),
    ("zero-width", _with(ISO_VECTOR, 14, b"\x00\x00")),
    ("zero-resolution", _with(ISO_VECTOR, 18, b"\x00\x00")),
    ("ansi-angle-over-179", _with(ANSI_VECTOR, 32, b"\xb4")),
    ("ansi-truncated", _with(ANSI_VECTOR[:30], 8, b"\x00\x1e")),
]


@pytest.mark.parametrize("record", [r for _, r in MALFORMED], ids=[i for i, _ in MALFORMED])
def test_malformed_records_raise_template_error(record):
    with pytest.raises(TemplateError) as info:
        decode(record)
    assert isinstance(info.value, StationError)
    assert str(info.value)


@pytest.mark.parametrize("template, what", [
    (Template(256, 288, 197, 197, 1, 0, 50, (Minutia("ending", 256, 0, 0.0, 0),)), "outside"),
    (Template(256, 288, 197, 197, 11, 0, 50), "finger position"),
    (Template(256, 288, 197, 197, 1, 4, 50), "impression type"),
    (Template(256, 288, 197, 197, 1, 0, 101), "quality"),
    (Template(0, 288, 197, 197, 1, 0, 50), "image size"),
    (Template(256, 288, 197, 197, 1, 0, 50,
              tuple(Minutia("ending", 1, 1, 0.0, 0) for _ in range(256))), "255"),
], ids=["minutia-outside", "finger-position", "impression-type", "quality", "zero-width",
        "too-many-minutiae"])
def test_encode_refuses_values_the_format_cannot_hold(template, what):
    with pytest.raises(TemplateError, match=what):
        encode(template)


def test_unknown_minutia_kind_is_refused():
    with pytest.raises(TemplateError):
        Minutia("loop", 1, 1, 0.0)
