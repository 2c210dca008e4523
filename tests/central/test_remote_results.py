"""The centre's remote-voting results (issue #14 point 5): district votes to their ОИК, sites apart.

tests/support/remote_world.py: three regular stations in OIK-01, OIK-02 and OIK-03
and a remote-voting site standing in OIK-03, whose protocol has a section for
district-01 (elects OIK-01), one for district-02 (OIK-02) and the party list.
central/aggregate.py: a section's votes count in its district's ОИК (and that
ОИК's Region, and the nation), in no ТИК, and the site's party list where the
site stands; the site adds nothing to any area's voters on the list. The
mapping contest -> ОИК is the protocol section's ``district``, from the package's
contest, checked against the station list. ``remote_voting`` reads write-time
counters (central/storage.py ``remote_votes``). Both backends.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from remote_world import (
    NATIONAL,
    SITE,
    STRANGER,
    build_remote_world,
    candidate,
    party_list,
    protocol,
)

from central import aggregate
from central.storage import Storage
from cli.receiver import command as receiver_command


@pytest.fixture
def world(tmp_path, central_db):
    w = build_remote_world(tmp_path, central_db)
    yield w
    w.close()


def group(storage, level: str, code: str) -> dict:
    got = aggregate.results(storage, level, code)["groups"]
    assert len(got) == 1, got
    return got[0]


def test_the_site_is_verified(world):
    rep = aggregate.station_report(world.storage, SITE)
    assert rep["status"] == "verified", rep["reasons"]


def test_a_districts_votes_at_a_site_join_its_oik(world):
    s = world.storage
    oik1, oik2, oik3 = group(s, "oik", "OIK-01"), group(s, "oik", "OIK-02"), group(s, "oik", "OIK-03")
    # district-01: UIK-1001 (36, 2) + the site (4, 2); its ОИК counts it, the site's ОИК does not
    assert oik1["contests"]["district-01"]["votes"] == {"c-01": 40, "c-02": 4, "c-03": 0, "against-all": 0}
    assert oik1["contests"]["district-01"]["ballots_read"] == 39 + 7
    assert oik1["contests"]["party-list"]["votes"]["p-doorr"] == 37           # the site's party list: not here
    assert oik1["remote_sites"] == 1 and oik1["stations"] == 1
    assert oik2["contests"]["district-02"]["votes"]["c-01"] == 24 + 1
    assert set(oik3["contests"]) == {"district-03", "party-list"}
    assert oik3["contests"]["party-list"]["votes"] == {"p-doorr": 15 + 6, "p-onugu": 3 + 5, "against-all": 0}
    # the site stands in OIK-03: a station there, its voters counted, its list (the national one) not
    assert (oik3["stations"], oik3["voters_on_list"], oik3["voters_identified"]) == (2, 60, 20 + 12)


def test_regions_nation_tik_and_the_site_itself(world):
    s = world.storage
    kg_c, kg_o = group(s, "region", "KG-C"), group(s, "region", "KG-O")
    assert kg_c["contests"]["district-01"]["votes"]["c-01"] == 40
    assert "district-01" not in kg_o["contests"]
    assert kg_o["contests"]["party-list"]["votes"]["p-doorr"] == 26 + 15 + 6
    tik = group(s, "tik", "TIK-O-KSU")
    assert set(tik["contests"]) == {"district-03", "party-list"}       # no ТИК has another district's votes
    nation = group(s, "national", "KG")
    assert nation["contests"]["district-01"]["votes"]["c-01"] == 40
    assert nation["contests"]["party-list"]["votes"]["p-doorr"] == 37 + 26 + 15 + 6
    assert nation["voters_on_list"] == 240 and nation["voters_identified"] == 40 + 30 + 20 + 12
    site = group(s, "uik", SITE)
    assert set(site["contests"]) == {"district-01", "district-02", "party-list"}
    # within a parent: the site's district-01 votes are under KG-C's ОИК, not under KG-O
    under_c = aggregate.results(s, "oik", within={"region": "KG-C"})["groups"]
    assert [g["code"] for g in under_c] == ["OIK-01"] and under_c[0]["contests"]["district-01"]["valid"] == 38 + 6


def test_turnout_counts_the_sites_voters_but_not_its_list(world):
    s = world.storage
    t = aggregate.turnout(s)
    assert (t["total"]["identified"], t["total"]["voters_on_list"]) == (102, 240)
    assert next(x for x in t["stations"] if x["station"] == SITE)["share"] is None
    series = aggregate.turnout_series(s, "oik", "OIK-03")
    assert (series["voters_on_list"], series["identified"]) == (60, 32)
    assert aggregate.turnout_series(s, "national")["voters_on_list"] == 240
    node = next(c for r in aggregate.hierarchy(s)["children"] for o in r["children"] for t_ in o["children"]
                for c in t_["children"] if c["code"] == SITE)
    assert (node["kind"], node["district"], node["voters_on_list"]) == ("remote-site", "OIK-03", None)


def test_remote_voting_view(world):
    v = aggregate.remote_voting(world.storage)
    [site] = v["sites"]
    assert (site["station"], site["district"], site["status"], site["identified"]) == (SITE, "OIK-03", "verified", 12)
    # the voter claimed online and then received as a receipt of the same number counts once
    assert site["by_home_district"] == {"": 1, "OIK-01": 7, "OIK-02": 4}
    assert site["sections"] == {"district-01": "OIK-01", "district-02": "OIK-02"}
    assert (v["identified"], v["by_home_district"], v["not_on_national_list"]) == (12, {"OIK-01": 7, "OIK-02": 4}, 1)
    assert STRANGER not in str(v) and not any(p in str(v) for p in world.site_pins)   # no PIN in the view


def test_the_counters_are_projections_rebuilt_from_the_envelopes(world):
    before = world.storage.remote_votes()
    world.receiver.rebuild_projections()
    after = world.storage.remote_votes()
    # the online claim is not an envelope: rebuilt, its voter is counted by the receipt that followed it
    assert after == before


@pytest.mark.parametrize("section, words", [
    (candidate("district-01", "OIK-29", [4, 2, 0]), "district OIK-29 is not a registered ОИК"),
    (candidate("district-01", None, [4, 2, 0]), "names no district"),
], ids=["unknown-oik", "no-district"])
def test_a_section_that_cannot_be_given_to_a_district_holds_the_site(tmp_path, central_db, section, words):
    body = protocol(SITE, NATIONAL, 12, [section, candidate("district-02", "OIK-02", [1, 2, 0]),
                                         party_list([6, 5])], remote_site=True, district="OIK-03")
    w = build_remote_world(tmp_path, central_db, site_protocol=body)
    try:
        rep = aggregate.station_report(w.storage, SITE)
        assert rep["status"] == "held" and any(words in r for r in rep["reasons"]), rep["reasons"]
        assert "district-01" not in group(w.storage, "oik", "OIK-01")["contests"] or \
            group(w.storage, "oik", "OIK-01")["contests"]["district-01"]["votes"]["c-01"] == 36
    finally:
        w.close()


def test_register_national_list_cli(tmp_path, central_db):
    path = tmp_path / "national.csv"
    path.write_text("pin,document_number,home_station,home_district\n"
                    "21110195400478,ID1,UIK-1001,OIK-01\n11105194800250,ID2,UIK-2001,OIK-02\n", encoding="utf-8")
    r = CliRunner().invoke(receiver_command, ["register-national-list", "--db", central_db, str(path)])
    assert r.exit_code == 0, r.output
    assert "2 voters" in r.output
    s = Storage(central_db)
    try:
        assert s.national_voter("11105194800250") == ("UIK-2001", "OIK-02")
    finally:
        s.close()


@pytest.mark.parametrize("text, words", [
    ("pin,home_station\n21110195400478,UIK-1\n", "header"),
    ("pin,home_station,home_district\n2111019540047,UIK-1,OIK-01\n", "line 2: malformed PIN"),
    ("pin,home_station,home_district\n21110195400478,,OIK-01\n", "line 2: home_station"),
    ("pin,home_station,home_district\n21110195400478,UIK-1,OIK-01\n21110195400478,UIK-2,OIK-02\n",
     "line 3: PIN 21110195400478 twice"),
    ("pin,home_station,home_district\n21110195400478,UIK-1\n", "line 2: 2 fields"),
], ids=["no-district-column", "malformed-pin", "no-home-station", "duplicate", "short-row"])
def test_a_bad_national_list_is_refused_whole(tmp_path, central_db, text, words):
    path = tmp_path / "national.csv"
    path.write_bytes(text.encode())
    r = CliRunner().invoke(receiver_command, ["register-national-list", "--db", central_db, str(path)])
    assert r.exit_code != 0 and words in r.output, r.output
    s = Storage(central_db)
    try:
        assert not s.has_national_list()
    finally:
        s.close()
