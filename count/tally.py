"""The tally: what the accepted sheets add up to, as a pure function of readings.

``add_reading(tally, reading) -> tally`` returns a new ``Tally``; it never
mutates its argument and does no I/O (ARCHITECTURE.md invariant 4). The store
(count/store.py) persists the same arithmetic as increments, one
transaction per sheet, so ``fold(add_reading, readings)`` equals what count.db
holds (a test checks it).

Per contest (DOMAIN.md "Results"; contract "results-protocol"):

- ``ballots_read``: accepted sheets that carry the contest;
- ``valid`` / ``invalid`` / ``blank``: the three disjoint statuses of
  ``ContestOutcome`` (count/ballots/rules.py). DOMAIN.md "Ballots and
  contests" calls a blank ballot invalid; the protocol keeps it on its own
  line, so the invalid ballots in the legal sense are ``invalid + blank``
  and ``ballots_read == valid + invalid + blank`` always;
- ``marginal_sheets``: accepted sheets with at least one marginal box in the
  contest (reported, never guessed: docs/ballots.md "Marginal marks");
- ``votes``: per option (candidate id, party id, ``"against-all"``), every
  option of the ballot present, zeros included;
- ``preferences`` (party-list only): per party, per list number of its
  non-withdrawn candidates, zeros included; a preference counts only with a
  valid party vote (seed ``003_…``, "Избирательный бюллетень считается…").

A reading that is not accepted, that names another election or station, or
whose outcome names an option the ballot does not offer raises
``CountingError``: the caller rejects the sheet and the tally stays unchanged.

Example::

    t = Tally.empty(election)
    t = add_reading(t, reading)
    t.contest("district-07").votes["c-03"]   # -> 1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from count.ballots.reading import AGAINST_ALL, BLANK, INVALID, VALID, SheetReading
from station.election import Contest, Election
from station.errors import CountingError

COUNTERS = ("ballots_read", "valid", "invalid", "blank", "marginal_sheets")


def _frozen(d: Mapping) -> Mapping:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class ContestTally:
    """One contest's counters (immutable; ``add_reading`` builds new ones)."""

    contest: str
    kind: str
    ballots_read: int = 0
    valid: int = 0
    invalid: int = 0
    blank: int = 0
    marginal_sheets: int = 0
    votes: Mapping[str, int] = field(default_factory=dict)
    preferences: Mapping[str, Mapping[int, int]] = field(default_factory=dict)

    @classmethod
    def empty(cls, contest: Contest) -> ContestTally:
        votes = {o: 0 for o in contest.options()}
        prefs = {}
        if contest.kind == "party-list":
            prefs = {p.id: _frozen({c.number: 0 for c in p.candidates
                                    if not c.withdrawn and 1 <= c.number <= contest.number_boxes})
                     for p in contest.parties}
        return cls(contest.id, contest.kind, votes=_frozen(votes), preferences=_frozen(prefs))

    def is_zero(self) -> bool:
        return (all(getattr(self, c) == 0 for c in COUNTERS)
                and all(v == 0 for v in self.votes.values())
                and all(n == 0 for p in self.preferences.values() for n in p.values()))

    def lines(self) -> Iterable[tuple[str, int]]:
        """Every counter as (line, n): ``valid``, ``vote:<option>``, ``pref:<party>:<number>``."""
        for c in COUNTERS:
            yield c, getattr(self, c)
        for o, n in self.votes.items():
            yield f"vote:{o}", n
        for p, nums in self.preferences.items():
            for num, n in nums.items():
                yield f"pref:{p}:{num}", n

    def to_json(self) -> dict:
        return {"contest": self.contest, "kind": self.kind,
                **{c: getattr(self, c) for c in COUNTERS},
                "votes": dict(self.votes),
                "preferences": {p: {str(k): v for k, v in sorted(nums.items())}
                                for p, nums in self.preferences.items()}}


@dataclass(frozen=True)
class Tally:
    """All contests of the election, in the election's contest order."""

    election: Election = field(compare=False, repr=False)
    contests: tuple[ContestTally, ...]

    @classmethod
    def empty(cls, election: Election) -> Tally:
        return cls(election, tuple(ContestTally.empty(c) for c in election.contests))

    def contest(self, contest_id: str) -> ContestTally:
        for c in self.contests:
            if c.contest == contest_id:
                return c
        raise CountingError(f"the tally has no contest {contest_id!r}")

    def is_zero(self) -> bool:
        return all(c.is_zero() for c in self.contests)

    @property
    def sheets(self) -> int:
        """Accepted sheets, when every ballot style carries one contest (the usual case)."""
        return sum(c.ballots_read for c in self.contests)

    def to_json(self) -> dict:
        return {"election": self.election.id, "station": self.election.station.id,
                "contests": [c.to_json() for c in self.contests]}

    def with_lines(self, rows: Iterable[tuple[str, str, int]]) -> Tally:
        """This tally with counters set from (contest, line, n) rows (the store's table)."""
        by_contest: dict[str, dict[str, int]] = {}
        for contest, line, n in rows:
            by_contest.setdefault(contest, {})[line] = n
        out = []
        for ct in self.contests:
            lines = by_contest.pop(ct.contest, {})
            out.append(_apply_lines(ct, lines, add=False))
        if by_contest:
            raise CountingError(f"stored tally names contests not in this election: {sorted(by_contest)}")
        return replace(self, contests=tuple(out))


