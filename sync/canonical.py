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

Errors: ``canonical`` and ``parse`` raise ``EnvelopeError`` and nothing else for
any value or any bytes. ``parse`` caps what the standard library would trip
over, before it trips: nesting deeper than ``MAX_DEPTH`` (the C parser raises
``RecursionError`` near the interpreter's recursion limit, sooner when called
from deep in a stack) and integers of more than ``MAX_INT_DIGITS`` digits
(``int()`` raises ``ValueError`` past 4,300 digits, and is quadratic below).
``canonical`` refuses the same depth, so what it signs ``parse`` reads back.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

from sync.errors import EnvelopeError

_SAFE = 2**53 - 1
_BMP_MAX = "\uffff"
# The deepest document we sign (a batch > envelope > body > contest > list > entry) is
# under 10 levels; 64 is far from that and far below the recursion limit (1,000) that
# json, rfc8785 and the checks here would otherwise meet.
MAX_DEPTH = 64
# Every integer we sign is within +-(2^53-1): 16 digits. Longer runs are refused in the
# parser; the canonicaliser's integer domain refuses what lies between.
MAX_INT_DIGITS = 32


def _fast_ok(obj: Any, depth: int = 0) -> bool:
    """True if ``obj`` is in the domain where json.dumps is RFC 8785; raise on floats."""
    t = type(obj)
    if t is str or obj is None or t is bool:
        return True
    if t is int:
        return -_SAFE <= obj <= _SAFE
    if depth >= MAX_DEPTH:
        return False  # _check names it
    if t is dict:
        for k, v in obj.items():
            if type(k) is not str or (k and max(k) > _BMP_MAX) or not _fast_ok(v, depth + 1):
                return False
        return True
    if t is list or t is tuple:
        return all(_fast_ok(v, depth + 1) for v in obj)
    return False


def _check(obj: Any, path: str = "$", depth: int = 0) -> None:
    if isinstance(obj, float):
        raise EnvelopeError(f"{path}: floats are not allowed in signed documents")
    if isinstance(obj, dict | list | tuple) and depth >= MAX_DEPTH:
        raise EnvelopeError(f"{path}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise EnvelopeError(f"{path}: keys must be strings")
            _check(v, f"{path}.{k}", depth + 1)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check(v, f"{path}[{i}]", depth + 1)


def _reference(obj: Any) -> bytes:
    _check(obj)
    try:
        return rfc8785.dumps(obj)
    except (ValueError, UnicodeError) as e:  # integer domain, lone surrogates, other types
        raise EnvelopeError(f"cannot be canonicalised: {e}") from e


def canonical(obj: Any) -> bytes:
    """RFC 8785 bytes of ``obj`` (dicts, lists, str, int, bool, None); ``EnvelopeError`` if it has none."""
    if _fast_ok(obj):
        try:
            return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                              allow_nan=False).encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: let the reference say what is wrong
            pass
    return _reference(obj)


def canonical_reference(obj: Any) -> bytes:
    """RFC 8785 bytes by the reference implementation only (for tests and audits)."""
    return _reference(obj)


# A JSON string (the unrolled, possessive form: linear on any input, an unterminated string
# included, which then runs to the end of the data), or any bracket outside strings.
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"?', re.DOTALL)
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _check_depth(data: bytes) -> None:
    """Refuse nesting deeper than MAX_DEPTH, in C-speed passes (no Python loop per byte).

    Outside strings, the brackets of valid JSON are balanced; removing every innermost
    "[]" pair once per pass empties them in exactly as many passes as they are deep.
    Left over after MAX_DEPTH passes: too deep, or unbalanced (not JSON either way).
    """
    if data.count(b"[") + data.count(b"{") <= MAX_DEPTH:
        return
    brackets = _STRING.sub(b"", data).translate(_BRACKETS_ONLY, _NOT_BRACKETS)
    for _ in range(MAX_DEPTH):
        if not brackets:
            return
        inner_removed = brackets.replace(b"[]", b"")
        if len(inner_removed) == len(brackets):
            break  # unbalanced: no pass will empty it
        brackets = inner_removed
    if brackets:
        raise EnvelopeError(f"malformed JSON: nested deeper than {MAX_DEPTH} levels"
                            " or unbalanced brackets")


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        # Malformed, not too large: the receiver answers "exceeds" with 413.
        raise EnvelopeError(f"malformed JSON: an integer of {len(text.lstrip('-'))} digits"
                            f" (at most {MAX_INT_DIGITS})")
    return int(text)


def parse(data: bytes, *, max_bytes: int | None = None) -> Any:
    """Strict JSON parse: size-capped, UTF-8, no NaN/Infinity, no duplicate keys, depth and
    integer length capped; ``EnvelopeError`` and nothing else for any bytes."""
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

    _check_depth(data)
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_dupes, parse_constant=no_const,
                          parse_int=_int)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EnvelopeError(f"malformed JSON: {e}") from e
