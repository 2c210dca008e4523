"""PIN rules (DOMAIN.md "The PIN") and eligibility (DOMAIN.md "Voter lists and eligibility").

The election is built here with only what eligibility reads: voting day 30 Nov 2025,
age of active suffrage 18, a territorial candidate contest "district-07" and the
nationwide "party-list" contest; community membership takes 90 days (parliament)
or 60 (local councils).
"""

import datetime as dt

import pytest
from election_values import build_election, candidate_contest, party_list_contest

from identify.eligibility import decide
from identify.voters import Voter, pin_problem, validate_row
from station.errors import VoterListError

DAY = dt.date(2025, 11, 30)
CONTESTS = (candidate_contest("district-07", ["c-01", "c-02"]),
            party_list_contest("party-list", {"p-01": 10}))
E = build_election(*CONTESTS, voting_day=DAY.isoformat(), min_age=18, community_days=90)


@pytest.mark.parametrize("pin, ok", [
    ("21110195400478", True),
    ("12902200012345", True),        # 29 Feb 2000: a real date
    ("12902200112345", False),       # 29 Feb 2001: not a date
    ("33112199012345", False),       # first digit must be 1 or 2
    ("2311219901234", False),        # 13 digits
    ("2311219901234X", False),
    ("23213199012345", False),       # month 13
], ids=["valid", "leap-day", "not-leap", "bad-sex-digit", "13-digits", "letter", "month-13"])
def test_pin(pin, ok):
    assert (pin_problem(pin) is None) is ok


def voter(birth="1980-05-01", district="district-07", since="2010-01-01", overseas=False, remote=False):
    b = dt.date.fromisoformat(birth)
    return Voter(pin=f"2{b:%d%m%Y}00001", document_number="ID0000001", surname="Асанов", name="Азамат",
                 patronymic="", birth_date=b, sex="M", district=district,
                 registered_since=dt.date.fromisoformat(since) if since else None,
                 overseas=overseas, remote=remote)


CASES = [
    # (id, voter, issued, refused); R1-R4 are the rules cited in identify/eligibility.py
    ("community-member", voter(),                                                   # R4
     ("district-07", "party-list"), {}),
    ("turns-18-on-the-day", voter(birth="2007-11-30"),                              # R1: 18
     ("district-07", "party-list"), {}),
    ("17-on-the-day", voter(birth="2007-12-01"),                                    # R1: 17
     (), {"district-07": "under-age", "party-list": "under-age"}),
    ("registered-90-days", voter(since=(DAY - dt.timedelta(days=90)).isoformat()),  # R2: exactly 90
     ("district-07", "party-list"), {}),
    ("registered-89-days", voter(since=(DAY - dt.timedelta(days=89)).isoformat()),  # R2: 89 days
     ("party-list",), {"district-07": "not-community-member"}),
    ("no-registration", voter(since=""),                                            # R2: none
     ("party-list",), {"district-07": "not-community-member"}),
    ("overseas", voter(district="", since="", overseas=True),                       # R3
     ("party-list",), {"district-07": "overseas-party-list-only"}),
    ("remote-from-other-district", voter(district=None, since="", remote=True),     # R2: other district
     ("party-list",), {"district-07": "other-district"}),
]


@pytest.mark.parametrize("v, issued, refused", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_eligibility(v, issued, refused):
    got = decide(v, E)
    assert got.contests == issued
    assert got.refused == refused


# Community membership is a parameter of the election (DOMAIN.md: 90 days for parliament,
# 60 for local councils): a voter registered 61 days before voting day.
COMMUNITY_DAYS = [
    # (id, community_days, issued)
    ("local-council-60-days", 60, ("district-07", "party-list")),
    ("parliament-90-days", 90, ("party-list",)),
]


@pytest.mark.parametrize("days, issued", [c[1:] for c in COMMUNITY_DAYS],
                         ids=[c[0] for c in COMMUNITY_DAYS])
def test_community_days_are_a_parameter_of_the_election(days, issued):
    e = build_election(*CONTESTS, voting_day=DAY.isoformat(), community_days=days)
    v = voter(since=(DAY - dt.timedelta(days=61)).isoformat())
    assert decide(v, e).contests == issued


ROW = ["21110195400478", "ID1890286", "Мырзакматов", "Өмүр", "Нурлан уулу", "1954-10-11", "M",
       "district-07", "1997-07-21", "0", "0"]


@pytest.mark.parametrize("col, value, words", [
    (0, "2111019540047", "malformed PIN"),
    (0, "23210195400478", "malformed PIN"),
    (5, "1954-02-30", "impossible birth date"),
    (5, "1954-10-12", "disagrees with PIN"),
    (7, "district-99", "unknown contest"),
    (8, "1997-13-01", "impossible registration date"),
    (6, "X", "sex"),
], ids=["short-pin", "bad-date-in-pin", "feb-30", "birth-mismatch", "unknown-contest", "bad-registration", "sex"])
def test_row_validation(col, value, words):
    row = list(ROW)
    row[col] = value
    with pytest.raises(VoterListError, match=words) as e:
        validate_row(row, frozenset({"district-07"}), "voters.csv:17")
    assert "voters.csv:17" in str(e.value)
