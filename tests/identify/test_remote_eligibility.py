"""Eligibility at a remote-voting site (identify/eligibility.py R5, identify/rules.py) as tables.

DOMAIN.md "Remote voting": the law of 9 June 2025 No. 113 lets a voter vote at any
station outside their home district; inside it only at their own station. The rule is
sync/claims.py ``where_may_vote`` (tests/sync/test_claims_rule.py); here: what a
remote site's table makes of it with the voter's home station and district from the
national list, which contests the voter's home district gives (their own district's
candidate contest + the party list, R1-R3 as at home), and the ballot styles the
on-demand printer is given.

The site stands in OIK-03 and carries the contests of districts 3, 7 and 12.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from election_values import candidate_contest, manifest, party_list_contest

from identify.eligibility import ballot_styles, decide, remote_site_refusal
from identify.rules import Fingerprint, Reason, Status
from identify.rules import decide as rules_decide
from identify.voters import Voter, validate_national_row
from station import polls
from station.election import Election
from station.errors import PackageError, VoterListError

DAY = dt.date(2025, 11, 30)


def site_manifest(site_district: str = "OIK-03") -> dict:
    contests = []
    for n in (3, 7, 12):
        c = candidate_contest(f"district-{n:02d}", ["c-01", "c-02"])
        c["district"] = f"OIK-{n:02d}"
        contests.append(c)
    m = manifest(*contests, party_list_contest("party-list", {"p-01": 10}), voting_day=DAY.isoformat(),
                 station_id="RV-9001")
    m["station"] = {**m["station"], "kind": "remote-site", "district": site_district}
    return m


SITE = Election.from_manifest(site_manifest())


def voter(home_district="OIK-07", home_station="UIK-1234", district="auto", since="2010-01-01",
          birth="1980-05-01", overseas=False) -> Voter:
    b = dt.date.fromisoformat(birth)
    if district == "auto":
        district = f"district-{home_district[-2:]}" if home_district else None
    return Voter(pin=f"2{b:%d%m%Y}00001", document_number="ID0000001", surname="Асанов", name="Азамат",
                 patronymic="", birth_date=b, sex="M", district=district,
                 registered_since=dt.date.fromisoformat(since) if since else None,
                 overseas=overseas, remote=False, home_station=home_station, home_district=home_district)


REFUSE_ALL = {"district-03": "home-district", "district-07": "home-district", "district-12": "home-district",
              "party-list": "home-district"}

CASES = [
    # (id, voter, issued, refused)
    ("outside-home-district", voter("OIK-07"),                                       # law 113: any site outside
     ("district-07", "party-list"), {"district-03": "other-district", "district-12": "other-district"}),
    ("other-district-picks-its-contest", voter("OIK-12", "UIK-1201"),                # the home district decides
     ("district-12", "party-list"), {"district-03": "other-district", "district-07": "other-district"}),
    ("inside-home-district", voter("OIK-03", "UIK-0301"),                            # own station only
     (), REFUSE_ALL),
    ("recently-moved", voter(since=(DAY - dt.timedelta(days=30)).isoformat()),       # R2 as at home
     ("party-list",), {"district-03": "other-district", "district-07": "not-community-member",
                       "district-12": "other-district"}),
    ("no-residence-contest", voter(district=None),                                   # R2: not a member
     ("party-list",), {"district-03": "other-district", "district-07": "other-district",
                       "district-12": "other-district"}),
    ("lives-abroad", voter(district=None, since="", overseas=True),                  # R3
     ("party-list",), {"district-03": "overseas-party-list-only", "district-07": "overseas-party-list-only",
                       "district-12": "overseas-party-list-only"}),
    ("under-age", voter(birth="2007-12-01"),                                         # R1
     (), {c: "under-age" for c in ("district-03", "district-07", "district-12", "party-list")}),
    ("no-home-on-the-list", voter(home_district=None, home_station=None),            # not on the national list
     (), {c: "not-on-national-list" for c in ("district-03", "district-07", "district-12", "party-list")}),
]


@pytest.mark.parametrize("v, issued, refused", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_remote_site_eligibility(v, issued, refused):
    got = decide(v, SITE)
    assert got.contests == issued
    assert got.refused == refused


STYLES = [
    ("district-07", voter("OIK-07"), ("bs-district-07", "bs-party-list")),
    ("district-12", voter("OIK-12", "UIK-1201"), ("bs-district-12", "bs-party-list")),
    ("party-list-only", voter(since=(DAY - dt.timedelta(days=5)).isoformat()), ("bs-party-list",)),
    ("inside-home-district", voter("OIK-03", "UIK-0301"), ()),
]


@pytest.mark.parametrize("v, styles", [c[1:] for c in STYLES], ids=[c[0] for c in STYLES])
def test_the_printer_gets_the_home_districts_styles(v, styles):
    assert ballot_styles(SITE, decide(v, SITE).contests) == styles


def test_a_contest_without_a_style_is_an_error():
    with pytest.raises(PackageError, match="no ballot style carries"):
        ballot_styles(SITE, ("district-99",))


def test_at_a_regular_station_the_home_rule_does_not_apply():
    m = site_manifest()
    m["station"] = {k: v for k, v in m["station"].items() if k not in ("kind", "district")}
    station = Election.from_manifest(m)
    v = voter("OIK-03", "UIK-0301", district="district-03")
    assert remote_site_refusal(v, station) is None
    assert decide(v, station).contests == ("district-03", "party-list")


MATCH = Fingerprint(match=True, score=0.9, threshold=0.1, target_fmr=1e-4)
NO_TEMPLATE = Fingerprint(match=False, score=0.0, threshold=0.1, target_fmr=1e-4, reason="no-templates")


@pytest.mark.parametrize("v, method, fp, status, reason, ballots", [
    (voter("OIK-07"), "card+finger", MATCH, Status.ACCEPTED, None, ("district-07", "party-list")),
    (voter("OIK-03", "UIK-0301"), "card+finger", MATCH, Status.REFUSED, "home-district", ()),
    # most voters have no template at a site: the home-district refusal comes first all the same
    (voter("OIK-03", "UIK-0301"), "card+finger", NO_TEMPLATE, Status.REFUSED, "home-district", ()),
    (voter("OIK-07"), "card+finger", NO_TEMPLATE, Status.REFUSED, "no-fingerprint-enrolled", ()),
    (voter("OIK-07"), "manual", None, Status.ACCEPTED, None, ("district-07", "party-list")),
], ids=["accepted", "home-district", "home-district-before-templates", "no-template-offers-manual",
        "manual-by-card-and-photo"])
def test_the_table_decides_at_a_site(v, method, fp, status, reason, ballots):
    out = rules_decide(polls_state=polls.PollsState.OPEN, voter=v, earlier=None, election=SITE,
                       method=method, fingerprint=fp)
    assert (out.status, out.reason, out.ballots) == (status, reason, ballots)
    if reason == Reason.HOME_DISTRICT:
        assert "UIK-0301" in out.message.ky and "UIK-0301" in out.message.ru   # where to go instead


@pytest.mark.parametrize("change, words", [
    (lambda m: m["contests"][1].pop("district"), "must name its district"),
    (lambda m: m["contests"][1].update(district="OIK-03"), "elected by both"),
    (lambda m: m["station"].update(district="OIK-30"), "district of no contest"),
    (lambda m: m["station"].update(kind="kiosk"), "unknown kind"),
], ids=["contest-without-district", "district-twice", "site-outside-the-districts", "unknown-kind"])
def test_a_malformed_remote_site_manifest_is_refused(change, words):
    m = copy.deepcopy(site_manifest())
    change(m)
    with pytest.raises(PackageError, match=words):
        Election.from_manifest(m)


ROW = ["21110195400478", "ID1890286", "Мырзакматов", "Өмүр", "Нурлан уулу", "1954-10-11", "M",
       "district-07", "1997-07-21", "0", "0", "UIK-1234", "OIK-07"]


@pytest.mark.parametrize("col, value, words", [
    (11, "", "home_station and home_district are required"),
    (12, "", "home_station and home_district are required"),
    (12, "OIK-30", "elected by no contest"),
    (7, "district-12", "does not elect the home district"),
    (0, "2111019540047", "malformed PIN"),
], ids=["no-home-station", "no-home-district", "unknown-district", "contest-of-another-district", "short-pin"])
def test_national_row_validation(col, value, words):
    row = list(ROW)
    row[col] = value
    with pytest.raises(VoterListError, match=words) as e:
        validate_national_row(row, SITE.districts, "voters.csv:9")
    assert "voters.csv:9" in str(e.value)


def test_a_voter_abroad_may_name_a_home_district_of_no_contest():
    row = list(ROW)
    row[7:10] = ["", "", "1"]
    row[12] = "OIK-ABROAD"
    assert validate_national_row(row, SITE.districts, "voters.csv:2")[-1] == "OIK-ABROAD"
