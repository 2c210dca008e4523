"""Session fixtures: the sample election and the built demo package, one of each per test run.

- ``manifest`` / ``election``: the sample election of tests/support/sample_manifest.py
  ("district-07" candidate contest with a withdrawn candidate, "party-list" with
  withdrawn list candidates and a list shorter than the 54 boxes), as the manifest
  dict a station home is provisioned from and as the parsed ``Election``. The count
  and ballot tests share it, so both parts agree on one election.
- ``demo_package``: the demo builder's signed package (simulation.authority), built
  once: 12 synthetic voters with enrolled templates (seed 5), its CEC signing key
  and its secrets (the simulated card issuer and central server). Read-only: a test
  that tampers with a package takes the ``package`` copy (fixtures_device.py).

Rules tests do not use these: they build the few election values they check
(tests/support/election_values.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from sample_manifest import sample_manifest

from simulation.authority import build_demo_package, secrets_dir
from station.election import Election

DEMO_SEED = 5
DEMO_VOTERS = 12


class DemoPackage(NamedTuple):
    dir: Path          # the package directory (its CEC public key beside it: DIR.cec.pub)
    key: Path          # the CEC signing key file
    secrets: Path      # DIR.secrets: the card issuer's test PKI, the central server's key, the seed
    voters: int        # rows in voters.csv


@pytest.fixture(scope="session")
def manifest() -> dict:
    """The sample election's manifest (shared: copy it before changing it)."""
    return sample_manifest(7)


@pytest.fixture(scope="session")
def election(manifest) -> Election:
    """The sample election, parsed."""
    return Election.from_manifest(manifest)


@pytest.fixture(scope="session")
def demo_package(tmp_path_factory) -> DemoPackage:
    """The demo package with enrolled templates, built once per session (about a second)."""
    root = tmp_path_factory.mktemp("demo-package")
    key = root / "cec.key"
    pkg = build_demo_package(root / "pkg", voters=DEMO_VOTERS, seed=DEMO_SEED, signing_key=key)
    return DemoPackage(pkg.dir, key, secrets_dir(pkg.dir), DEMO_VOTERS)
