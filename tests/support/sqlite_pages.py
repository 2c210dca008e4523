"""Reading SQLite b-tree pages from raw bytes, as a forensic carver does (tests of count.db's secrecy).

The file format (https://www.sqlite.org/fileformat2.html): a b-tree page starts
with its type (0x0A index leaf, 0x0D table leaf, 0x02 / 0x05 interior), its
first freeblock, its cell count and where its cell content starts; then one
2-byte pointer per cell. A cell of an index leaf (every ``WITHOUT ROWID``
table) is a varint payload size and a record: a varint header size, one
varint serial type per column, then the values.

Pages sit at multiples of the page size in a database file, and 24 bytes after
each frame header in a write-ahead log (so at any 8-byte boundary of a disk
image). ``page_at`` finds the page that holds a cell from the cell alone: the
page whose pointer array points at it.

Example::

    for at, values in tally_cells(image, contest_ids):
        start = page_at(image, at)
        if start is not None:
            page_cells(image, start)        # every cell of that page image
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

PAGE = 4096
INDEX_LEAF = 0x0A


def varint(buf: bytes, i: int) -> tuple[int, int]:
    """SQLite's varint at ``i``: (value, index after it)."""
    v = 0
    for k in range(8):
        b = buf[i + k]
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, i + k + 1
    return (v << 8) | buf[i + 8], i + 9


def _value(buf: bytes, i: int, t: int):
    sizes = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8, 7: 8, 8: 0, 9: 0}
    if t in sizes:
        n = sizes[t]
        if t == 8:
            return 0, i
        if t == 9:
            return 1, i
        if t == 7:
            return struct.unpack(">d", buf[i:i + 8])[0], i + 8
        if t == 0:
            return None, i
        return int.from_bytes(buf[i:i + n], "big", signed=True), i + n
    if t >= 12:
        n = (t - 12) // 2
        raw = bytes(buf[i:i + n])
        if len(raw) < n:
            raise ValueError("record runs past the end")
        return (raw if t % 2 == 0 else raw.decode("utf-8", "replace")), i + n
    raise ValueError(f"bad serial type {t}")


def record(buf: bytes, i: int, limit: int | None = None) -> tuple[list, int] | None:
    """The record that starts at ``i`` (its header size varint): (values, end), or None if malformed."""
    try:
        hsize, j = varint(buf, i)
        end_header = i + hsize
        if hsize < 2 or hsize > 64 or (limit is not None and end_header > limit):
            return None
        types = []
        while j < end_header:
            t, j = varint(buf, j)
            types.append(t)
        if j != end_header:
            return None
        values, k = [], end_header
        for t in types:
            v, k = _value(buf, k, t)
            values.append(v)
        if limit is not None and k > limit:
            return None
        return values, k
    except (IndexError, ValueError):
        return None


def cell_record(buf: bytes, at: int, limit: int | None = None) -> list | None:
    """The record of the index-leaf cell at ``at`` (payload size varint first), or None."""
    try:
        size, i = varint(buf, at)
    except IndexError:
        return None
    r = record(buf, i, limit)
    if r is None or r[1] - i != size:
        return None
    return r[0]


def page_cells(buf: bytes, start: int, page: int = PAGE) -> list[tuple[int, list]]:
    """(offset in the page, values) of every cell of the index-leaf page image at ``start``."""
    if buf[start] != INDEX_LEAF:
        return []
    n = struct.unpack(">H", buf[start + 3:start + 5])[0]
    out = []
    for k in range(n):
        off = struct.unpack(">H", buf[start + 8 + 2 * k:start + 10 + 2 * k])[0]
        if not 8 + 2 * n <= off < page:
            return []
        values = cell_record(buf, start + off, start + page)
        if values is None:
            return []
        out.append((off, values))
    return out


def page_at(buf: bytes, at: int, page: int = PAGE) -> int | None:
    """The start of the index-leaf page image whose pointer array points at the cell at ``at``."""
    lo = max(0, at - page + 1)
    p = buf.find(bytes([INDEX_LEAF]), lo, at)
    while p != -1:
        off = at - p
        n = struct.unpack(">H", buf[p + 3:p + 5])[0]
        if 0 < n and 8 + 2 * n <= off:
            pointers = buf[p + 8:p + 8 + 2 * n]
            target = struct.pack(">H", off)
            if any(pointers[2 * k:2 * k + 2] == target for k in range(n)):
                return p
        p = buf.find(bytes([INDEX_LEAF]), p + 1, at)
    return None


def cells_with(buf: bytes, needle: bytes, parse) -> Iterator[tuple[int, list]]:
    """(cell start, values) of every cell near an occurrence of ``needle`` that ``parse`` accepts.

    ``parse(buf, at)`` gets each occurrence's offset and returns (cell start, values) or None.
    """
    i = buf.find(needle)
    seen = set()
    while i != -1:
        got = parse(buf, i)
        if got is not None and got[0] not in seen:
            seen.add(got[0])
            yield got
        i = buf.find(needle, i + 1)


def cell_before(buf: bytes, record_start: int) -> tuple[int, list] | None:
    """The cell whose record starts at ``record_start``: its payload size varint is 1 or 2 bytes before."""
    for width in (1, 2):
        at = record_start - width
        if at < 0:
            continue
        values = cell_record(buf, at)
        if values is not None:
            return at, values
    return None
