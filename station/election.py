"""The election as the package describes it: typed, validated, read-only.

The system hard-codes no election (DOMAIN.md "Ballots and contests"): contests,
candidates, parties, ballot styles and eligibility parameters all come from the
signed manifest (docs/election-package.md). ``Election.from_manifest`` turns the
verified manifest dict into these dataclasses and rejects anything malformed
with a message that names the field.

Contest kinds (DOMAIN.md "Ballots and contests"):
- ``candidate``: candidates in lot order, one mark, ``seats`` 1 (2021) or 3
  (2025), optional "against all"; ``territorial`` contests need community
  membership.
- ``party-list``: part 1 parties in lot order (+ "against all"), part 2
  ``number_boxes`` numbered squares (54 in 2021) for a preference vote.

A candidate contest may name its ``district``: the code of the ОИК whose
territory it elects (``"OIK-07"``, as the centre's station list codes them).
A station is a regular polling station (``kind`` "station": its own voters'
list) or a remote-voting site (``kind`` "remote-site", DOMAIN.md "Remote
voting"); either stands in a ``district`` (the ОИК code, by default its
``oik``'s). A remote site's package carries every district's contests, and
there every territorial contest must name its district, each a different one,
the site's own among them (docs/election-package.md "A remote-voting site's
package"): the voter's home district picks the contest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from station.errors import PackageError
from station.text import Text

CONTEST_KINDS = ("candidate", "party-list")
STATION_KINDS = ("station", "remote-site")
REMOTE_SITE = "remote-site"


@dataclass(frozen=True)
class Area:
    code: str
    name: Text


@dataclass(frozen=True)
class Station:
    id: str
    number: int
    name: Text
    address: Text
    region: Area
    oik: Area
    tik: Area
    kind: str = "station"    # "station" | "remote-site" (DOMAIN.md "Remote voting")
    district: str = ""       # the ОИК code where it stands (default: its oik's)

    @property
    def remote_site(self) -> bool:
        return self.kind == REMOTE_SITE


@dataclass(frozen=True)
class Candidate:
    id: str
    surname: str
    name: str
    patronymic: str
    birth_year: int
    sex: str                 # "M" / "F": the 2025 and 30% rules are central, the data travels
    lot_order: int           # position on the ballot, set by lot
    withdrawn: bool = False
    party: str | None = None
    registered_at: str | None = None   # tie-break: earlier complete registration wins

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


@dataclass(frozen=True)
class ListCandidate:
    number: int              # position in the party's registered list (box number in part 2)
    surname: str
    name: str
    patronymic: str
    sex: str
    withdrawn: bool = False

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)


@dataclass(frozen=True)
class Party:
    id: str
    name: Text
    short: str
    lot_order: int
    candidates: tuple[ListCandidate, ...] = ()

    def candidate(self, number: int) -> ListCandidate | None:
        for c in self.candidates:
            if c.number == number:
                return c
        return None


@dataclass(frozen=True)
class Contest:
    id: str
    kind: str
    title: Text
    seats: int
    against_all: bool
    territorial: bool        # needs community membership (DOMAIN.md "Voter lists and eligibility")
    candidates: tuple[Candidate, ...] = ()      # kind == "candidate", sorted by lot_order
    parties: tuple[Party, ...] = ()             # kind == "party-list", sorted by lot_order
    number_boxes: int = 0                       # kind == "party-list"
    district: str | None = None                 # the ОИК code this contest elects (territorial contests)

    def options(self) -> list[str]:
        """Ids of the part-1 choices in ballot order, 'against-all' last when offered."""
        ids = [c.id for c in self.candidates] if self.kind == "candidate" else [p.id for p in self.parties]
        return ids + (["against-all"] if self.against_all else [])


@dataclass(frozen=True)
class BallotStyle:
    id: str
    contests: tuple[str, ...]


@dataclass(frozen=True)
class Election:
    id: str
    name: Text
    voting_day: dt.date
    time_zone: str
    polls_open: dt.time
    polls_close: dt.time
    min_age: int
    community_days: int          # 90 parliamentary (seed 003), 60 local councils (seed 001)
    station: Station
    contests: tuple[Contest, ...]
    ballot_styles: tuple[BallotStyle, ...]
    package_version: int
    extra: dict = field(default_factory=dict, compare=False)

    def contest(self, contest_id: str) -> Contest:
        for c in self.contests:
            if c.id == contest_id:
                return c
        raise PackageError(f"unknown contest {contest_id!r}")

    def ballot_style(self, style_id: str) -> BallotStyle:
        for s in self.ballot_styles:
            if s.id == style_id:
                return s
        raise PackageError(f"unknown ballot style {style_id!r}")

    def contest_for_district(self, district: str | None) -> Contest | None:
        """The territorial contest electing ``district`` (an ОИК code), or None."""
        if not district:
            return None
        for c in self.contests:
            if c.territorial and c.district == district:
                return c
        return None

    @property
    def districts(self) -> dict[str, str]:
        """Territorial contest id -> the ОИК code it elects, for the contests that name one."""
        return {c.id: c.district for c in self.contests if c.territorial and c.district}

    def style_for_contest(self, contest_id: str) -> BallotStyle:
        for s in self.ballot_styles:
            if contest_id in s.contests:
                return s
        raise PackageError(f"no ballot style carries contest {contest_id!r}")

    @classmethod
    def from_manifest(cls, m: dict) -> Election:
        return _parse_election(m)


# --- parsing -----------------------------------------------------------------

def _req(d: Any, key: str, typ: type | tuple, where: str):
    if not isinstance(d, dict) or key not in d:
        raise PackageError(f"{where}: missing field {key!r}")
    v = d[key]
    if typ is int and isinstance(v, bool) or not isinstance(v, typ):
        raise PackageError(f"{where}.{key}: expected {getattr(typ, '__name__', typ)}, got {type(v).__name__}")
    return v


def _opt(d: dict, key: str, typ: type, where: str, default: Any) -> Any:
    """An optional field: absent or null gives ``default``; present, it must have its type."""
    v = d.get(key)
    if v is None:
        return default
    if typ is not bool and isinstance(v, bool) or not isinstance(v, typ):
        raise PackageError(f"{where}.{key}: expected {typ.__name__}, got {type(v).__name__}")
    return v


def _area(d: Any, where: str) -> Area:
    return Area(code=_req(d, "code", str, where), name=Text.parse(_req(d, "name", dict, where), f"{where}.name"))


def _parse_election(m: dict) -> Election:
    e = _req(m, "election", dict, "manifest")
    s = _req(m, "station", dict, "manifest")
    try:
        day = dt.date.fromisoformat(_req(e, "voting_day", str, "election"))
        t_open = dt.time.fromisoformat(_req(e, "polls_open", str, "election"))
        t_close = dt.time.fromisoformat(_req(e, "polls_close", str, "election"))
    except ValueError as ex:
        raise PackageError(f"election: bad date or time: {ex}") from ex
    station = Station(
        id=_req(s, "id", str, "station"), number=_req(s, "number", int, "station"),
        name=Text.parse(_req(s, "name", dict, "station"), "station.name"),
        address=Text.parse(_req(s, "address", dict, "station"), "station.address"),
        region=_area(_req(s, "region", dict, "station"), "station.region"),
        oik=_area(_req(s, "oik", dict, "station"), "station.oik"),
        tik=_area(_req(s, "tik", dict, "station"), "station.tik"),
        kind=_opt(s, "kind", str, "station", "station"),
    )
    if station.kind not in STATION_KINDS:
        raise PackageError(f"station.kind: unknown kind {station.kind!r} (known: {', '.join(STATION_KINDS)})")
    station = replace(station, district=_opt(s, "district", str, "station", station.oik.code))
    contests = []
    seen: set[str] = set()
    for i, c in enumerate(_req(m, "contests", list, "manifest")):
        contest = _parse_contest(c, f"contests[{i}]")
        if contest.id in seen or contest.id == "against-all":
            raise PackageError(f"contests[{i}]: duplicate or reserved contest id {contest.id!r}")
        seen.add(contest.id)
        contests.append(contest)
    styles = []
    for i, b in enumerate(_req(m, "ballot_styles", list, "manifest")):
        ids = tuple(_req(b, "contests", list, f"ballot_styles[{i}]"))
        for cid in ids:
            if not isinstance(cid, str) or cid not in seen:
                raise PackageError(f"ballot_styles[{i}]: unknown contest {cid!r}")
        styles.append(BallotStyle(id=_req(b, "id", str, f"ballot_styles[{i}]"), contests=ids))
    if station.remote_site:
        _check_remote_site(station, contests)
    return Election(
        id=_req(e, "id", str, "election"), name=Text.parse(_req(e, "name", dict, "election"), "election.name"),
        voting_day=day, time_zone=_req(e, "time_zone", str, "election"), polls_open=t_open, polls_close=t_close,
        min_age=_req(e, "min_age", int, "election"), community_days=_req(e, "community_days", int, "election"),
        station=station, contests=tuple(contests), ballot_styles=tuple(styles),
        package_version=_req(m, "package_version", int, "manifest"),
    )


def _check_remote_site(station: Station, contests: list[Contest]) -> None:
    """A remote site's package: every territorial contest names its district, each a different
    one, and the site's own district is among them (a voter of it is refused there, law No. 113)."""
    seen: dict[str, str] = {}
    for i, c in enumerate(contests):
        if not c.territorial:
            continue
        if not c.district:
            raise PackageError(f"contests[{i}]: a remote-voting site's territorial contest {c.id!r}"
                               " must name its district (the ОИК code it elects)")
        if c.district in seen:
            raise PackageError(f"contests[{i}]: district {c.district!r} is elected by both"
                               f" {seen[c.district]!r} and {c.id!r}")
        seen[c.district] = c.id
    if station.district not in seen:
        raise PackageError(f"station.district: {station.district!r} is the district of no contest of"
                           " this remote-voting site's package")


