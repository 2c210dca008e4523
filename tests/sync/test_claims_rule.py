"""The home-district rule (sync/claims.py ``where_may_vote``) as a table.

Law of the Kyrgyz Republic of 9 June 2025 No. 113 (DOMAIN.md "Remote voting", seed ``002_…``
item 2.2): a voter may vote at any polling station outside their home district after online
identification; inside the home district only at their own station. A regular station's list is
its own voters (DOMAIN.md "Voter lists and eligibility"), so voters of other stations are served at
remote-voting sites.
"""

from __future__ import annotations

import pytest

from sync.claims import where_may_vote

# home station, home district, station, its district, remote site?, expected
TABLE = [
    ("UIK-1", "OIK-07", "UIK-1", "OIK-07", False, None),             # own station
    ("UIK-1", "OIK-07", "UIK-2", "OIK-07", False, "not-this-station"),  # another station, same district
    ("UIK-1", "OIK-07", "UIK-9", "OIK-12", False, "not-this-station"),  # a regular station elsewhere
    ("UIK-1", "OIK-07", "RV-01", "OIK-12", True, None),              # remote site outside the home district
    ("UIK-1", "OIK-07", "RV-02", "OIK-07", True, "home-district"),   # remote site inside it: own station only
    ("RV-01", "OIK-12", "RV-01", "OIK-12", True, None),              # a voter listed at the site itself
]


@pytest.mark.parametrize("home, district, station, station_district, remote, expected", TABLE)
def test_where_may_vote(home, district, station, station_district, remote, expected):
    assert where_may_vote(home_station=home, home_district=district, station=station,
                          station_district=station_district, remote_site=remote) == expected
