"""The offline voter list: PIN rules, row validation, lookups.

PIN (DOMAIN.md "The PIN"): 14 digits; first digit the sex (1 or 2); digits
2-9 the date of birth DDMMYYYY, which must be a real date; last 5 a serial.
The rule itself is ``sync.pin`` (the central receiver applies the same one).

The list lives in ``identify.db`` (the role that holds it). Lookups by PIN and
by document number are single indexed reads; ``station_templates`` yields the
enrolled templates for the matcher's gallery.
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

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.surname, self.name, self.patronymic) if p)

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Voter:
        return cls(pin=r["pin"], document_number=r["document_number"], surname=r["surname"],
                   name=r["name"], patronymic=r["patronymic"],
                   birth_date=dt.date.fromisoformat(r["birth_date"]), sex=r["sex"],
                   district=r["district"] or None,
                   registered_since=dt.date.fromisoformat(r["registered_since"]) if r["registered_since"] else None,
                   overseas=bool(r["overseas"]), remote=bool(r["remote"]))


VOTER_COLUMNS = ("pin", "document_number", "surname", "name", "patronymic", "birth_date", "sex",
                 "district", "registered_since", "overseas", "remote")


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


def by_pin(conn: sqlite3.Connection, pin: str) -> Voter | None:
    r = conn.execute("SELECT * FROM voter WHERE pin = ?", (pin,)).fetchone()
    return Voter.from_row(r) if r else None


def by_document(conn: sqlite3.Connection, document_number: str) -> Voter | None:
    r = conn.execute("SELECT * FROM voter WHERE document_number = ?", (document_number,)).fetchone()
    return Voter.from_row(r) if r else None


def search_by_name(conn: sqlite3.Connection, text: str, limit: int = 20) -> list[Voter]:
    """The commission's manual search: surname prefix (and optional name prefix)."""
    parts = text.split()
    sql, args = "SELECT * FROM voter WHERE surname LIKE ?", [parts[0] + "%"]
    if len(parts) > 1:
        sql += " AND name LIKE ?"
        args.append(parts[1] + "%")
    sql += " ORDER BY surname, name LIMIT ?"
    args.append(limit)
    return [Voter.from_row(r) for r in conn.execute(sql, args)]


def count(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM voter").fetchone()[0]


def station_templates(conn: sqlite3.Connection) -> Iterator[tuple[str, int, bytes]]:
    """(pin, finger position, ISO/IEC 19794-2 record) for every enrolled template."""
    yield from conn.execute("SELECT pin, finger, record FROM template ORDER BY pin, finger")


def templates_for(conn: sqlite3.Connection, pin: str) -> list[tuple[int, bytes]]:
    return [(r[0], r[1]) for r in conn.execute("SELECT finger, record FROM template WHERE pin = ?", (pin,))]
