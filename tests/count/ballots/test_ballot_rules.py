"""Validity rules, one row per rule of DOMAIN.md "Ballots and contests".

The two contests are built here with just what the rules read:
- "district-07", a candidate contest with "against all": c-01, c-02, c-03 standing,
  c-04 withdrawn;
- "party-list", open lists with "against all" and 54 number boxes: p-01 (54 on its
  list, number 5 withdrawn), p-02 (54), p-short (30: a list shorter than the boxes).
"""

from __future__ import annotations

import pytest
from election_values import build_election, candidate_contest, party_list_contest

from count.ballots.reading import box_id
from count.ballots.rules import (
    MARGINAL,
    MARKED,
    UNMARKED,
    box_ids,
    candidate_outcome,
    decide,
    party_list_outcome,
)

WITHDRAWN_NUMBER = 5
_E = build_election(
    candidate_contest("district-07", ["c-01", "c-02", "c-03", "c-04"], withdrawn=["c-04"]),
    party_list_contest("party-list", {"p-01": 54, "p-02": 54, "p-short": 30},
                       withdrawn={"p-01": [WITHDRAWN_NUMBER]}))
DISTRICT = _E.contest("district-07")
PARTY_LIST = _E.contest("party-list")


# (id, marks, status, reason, choice); DOMAIN 1 = "Ballots and contests" item 1
CANDIDATE = [
    ("one-mark-valid", ["c-01"], "valid", None, "c-01"),             # DOMAIN 1: one mark valid
    ("one-mark-other", ["c-02"], "valid", None, "c-02"),
    ("no-mark-blank", [], "blank", "no-mark", None),                 # DOMAIN 1: no mark, invalid (blank)
    ("two-marks-overvote", ["c-01", "c-02"], "invalid", "overvote", None),  # more than one: invalid
    ("three-marks-3-seats-still-overvote", ["c-01", "c-02", "c-03"], "invalid", "overvote", None),
    ("against-all-valid", ["against-all"], "valid", None, "against-all"),   # "against all" its own line
    ("against-all-and-candidate", ["against-all", "c-01"], "invalid", "overvote", None),
    ("withdrawn-candidate", ["c-04"], "invalid", "withdrawn-candidate", None),
]


@pytest.mark.parametrize("marks,status,reason,choice", [r[1:] for r in CANDIDATE],
                         ids=[r[0] for r in CANDIDATE])
def test_candidate_rules(marks, status, reason, choice):
    o = candidate_outcome(DISTRICT, set(marks))
    assert (o.status, o.reason) == (status, reason)
    assert o.choice == choice
    assert o.preference is None


# (id, parties, numbers, status, reason, choice, preference, preference_ignored);
# DOMAIN 2 = "Ballots and contests" item 2, its rules in order
PARTY = [
    ("party-only-valid", ["p-01"], [], "valid", None, "p-01", None, None),  # party, no number
    ("party-and-number-preference", ["p-01"], [3], "valid", None, "p-01", 3, None),  # party, one number
    ("party-and-number-54", ["p-02"], [54], "valid", None, "p-02", 54, None),
    ("party-and-withdrawn-number", ["p-01"], [WITHDRAWN_NUMBER], "valid", None, "p-01", None,
     WITHDRAWN_NUMBER),                                               # withdrawn: party vote only
    ("party-and-beyond-list-number", ["p-short"], [40], "valid", None, "p-short", None, 40),  # beyond list
    ("party-and-two-numbers-invalid", ["p-01"], [3, 4], "invalid", "party-multiple-numbers",
     None, None, None),                                               # more than one number
    ("party-withdrawn-and-valid-numbers-invalid", ["p-01"], [WITHDRAWN_NUMBER, 3], "invalid",
     "party-multiple-numbers", None, None, None),
    ("number-without-party", [], [7], "invalid", "number-without-party", None, None, None),
    ("two-parties", ["p-01", "p-02"], [], "invalid", "overvote", None, None, None),
    ("two-parties-and-number", ["p-01", "p-02"], [2], "invalid", "overvote", None, None, None),
    ("nothing-blank", [], [], "blank", "no-mark", None, None, None),
    ("against-all-valid", ["against-all"], [], "valid", None, "against-all", None, None),
    ("against-all-and-party", ["against-all", "p-01"], [], "invalid", "overvote", None, None, None),
    ("against-all-and-number", ["against-all"], [5], "invalid", "number-without-party", None, None, None),
]


