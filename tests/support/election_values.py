"""Small election values for rules tests: only what the rule under test reads.

Rules tests (eligibility, identification verdicts, ballot validity, the tally)
state the few contests, candidates and parameters their cases need with these
builders, instead of borrowing the demo or the sample election: a case then
says why it holds. The values go through ``Election.from_manifest`` like a real
package's manifest (docs/election-package.md), so they are valid elections.

Example::

    e = build_election(candidate_contest("district-07", ["c-01", "c-02"], withdrawn=["c-02"]),
                       party_list_contest("party-list", {"p-01": 54}),
                       community_days=60)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from station.election import Election

_TEXT = {"ky": "-", "ru": "-"}
_AREA = {"code": "-", "name": _TEXT}


def candidate_contest(contest_id: str, candidates: Iterable[str], *, withdrawn: Iterable[str] = (),
                      seats: int = 3, against_all: bool = True, territorial: bool = True) -> dict:
    """A candidate contest; ``candidates`` in ballot (lot) order."""
    out = set(withdrawn)
    return {"id": contest_id, "kind": "candidate", "title": _TEXT, "seats": seats,
            "against_all": against_all, "territorial": territorial,
            "candidates": [{"id": c, "surname": c, "name": c, "birth_year": 1980, "sex": "M",
                            "lot_order": k, "withdrawn": c in out}
                           for k, c in enumerate(candidates, start=1)]}


def party_list_contest(contest_id: str, lists: Mapping[str, int], *,
                       withdrawn: Mapping[str, Iterable[int]] | None = None, number_boxes: int = 54,
                       against_all: bool = True) -> dict:
    """A party-list contest: ``lists`` maps party id -> length of its list, in ballot order;
    ``withdrawn`` maps party id -> the list numbers of its withdrawn candidates."""
    withdrawn = withdrawn or {}
    parties = []
    for k, (pid, size) in enumerate(lists.items(), start=1):
        out = set(withdrawn.get(pid, ()))
        parties.append({"id": pid, "name": _TEXT, "short": pid, "lot_order": k,
                        "candidates": [{"number": n, "surname": f"{pid}-{n}", "name": "-", "sex": "M",
                                        "withdrawn": n in out} for n in range(1, size + 1)]})
    return {"id": contest_id, "kind": "party-list", "title": _TEXT, "seats": number_boxes,
            "against_all": against_all, "territorial": False, "number_boxes": number_boxes,
            "parties": parties}


def manifest(*contests: dict, voting_day: str = "2025-11-30", min_age: int = 18,
             community_days: int = 90, time_zone: str = "Asia/Bishkek",
             election_id: str = "kg-test", station_id: str = "uik-test") -> dict:
    """A manifest with ``contests`` and one ballot style per contest ("bs-" + contest id)."""
    return {
        "package_version": 1,
        "election": {"id": election_id, "name": _TEXT, "voting_day": voting_day, "time_zone": time_zone,
                     "polls_open": "08:00", "polls_close": "20:00", "min_age": min_age,
                     "community_days": community_days},
        "station": {"id": station_id, "number": 1, "name": _TEXT, "address": _TEXT,
                    "region": _AREA, "oik": _AREA, "tik": _AREA},
        "contests": list(contests),
        "ballot_styles": [{"id": f"bs-{c['id']}", "contests": [c["id"]]} for c in contests],
    }


def build_election(*contests: dict, **params) -> Election:
    """``manifest(*contests, **params)`` parsed: an ``Election``."""
    return Election.from_manifest(manifest(*contests, **params))