def _parse_contest(c: dict, where: str) -> Contest:
    kind = _req(c, "kind", str, where)
    if kind not in CONTEST_KINDS:
        raise PackageError(f"{where}.kind: unknown contest kind {kind!r} (known: {', '.join(CONTEST_KINDS)})")
    common = dict(
        id=_req(c, "id", str, where), kind=kind, title=Text.parse(_req(c, "title", dict, where), f"{where}.title"),
        seats=_req(c, "seats", int, where), against_all=_req(c, "against_all", bool, where),
        territorial=_req(c, "territorial", bool, where),
        district=_opt(c, "district", str, where, None),
    )
    if kind == "candidate":
        cands = []
        for j, k in enumerate(_req(c, "candidates", list, where)):
            w = f"{where}.candidates[{j}]"
            cands.append(Candidate(
                id=_req(k, "id", str, w), surname=_req(k, "surname", str, w), name=_req(k, "name", str, w),
                patronymic=_opt(k, "patronymic", str, w, ""), birth_year=_req(k, "birth_year", int, w),
                sex=_req(k, "sex", str, w), lot_order=_req(k, "lot_order", int, w),
                withdrawn=_opt(k, "withdrawn", bool, w, False), party=_opt(k, "party", str, w, None),
                registered_at=_opt(k, "registered_at", str, w, None),
            ))
        cands.sort(key=lambda x: x.lot_order)
        if not cands:
            raise PackageError(f"{where}: a candidate contest needs candidates")
        return Contest(**common, candidates=tuple(cands))
    parties = []
    for j, p in enumerate(_req(c, "parties", list, where)):
        w = f"{where}.parties[{j}]"
        lst = []
        for n, k in enumerate(_req(p, "candidates", list, w)):
            wk = f"{w}.candidates[{n}]"
            lst.append(ListCandidate(
                number=_req(k, "number", int, wk), surname=_req(k, "surname", str, wk),
                name=_req(k, "name", str, wk), patronymic=_opt(k, "patronymic", str, wk, ""),
                sex=_req(k, "sex", str, wk), withdrawn=_opt(k, "withdrawn", bool, wk, False),
            ))
        parties.append(Party(id=_req(p, "id", str, w), name=Text.parse(_req(p, "name", dict, w), f"{w}.name"),
                             short=_req(p, "short", str, w), lot_order=_req(p, "lot_order", int, w),
                             candidates=tuple(lst)))
    parties.sort(key=lambda x: x.lot_order)
    boxes = _req(c, "number_boxes", int, where)
    if not parties or boxes < 1:
        raise PackageError(f"{where}: a party-list contest needs parties and number_boxes >= 1")
    return Contest(**common, parties=tuple(parties), number_boxes=boxes)
