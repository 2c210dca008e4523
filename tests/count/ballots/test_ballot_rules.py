"""Validity rules, one row per rule of DOMAIN.md "Ballots and contests".

Options are written symbolically and resolved against the test election:
``cand0`` / ``cand1`` active candidates, ``cand-withdrawn``, ``aa`` against all,
``party0`` / ``party1`` parties, ``short`` the party whose list is shorter than
the 54 boxes, ``#3`` a number box.
"""

from __future__ import annotations

import pytest

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


def _cand(contest, sym):
    active = [c.id for c in contest.candidates if not c.withdrawn]
    if sym == "aa":
        return "against-all"
    if sym == "cand-withdrawn":
        return next(c.id for c in contest.candidates if c.withdrawn)
    return active[int(sym[4:])]


def _party(contest, sym):
    if sym == "aa":
        return "against-all"
    if sym == "short":
        return next(p.id for p in contest.parties if len(p.candidates) < contest.number_boxes)
    return contest.parties[int(sym[5:])].id


# (id, marks, status, reason, choice, rule cited)
CANDIDATE = [
    ("one-mark-valid", ["cand0"], "valid", None, "cand0"),          # DOMAIN 1: one mark valid
    ("one-mark-other", ["cand1"], "valid", None, "cand1"),
    ("no-mark-blank", [], "blank", "no-mark", None),                # DOMAIN 1: no mark, invalid (blank)
    ("two-marks-overvote", ["cand0", "cand1"], "invalid", "overvote", None),  # more than one: invalid
    ("three-marks-3-seats-still-overvote", ["cand0", "cand1", "cand2"], "invalid", "overvote", None),
    ("against-all-valid", ["aa"], "valid", None, "aa"),              # "against all" its own line
    ("against-all-and-candidate", ["aa", "cand0"], "invalid", "overvote", None),
    ("withdrawn-candidate", ["cand-withdrawn"], "invalid", "withdrawn-candidate", None),
]


@pytest.mark.parametrize("marks,status,reason,choice", [r[1:] for r in CANDIDATE],
                         ids=[r[0] for r in CANDIDATE])
def test_candidate_rules(district, marks, status, reason, choice):
    o = candidate_outcome(district, {_cand(district, m) for m in marks})
    assert (o.status, o.reason) == (status, reason)
    assert o.choice == (_cand(district, choice) if choice else None)
    assert o.preference is None


# (id, parties, numbers, status, reason, choice, preference, preference_ignored)
PARTY = [
    ("party-only-valid", ["party0"], [], "valid", None, "party0", None, None),
    ("party-and-number-preference", ["party0"], [3], "valid", None, "party0", 3, None),
    ("party-and-number-54", ["party1"], [54], "valid", None, "party1", 54, None),
    ("party-and-withdrawn-number", ["party0"], ["withdrawn"], "valid", None, "party0", None, "withdrawn"),
    ("party-and-beyond-list-number", ["short"], [40], "valid", None, "short", None, 40),
    ("party-and-two-numbers-invalid", ["party0"], [3, 4], "invalid", "party-multiple-numbers",
     None, None, None),
    ("party-withdrawn-and-valid-numbers-invalid", ["party0"], ["withdrawn", 3], "invalid",
     "party-multiple-numbers", None, None, None),
    ("number-without-party", [], [7], "invalid", "number-without-party", None, None, None),
    ("two-parties", ["party0", "party1"], [], "invalid", "overvote", None, None, None),
    ("two-parties-and-number", ["party0", "party1"], [2], "invalid", "overvote", None, None, None),
    ("nothing-blank", [], [], "blank", "no-mark", None, None, None),
    ("against-all-valid", ["aa"], [], "valid", None, "aa", None, None),
    ("against-all-and-party", ["aa", "party0"], [], "invalid", "overvote", None, None, None),
    ("against-all-and-number", ["aa"], [5], "invalid", "number-without-party", None, None, None),
]


@pytest.mark.parametrize("parties,numbers,status,reason,choice,pref,ignored",
                         [r[1:] for r in PARTY], ids=[r[0] for r in PARTY])
def test_party_list_rules(party_list, parties, numbers, status, reason, choice, pref, ignored):
    party0 = party_list.parties[0]
    withdrawn = next(c.number for c in party0.candidates if c.withdrawn)
    nums = {withdrawn if n == "withdrawn" else n for n in numbers}
    o = party_list_outcome(party_list, {_party(party_list, p) for p in parties}, nums)
    assert (o.status, o.reason) == (status, reason)
    assert o.choice == (_party(party_list, choice) if choice else None)
    assert o.preference == pref
    assert o.preference_ignored == (withdrawn if ignored == "withdrawn" else ignored)


def test_box_ids_cover_every_box(district, party_list):
    assert len(box_ids(district)) == len(district.candidates) + 1
    assert len(box_ids(party_list)) == len(party_list.parties) + 1 + 54
    assert box_ids(party_list)[-1] == "party-list/#54"


# Marginal policy (docs/ballots.md "Marginal marks"): (id, marks, status, needs_review)
MARGINAL_CASES = [
    ("marginal-alone-would-make-valid", {"o0": MARGINAL}, "blank", True),
    ("marginal-beside-mark-would-overvote", {"o0": MARKED, "o1": MARGINAL}, "valid", True),
    ("marginal-inside-overvote-harmless", {"o0": MARKED, "o1": MARKED, "o2": MARGINAL},
     "invalid", False),
    ("clear-mark-no-marginal", {"o0": MARKED, "o1": UNMARKED}, "valid", False),
]


@pytest.mark.parametrize("marks,status,review", [r[1:] for r in MARGINAL_CASES],
                         ids=[r[0] for r in MARGINAL_CASES])
def test_marginal_policy_candidate(district, marks, status, review):
    opts = [c.id for c in district.candidates if not c.withdrawn]
    m = {box_id(district.id, opts[int(k[1:])]): v for k, v in marks.items()}
    d = decide(district, m)
    assert d.outcome.status == status
    assert d.needs_review is review
    assert set(d.outcome.marginal) == {b for b, v in m.items() if v == MARGINAL}


PARTY_MARGINAL = [
    # a marginal number beside a party would add a preference: review
    ("marginal-number-adds-preference", {"p0": MARKED, 7: MARGINAL}, True),
    # invalid anyway (two numbers): a third doubtful number changes nothing
    ("marginal-number-inside-multiple-numbers", {"p0": MARKED, 3: MARKED, 4: MARKED, 9: MARGINAL},
     False),
    # number without party, marginal other number: still number-without-party
    ("marginal-number-beside-lone-number", {3: MARKED, 9: MARGINAL}, False),
    # number without party, marginal party: would make it valid
    ("marginal-party-beside-lone-number", {3: MARKED, "p0": MARGINAL}, True),
]


@pytest.mark.parametrize("marks,review", [r[1:] for r in PARTY_MARGINAL],
                         ids=[r[0] for r in PARTY_MARGINAL])
def test_marginal_policy_party_list(party_list, marks, review):
    m = {box_id(party_list.id, k if isinstance(k, int) else party_list.parties[int(k[1:])].id): v
         for k, v in marks.items()}
    assert decide(party_list, m).needs_review is review


def test_too_many_marginal_boxes_go_to_review(party_list):
    m = {box_id(party_list.id, n): MARGINAL for n in range(1, 12)}
    assert decide(party_list, m).needs_review


def test_unknown_option_is_a_programming_error(district):
    with pytest.raises(ValueError):
        candidate_outcome(district, {"nobody"})
