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
- ``site_pkg``: a small remote-voting site's package of the same election (simulation/remote.py:
  districts 3 and 7, 40 voters of the national list, the demo station's 12 first with their
  home UIK-1234 in OIK-07, no templates), for the tests of ballots printed on demand;
  ``site_home(root, site_pkg, demo_package)`` provisions a home from it, polls open, claims off.

Rules tests do not use these: they build the few election values they check
(tests/support/election_values.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest
from sample_manifest import sample_manifest

from simulation.authority import build_demo_package, secrets_dir
from simulation.election import demo_voters
from simulation.remote import build_remote_site_package
from simulation.table import provision_home
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


@pytest.fixture(scope="session")
def site_pkg(demo_package, tmp_path_factory):
    """A small remote-voting site's package (module docstring); read-only."""
    root = tmp_path_factory.mktemp("ondemand-site")
    home_rows = list(demo_voters(DEMO_SEED, demo_package.voters))
    return build_remote_site_package(root / "site", voters=40, seed=DEMO_SEED, districts=(3, 7),
                                     home_rows=home_rows, home=("UIK-1234", "OIK-07"), template_pins=(),
                                     signing_key=demo_package.key, secrets=demo_package.secrets)


def site_home(root, site_pkg, demo_package):
    """A home provisioned from ``site_pkg``: polls open, online claims off (the paper is the point)."""
    home = provision_home(root, site_pkg.dir, signing_key=demo_package.key, state="open")
    home.config_file.write_text('[claims]\nmode = "off"\n')
    return home
