"""Canonical JSON bytes (RFC 8785, JSON Canonicalization Scheme).

What is signed is always ``canonical(obj)``: one function, so the signer and
every verifier agree byte for byte. Floats are refused (RFC 8785 allows them,
but a count is an integer and a time is text; refusing avoids rounding disputes).
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from sync.errors import EnvelopeError


def _check(obj: Any, path: str = "$") -> None:
    if isinstance(obj, float):
        raise EnvelopeError(f"{path}: floats are not allowed in signed documents")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise EnvelopeError(f"{path}: keys must be strings")
            _check(v, f"{path}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check(v, f"{path}[{i}]")


def canonical(obj: Any) -> bytes:
    """RFC 8785 bytes of ``obj`` (dicts, lists, str, int, bool, None)."""
    _check(obj)
    return rfc8785.dumps(obj)


def parse(data: bytes, *, max_bytes: int | None = None) -> Any:
    """Strict JSON parse: size-capped, UTF-8, no NaN/Infinity, no duplicate keys."""
    if max_bytes is not None and len(data) > max_bytes:
        raise EnvelopeError(f"document of {len(data)} bytes exceeds the limit of {max_bytes}")

    def no_dupes(pairs):
        d = {}
        for k, v in pairs:
            if k in d:
                raise EnvelopeError(f"duplicate key {k!r}")
            d[k] = v
        return d

    def no_const(c):
        raise EnvelopeError(f"{c} is not valid JSON")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_dupes, parse_constant=no_const)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EnvelopeError(f"malformed JSON: {e}") from e
