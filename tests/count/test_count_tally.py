"""The tally as a pure function (ARCHITECTURE.md invariant 4; DOMAIN.md "Ballots and contests").

The election is built here with what the tally reads: the sheets' election and
station ids (those countkit.reading writes), "district-07" with c-05 withdrawn,
and "party-list" with 54 boxes where p-01 has withdrawn list numbers 5 and 12 and
p-04's list (30) is shorter than the boxes.
"""

from __future__ import annotations

import dataclasses

import pytest
from countkit import ELECTION as ELECTION_ID
from countkit import STATION as STATION_ID
from countkit import reading
from election_values import build_election, candidate_contest, party_list_contest

from count.ballots.reading import SheetReading
from count.tally import Tally, add_reading, fold
from station.errors import CountingError

ELECTION = build_election(
    candidate_contest("district-07", ["c-01", "c-02", "c-03", "c-04", "c-05"], withdrawn=["c-05"]),
    party_list_contest("party-list", {"p-01": 54, "p-02": 54, "p-03": 54, "p-04": 30},
                       withdrawn={"p-01": [5, 12]}),
    election_id=ELECTION_ID, station_id=STATION_ID)

# (id, readings, contest, expected counters, expected votes/preferences subset)
CASES = [
    ("candidate-one-mark", [reading("district-07", choice="c-01")], "district-07",
     dict(ballots_read=1, valid=1, invalid=0, blank=0), {"vote:c-01": 1}),
    ("candidate-against-all", [reading("district-07", choice="against-all")], "district-07",
     dict(ballots_read=1, valid=1), {"vote:against-all": 1}),
    ("candidate-blank", [reading("district-07", "blank")], "district-07",
     dict(ballots_read=1, valid=0, blank=1), {"vote:c-01": 0}),
    ("candidate-overvote", [reading("district-07", "invalid", reason="overvote")], "district-07",
     dict(ballots_read=1, invalid=1), {}),
    ("party-vote-only", [reading("party-list", choice="p-02")], "party-list",
     dict(ballots_read=1, valid=1), {"vote:p-02": 1, "pref:p-02:3": 0}),
    ("party-with-preference", [reading("party-list", choice="p-02", preference=3)], "party-list",
     dict(valid=1), {"vote:p-02": 1, "pref:p-02:3": 1}),
    ("party-withdrawn-number-ignored",
     [reading("party-list", choice="p-01", preference_ignored=5)], "party-list",
     dict(valid=1), {"vote:p-01": 1}),
    ("party-multiple-numbers", [reading("party-list", "invalid", reason="party-multiple-numbers")],
     "party-list", dict(ballots_read=1, invalid=1, valid=0), {}),
    ("number-without-party", [reading("party-list", "invalid", reason="number-without-party")],
     "party-list", dict(invalid=1), {}),
    ("marginal-reported", [reading("party-list", choice="p-03", marginal=("party-list/#40",))],
     "party-list", dict(valid=1, marginal_sheets=1), {"vote:p-03": 1}),
    ("mixed-five", [reading("district-07", choice="c-01"), reading("district-07", choice="c-01"),
                    reading("district-07", choice="c-02"), reading("district-07", "blank"),
                    reading("district-07", "invalid")], "district-07",
     dict(ballots_read=5, valid=3, invalid=1, blank=1), {"vote:c-01": 2, "vote:c-02": 1}),
]


@pytest.mark.parametrize("readings,contest,counters,lines",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tally_table(readings, contest, counters, lines):
    t = fold(ELECTION, readings)
    ct = t.contest(contest)
    for k, v in counters.items():
        assert getattr(ct, k) == v, k
    got = dict(ct.lines())
    for k, v in lines.items():
        assert got[k] == v, k
    assert ct.valid + ct.invalid + ct.blank == ct.ballots_read
    assert sum(ct.votes.values()) == ct.valid
    other = [c for c in t.contests if c.contest != contest]
    assert all(c.is_zero() for c in other)


def test_add_reading_is_pure():
    t0 = Tally.empty(ELECTION)
    t1 = add_reading(t0, reading("district-07", choice="c-01"))
    assert t0.is_zero() and not t1.is_zero()
    assert t0 == Tally.empty(ELECTION)
    assert t1 == add_reading(Tally.empty(ELECTION), reading("district-07", choice="c-01"))


def test_every_option_listed_at_zero():
    t = Tally.empty(ELECTION)
    assert set(t.contest("district-07").votes) == set(ELECTION.contest("district-07").options())
    prefs = t.contest("party-list").preferences
    p1 = ELECTION.contest("party-list").parties[0]
    assert p1.id in prefs
    withdrawn = {c.number for c in p1.candidates if c.withdrawn}
    assert withdrawn and not withdrawn & set(prefs[p1.id])
    assert max(prefs["p-04"]) == 30          # the short list: 30 candidates, no box beyond


BAD = [
    ("rejected-sheet", SheetReading.rejected("unreadable")),
    ("other-station", reading("district-07", choice="c-01", station="uik-2044")),
    ("other-election", reading("district-07", choice="c-01", election="kg-2021")),
    ("unknown-style", reading("district-07", choice="c-01", style="bs-nope")),
    ("style-contest-mismatch", reading("district-07", choice="c-01", style="bs-party-list")),
    ("unknown-candidate", reading("district-07", choice="c-99")),
    ("withdrawn-candidate-valid", reading("district-07", choice="c-05")),
    ("party-in-candidate-contest", reading("district-07", choice="p-01")),
    ("preference-of-withdrawn", reading("party-list", choice="p-01", preference=5)),
    ("preference-beyond-list", reading("party-list", choice="p-04", preference=40)),
    ("preference-with-against-all", reading("party-list", choice="against-all", preference=2)),
    ("invalid-with-choice", reading("party-list", "invalid", choice="p-01")),
    ("unknown-status", reading("party-list", "weird", reason="x")),
]


@pytest.mark.parametrize("r", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_reading_raises_and_tally_unchanged(r):
    t = add_reading(Tally.empty(ELECTION), reading("district-07", choice="c-02"))
    with pytest.raises(CountingError):
        add_reading(t, r)
    assert t.contest("district-07").valid == 1


def test_duplicate_contest_outcome_refused():
    r = reading("district-07", choice="c-01")
    r2 = dataclasses.replace(r, outcomes=r.outcomes * 2)
    with pytest.raises(CountingError):
        add_reading(Tally.empty(ELECTION), r2)
