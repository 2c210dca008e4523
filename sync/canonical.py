"""Canonical JSON bytes (RFC 8785, JSON Canonicalization Scheme).

What is signed is always ``canonical(obj)``: one function, so the signer and
every verifier agree byte for byte. Floats are refused (RFC 8785 allows them,
but a count is an integer and a time is text; refusing avoids rounding disputes).

Speed: for the documents we sign (no floats, integers within +-(2^53-1), keys
without characters beyond U+FFFF) RFC 8785 output equals the standard
library's ``json.dumps(sort_keys=True, ensure_ascii=False, separators=(",",
":"))``: the same minimal escaping (quote, backslash, short forms for
backspace/form feed/newline/return/tab, other controls as lowercase u00xx
escapes), and code-point key order equals UTF-16 order for BMP keys.
``canonical`` takes that C-speed path when one scan shows the document is in
that domain, and ``rfc8785`` otherwise (tests/sync/test_canonical_fast.py
compares both on adversarial documents).
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

from sync.errors import EnvelopeError

_SAFE = 2**53 - 1
_BMP_MAX = "\uffff"


def _fast_ok(obj: Any) -> bool:
    """True if ``obj`` is in the domain where json.dumps is RFC 8785; raise on floats."""
    t = type(obj)
    if t is str or obj is None or t is bool:
        return True
    if t is int:
        return -_SAFE <= obj <= _SAFE
    if t is dict:
        for k, v in obj.items():
            if type(k) is not str or (k and max(k) > _BMP_MAX) or not _fast_ok(v):
                return False
        return True
    if t is list or t is tuple:
        return all(_fast_ok(v) for v in obj)
    return False


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
    if _fast_ok(obj):
        try:
            return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                              allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let the reference say what is wrong
            pass
    _check(obj)
    return rfc8785.dumps(obj)


def canonical_reference(obj: Any) -> bytes:
    """RFC 8785 bytes by the reference implementation only (for tests and audits)."""
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
