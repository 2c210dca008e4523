"""PWG Raster (PWG 5102.4): pages round-trip pixel for pixel; malformed or truncated streams are named."""

import struct

import numpy as np
import pytest
from PIL import Image

from drivers.docprinter.errors import RasterError
from drivers.docprinter.raster import (
    HEADER_SIZE,
    SYNC,
    RasterPage,
    decode_pages,
    encode_pages,
    first_header,
)


def _page(seed: int = 1, size=(700, 400)) -> Image.Image:
    rng = np.random.default_rng(seed)
    a = np.full((size[1], size[0]), 255, dtype=np.uint8)
    right = min(600, size[0] - 10)
    a[20:300, 30:right] = rng.integers(0, 256, (280, right - 30), dtype=np.uint8)   # short runs
    a[310:320] = 0                                                   # runs longer than 128 pixels
    a[330:399, ::3] = 90                                             # a line repeated many times
    return Image.fromarray(a)


def test_pages_round_trip_pixel_for_pixel():
    pages = [RasterPage(_page(1), 300), RasterPage(_page(2, (300, 900)), 600)]
    decoded = decode_pages(encode_pages(pages))
    assert len(decoded) == 2
    for (header, image), page in zip(decoded, pages, strict=True):
        assert image.tobytes() == page.image.tobytes()
        assert header.dpi == (page.dpi, page.dpi)
        assert (header.width, header.height) == page.image.size
        assert header.total_pages == 2 and header.page_size_name == "iso_a4_210x297mm"


def test_a_white_page_of_many_repeated_lines():
    """More than 256 equal lines: the line-repeat byte is split, as it holds at most 256."""
    page = Image.new("L", (2480, 3508), 255)
    data = encode_pages([RasterPage(page, 300)])
    assert len(data) < 4 + HEADER_SIZE + 14 * 2 * 20 + 20     # a few bytes per 256 lines
    [(header, back)] = decode_pages(data)
    assert back.tobytes() == page.tobytes()
    assert header.page_size_pt == (595, 842)                      # A4 in points


def _reference_encode(a: np.ndarray) -> bytes:
    """An independent encoder that uses literal runs and the fill-with-white code (128)."""
    out = bytearray()
    for row in a:
        out.append(0)
        x, w = 0, len(row)
        while x < w:
            if (row[x:] == 255).all() and x > 0:
                out.append(128)
                break
            run = 1
            while x + run < w and run < 128 and row[x + run] == row[x]:
                run += 1
            if run > 1:
                out += bytes([run - 1, row[x]])
                x += run
                continue
            lit = 1
            while x + lit < w and lit < 128 and row[x + lit] != row[x + lit - 1]:
                lit += 1
            if lit == 1:
                out += bytes([0, row[x]])
            else:
                out.append(257 - lit)
                out += bytes(row[x:x + lit])
            x += lit
    return bytes(out)


def test_literal_runs_and_white_fill_decode():
    image = _page(3)
    a = np.asarray(image)
    ours = encode_pages([RasterPage(image, 300)])
    stream = ours[:4 + HEADER_SIZE] + _reference_encode(a)
    [(_, back)] = decode_pages(stream)
    assert back.tobytes() == image.tobytes()


def _with_header(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(">I", out, 4 + offset, value)
    return bytes(out)


GOOD = encode_pages([RasterPage(_page(4), 300)])
BROKEN = [
    ("no-sync-word", b"%PDF-1.7" + GOOD[4:], "not a PWG raster stream"),
    ("sync-only", SYNC, "with no page"),
    ("header-cut", GOOD[:4 + 1000], "header cut short"),
    ("no-line-at-all", GOOD[:4 + HEADER_SIZE], "cut short: 0 of 400 lines"),
    ("cut-mid-page", GOOD[:len(GOOD) // 2], "cut short"),
    ("last-byte-missing", GOOD[:-1], "cut short"),
    ("wrong-media-class", GOOD[:4] + b"Cups" + GOOD[8:], "MediaClass"),
    ("bytes-per-line-wrong", _with_header(GOOD, 392, 699), "BytesPerLine 699"),
    ("colour-space-unknown", _with_header(GOOD, 400, 6), "colour space 6"),
    ("huge-page", _with_header(_with_header(_with_header(GOOD, 372, 200_000), 392, 200_000),
                               376, 1000), "at most"),
    ("zero-resolution", _with_header(GOOD, 276, 0), "resolution 0"),
    ("run-past-line-end", GOOD[:4 + HEADER_SIZE] + b"\x00" + b"\x7f\x00" * 6, "passes the end"),
    # 256 lines of 700 white pixels (5 runs of 128 + one of 60), twice: 512 lines of 400
    ("lines-past-height", GOOD[:4 + HEADER_SIZE] + (b"\xff" + b"\x7f\xff" * 5 + b"\x3b\xff") * 2,
     "past the page's 400 lines"),
]


@pytest.mark.parametrize("data,fragment", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_malformed_and_truncated_streams_are_named(data, fragment):
    with pytest.raises(RasterError, match=fragment):
        decode_pages(data)


def test_first_header_reads_no_pixel():
    assert first_header(GOOD[:4 + HEADER_SIZE]).dpi == (300, 300)
    with pytest.raises(RasterError):
        first_header(b"RaS2")
