"""The results protocol's body and its control relations: pure, values in and values out.

No I/O here: count/protocol.py reads the tally and the polls history, calls
these functions, then signs, enqueues, stores and prints what they return (the
way python-tuf keeps ``trusted_metadata_set.py`` apart from ``updater.py``).

``build_protocol(election, tally, voters_on_list, voters_identified, closed_at)``
returns the body of the contract's ``results-protocol`` kind (docs/protocol.md):

- per contest: ballots read, valid, invalid, blank, marginal sheets, votes per
  candidate / party and "against all", preference votes per party per list
  number (count/tally.py says what each counter means);
- contests in the counting order of DOMAIN.md "Ballots and contests":
  candidate contests first, then party lists (election order within a kind);
- at a remote-voting site (``station.kind`` "remote-site"; DOMAIN.md "Remote
  voting"), whose package carries every district's contest: a section per
  district present, i.e. the candidate contests of which at least one ballot
  was read, each with the ``district`` (the ОИК code) it elects, from the
  package's contests (the centre adds it to that district's results:
  central/aggregate.py), then the party list; the body says
  ``"remote_site": true`` and the site's own ``district``. A district none of
  whose ballots the machine read has no section (zero everywhere: the zero
  report shows every district's counters);
- ``provisional`` (only when the identification summary says some voters
  were issued ballots on a provisional claim, issue #14 point 3; docs/remote-voting.md
  "Offline fallback"): ``{"issued", "granted_later", "refused_later",
  "unanswered"}``, the ballots issued while the centre could not be asked and
  what the centre answered those claims since, counted apart from the rest
  of ``voters_identified`` (of which they are part). A protocol without any
  has no such key: its bytes are those of a protocol before the section existed;
- ``control``: the control relations (DOMAIN.md "Results" and "Identification
  at the station"; seed ``003_…``, "Установление итогов"), each
  ``{"relation", "ok", "detail", "contest", "values"}``:
  ``ballots<=identified`` (only when the identify role's summary is given),
  ``provisional<=identified`` (only with a ``provisional`` section),
  ``ballots<=voters-on-list``, ``identified<=voters-on-list``,
  ``statuses=ballots`` (valid + invalid + blank = ballots read),
  ``votes=valid`` (the option lines sum to the valid ballots),
  ``preferences<=party-votes`` (per party). A failed relation is reported in
  the protocol, never hidden; the commission explains it in writing.

``protocol_hash(body)`` is the SHA-256 of the body's canonical bytes
(sync/canonical.py): printed on the paper protocol, checkable by observers.

Example::

    body = build_protocol(election, tally, 1700, 1234, "2026-11-29T14:00:00Z")
    [r["relation"] for r in body["control"] if not r["ok"]]     # [] when every relation holds
    protocol_hash(body)                                          # the same body, the same hash
"""

from __future__ import annotations

from typing import Any

from count.tally import Tally
from station.election import Election
from station.errors import CountingError
from station.identify_summary import PROVISIONAL_FIELDS
from station.text import Text
from sync import signing
from sync.canonical import canonical

# What each control relation says, for paper and screens (machine protocol and manual count).
RELATION_TEXT = {
    "identified<=voters-on-list": Text("идентификацияланган ≤ тизмедеги", "идентифицировано ≤ в списке"),
    "provisional<=identified": Text("шарттуу берилген ≤ идентификацияланган",
                                    "выдано по условной заявке ≤ идентифицировано"),
    "ballots<=identified": Text("бюллетендер ≤ идентификацияланган", "бюллетеней ≤ идентифицировано"),
    "ballots<=voters-on-list": Text("бюллетендер ≤ тизмедеги", "бюллетеней ≤ в списке"),
    "statuses=ballots": Text("жарактуу+жараксыз+бош = окулган", "действ.+недейств.+пустые = прочитано"),
    "valid+invalid=ballots": Text("жарактуу + жараксыз = табылган", "действ. + недейств. = найдено"),
    "votes=valid": Text("добуштардын суммасы = жарактуу", "сумма голосов = действительные"),
    "preferences<=party-votes": Text("артыкчылык ≤ партиянын добушу", "предпочтения ≤ голоса партии"),
}

# The identification summary's ``provisional`` counters (identify/claims.py ``claim_counts``).


def counting_order(election: Election) -> list[str]:
    """Contest ids: candidate contests first, then party lists (DOMAIN.md "Ballots and contests")."""
    return ([c.id for c in election.contests if c.kind == "candidate"]
            + [c.id for c in election.contests if c.kind == "party-list"])


def protocol_contests(election: Election, tally: Tally) -> list[str]:
    """The contests the protocol has a section for: every one at a station; at a remote-voting
    site the districts present (a ballot read) and the contests that are not a district's."""
    order = counting_order(election)
    if not election.station.remote_site:
        return order
    return [cid for cid in order
            if election.contest(cid).district is None or tally.contest(cid).ballots_read > 0]


def _contest_body(election: Election, tally: Tally, cid: str) -> dict[str, Any]:
    ct = tally.contest(cid)
    contest = election.contest(cid)
    prefs = {}
    if contest.kind == "party-list":
        prefs = {p.id: {str(n): v for n, v in sorted(ct.preferences.get(p.id, {}).items())}
                 for p in contest.parties}
    body = {
        "contest": cid, "kind": contest.kind,
        "ballots_read": ct.ballots_read, "valid": ct.valid, "invalid": ct.invalid,
        "blank": ct.blank, "marginal_sheets": ct.marginal_sheets,
        "votes": {o: ct.votes.get(o, 0) for o in contest.options()},
        "preferences": prefs,
    }
    if election.station.remote_site and contest.district is not None:
        body["district"] = contest.district       # whose results these votes are (the ОИК code)
    return body


