"""PWG Raster (PWG 5102.4): the page format every IPP Everywhere printer accepts.

A stream is the sync word ``RaS2`` and, per page, a 1,796-byte header (big-endian
integers at fixed offsets; "PwgRaster" in MediaClass) followed by the page's
pixels, compressed line by line: one byte says how many times the line repeats
(0-255 means 1-256), then the line as runs, each a control byte and pixels: 0-127
repeat the next pixel 1-128 times, 129-255 copy the next 257-n pixels as they
are (2-128), 128 fills the rest of the line with white.

``encode_pages(pages)`` writes 8-bit grey pages (``sgray_8``: 0 black, 255 white,
the colour space IPP Everywhere requires every printer to take) with the page
size in points and the PWG media name. The encoder uses repeat runs only (a
valid subset: lines of the same grey, which is most of a ballot, cost two bytes
a run) and is vectorised: one page of A4 at 300 dpi in tens of milliseconds.

``decode_pages(data)`` reads any stream of ``sgray_8``, ``black_1`` or
``srgb_8`` pages into Pillow "L" images and raises ``RasterError`` naming the
page and the line where a stream is malformed or cut short: a missing sync
word, a short header, a size that does not add up (BytesPerLine against Width
and BitsPerPixel), a run past the end of its line, a page with fewer lines than
its Height. Sizes are capped (``MAX_PIXELS`` a page, ``MAX_PAGES``, and
``MAX_DECODED_BYTES`` for the pages' pixels together, checked at each page's
header before its pixels are allocated) so a hostile stream cannot make it
allocate gigabytes: run-length coding lets a few bytes stand for a whole line
repeated 256 times, so a stream of a few kilobytes could otherwise declare 64
pages of 144 million pixels each.

Example::

    data = encode_pages([RasterPage(image, 300)], media="iso_a4_210x297mm")
    [(header, picture)] = decode_pages(data)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from drivers.docprinter.errors import RasterError

SYNC = b"RaS2"
HEADER_SIZE = 1796
MAX_PIXELS = 12_000 * 12_000          # A3 at 1200 dpi is about 14,000 x 19,800: we print A4/A5
MAX_PAGES = 64
# The pages' decoded pixel bytes together: 16 A4 pages at 300 dpi in sgray_8, or 4 at 600 dpi.
MAX_DECODED_BYTES = MAX_PIXELS
CS_BLACK, CS_SGRAY, CS_SRGB = 3, 18, 19
MIME_PWG_RASTER = "image/pwg-raster"

# Offsets in the page header (PWG 5102.4 section 4.3, the CUPS v2 layout).
_OFF = {
    "MediaClass": 0, "HWResolution": 276, "NumCopies": 340, "PageSize": 352,
    "Width": 372, "Height": 376, "BitsPerColor": 384, "BitsPerPixel": 388,
    "BytesPerLine": 392, "ColorOrder": 396, "ColorSpace": 400, "NumColors": 420,
    "TotalPageCount": 452, "CrossFeedTransform": 456, "FeedTransform": 460,
    "ImageBoxRight": 472, "ImageBoxBottom": 476, "PrintQuality": 484,
    "RenderingIntent": 1668, "PageSizeName": 1732,
}


@dataclass(frozen=True)
class RasterPage:
    """A page to print: a Pillow image (mode "L" or "1") and its resolution in dots per inch."""

    image: Image.Image
    dpi: int


@dataclass(frozen=True)
class PageHeader:
    width: int
    height: int
    dpi: tuple[int, int]
    bits_per_pixel: int
    color_space: int
    bytes_per_line: int
    page_size_pt: tuple[int, int]
    page_size_name: str
    total_pages: int


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _header_bytes(width: int, height: int, dpi: int, total: int, media: str) -> bytes:
    h = bytearray(HEADER_SIZE)

    def u32(name: str, value: int, index: int = 0) -> None:
        struct.pack_into(">I", h, _OFF[name] + 4 * index, value)

    def text(name: str, value: str) -> None:
        raw = value.encode("ascii")[:63]
        h[_OFF[name]:_OFF[name] + len(raw)] = raw

    text("MediaClass", "PwgRaster")
    u32("HWResolution", dpi)
    u32("HWResolution", dpi, 1)
    u32("NumCopies", 1)
    # PageSize in points, rounded as the printer's media sizes are (A4: 595 x 842).
    u32("PageSize", round(width * 72 / dpi))
    u32("PageSize", round(height * 72 / dpi), 1)
    u32("Width", width)
    u32("Height", height)
    u32("BitsPerColor", 8)
    u32("BitsPerPixel", 8)
    u32("BytesPerLine", width)
    u32("ColorSpace", CS_SGRAY)
    u32("NumColors", 1)
    u32("TotalPageCount", total)
    u32("CrossFeedTransform", 1)
    u32("FeedTransform", 1)
    u32("ImageBoxRight", width)
    u32("ImageBoxBottom", height)
    text("RenderingIntent", "perceptual")
    text("PageSizeName", media)
    return bytes(h)


def encode_pages(pages: list[RasterPage], media: str = "iso_a4_210x297mm") -> bytes:
    """A PWG raster stream of ``sgray_8`` pages (see the module docstring)."""
    if not pages:
        raise ValueError("a raster stream needs at least one page")
    out = [SYNC]
    for page in pages:
        pixels = np.asarray(page.image.convert("L"), dtype=np.uint8)
        height, width = pixels.shape
        out.append(_header_bytes(width, height, page.dpi, len(pages), media))
        out.append(_encode_lines(pixels))
    return b"".join(out)


def _encode_lines(a: np.ndarray) -> bytes:
    """The compressed lines of one page: repeat runs only, vectorised over the whole page."""
    height, width = a.shape
    # Groups of identical consecutive lines, at most 256 each (the line-repeat byte).
    new_line = np.ones(height, dtype=bool)
    new_line[1:] = np.any(a[1:] != a[:-1], axis=1)
    starts = _split(np.flatnonzero(new_line), height, 256)
    repeat = np.diff(np.append(starts, height)) - 1
    rows = a[starts]                                        # one row per group
    n = len(starts)
    change = np.ones(rows.shape, dtype=bool)
    change[:, 1:] = rows[:, 1:] != rows[:, :-1]             # a run starts at every row start too
    run_start = _split(np.flatnonzero(change.ravel()), n * width, 128, row=width)
    run_len = np.diff(np.append(run_start, n * width))
    run_row = run_start // width
    flat = rows.ravel()
    # Each run is two bytes (count - 1, pixel); each group's repeat byte goes before its runs.
    first_run = np.searchsorted(run_start, np.arange(n) * width)
    out = np.empty(2 * len(run_start) + n, dtype=np.uint8)
    pos = 2 * np.arange(len(run_start)) + run_row + 1
    out[pos] = run_len - 1
    out[pos + 1] = flat[run_start]
    out[2 * first_run + np.arange(n)] = repeat
    return out.tobytes()


def _split(starts: np.ndarray, end: int, limit: int, row: int | None = None) -> np.ndarray:
    """Run starts with every run longer than ``limit`` cut into pieces of at most ``limit``.

    Runs never cross a row boundary when ``row`` is given (a start sits at every row start).
    """
    lengths = np.diff(np.append(starts, end))
    pieces = -(-lengths // limit)
    if np.all(pieces == 1):
        return starts
    first = np.repeat(starts, pieces)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    return first + offset * limit


def first_header(data: bytes) -> PageHeader:
    """The header of a stream's first page (without decoding any pixel)."""
    if data[:4] != SYNC or len(data) < 4 + HEADER_SIZE:
        raise RasterError("not a PWG raster stream (no sync word and page header)")
    return _parse_header(data[4:4 + HEADER_SIZE], 1)


