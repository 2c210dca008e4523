"""Fixtures of the ballot tests: the demo election and sheet pictures.

The sample election itself (``manifest`` / ``election``) is shared by every area
(tests/support/fixtures_election.py).
"""

from __future__ import annotations

import pytest
from ballot_sheets import sheet_pixels

from simulation.election import demo_manifest
from station.election import Election


@pytest.fixture(scope="session")
def demo_election() -> Election:
    """The demo builder's realistic election (simulation.election): its ballots must lay out and read too."""
    return Election.from_manifest(demo_manifest(1))


@pytest.fixture(scope="session")
def sheet():
    return sheet_pixels
