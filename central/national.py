"""The national list at the centre: read from a CSV file, checked whole, then registered.

The claim desk (central/claims.py) applies the home-district rule of law
No. 113 (DOMAIN.md "Remote voting") against the national list: each voter's
PIN with their home station and home district (the ОИК code). The CEC hands it
to the centre as a CSV file with a header naming at least ``pin``,
``home_station`` and ``home_district`` (other columns are ignored), so a
remote-voting site's ``voters.csv`` (identify/voters.py ``NATIONAL_COLUMNS``,
docs/election-package.md) is such a file as it is.

``read_national_list`` checks every row before anything is stored (a PIN of
the form of sync/pin.py, a home station and a home district, no PIN twice)
and names the file and line of the first fault; ``register_national_list``
then stores the rows in one transaction (central/storage.py
``register_national_voters``: a re-registration updates a voter's home).
A bad file changes nothing.

Example::

    n = register_national_list(storage, "national.csv")     # 4,300,000
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from central.storage import Storage
from sync.errors import SyncError
from sync.pin import pin_problem

COLUMNS = ("pin", "home_station", "home_district")
MAX_FIELD = 64


class NationalListError(SyncError):
    """Raised when a national list file cannot be read or a row breaks a rule (file and line named)."""


def _rows(path: Path) -> Iterator[tuple[int, tuple[str, str, str]]]:
    """(line, (pin, home station, home district)) of every row, the header checked."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as e:
        raise NationalListError(f"{path}: cannot be read: {e}") from e
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None) or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise NationalListError(f"{path.name}:1: the header must name {', '.join(COLUMNS)}"
                                        f" (missing {', '.join(missing)})")
            at = [header.index(c) for c in COLUMNS]
            for row in reader:
                line = reader.line_num
                if len(row) != len(header):
                    raise NationalListError(f"{path.name}: line {line}: {len(row)} fields, the header"
                                            f" has {len(header)}")
                yield line, tuple(row[i] for i in at)
        except (UnicodeDecodeError, csv.Error) as e:
            raise NationalListError(f"{path.name}: line {reader.line_num + 1}: not a UTF-8 CSV row: {e}") from e


def read_national_list(path: str | os.PathLike) -> int:
    """Check every row of the file (see the module doc); the number of voters, or NationalListError."""
    path = Path(path)
    seen: dict[int, int] = {}
    n = 0
    for line, (pin, station, district) in _rows(path):
        if (problem := pin_problem(pin)) is not None:
            raise NationalListError(f"{path.name}: line {line}: malformed PIN {pin[:20]!r}: {problem}")
        if not station or not district or len(station) > MAX_FIELD or len(district) > MAX_FIELD:
            raise NationalListError(f"{path.name}: line {line}: home_station and home_district must be"
                                    f" 1-{MAX_FIELD} characters")
        key = int(pin)
        if key in seen:
            raise NationalListError(f"{path.name}: line {line}: PIN {pin} twice (first at line {seen[key]})")
        seen[key] = line
        n += 1
    return n


def register_national_list(storage: Storage, path: str | os.PathLike, *,
                           progress: Callable[[int, int], None] | None = None) -> int:
    """Check the file whole, then register every row in one transaction; the number registered."""
    total = read_national_list(path)
    rows = (r for _, r in _rows(Path(path)))
    done = 0

    def counted():
        nonlocal done
        for r in rows:
            done += 1
            if progress and done % 100_000 == 0:
                progress(done, total)
            yield r

    with storage.transaction():
        storage.register_national_voters(counted())
    if progress:
        progress(done, total)
    return done
