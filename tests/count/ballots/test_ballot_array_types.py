"""Any array handed to the reader is a reading or a clear rejection, never an OpenCV error.

Found by the long fuzz campaign (bench/bench_fuzz.py --heavy, ballot-image-arrays): small
4-channel float arrays made cv2.cvtColor raise.
"""

import io
import struct

import numpy as np
import pytest
from PIL import Image

from count.ballots.interpret import decode_image, interpret_sheet
from count.ballots.reading import SheetReading

ARRAYS = {
    "float64-bgra": np.zeros((5, 5, 4), np.float64),
    "float64-bgr": np.ones((4, 3, 3), np.float64),
    "int8-bgra": np.zeros((3, 3, 4), np.int8),
    "bool-grey": np.ones((5, 5), np.bool_),
    "one-channel": np.full((6, 6, 1), 255, np.uint8),
    "nan": np.full((4, 4), np.nan, np.float32),
    "complex": np.zeros((4, 4), np.complex64),
    "four-dims": np.zeros((2, 2, 2, 2), np.uint8),
    "empty": np.zeros((0, 3), np.uint8),
}


@pytest.mark.parametrize("image", ARRAYS.values(), ids=ARRAYS.keys())
def test_odd_arrays_are_rejected_clearly(image, election):
    reading = interpret_sheet(image, election)
    assert isinstance(reading, SheetReading) and not reading.accepted
    assert reading.reason in ("unreadable", "blank-paper", "truncated-image")


def _bmp_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (4, 4), 255).save(buf, "BMP")
    data = bytearray(buf.getvalue())
    data[18:26] = struct.pack("<ii", width, height)   # BITMAPINFOHEADER width, height
    return bytes(data)


@pytest.mark.parametrize("size", [(30_000, 30_000), (200_000, 200_000)], ids=["900-mpx", "40-gpx"])
def test_a_header_claiming_a_huge_image_is_unreadable(size):
    """Pillow's DecompressionBombError escaped decode_image (long fuzz campaign, ballot-image-files)."""
    assert decode_image(_bmp_claiming(*size)) == "unreadable"


def test_a_tiff_tag_of_the_wrong_type_is_unreadable():
    """Pillow's TIFF plugin raised TypeError (long fuzz campaign, ballot-image-files, 1 in 100,000)."""
    buf = io.BytesIO()
    Image.new("L", (8, 8), 255).save(buf, "TIFF")
    data = bytearray(buf.getvalue())
    at = data.find(b"\x11\x01\x04\x00")            # StripOffsets, type LONG
    data[at + 2:at + 4] = b"\x07\x00"                # ... now type UNDEFINED
    assert decode_image(bytes(data)) == "unreadable"