@pytest.mark.parametrize("parties,numbers,status,reason,choice,pref,ignored",
                         [r[1:] for r in PARTY], ids=[r[0] for r in PARTY])
def test_party_list_rules(parties, numbers, status, reason, choice, pref, ignored):
    o = party_list_outcome(PARTY_LIST, set(parties), set(numbers))
    assert (o.status, o.reason) == (status, reason)
    assert o.choice == choice
    assert o.preference == pref
    assert o.preference_ignored == ignored


def test_box_ids_cover_every_box():
    assert len(box_ids(DISTRICT)) == len(DISTRICT.candidates) + 1
    assert len(box_ids(PARTY_LIST)) == len(PARTY_LIST.parties) + 1 + 54
    assert box_ids(PARTY_LIST)[-1] == "party-list/#54"


# Marginal policy (docs/ballots.md "Marginal marks"): (id, marks, status, needs_review)
MARGINAL_CASES = [
    ("marginal-alone-would-make-valid", {"c-01": MARGINAL}, "blank", True),
    ("marginal-beside-mark-would-overvote", {"c-01": MARKED, "c-02": MARGINAL}, "valid", True),
    ("marginal-inside-overvote-harmless", {"c-01": MARKED, "c-02": MARKED, "c-03": MARGINAL},
     "invalid", False),
    ("clear-mark-no-marginal", {"c-01": MARKED, "c-02": UNMARKED}, "valid", False),
]


@pytest.mark.parametrize("marks,status,review", [r[1:] for r in MARGINAL_CASES],
                         ids=[r[0] for r in MARGINAL_CASES])
def test_marginal_policy_candidate(marks, status, review):
    m = {box_id(DISTRICT.id, option): v for option, v in marks.items()}
    d = decide(DISTRICT, m)
    assert d.outcome.status == status
    assert d.needs_review is review
    assert set(d.outcome.marginal) == {b for b, v in m.items() if v == MARGINAL}


PARTY_MARGINAL = [
    # a marginal number beside a party would add a preference: review
    ("marginal-number-adds-preference", {"p-01": MARKED, 7: MARGINAL}, True),
    # invalid anyway (two numbers): a third doubtful number changes nothing
    ("marginal-number-inside-multiple-numbers", {"p-01": MARKED, 3: MARKED, 4: MARKED, 9: MARGINAL},
     False),
    # number without party, marginal other number: still number-without-party
    ("marginal-number-beside-lone-number", {3: MARKED, 9: MARGINAL}, False),
    # number without party, marginal party: would make it valid
    ("marginal-party-beside-lone-number", {3: MARKED, "p-01": MARGINAL}, True),
]


@pytest.mark.parametrize("marks,review", [r[1:] for r in PARTY_MARGINAL],
                         ids=[r[0] for r in PARTY_MARGINAL])
def test_marginal_policy_party_list(marks, review):
    m = {box_id(PARTY_LIST.id, box): v for box, v in marks.items()}
    assert decide(PARTY_LIST, m).needs_review is review


def test_too_many_marginal_boxes_go_to_review():
    m = {box_id(PARTY_LIST.id, n): MARGINAL for n in range(1, 12)}
    assert decide(PARTY_LIST, m).needs_review


def test_unknown_option_is_a_programming_error():
    with pytest.raises(ValueError):
        candidate_outcome(DISTRICT, {"nobody"})
