"""The offline voter list: PIN rules, row validation, lookups.

PIN (DOMAIN.md "The PIN"): 14 digits; first digit the sex (1 or 2); digits
2-9 the date of birth DDMMYYYY, which must be a real date; last 5 a serial.
The rule itself is ``sync.pin`` (the central receiver applies the same one).

The list lives in ``identify.db`` (the role that holds it). Lookups by PIN and
by document number are single indexed reads; ``station_templates`` yields the
enrolled templates for the matcher's gallery.

A remote-voting site holds the national list (4.3 M voters at full size,
docs/election-package.md "A remote-voting site's package"): the same columns
plus each voter's ``home_station`` and ``home_district`` (the ОИК code of the
home station), ``NATIONAL_COLUMNS``, kept in ``voter_home`` beside the voter
row. A lookup by PIN is two reads on primary keys, whatever the list's size
(bench/bench_remote_site.py). A national row's ``district`` (the territorial
contest of the residence) is empty or the contest that elects the home
district; its home district is a district of the package, or the voter lives
abroad (who votes on the party list only, DOMAIN.md "Voter lists and eligibility").
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from station.errors import VoterListError
from sync.pin import birth_date, pin_problem


def is_valid_pin(pin: str) -> bool:
    return pin_problem(pin) is None


def pin_birth_date(pin: str) -> dt.date:
    problem = pin_problem(pin)
    if problem:
        raise VoterListError(f"malformed PIN {pin!r}: {problem}")
    return birth_date(pin)  # type: ignore[return-value]


@dataclass(frozen=True)
class Voter:
    pin: str
    document_number: str
    surname: str
    name: str
    patronymic: str
    birth_date: dt.date
    sex: str
    district: str | None          # the territorial contest the voter's residence belongs to
    registered_since: dt.date | None  # residence registration date (community membership)
    overseas: bool
    remote: bool                  # applied for remote voting at this station (seed 002 item 2.2)
    home_station: str | None = None   # national list (remote-voting site): the station whose list has the voter
    home_district: str | None = None  # ... and that station's district (ОИК code)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Voter:
        home = (r["home_station"], r["home_district"]) if "home_station" in r.keys() else (None, None)
        return cls(pin=r["pin"], document_number=r["document_number"], surname=r["surname"],
                   name=r["name"], patronymic=r["patronymic"],
                   birth_date=dt.date.fromisoformat(r["birth_date"]), sex=r["sex"],
                   district=r["district"] or None,
                   registered_since=dt.date.fromisoformat(r["registered_since"]) if r["registered_since"] else None,
                   overseas=bool(r["overseas"]), remote=bool(r["remote"]),
                   home_station=home[0] or None, home_district=home[1] or None)


VOTER_COLUMNS = ("pin", "document_number", "surname", "name", "patronymic", "birth_date", "sex",
                 "district", "registered_since", "overseas", "remote")
HOME_COLUMNS = ("home_station", "home_district")
NATIONAL_COLUMNS = VOTER_COLUMNS + HOME_COLUMNS      # a remote-voting site's voters.csv


@lru_cache(maxsize=65536)
def _iso_date(s: str) -> bool:
    try:
        dt.date.fromisoformat(s)
        return len(s) == 10
    except ValueError:
        return False


def validate_row(row: list[str], contests: frozenset[str], where: str) -> tuple:
    """Check one voters.csv row; return the tuple to insert or raise VoterListError naming ``where``.

    Hot path of the 4.3 M-voter import: cached date checks, no allocation beyond the tuple.
    """
    if len(row) != len(VOTER_COLUMNS):
        raise VoterListError(f"{where}: expected {len(VOTER_COLUMNS)} columns, got {len(row)}")
    pin, doc, surname, name, patronymic, birth, sex, district, since, overseas, remote = row
    problem = pin_problem(pin)
    if problem:
        raise VoterListError(f"{where}: malformed PIN {pin!r}: {problem}")
    if not _iso_date(birth):
        raise VoterListError(f"{where}: impossible birth date {birth!r}")
    if birth[8:10] + birth[5:7] + birth[0:4] != pin[1:9]:
        raise VoterListError(f"{where}: birth date {birth} disagrees with PIN {pin}")
    if sex not in ("M", "F"):
        raise VoterListError(f"{where}: sex must be M or F, got {sex!r}")
    if district and district not in contests:
        raise VoterListError(f"{where}: unknown contest {district!r}")
    if since and not _iso_date(since):
        raise VoterListError(f"{where}: impossible registration date {since!r}")
    if overseas not in ("0", "1") or remote not in ("0", "1"):
        raise VoterListError(f"{where}: overseas/remote must be 0 or 1")
    if not doc or not surname:
        raise VoterListError(f"{where}: document number and surname are required")
    return (pin, doc, surname, name, patronymic, birth, sex, district or None, since or None,
            int(overseas), int(remote))


def validate_national_row(row: list[str], districts: dict[str, str], where: str) -> tuple:
    """Check one row of a remote-voting site's national list (``NATIONAL_COLUMNS``).

    ``districts``: territorial contest id -> the ОИК code it elects (``Election.districts``).
    Every rule of ``validate_row``, then: a home station and a home district; the home district
    elected by a contest of the package unless the voter lives abroad; the residence's contest,
    when given, the one electing the home district.
    """
    if len(row) != len(NATIONAL_COLUMNS):
        raise VoterListError(f"{where}: expected {len(NATIONAL_COLUMNS)} columns, got {len(row)}")
    values = validate_row(row[:len(VOTER_COLUMNS)], frozenset(districts), where)
    home_station, home_district = row[len(VOTER_COLUMNS):]
    if not home_station or not home_district:
        raise VoterListError(f"{where}: home_station and home_district are required on the national list")
    if home_district not in districts.values() and values[9] != 1:
        raise VoterListError(f"{where}: home district {home_district!r} is elected by no contest of this"
                             " package (and the voter does not live abroad)")
    if values[7] is not None and districts.get(values[7]) != home_district:
        raise VoterListError(f"{where}: contest {values[7]!r} does not elect the home district"
                             f" {home_district!r}")
    return (*values, home_station, home_district)


# The voter with their home station and district where the list has them (a national list).
_WITH_HOME = "SELECT v.*, h.home_station, h.home_district FROM voter v LEFT JOIN voter_home h ON h.pin = v.pin"


def listed(conn: sqlite3.Connection) -> list[Voter]:
    """Every voter of the list in its order, with the home of a national list (one query)."""
    return [Voter.from_row(r) for r in conn.execute(f"{_WITH_HOME} ORDER BY v.rowid")]


def by_pin(conn: sqlite3.Connection, pin: str) -> Voter | None:
    r = conn.execute(f"{_WITH_HOME} WHERE v.pin = ?", (pin,)).fetchone()
    return Voter.from_row(r) if r else None


def by_document(conn: sqlite3.Connection, document_number: str) -> Voter | None:
    r = conn.execute(f"{_WITH_HOME} WHERE v.document_number = ?", (document_number,)).fetchone()
    return Voter.from_row(r) if r else None


def home_districts(conn: sqlite3.Connection) -> dict[str, int]:
    """Voters per home district on a national list (empty for a station's own list)."""
    return {d: n for d, n in conn.execute(
        "SELECT home_district, count(*) FROM voter_home GROUP BY home_district ORDER BY home_district")}


def search_by_name(conn: sqlite3.Connection, text: str, limit: int = 20) -> list[Voter]:
    """The commission's manual search: surname prefix (and optional name prefix)."""
    parts = text.split()
    sql, args = f"{_WITH_HOME} WHERE v.surname LIKE ?", [parts[0] + "%"]
    if len(parts) > 1:
        sql += " AND v.name LIKE ?"
        args.append(parts[1] + "%")
    sql += " ORDER BY v.surname, v.name LIMIT ?"
    args.append(limit)
    return [Voter.from_row(r) for r in conn.execute(sql, args)]


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM voter").fetchone()[0]


def station_templates(conn: sqlite3.Connection) -> Iterator[tuple[str, int, bytes]]:
    """(pin, finger position, ISO/IEC 19794-2 record) for every enrolled template."""
    yield from conn.execute("SELECT pin, finger, record FROM template ORDER BY pin, finger")


def templates_for(conn: sqlite3.Connection, pin: str) -> list[tuple[int, bytes]]:
    return [(r[0], r[1]) for r in conn.execute("SELECT finger, record FROM template WHERE pin = ?", (pin,))]
