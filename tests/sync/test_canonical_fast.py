"""The fast canonical path produces exactly the RFC 8785 reference bytes, or defers to it."""

from __future__ import annotations

import random

import pytest

from sync.canonical import canonical, canonical_reference
from sync.errors import EnvelopeError

ALPHABET = ['"', "\\", "\b", "\f", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "\u2028", "\u2029",
            "a", "Z", "0", " ", "/", "ы", "Ү", "ң", "ө", "€", "\ue000", "\uffff", "😀", "𝄞", "é"]


def rand_str(rng, n=8):
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, n)))


def rand_doc(rng, depth=0):
    r = rng.random()
    if depth > 3 or r < 0.3:
        return rng.choice([None, True, False, rng.randint(-2**53 + 1, 2**53 - 1),
                           rng.randint(-1000, 1000), rand_str(rng)])
    if r < 0.6:
        return [rand_doc(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rand_str(rng, 4): rand_doc(rng, depth + 1) for _ in range(rng.randint(0, 5))}


@pytest.mark.parametrize("seed", range(40), ids=lambda s: f"seed-{s}")
def test_random_documents_match_reference(seed):
    rng = random.Random(seed)
    for _ in range(50):
        doc = rand_doc(rng)
        assert canonical(doc) == canonical_reference(doc)


CASES = [
    ("astral-vs-bmp-keys", {"\ue000": 1, "😀": 2, "a": 3}),  # UTF-16 order differs from code points
    ("controls", {"k": "\x00\x01\x1f\b\f\n\r\t\"\\"}),
    ("max-safe-int", {"n": 2**53 - 1, "m": -(2**53 - 1)}),
    ("nested-empty", {"a": {}, "b": [], "c": ""}),
    ("bools-null", [True, False, None, 0, -0]),
]


@pytest.mark.parametrize("doc", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_edge_cases(doc):
    assert canonical(doc) == canonical_reference(doc)


@pytest.mark.parametrize("doc", [{"x": 1.0}, {"x": [0.5]}, {"x": 2**53}, {"x": "\ud800"}],
                         ids=["float", "nested-float", "unsafe-int", "lone-surrogate"])
def test_refused(doc):
    with pytest.raises((EnvelopeError, ValueError)):
        canonical(doc)
