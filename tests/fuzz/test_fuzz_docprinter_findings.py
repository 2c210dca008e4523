"""What fuzzing the document printer's decoders found, each kept as a case: any bytes give an
``IppError`` or a ``RasterError`` (``drivers.errors.DriverError`` subclasses) or a value, never
another exception, and never gigabytes of memory for a few kilobytes of input.

The campaign (tests/support/fuzz_targets.py ``ipp-decode`` and ``pwg-raster-decode``) mutates
small valid messages and pages; the three inputs below are larger than its mutations reach
(a thousand nested collections, a 32 KB value, a stream of 64 huge pages), so they were
crafted beside it, from what the decoders' loops and the round trip the target checks allow."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from PIL import Image

from drivers.docprinter import ipp, raster
from drivers.docprinter.errors import IppError, RasterError
from drivers.errors import DriverError

pytestmark = pytest.mark.fuzz

HEAD = struct.pack(">BBHi", 1, 1, ipp.OP_GET_PRINTER_ATTRIBUTES, 1) + bytes([ipp.TAG_OPERATION])


def _item(tag: int, name: bytes, value: bytes) -> bytes:
    return bytes([tag]) + struct.pack(">H", len(name)) + name + struct.pack(">H", len(value)) + value


def _nested(depth: int) -> bytes:
    """A collection ``depth`` deep: each level a member named "m" whose value opens the next."""
    inner = _item(ipp.MEMBER_NAME, b"", b"m") + _item(ipp.INTEGER, b"", b"\0\0\0\1")
    for _ in range(depth - 1):
        inner = _item(ipp.MEMBER_NAME, b"", b"m") + _item(ipp.BEG_COLLECTION, b"", b"") + inner \
            + _item(ipp.END_COLLECTION, b"", b"")
    return HEAD + _item(ipp.BEG_COLLECTION, b"media-col", b"") + inner + _item(ipp.END_COLLECTION, b"", b"") \
        + bytes([ipp.TAG_END])


def test_collections_nested_without_end_are_an_ipp_error_not_a_stack_overflow():
    # 5,000 nested begCollection tags (65 KB) raised RecursionError out of decode.
    with pytest.raises(IppError, match="nested more than 16 deep"):
        ipp.decode(_nested(5000))
    with pytest.raises(IppError, match="nested more than 16 deep"):
        ipp.decode(_nested(ipp.MAX_COLLECTION_DEPTH + 1))
    message = ipp.decode(_nested(ipp.MAX_COLLECTION_DEPTH))        # as deep as allowed: read
    assert ipp.decode(ipp.encode(message)) == message


@pytest.mark.parametrize("which", ["name", "value"])
def test_a_length_past_a_signed_short_is_refused_as_encode_refuses_it(which):
    # decode took a 32,768-byte value that encode then refused: a decoded message could not be
    # written again (the round trip the fuzz target checks).
    big = b"x" * 0x8000
    name, value = (big, b"a") if which == "name" else (b"printer-info", big)
    with pytest.raises(IppError, match="negative SIGNED-SHORT"):
        ipp.decode(HEAD + _item(ipp.TEXT, name, value) + bytes([ipp.TAG_END]))
    with pytest.raises(IppError, match="longer than 32,767"):
        ipp.encode(ipp.Message(ipp.OK, 1, [ipp.Group(ipp.TAG_OPERATION, [
            ipp.Attribute(name.decode(), (ipp.Value(ipp.TEXT, value.decode()),))])]))
    at_most = b"y" * 0x7FFF
    message = ipp.decode(HEAD + _item(ipp.TEXT, b"printer-info", at_most) + bytes([ipp.TAG_END]))
    assert ipp.decode(ipp.encode(message)) == message


def _white_page_stream(pages: int, width: int = 12000, height: int = 12000) -> bytes:
    """``pages`` white pages of ``width`` x ``height`` sgray_8 pixels in a few bytes each: every
    group of 256 lines is two bytes (repeat 256, fill with white)."""
    h = bytearray(raster.encode_pages([raster.RasterPage(Image.new("L", (8, 8), 255), 300)])[4:4 + raster.HEADER_SIZE])
    for name, v in (("Width", width), ("Height", height), ("BytesPerLine", width)):
        struct.pack_into(">I", h, raster._OFF[name], v)
    full, rest = divmod(height, 256)
    lines = b"\xff\x80" * full + (bytes([rest - 1, 0x80]) if rest else b"")
    return raster.SYNC + (bytes(h) + lines) * pages


def test_a_few_kilobytes_cannot_make_the_raster_decoder_allocate_gigabytes():
    # 6 such pages (11 KB) took 1.1 GB of memory; 64 of them (121 KB) would have taken 9 GB.
    data = _white_page_stream(64)
    assert len(data) < 130_000
    tracemalloc.start()
    try:
        with pytest.raises(RasterError, match="at most 144,000,000 a stream"):
            raster.decode_pages(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # one page's pixels at most (Pillow's own copy is outside Python's allocator), never 64 pages'
    assert peak < 1.2 * raster.MAX_DECODED_BYTES


def test_pages_within_the_stream_cap_still_decode():
    # Two A4 pages at 300 dpi, as a job of the site's printer could be.
    pages = raster.decode_pages(_white_page_stream(2, 2480, 3508))
    assert [(h.width, h.height) for h, _ in pages] == [(2480, 3508)] * 2
    assert all(image.getextrema() == (255, 255) for _, image in pages)


def test_the_decoders_errors_are_driver_errors():
    assert issubclass(IppError, DriverError) and issubclass(RasterError, DriverError)
