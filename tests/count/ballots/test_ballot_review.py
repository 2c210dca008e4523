"""The doubtful-box policy with marks outside a square (count/ballots/rules.py ``review`` / ``decide``)."""

from __future__ import annotations

from count.ballots.reading import box_id
from count.ballots.rules import MARGINAL, MARKED, OUTSIDE, decide, review


def _boxes(election):
    c = election.contest("party-list")
    p0, p1 = (box_id(c.id, p.id) for p in c.parties[:2])
    n = next(x.number for x in c.parties[0].candidates if not x.withdrawn)
    return c, p0, p1, box_id(c.id, n)


def test_circled_party_alone_goes_back_as_outside(election):
    c, p0, _p1, _n = _boxes(election)
    d = decide(c, {p0: OUTSIDE})
    assert d.outcome.status == "blank" and d.needs_review and d.outside
    assert d.outcome.marginal == (p0,)


def test_outside_box_that_cannot_change_the_verdict_is_reported(election):
    c, p0, p1, n = _boxes(election)
    d = decide(c, {p0: MARKED, p1: MARKED, n: OUTSIDE})          # two parties: invalid anyway
    assert d.outcome.reason == "overvote" and not d.needs_review and not d.outside
    assert d.outcome.marginal == (n,)


def test_reason_names_the_outside_box_only_when_it_matters(election):
    c, p0, p1, n = _boxes(election)
    # A circled second party would make two parties: the voter is told "inside the square".
    d = decide(c, {p0: MARKED, n: MARGINAL, p1: OUTSIDE})
    assert d.needs_review and d.outside
    # With two parties marked the number changes nothing; with one, only the number does.
    changes, pivotal = review(c, {p0, p1}, {n}, ())
    assert not changes and not pivotal                           # two parties: invalid whatever n is
    changes, pivotal = review(c, {p0}, {n}, ())
    assert changes and not pivotal


def test_straddled_boxes_are_doubtful_both_ways(election):
    """Both boxes under a straddling mark are OUTSIDE: neither is taken as marked, and every
    reading of them is enumerated."""
    c, p0, p1, _n = _boxes(election)
    d = decide(c, {p0: OUTSIDE, p1: OUTSIDE})
    assert d.outcome.status == "blank" and d.needs_review and d.outside