def decode_pages(data: bytes) -> list[tuple[PageHeader, Image.Image]]:
    """Every page of a PWG raster stream (see the module docstring for what is refused)."""
    if len(data) < 4 or data[:4] != SYNC:
        raise RasterError(f"not a PWG raster stream: starts with {bytes(data[:4])!r}, not b'RaS2'")
    pages = []
    pos = 4
    decoded = 0
    while pos < len(data):
        number = len(pages) + 1
        if number > MAX_PAGES:
            raise RasterError(f"more than {MAX_PAGES} pages")
        if len(data) - pos < HEADER_SIZE:
            raise RasterError(f"page {number}: header cut short ({len(data) - pos} of "
                              f"{HEADER_SIZE} bytes)")
        header = _parse_header(data[pos:pos + HEADER_SIZE], number)
        decoded += header.bytes_per_line * header.height
        if decoded > MAX_DECODED_BYTES:
            raise RasterError(f"page {number}: the pages so far decode to {decoded:,} bytes of "
                              f"pixels (at most {MAX_DECODED_BYTES:,} a stream)")
        pos += HEADER_SIZE
        image, pos = _decode_page(data, pos, header, number)
        pages.append((header, image))
    if not pages:
        raise RasterError("a PWG raster stream with no page")
    return pages