def control_relations(contests: list[dict[str, Any]], voters_on_list: int,
                      voters_identified: int | None, *,
                      provisional_issued: int | None = None) -> list[dict[str, Any]]:
    """The control relations over protocol contest bodies (pure).

    Each: ``relation``, ``ok``, ``detail`` (English, for logs and JSON readers),
    ``contest`` (or None) and ``values`` [left, right] (what the paper prints).
    """
    out: list[dict[str, Any]] = []

    def rel(relation: str, left: int, right: int, detail: str, contest: str | None = None) -> None:
        ok = left <= right if "<=" in relation else left == right
        out.append({"relation": relation, "ok": bool(ok), "detail": detail, "contest": contest,
                    "values": [left, right]})

    if voters_identified is not None:
        rel("identified<=voters-on-list", voters_identified, voters_on_list,
            f"{voters_identified} identified, {voters_on_list} on the list")
        if provisional_issued is not None:
            rel("provisional<=identified", provisional_issued, voters_identified,
                f"{provisional_issued} issued on a provisional claim, {voters_identified} identified")
    for c in contests:
        cid, n = c["contest"], c["ballots_read"]
        if voters_identified is not None:
            rel("ballots<=identified", n, voters_identified,
                f"{n} ballots in the box, {voters_identified} voters identified", cid)
        rel("ballots<=voters-on-list", n, voters_on_list,
            f"{n} ballots in the box, {voters_on_list} voters on the list", cid)
        s = c["valid"] + c["invalid"] + c["blank"]
        rel("statuses=ballots", s, n,
            f"{c['valid']} valid + {c['invalid']} invalid + {c['blank']} blank = {s}, {n} read", cid)
        v = sum(c["votes"].values())
        rel("votes=valid", v, c["valid"], f"{v} votes on the option lines, {c['valid']} valid", cid)
        if c["preferences"]:
            over = [(party, sum(nums.values()), c["votes"].get(party, 0))
                    for party, nums in c["preferences"].items()
                    if sum(nums.values()) > c["votes"].get(party, 0)]
            # One line per contest when all hold (12 parties x OK would drown the page);
            # every failing party named.
            for party, p, pv in over:
                rel("preferences<=party-votes", p, pv, f"{party}: {p} preference votes, {pv} party votes",
                    cid)
            if not over:
                total = sum(sum(nums.values()) for nums in c["preferences"].values())
                party_votes = sum(c["votes"].get(party, 0) for party in c["preferences"])
                rel("preferences<=party-votes", total, party_votes,
                    "every party's preferences within its votes", cid)
    return out


def provisional_section(provisional: dict[str, Any] | None) -> dict[str, int] | None:
    """The protocol's ``provisional`` section from the summary's counters; None when none was issued.

    Raises CountingError for counters that are not counts or whose answers do not add up to
    the ballots issued (granted + refused + unanswered = issued, as ``claim_counts`` makes them).
    """
    if provisional is None:
        return None
    if not isinstance(provisional, dict) or set(provisional) != set(PROVISIONAL_FIELDS):
        raise CountingError(f"provisional counters must be exactly {', '.join(PROVISIONAL_FIELDS)}")
    for k in PROVISIONAL_FIELDS:
        v = provisional[k]
        if type(v) is not int or v < 0:
            raise CountingError(f"provisional {k} must be a non-negative count, not {v!r}")
    if provisional["issued"] == 0:
        return None
    answers = provisional["granted_later"] + provisional["refused_later"] + provisional["unanswered"]
    if answers != provisional["issued"]:
        raise CountingError(f"provisional answers add up to {answers}, {provisional['issued']} issued")
    return {k: provisional[k] for k in PROVISIONAL_FIELDS}


def build_protocol(election: Election, tally: Tally, voters_on_list: int,
                   voters_identified: int | None, closed_at: str, *,
                   test_mode: bool = False, provisional: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``results-protocol`` body (pure: same values in, same dict out).

    ``provisional``: the identification summary's ``provisional`` counters (or None).
    """
    if tally.election.id != election.id:
        raise CountingError("the tally belongs to another election")
    if voters_on_list < 0 or (voters_identified is not None and voters_identified < 0):
        raise CountingError("voter numbers cannot be negative")
    section = provisional_section(provisional)
    contests = [_contest_body(election, tally, cid) for cid in protocol_contests(election, tally)]
    body = {
        "election": election.id, "station": election.station.id, "closed_at": closed_at,
        "voters_on_list": voters_on_list, "voters_identified": voters_identified,
        "contests": contests,
        "control": control_relations(contests, voters_on_list, voters_identified,
                                     provisional_issued=section["issued"] if section else None),
        "test_mode": bool(test_mode),
    }
    if section is not None:
        body["provisional"] = section
    if election.station.remote_site:
        body.update(remote_site=True, district=election.station.district)
    return body


def protocol_hash(body: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical body: printed on the paper protocol, checkable by observers."""
    return signing.sha256_hex(canonical(body))


def tally_hash(tally: Tally) -> str:
    return signing.sha256_hex(canonical(tally.to_json()))
