"""Fixtures: a realistic test election (the foundation's demo builder when present)."""

from __future__ import annotations

import pytest
from ballot_sheets import sheet_pixels  # noqa: E402
from sample_manifest import sample_manifest  # noqa: E402

from station.election import Election  # noqa: E402


@pytest.fixture(scope="session")
def manifest() -> dict:
    return sample_manifest(7)


@pytest.fixture(scope="session")
def election(manifest) -> Election:
    return Election.from_manifest(manifest)


@pytest.fixture(scope="session")
def district(election):
    return election.contest("district-07")


@pytest.fixture(scope="session")
def party_list(election):
    return election.contest("party-list")


@pytest.fixture(scope="session")
def demo_election() -> Election:
    """The foundation's realistic demo election (simulation.election)."""
    demo = pytest.importorskip("simulation.election")
    return Election.from_manifest(demo.demo_manifest(1))


@pytest.fixture(scope="session")
def sheet():
    return sheet_pixels
