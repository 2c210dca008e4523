"""PIN rules (DOMAIN.md "The PIN") and eligibility (DOMAIN.md "Voter lists and eligibility")."""

import datetime as dt

import pytest

from identify.eligibility import decide
from identify.voters import Voter, pin_problem, validate_row
from simulation.election import demo_manifest
from station.election import Election
from station.errors import VoterListError

E = Election.from_manifest(demo_manifest(1))
DAY = E.voting_day  # 2025-11-30


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
    # (voter, issued, refused) — rule cited in identify/eligibility.py
    (voter(), ("district-07", "party-list"), {}),                                              # R4
    (voter(birth="2007-11-30"), ("district-07", "party-list"), {}),                            # R1: 18 on the day
    (voter(birth="2007-12-01"), (), {"district-07": "under-age", "party-list": "under-age"}),  # R1: 17
    (voter(since=(DAY - dt.timedelta(days=90)).isoformat()), ("district-07", "party-list"), {}),  # R2: exactly 90
    (voter(since=(DAY - dt.timedelta(days=89)).isoformat()), ("party-list",),
     {"district-07": "not-community-member"}),                                                # R2: 89 days
    (voter(since=""), ("party-list",), {"district-07": "not-community-member"}),               # R2: none
    (voter(district="", since="", overseas=True), ("party-list",),
     {"district-07": "overseas-party-list-only"}),                                            # R3
    (voter(district=None, since="", remote=True), ("party-list",), {"district-07": "other-district"}),
]


@pytest.mark.parametrize("v, issued, refused", CASES, ids=[
    "community-member", "turns-18-on-the-day", "17-on-the-day", "registered-90-days", "registered-89-days",
    "no-registration", "overseas", "remote-from-other-district"])
def test_eligibility(v, issued, refused):
    got = decide(v, E)
    assert got.contests == issued
    assert got.refused == refused


def test_local_council_uses_60_days():
    m = demo_manifest(1)
    m["election"]["community_days"] = 60
    e60 = Election.from_manifest(m)
    v = voter(since=(DAY - dt.timedelta(days=61)).isoformat())
    assert decide(v, e60).contests == ("district-07", "party-list")
    assert decide(v, E).contests == ("party-list",)


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
