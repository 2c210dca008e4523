"""Shared synthetic fingers (built once per session: each master costs ~0.1 s)."""

import pytest

from biometrics.extract import extract
from biometrics.synthetic import SyntheticFinger

SEEDS = [11, 12, 13, 14, 15, 16]


@pytest.fixture(scope="session")
def fingers():
    return [SyntheticFinger(s) for s in SEEDS]


@pytest.fixture(scope="session")
def extractions(fingers):
    """{(finger index, impression): Extraction} for impressions 0-3 in normal condition."""
    return {(i, k): extract(f.impression(k, condition="normal"))
            for i, f in enumerate(fingers) for k in range(4)}
