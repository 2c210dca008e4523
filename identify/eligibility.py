"""Which ballots a voter on the list receives: a pure function with cited rules.

Rules (DOMAIN.md "Voter lists and eligibility"):
- R1 active suffrage from ``election.min_age`` (18) years on voting day;
- R2 territorial contests (single/multi-mandate districts, councils) need
  membership of the local community: residence registration made at least
  ``election.community_days`` days before voting day (90 for parliamentary
  elections, seed 003 "Порядок формирования списков избирателей"; 60 for
  local councils, seed 001), in the contest the voter's residence belongs to;
- R3 voters living abroad vote only in the nationwide party-list contest (seed 003);
- R4 one ballot per contest the voter is eligible for (DOMAIN.md "Ballots and contests" 3).

Example::

    decide(voter, election).contests   # ('district-07', 'party-list')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from identify.voters import Voter
from station.election import Election


@dataclass(frozen=True)
class Eligibility:
    contests: tuple[str, ...]              # ballots to issue, in the package's contest order
    refused: dict[str, str]                # contest -> reason code for contests not issued

    @property
    def any(self) -> bool:
        return bool(self.contests)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def decide(voter: Voter, election: Election) -> Eligibility:
    day = election.voting_day
    issued: list[str] = []
    refused: dict[str, str] = {}
    underage = age_on(voter.birth_date, day) < election.min_age          # R1
    cutoff = day - dt.timedelta(days=election.community_days)            # R2
    for contest in election.contests:
        if underage:
            refused[contest.id] = "under-age"
        elif contest.territorial and voter.overseas:                     # R3
            refused[contest.id] = "overseas-party-list-only"
        elif contest.territorial and voter.district != contest.id:
            refused[contest.id] = "other-district"
        elif contest.territorial and (voter.registered_since is None or voter.registered_since > cutoff):
            refused[contest.id] = "not-community-member"
        else:
            issued.append(contest.id)                                    # R4
    return Eligibility(tuple(issued), refused)
