"""``sync.envelope.decompress``: a gzip bomb stops at the limit, and only one gzip member is a batch."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest

from sync.envelope import MAX_BATCH_BYTES, decompress
from sync.errors import EnvelopeError


def bomb(n: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * 2**20
    return b"".join(z.compress(block) for _ in range(n // len(block))) + z.flush()


def test_a_bomb_is_refused_without_inflating_it():
    data = bomb(256 * 2**20)                       # 256 MB of zeros in about 250 KB
    tracemalloc.start()
    try:
        with pytest.raises(EnvelopeError, match=f"exceeds {MAX_BATCH_BYTES}"):
            decompress(data, "gzip")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_BATCH_BYTES              # the output stops at the limit, not at 256 MB


def test_the_limit_itself_passes():
    assert decompress(gzip.compress(b"x" * MAX_BATCH_BYTES), "gzip") == b"x" * MAX_BATCH_BYTES


@pytest.mark.parametrize("data,words", [
    (gzip.compress(b"{}") + b"junk", "4 bytes after the gzip data"),
    (gzip.compress(b"{}") + gzip.compress(b"{}"), "after the gzip data"),   # a second member
    (gzip.compress(b"{}" * 100)[:-9], "truncated"),
    (b"\x1f\x8b" + b"\0" * 20, "bad gzip"),
], ids=["trailing-bytes", "two-members", "truncated", "bad-header"])
def test_anything_but_one_whole_member_is_refused(data, words):
    with pytest.raises(EnvelopeError, match=words):
        decompress(data, "gzip")
