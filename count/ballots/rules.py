"""Ballot validity rules: pure functions from marks to a contest outcome.

No I/O, no images, no tally: values in, ``ContestOutcome`` out. The rules are
DOMAIN.md "Ballots and contests" (seeds ``001_…`` and ``003_…``, "Избирательный
бюллетень считается…"):

Candidate contest (``candidate_outcome``):
- one mark → valid, a vote for that candidate (or "against all", its own line);
- no mark → blank (invalid, reason ``no-mark``);
- more than one mark → invalid, ``overvote`` (whatever the number of seats:
  the voter marks one candidate);
- the one mark on a withdrawn candidate → invalid, ``withdrawn-candidate``
  (local decision: such a vote cannot count for anyone; docs/ballots.md).

Party-list contest with open lists (``party_list_outcome``):
- party marked, no number → valid, a vote for the party;
- party marked, exactly one number → valid, party vote + preference for that number;
- party marked, the number is a withdrawn candidate's or beyond the party's
  list → valid, party vote only (``preference_ignored`` = that number);
- party marked, more than one number → invalid, ``party-multiple-numbers``;
- no party marked but a number → invalid, ``number-without-party``;
- more than one party (or a party and "against all") → invalid, ``overvote``;
- nothing marked → blank, ``no-mark``;
- "against all" alone → valid, its own line; "against all" with a number →
  invalid, ``number-without-party`` (no party was chosen; docs/ballots.md).

Doubtful boxes (``decide`` / ``review``; docs/ballots.md "The voter's intent"): a
box is MARKED, BLANK, MARGINAL (ink between "a vote" and "not a vote" inside the
square) or OUTSIDE (ink around the square that could mean it: a circle around the
box, a mark straddling two boxes, a mark centred outside). The outcome is computed
with the doubtful (marginal and outside) boxes treated as unmarked; if treating any
subset of them as marked would give a different verdict, the sheet needs review (it
is returned, never guessed), with the reason ``mark-outside-box`` when an outside
box is one that changes it (``Decision.outside``), else ``marginal-needs-review``;
otherwise the doubtful boxes are reported with the outcome.

Example::

    d = decide(contest, {"party-list/p-02": MARKED, "party-list/#7": MARGINAL})
    d.outcome.status, d.needs_review   # ("valid", True): #7 would add a preference
    d = decide(contest, {"party-list/p-02": OUTSIDE})
    d.needs_review, d.outside           # (True, True): a circled party, nothing else
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from itertools import combinations

from count.ballots.reading import AGAINST_ALL, BLANK, INVALID, VALID, ContestOutcome, box_id
from station.election import Contest

# Beyond this many doubtful boxes in one contest the subsets are not enumerated:
# the sheet goes to review (so many doubtful boxes means a doubtful sheet anyway).
MAX_MARGINAL_ENUMERATED = 8


class Mark(StrEnum):
    """How one box was read (thresholds in docs/ballots.md)."""

    MARKED = "marked"
    BLANK = "blank"
    MARGINAL = "marginal"
    OUTSIDE = "outside"


MARKED, UNMARKED, MARGINAL, OUTSIDE = Mark.MARKED, Mark.BLANK, Mark.MARGINAL, Mark.OUTSIDE


@dataclass(frozen=True)
class Decision:
    """A contest outcome, whether a doubtful box could change it, and whether an
    outside box is among those that could (the reason the voter is told)."""

    outcome: ContestOutcome
    needs_review: bool
    outside: bool = False


def box_ids(contest: Contest) -> list[str]:
    """Every mark box of a contest, in ballot order (part 1, then part 2 numbers)."""
    ids = [box_id(contest.id, o) for o in contest.options()]
    if contest.kind == "party-list":
        ids += [box_id(contest.id, n) for n in range(1, contest.number_boxes + 1)]
    return ids


def candidate_outcome(contest: Contest, marked: Collection[str]) -> ContestOutcome:
    """Candidate contest verdict from the marked option ids (DOMAIN.md "Ballots and contests" 1)."""
    marked = set(marked)
    if not marked:
        return ContestOutcome(contest.id, BLANK, "no-mark")
    if len(marked) > 1:
        return ContestOutcome(contest.id, INVALID, "overvote")
    (choice,) = marked
    if choice != AGAINST_ALL:
        cand = next((c for c in contest.candidates if c.id == choice), None)
        if cand is None:
            raise ValueError(f"{choice!r} is not an option of contest {contest.id!r}")
        if cand.withdrawn:
            return ContestOutcome(contest.id, INVALID, "withdrawn-candidate")
    elif not contest.against_all:
        raise ValueError(f"contest {contest.id!r} offers no 'against all'")
    return ContestOutcome(contest.id, VALID, None, choice=choice)


def party_list_outcome(contest: Contest, marked: Collection[str],
                       numbers: Collection[int]) -> ContestOutcome:
    """Open party-list verdict from marked part-1 options and part-2 numbers
    (DOMAIN.md "Ballots and contests" 2, seed ``003_…``)."""
    marked, numbers = set(marked), set(numbers)
    for n in numbers:
        if not 1 <= n <= contest.number_boxes:
            raise ValueError(f"number {n} is not a box of contest {contest.id!r}")
    if not marked and not numbers:
        return ContestOutcome(contest.id, BLANK, "no-mark")
    if len(marked) > 1:
        return ContestOutcome(contest.id, INVALID, "overvote")
    if not marked or (marked == {AGAINST_ALL} and numbers):
        return ContestOutcome(contest.id, INVALID, "number-without-party")
    (choice,) = marked
    if choice == AGAINST_ALL:
        if not contest.against_all:
            raise ValueError(f"contest {contest.id!r} offers no 'against all'")
        return ContestOutcome(contest.id, VALID, None, choice=AGAINST_ALL)
    party = next((p for p in contest.parties if p.id == choice), None)
    if party is None:
        raise ValueError(f"{choice!r} is not a party of contest {contest.id!r}")
    if len(numbers) > 1:
        return ContestOutcome(contest.id, INVALID, "party-multiple-numbers")
    if not numbers:
        return ContestOutcome(contest.id, VALID, None, choice=party.id)
    (n,) = numbers
    cand = party.candidate(n)
    if cand is None or cand.withdrawn:
        # Withdrawn or beyond the list: the party vote counts, the number does not.
        return ContestOutcome(contest.id, VALID, None, choice=party.id, preference_ignored=n)
    return ContestOutcome(contest.id, VALID, None, choice=party.id, preference=n)


def outcome_from_boxes(contest: Contest, marked_boxes: Collection[str]) -> ContestOutcome:
    """The verdict given the set of marked box ids of this contest."""
    prefix = contest.id + "/"
    options, numbers = set(), set()
    for b in marked_boxes:
        if not b.startswith(prefix):
            raise ValueError(f"box {b!r} is not in contest {contest.id!r}")
        rest = b[len(prefix):]
        if rest.startswith("#"):
            numbers.add(int(rest[1:]))
        else:
            options.add(rest)
    if contest.kind == "candidate":
        if numbers:
            raise ValueError(f"contest {contest.id!r} has no number boxes")
        return candidate_outcome(contest, options)
    return party_list_outcome(contest, options, numbers)


def review(contest: Contest, marked: Collection[str], doubtful: Collection[str],
           outside: Collection[str] = ()) -> tuple[bool, bool]:
    """(could the verdict change, could an ``outside`` box change it) when any subset of the
    ``doubtful`` and ``outside`` boxes is treated as marked besides ``marked``."""
    marked = set(marked)
    outside = set(outside)
    doubt = sorted(set(doubtful) | outside)
    if len(doubt) > MAX_MARGINAL_ENUMERATED:
        return True, bool(outside)
    verdicts = {}
    for k in range(len(doubt) + 1):
        for s in combinations(doubt, k):
            verdicts[frozenset(s)] = outcome_from_boxes(contest, marked | set(s)).verdict()
    base = verdicts[frozenset()]
    changes = any(v != base for v in verdicts.values())
    # An outside box changes the verdict when adding it to some subset changes it.
    pivotal = any(verdicts[s | {o}] != v for s, v in verdicts.items() for o in outside if o not in s)
    return changes, changes and pivotal


def decide(contest: Contest, marks: Mapping[str, Mark | str]) -> Decision:
    """Apply the rules with the doubtful-box policy (docs/ballots.md "The voter's intent").

    ``marks`` maps box ids to MARKED / BLANK / MARGINAL / OUTSIDE; absent boxes are blank.
    """
    marked = {b for b, m in marks.items() if m == Mark.MARKED}
    marginal = {b for b, m in marks.items() if m == Mark.MARGINAL}
    outside = {b for b, m in marks.items() if m == Mark.OUTSIDE}
    base = outcome_from_boxes(contest, marked)
    needs_review, pivotal = review(contest, marked, marginal, outside) if marginal | outside else (False, False)
    return Decision(base.with_marginal(tuple(sorted(marginal | outside))), needs_review, pivotal)
