"""Fixtures of the count tests: a station home and an L&A deck of the sample election.

The election is the shared sample election (``manifest`` / ``election``,
tests/support/fixtures_election.py), the same one the ballot tests read.
"""

from __future__ import annotations

import json

import pytest
from countkit import make_home

from simulation.deck import write_deck


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
