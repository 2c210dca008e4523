"""ISO/IEC 19794-2 header's reserved byte (audit finding 8): refused when non-zero.

The decoder ignored it and the encoder writes 0, so a record with it set decoded but did
not survive ``encode(decode(b)) == b``, the module's own guarantee.
"""

from __future__ import annotations

import pytest

from biometrics.errors import TemplateError
from biometrics.iso19794 import (
    ISO_HEADER_LEN,
    Minutia,
    Template,
    decode,
    decode_views,
    encode,
    encode_views,
)

T = Template(width=256, height=288, x_res_ppcm=197, y_res_ppcm=197, finger_position=2,
             impression_type=0, quality=80, minutiae=(Minutia("ending", 100, 120, 45.0, 60),))


@pytest.mark.parametrize("value", [1, 0x80, 0xFF])
def test_non_zero_reserved_header_byte_is_refused(value):
    record = bytearray(encode(T))
    record[ISO_HEADER_LEN - 1] = value
    with pytest.raises(TemplateError, match=f"reserved header byte is 0x{value:02X}"):
        decode(bytes(record))


def test_round_trip_of_every_view():
    record = encode_views([T, Template(**{**T.__dict__, "view_number": 1, "finger_position": 7})])
    assert encode_views(decode_views(record)) == record
    assert encode(decode(encode(T))) == encode(T)
