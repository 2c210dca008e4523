"""Which ballots a voter on the list receives: a pure function with cited rules.

Rules (DOMAIN.md "Voter lists and eligibility"):
- R1 active suffrage from ``election.min_age`` (18) years on voting day;
- R2 territorial contests (single/multi-mandate districts, councils) need
  membership of the local community: residence registration made at least
  ``election.community_days`` days before voting day (90 for parliamentary
  elections, seed 003 "Порядок формирования списков избирателей"; 60 for
  local councils, seed 001), in the contest the voter's residence belongs to;
- R3 voters living abroad vote only in the nationwide party-list contest (seed 003);
- R4 one ballot per contest the voter is eligible for (DOMAIN.md "Ballots and contests" 3);
- R5 at a remote-voting site (DOMAIN.md "Remote voting"; law No. 113 of 9 June
  2025): a voter may vote there only outside the home district, the rule of
  ``sync.claims.where_may_vote`` (``remote_site_refusal``: inside it, every
  contest is refused "home-district"); the voter's home district picks the
  territorial contest (the package's contest electing that ОИК; the others are
  "other-district"), R1-R3 as anywhere.

``ballot_styles`` names the ballot styles of the contests issued: what the
on-demand printer prints for the voter at a remote site (identify/ondemand.py
``print_ballots``).

Example::

    decide(voter, election).contests   # ('district-07', 'party-list')
    ballot_styles(election, decide(voter, site).contests)   # ('bs-district-12', 'bs-party-list')
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from identify.voters import Voter
from station.election import Election
from sync.claims import NOT_ON_LIST, where_may_vote


@dataclass(frozen=True)
class Eligibility:
    contests: tuple[str, ...]              # ballots to issue, in the package's contest order
    refused: dict[str, str]                # contest -> reason code for contests not issued

    @property
    def any(self) -> bool:
        return bool(self.contests)


def age_on(birth: dt.date, day: dt.date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def remote_site_refusal(voter: Voter, election: Election) -> str | None:
    """R5: at a remote-voting site, the refusal code when the voter may not vote here, else None
    (None too at a regular station, whose own list decides)."""
    st = election.station
    if not st.remote_site:
        return None
    if not voter.home_station or not voter.home_district:
        return NOT_ON_LIST            # a national list names every voter's home: not on it
    return where_may_vote(home_station=voter.home_station, home_district=voter.home_district,
                          station=st.id, station_district=st.district, remote_site=True)


def decide(voter: Voter, election: Election) -> Eligibility:
    day = election.voting_day
    issued: list[str] = []
    refused: dict[str, str] = {}
    site_refusal = remote_site_refusal(voter, election)                  # R5
    if site_refusal is not None:
        return Eligibility((), {c.id: site_refusal for c in election.contests})
    home = election.contest_for_district(voter.home_district) if election.station.remote_site else None
    underage = age_on(voter.birth_date, day) < election.min_age          # R1
    cutoff = day - dt.timedelta(days=election.community_days)            # R2
    for contest in election.contests:
        if underage:
            refused[contest.id] = "under-age"
        elif contest.territorial and voter.overseas:                     # R3
            refused[contest.id] = "overseas-party-list-only"
        elif contest.territorial and election.station.remote_site and contest is not home:
            refused[contest.id] = "other-district"                       # R5: the home district's only
        elif contest.territorial and voter.district != contest.id:
            refused[contest.id] = "other-district"
        elif contest.territorial and (voter.registered_since is None or voter.registered_since > cutoff):
            refused[contest.id] = "not-community-member"
        else:
            issued.append(contest.id)                                    # R4
    return Eligibility(tuple(issued), refused)


def ballot_styles(election: Election, contests: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The ballot styles carrying ``contests``, in their order, each once (PackageError for a
    contest no style carries)."""
    out: list[str] = []
    for cid in contests:
        style = election.style_for_contest(cid).id
        if style not in out:
            out.append(style)
    return tuple(out)
