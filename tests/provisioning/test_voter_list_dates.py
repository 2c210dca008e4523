"""Dates in the voter list at load: only real calendar dates (provisioning/package.py's SQL check).

DOMAIN.md "The PIN": a PIN whose date part is not a real date is malformed, even
when the birth-date column repeats the same impossible day.
"""

from __future__ import annotations

import pytest

from provisioning.package import build_package, load_package
from simulation.authority import load_or_create_key
from simulation.election import demo_manifest, demo_voters
from station.errors import VoterListError


def _feb30_rows():
    rows = list(demo_voters(11, 10))
    r = rows[4]
    r[0] = "1" + "30021999" + r[0][9:]      # PIN and birth date agree on a day that does not exist
    r[5] = "1999-02-30"
    return rows


def test_a_date_that_does_not_exist_is_refused_even_when_pin_and_birth_agree(device, package, tmp_path):
    key = load_or_create_key(package.key)
    bad = build_package(tmp_path / "b", demo_manifest(7), _feb30_rows(), key)
    with pytest.raises(VoterListError, match=r"voters.csv:6: malformed PIN"):
        load_package(device, bad.dir)