def _apply_lines(ct: ContestTally, lines: Mapping[str, int], *, add: bool) -> ContestTally:
    counters = {c: getattr(ct, c) for c in COUNTERS}
    votes = dict(ct.votes)
    prefs = {p: dict(nums) for p, nums in ct.preferences.items()}
    for line, n in lines.items():
        if line in counters:
            counters[line] = counters[line] + n if add else n
        elif line.startswith("vote:") and line[5:] in votes:
            o = line[5:]
            votes[o] = votes[o] + n if add else n
        elif line.startswith("pref:"):
            _, party, num = line.split(":", 2)
            if party not in prefs or int(num) not in prefs[party]:
                raise CountingError(f"{ct.contest}: no preference line {line!r} on this ballot")
            prefs[party][int(num)] = prefs[party][int(num)] + n if add else n
        else:
            raise CountingError(f"{ct.contest}: unknown tally line {line!r}")
    return replace(ct, **counters, votes=_frozen(votes),
                   preferences=_frozen({p: _frozen(v) for p, v in prefs.items()}))


def reading_lines(election: Election, reading: SheetReading) -> dict[str, dict[str, int]]:
    """What one accepted sheet adds, per contest: {contest: {line: +n}} (validated).

    This is the whole arithmetic of counting; ``add_reading`` and the store's
    increments both use it.
    """
    if not reading.accepted:
        raise CountingError(f"a rejected sheet ({reading.reason}) is never counted")
    if reading.election != election.id:
        raise CountingError(f"sheet of election {reading.election!r}, this is {election.id!r}")
    if reading.station != election.station.id:
        raise CountingError(f"sheet of station {reading.station!r}, this is {election.station.id!r}")
    try:
        style = election.ballot_style(reading.ballot_style or "")
    except Exception as e:
        raise CountingError(f"unknown ballot style {reading.ballot_style!r}") from e
    got = [o.contest for o in reading.outcomes]
    if sorted(got) != sorted(style.contests) or len(set(got)) != len(got):
        raise CountingError(f"sheet outcomes {got} do not match ballot style {style.id} {list(style.contests)}")
    delta: dict[str, dict[str, int]] = {}
    for o in reading.outcomes:
        contest = election.contest(o.contest)
        d = {"ballots_read": 1}
        if o.marginal:
            d["marginal_sheets"] = 1
        if o.status == VALID:
            if o.choice not in contest.options():
                raise CountingError(f"{contest.id}: {o.choice!r} is not an option of this ballot")
            if any(c.id == o.choice and c.withdrawn for c in contest.candidates):
                raise CountingError(f"{contest.id}: a vote for withdrawn {o.choice} cannot be valid")
            d["valid"] = 1
            d[f"vote:{o.choice}"] = 1
            if o.preference is not None:
                if contest.kind != "party-list" or o.choice == AGAINST_ALL:
                    raise CountingError(f"{contest.id}: a preference needs a party vote")
                party = next(p for p in contest.parties if p.id == o.choice)
                cand = party.candidate(o.preference)
                if cand is None or cand.withdrawn or not 1 <= o.preference <= contest.number_boxes:
                    raise CountingError(f"{contest.id}: number {o.preference} is not a counted"
                                        f" preference of {party.id}")
                d[f"pref:{party.id}:{o.preference}"] = 1
        elif o.status in (INVALID, BLANK):
            if o.choice is not None or o.preference is not None:
                raise CountingError(f"{contest.id}: an {o.status} outcome carries a choice")
            d[o.status] = 1
        else:
            raise CountingError(f"{contest.id}: unknown outcome status {o.status!r}")
        delta[contest.id] = d
    return delta


def add_reading(tally: Tally, reading: SheetReading) -> Tally:
    """The tally with one accepted sheet added (pure; raises CountingError, tally untouched)."""
    delta = reading_lines(tally.election, reading)
    return replace(tally, contests=tuple(
        _apply_lines(ct, delta[ct.contest], add=True) if ct.contest in delta else ct
        for ct in tally.contests))


def fold(election: Election, readings: Iterable[SheetReading]) -> Tally:
    """The tally of a sequence of accepted readings, from zero."""
    t = Tally.empty(election)
    for r in readings:
        t = add_reading(t, r)
    return t


def compare_with_expected(tally: Tally, expected: dict) -> list[str]:
    """Logic-and-accuracy check: differences between a tally and a test deck's expected tally.

    ``expected`` is the ``tally`` object of a deck's expected.json (simulation/deck.py):
    per contest ballots_read / valid / invalid / blank, votes per option, preferences per
    party per number (zeros may be omitted). An empty list means the L&A test passed.
    """
    out: list[str] = []
    for ct in tally.contests:
        want = expected.get(ct.contest)
        if want is None:
            if not ct.is_zero():
                out.append(f"{ct.contest}: counted, but the deck has no such contest")
            continue
        for k in ("ballots_read", "valid", "invalid", "blank"):
            if getattr(ct, k) != want.get(k, 0):
                out.append(f"{ct.contest}/{k}: counted {getattr(ct, k)}, expected {want.get(k, 0)}")
        wv = want.get("votes", {})
        for o in sorted(set(ct.votes) | set(wv)):
            if ct.votes.get(o, 0) != wv.get(o, 0):
                out.append(f"{ct.contest}/vote:{o}: counted {ct.votes.get(o, 0)}, expected {wv.get(o, 0)}")
        wp = want.get("preferences", {})
        for party in sorted(set(ct.preferences) | set(wp)):
            got = {str(n): v for n, v in ct.preferences.get(party, {}).items() if v}
            exp = {str(n): v for n, v in wp.get(party, {}).items() if v}
            for num in sorted(set(got) | set(exp), key=int):
                if got.get(num, 0) != exp.get(num, 0):
                    out.append(f"{ct.contest}/pref:{party}:{num}: counted {got.get(num, 0)},"
                               f" expected {exp.get(num, 0)}")
    return out
