"""The pure rules of identify/identifier.py: every refusal reason and its order.

The election is built here with only what the verdict reads (DOMAIN.md "Voter lists
and eligibility", "Identification at the station"): voting day 30 Nov 2025 in
Asia/Bishkek, a territorial candidate contest "district-07" that needs 90 days of
community membership, and the nationwide "party-list" contest.
"""

from __future__ import annotations

import datetime as dt

import pytest
from election_values import build_election, candidate_contest, party_list_contest

from identify.rules import Fingerprint, Identified, Reason, Status, decide
from identify.voters import Voter
from station.errors import IdentificationError
from station.polls import PollsState

ELECTION = build_election(candidate_contest("district-07", ["c-01", "c-02"]),
                          party_list_contest("party-list", {"p-01": 10}),
                          voting_day="2025-11-30", time_zone="Asia/Bishkek", community_days=90,
                          min_age=18)

# Registered in the district since 2012: a community member, both ballots.
ADULT = Voter("21710197800208", "ID1902107", "Асанов", "Азамат", "Бакыт уулу", dt.date(1978, 10, 17), "M",
              "district-07", dt.date(2012, 2, 12), False, False)
# Registered 29 days before voting day (fewer than 90): the party list only.
NEWCOMER = Voter("21710197800216", "ID1902108", "Асанов", "Азамат", "", dt.date(1978, 10, 17), "M",
                 "district-07", dt.date(2025, 11, 1), False, False)
# Born 10 Dec 2008: 16 on voting day, below the age of active suffrage.
MINOR = Voter("21012200800011", "ID1902109", "Асанов", "Бакыт", "", dt.date(2008, 12, 10), "M",
              "district-07", dt.date(2012, 2, 12), False, False)
MATCH = Fingerprint(True, 0.31, 0.06, 0.0001)
NO_MATCH = Fingerprint(False, 0.02, 0.06, 0.0001, "below-threshold")
NOT_ENROLLED = Fingerprint(False, 0.0, 0.06, 0.0001, "no-templates")
EARLIER = Identified(ADULT.pin, dt.datetime(2025, 11, 30, 4, 42, tzinfo=dt.UTC), "card+finger", 17, "2")
OPEN = PollsState.OPEN

CASES = [
    # id, polls, voter, earlier, card authentic, fingerprint, method -> status, reason
    ("accepted-both-ballots", OPEN, ADULT, None, True, MATCH, "card+finger", Status.ACCEPTED, None),
    ("accepted-party-list-only", OPEN, NEWCOMER, None, True, MATCH, "card+finger", Status.ACCEPTED, None),
    ("polls-paused", PollsState.PAUSED, ADULT, None, True, MATCH, "card+finger", Status.REFUSED,
     Reason.POLLS_NOT_OPEN),
    ("polls-closed-beats-everything", PollsState.CLOSED, None, EARLIER, False, NO_MATCH, "card+finger",
     Status.REFUSED, Reason.POLLS_NOT_OPEN),
    ("card-not-authentic", OPEN, ADULT, None, False, MATCH, "card+finger", Status.REFUSED,
     Reason.CARD_NOT_AUTHENTIC),
    ("not-on-list", OPEN, None, None, True, MATCH, "card+finger", Status.REFUSED, Reason.NOT_ON_LIST),
    ("already-identified", OPEN, ADULT, EARLIER, True, MATCH, "card+finger", Status.REFUSED,
     Reason.ALREADY_IDENTIFIED),
    ("already-identified-manual", OPEN, ADULT, EARLIER, None, None, "manual", Status.REFUSED,
     Reason.ALREADY_IDENTIFIED),
    ("fingerprint-mismatch", OPEN, ADULT, None, True, NO_MATCH, "card+finger", Status.REFUSED,
     Reason.FINGERPRINT_MISMATCH),
    ("no-fingerprint-enrolled", OPEN, ADULT, None, None, NOT_ENROLLED, "document+finger", Status.REFUSED,
     Reason.NO_FINGERPRINT_ENROLLED),
    ("not-eligible-minor", OPEN, MINOR, None, True, MATCH, "card+finger", Status.REFUSED, Reason.NOT_ELIGIBLE),
    ("manual-needs-no-finger", OPEN, ADULT, None, None, None, "manual", Status.ACCEPTED, None),
]


@pytest.mark.parametrize("polls_state,voter,earlier,card,finger,method,status,reason",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(polls_state, voter, earlier, card, finger, method, status, reason):
    out = decide(polls_state=polls_state, voter=voter, earlier=earlier, election=ELECTION, method=method,
                 card_authentic=card, fingerprint=finger)
    assert out.status is status
    assert out.reason == (str(reason) if reason else None)
    assert out.message_ky and out.message_ru and out.message_ky != out.message_ru
    if status is Status.ACCEPTED:
        assert out.ballots
    else:
        assert out.ballots == ()


def test_ballots_follow_eligibility():
    both = decide(polls_state=OPEN, voter=ADULT, earlier=None, election=ELECTION, method="manual")
    newcomer = decide(polls_state=OPEN, voter=NEWCOMER, earlier=None, election=ELECTION, method="manual")
    assert both.ballots == ("district-07", "party-list")
    assert newcomer.ballots == ("party-list",)
    assert newcomer.refused_contests == {"district-07": "not-community-member"}


def test_already_identified_names_the_local_time():
    out = decide(polls_state=OPEN, voter=ADULT, earlier=EARLIER, election=ELECTION, method="card+finger",
                 card_authentic=True, fingerprint=MATCH)
    assert "10:42" in out.message_ru and "10:42" in out.message_ky    # 04:42 UTC in Asia/Bishkek
    assert out.earlier == EARLIER


@pytest.mark.parametrize("finger,manual", [(NO_MATCH, True), (NOT_ENROLLED, True), (MATCH, False)],
                         ids=["mismatch", "not-enrolled", "match"])
def test_manual_route_is_offered_after_a_fingerprint_refusal(finger, manual):
    out = decide(polls_state=OPEN, voter=ADULT, earlier=None, election=ELECTION, method="card+finger",
                 card_authentic=True, fingerprint=finger)
    assert out.offer_manual is manual


def test_the_operating_point_travels_with_the_verdict():
    out = decide(polls_state=OPEN, voter=ADULT, earlier=None, election=ELECTION, method="card+finger",
                 card_authentic=True, fingerprint=MATCH)
    assert (out.fingerprint.threshold, out.fingerprint.target_fmr) == (0.06, 0.0001)


@pytest.mark.parametrize("method,finger", [("card+finger", None), ("telepathy", MATCH)],
                         ids=["finger-method-without-verdict", "unknown-method"])
def test_bad_calls_raise(method, finger):
    with pytest.raises(IdentificationError):
        decide(polls_state=OPEN, voter=ADULT, earlier=None, election=ELECTION, method=method,
               card_authentic=True, fingerprint=finger)
