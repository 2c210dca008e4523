"""Fixtures of the count tests: a realistic election, readings, a station home.

The election is the ballot tests' sample manifest (tests/support/sample_manifest.py:
"district-07" candidate contest with a withdrawn candidate, "party-list" with
withdrawn list candidates and a short list), so both parts agree on one election.
"""

from __future__ import annotations

import json

import pytest
from countkit import make_home, reading  # noqa: E402,F401
from sample_manifest import other_station, sample_manifest  # noqa: E402,F401

from simulation.deck import write_deck
from station.election import Election  # noqa: E402


@pytest.fixture(scope="session")
def manifest() -> dict:
    return sample_manifest(7)


@pytest.fixture(scope="session")
def election(manifest) -> Election:
    return Election.from_manifest(manifest)


@pytest.fixture
def home(tmp_path, manifest):
    return make_home(tmp_path / "st", manifest)


DECK_SHEETS = 36


@pytest.fixture(scope="session")
def deck(tmp_path_factory, election):
    """A small L&A deck (every rule and every bad sheet), 150 dpi, written once per session."""

    out = tmp_path_factory.mktemp("deck")
    write_deck(election, out, sheets=DECK_SHEETS, dpi=150, seed=11)
    expected = json.loads((out / "expected.json").read_text())
    return out, expected