def _parse_header(h: bytes, number: int) -> PageHeader:
    def u32(name: str, index: int = 0) -> int:
        return struct.unpack_from(">I", h, _OFF[name] + 4 * index)[0]

    media_class = _cstr(h[0:64])
    if media_class != "PwgRaster":
        raise RasterError(f"page {number}: MediaClass {media_class!r}, not 'PwgRaster'")
    header = PageHeader(
        width=u32("Width"), height=u32("Height"),
        dpi=(u32("HWResolution"), u32("HWResolution", 1)),
        bits_per_pixel=u32("BitsPerPixel"), color_space=u32("ColorSpace"),
        bytes_per_line=u32("BytesPerLine"),
        page_size_pt=(u32("PageSize"), u32("PageSize", 1)),
        page_size_name=_cstr(h[_OFF["PageSizeName"]:_OFF["PageSizeName"] + 64]),
        total_pages=u32("TotalPageCount"),
    )
    kinds = {(CS_SGRAY, 8), (CS_BLACK, 1), (CS_SRGB, 24)}
    if (header.color_space, header.bits_per_pixel) not in kinds:
        raise RasterError(f"page {number}: colour space {header.color_space} at "
                          f"{header.bits_per_pixel} bits per pixel is not sgray_8, black_1 or srgb_8")
    if header.width == 0 or header.height == 0 or header.width * header.height > MAX_PIXELS:
        raise RasterError(f"page {number}: {header.width} x {header.height} pixels "
                          f"(at most {MAX_PIXELS:,} a page)")
    if header.bytes_per_line != (header.width * header.bits_per_pixel + 7) // 8:
        raise RasterError(f"page {number}: BytesPerLine {header.bytes_per_line} does not match "
                          f"Width {header.width} at {header.bits_per_pixel} bits per pixel")
    if min(header.dpi) == 0:
        raise RasterError(f"page {number}: resolution {header.dpi[0]} x {header.dpi[1]}")
    return header


def _decode_page(data: bytes, pos: int, h: PageHeader, number: int) -> tuple[Image.Image, int]:
    unit = max(1, h.bits_per_pixel // 8)            # bytes per pixel in the runs
    line_bytes = h.bytes_per_line
    pixels_per_line = line_bytes // unit            # black_1 runs are of bytes (8 pixels)
    white = b"\x00" if h.color_space == CS_BLACK else b"\xff"
    page = bytearray(line_bytes * h.height)
    end = len(data)
    y = 0
    while y < h.height:
        if pos >= end:
            raise RasterError(f"page {number} cut short: {y} of {h.height} lines")
        repeat = data[pos] + 1
        pos += 1
        line = bytearray()
        x = 0
        while x < pixels_per_line:
            if pos >= end:
                raise RasterError(f"page {number}, line {y + 1}: cut short at pixel {x} of "
                                  f"{pixels_per_line}")
            n = data[pos]
            pos += 1
            if n == 128:
                line += white * ((pixels_per_line - x) * unit)
                x = pixels_per_line
                continue
            count = n + 1 if n < 128 else 257 - n
            if x + count > pixels_per_line:
                raise RasterError(f"page {number}, line {y + 1}: a run of {count} pixels at "
                                  f"pixel {x} passes the end of the line ({pixels_per_line})")
            size = unit if n < 128 else unit * count
            if pos + size > end:
                raise RasterError(f"page {number}, line {y + 1}: cut short inside a run")
            chunk = data[pos:pos + size]
            pos += size
            line += chunk * count if n < 128 else chunk
            x += count
        if y + repeat > h.height:
            raise RasterError(f"page {number}, line {y + 1}: repeated {repeat} times, past the "
                              f"page's {h.height} lines")
        start = y * line_bytes
        page[start:start + repeat * line_bytes] = bytes(line) * repeat
        y += repeat
    return _image(page, h), pos          # no copy: Pillow copies the pixels once


def _image(raw: bytes | bytearray, h: PageHeader) -> Image.Image:
    if h.color_space == CS_SGRAY:
        return Image.frombytes("L", (h.width, h.height), raw)
    if h.color_space == CS_SRGB:
        return Image.frombytes("RGB", (h.width, h.height), raw).convert("L")
    # black_1: 1 is a black dot; Pillow's "1" packs 1 as white.
    inverted = bytes(b ^ 0xFF for b in range(256))
    return Image.frombytes("1", (h.width, h.height), raw.translate(inverted)).convert("L")
