"""The protocol body's control relations, one relation per row (count/protocol_body.py, pure).

DOMAIN.md "Results": the station protocol holds, per contest, voters on the list,
voters identified (receipts), ballots found in the box, valid and invalid ballots and
the votes; "Identification at the station": the receipts are the additional control of
the ballots taken out of the box. Each row below is one contest's counters and the one
relation it must break (or none); a failed relation is reported, never hidden.
"""

from __future__ import annotations

import pytest
from election_values import build_election, candidate_contest, party_list_contest

from count.protocol_body import build_protocol, control_relations, protocol_hash
from count.tally import Tally
from station.errors import CountingError


def contest(ballots=10, valid=8, invalid=1, blank=1, votes=None, preferences=None) -> dict:
    return {"contest": "c", "ballots_read": ballots, "valid": valid, "invalid": invalid, "blank": blank,
            "votes": {"a": 5, "b": 3} if votes is None else votes, "preferences": preferences or {}}


RELATIONS = [
    # (id, contest counters, voters on the list, voters identified, the relations that fail)
    ("everything-consistent", contest(), 100, 10, set()),
    ("more-ballots-in-the-box-than-receipts", contest(), 100, 9, {"ballots<=identified"}),
    ("as-many-ballots-as-receipts", contest(), 100, 10, set()),
    ("more-ballots-than-voters-on-the-list", contest(), 9, None, {"ballots<=voters-on-list"}),
    ("more-receipts-than-voters-on-the-list", contest(ballots=0, valid=0, invalid=0, blank=0, votes={}),
     9, 10, {"identified<=voters-on-list"}),
    ("statuses-miss-a-ballot", contest(blank=0), 100, None, {"statuses=ballots"}),
    ("a-vote-line-too-many", contest(votes={"a": 6, "b": 3}), 100, None, {"votes=valid"}),
    ("preferences-within-the-party-votes", contest(votes={"p": 8}, preferences={"p": {"1": 5, "2": 3}}),
     100, None, set()),
    ("more-preferences-than-party-votes", contest(votes={"p": 8}, preferences={"p": {"1": 5, "2": 4}}),
     100, None, {"preferences<=party-votes"}),
]


@pytest.mark.parametrize("counters,on_list,identified,failing", [r[1:] for r in RELATIONS],
                         ids=[r[0] for r in RELATIONS])
def test_each_control_relation(counters, on_list, identified, failing):
    rels = control_relations([counters], on_list, identified)
    assert {r["relation"] for r in rels if not r["ok"]} == failing
    for r in rels:                      # what the paper prints: the two sides and a sentence
        assert len(r["values"]) == 2 and r["detail"]
    # Without the identify role's summary, no relation about receipts is claimed.
    assert any(r["relation"] == "ballots<=identified" for r in rels) is (identified is not None)


def test_every_failing_party_is_named():
    counters = contest(votes={"p": 4, "q": 4}, preferences={"p": {"1": 5}, "q": {"2": 6}})
    over = [r for r in control_relations([counters], 100, None) if r["relation"] == "preferences<=party-votes"]
    assert [r["detail"].split(":")[0] for r in over] == ["p", "q"] and not any(r["ok"] for r in over)


ELECTION = build_election(candidate_contest("district-07", ["c-01", "c-02"]),
                          party_list_contest("party-list", {"p-01": 5}))
REFUSED = [
    # (id, voters on the list, voters identified, tally of another election, message)
    ("negative-list", -1, None, False, "negative"),
    ("negative-identified", 10, -1, False, "negative"),
    ("another-elections-tally", 10, 5, True, "another election"),
]


@pytest.mark.parametrize("on_list,identified,foreign,words", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_a_body_is_refused_from_impossible_values(on_list, identified, foreign, words):
    election = ELECTION
    tally = Tally.empty(build_election(candidate_contest("district-07", ["c-01"]), election_id="kg-other")
                        if foreign else election)
    with pytest.raises(CountingError, match=words):
        build_protocol(election, tally, on_list, identified, "2026-11-29T14:00:00Z")


def test_the_hash_names_the_body():
    body = build_protocol(ELECTION, Tally.empty(ELECTION), 10, 0, "2026-11-29T14:00:00Z")
    assert protocol_hash(body) == protocol_hash(dict(reversed(list(body.items()))))    # canonical bytes
    assert protocol_hash(body) != protocol_hash(body | {"voters_on_list": 11})
