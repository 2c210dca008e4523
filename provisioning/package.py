"""The election package: build (the CEC's side) and load (the device's side).

The format and its verification are ``station.package`` (docs/election-package.md):
both roles read a package through it. Here:

- ``build_package`` writes and signs a package (the CEC; tests and the demo);
- ``load_package`` copies a package onto the device, verifies the copy
  (``station.package.read_package``, before anything reads it: ARCHITECTURE.md
  invariant 3), imports the voter list and templates in one transaction (nothing
  partly imported), refuses rollback to an older package version, and renames the
  verified copy into place under the state directory.

A remote-voting site's package (``station.kind`` "remote-site") carries the
national list: ``voters.csv`` has ``identify.voters.NATIONAL_COLUMNS`` (each
voter's home station and district besides), imported into ``voter`` and
``voter_home`` in the same one transaction, every row checked by SQLite
as a station's list is, plus the home-district rules of
``identify.voters.validate_national_row``. Its ``templates.csv`` holds only
the subset the CEC chose (docs/election-package.md "A remote-voting site's
package"): the import is the same.

Example::

    build_package(Path("pkg"), manifest, voter_rows, cec_key, templates=templates)
    load_package(paths, "pkg/", progress=print)
"""

from __future__ import annotations

import base64
import csv
import json
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import replace
from itertools import islice
from pathlib import Path

from base.clock import SystemClock, iso
from base.paths import Paths
from base.sqlite import atomic
from biometrics.iso19794 import decode
from identify.store import VOTER_INDEXES, open_identify_db
from identify.voters import NATIONAL_COLUMNS, VOTER_COLUMNS, validate_national_row, validate_row
from station import polls
from station.db import open_station_db
from station.errors import PackageError, VoterListError
from station.events import record
from station.package import FORMAT, Package, pinned_cec_key, read_package
from sync import signing
from sync.canonical import canonical
from sync.errors import VerificationError

Progress = Callable[[int, int], None]


# --- building (the CEC's side; tests and the demo) ---------------------------

def build_package(out: Path, manifest: dict, voter_rows: Iterable[list[str]], cec_key: signing.PrivateKey, *,
                  templates: Iterable[tuple[str, int, bytes]] = (), trust: dict[str, bytes] | None = None) -> Package:
    """Write a signed package to ``out`` (which must not exist or be empty)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise PackageError(f"{out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    rows = 0
    national = (manifest.get("station") or {}).get("kind") == "remote-site"
    with open(out / "voters.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(NATIONAL_COLUMNS if national else VOTER_COLUMNS)
        for row in voter_rows:
            w.writerow(row)
            rows += 1
    n_templates = 0
    with open(out / "templates.csv", "w", newline="", encoding="ascii") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("pin", "finger", "iso_base64"))
        for pin, finger, rec in templates:
            w.writerow((pin, finger, base64.b64encode(rec).decode()))
            n_templates += 1
    for name, data in (trust or {}).items():
        p = out / "trust" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            rel = p.relative_to(out).as_posix()
            files[rel] = {"sha256": signing.sha256_file(p), "bytes": p.stat().st_size}
    manifest = dict(manifest, format=FORMAT, files=files,
                    voters={"file": "voters.csv", "rows": rows, "templates": n_templates})
    data = canonical(manifest)
    (out / "manifest.json").write_bytes(data)
    sig = {"signer": signing.key_id(signing.public_key(cec_key)),
           "signature": signing.b64(signing.sign(cec_key, data))}
    (out / "manifest.sig").write_text(json.dumps(sig) + "\n")
    return read_package(out, signing.public_key(cec_key))


# --- import (the device's side) -----------------------------------------------

def _raw_voter_rows(path: Path, columns: tuple[str, ...] = VOTER_COLUMNS):
    """voters.csv rows as lists of text, header checked; validation happens in SQL (see import_voters)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
            if tuple(header or ()) != columns:
                raise VoterListError(f"{path.name}:1: header must be {','.join(columns)}")
            yield from reader
        except (UnicodeDecodeError, csv.Error) as e:
            raise VoterListError(f"{path.name}:{reader.line_num + 1}: not a UTF-8 CSV row: {e}") from e


def _row_at(path: Path, line: int) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        for n, row in enumerate(csv.reader(f), start=1):
            if n == line:
                return row
    return []


# Every rule of identify.voters.validate_row, evaluated by SQLite in C over the raw
# inserted text (DOMAIN.md "The PIN": 14 digits, sex digit 1/2, a real DDMMYYYY date).
# date(x, '+0 days') IS x holds only for a real calendar date written YYYY-MM-DD (without a
# modifier SQLite returns '1999-02-30' unchanged; with one it normalises it to 1999-03-02).
_INVALID_ROW_SQL = """
SELECT rowid FROM voter WHERE NOT coalesce((
    length(pin) = 14 AND pin GLOB '[12][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
    AND birth_date IS date(birth_date, '+0 days') AND birth_date >= '1900-01-01'
    AND substr(pin, 2, 8) IS substr(birth_date, 9, 2) || substr(birth_date, 6, 2) || substr(birth_date, 1, 4)
    AND sex IN ('M', 'F')
    AND (district IS NULL OR district IN (SELECT value FROM json_each(?)))
    AND (registered_since IS NULL OR (registered_since IS date(registered_since, '+0 days')
                                      AND registered_since >= '1900-01-01'))
    AND overseas IN (0, 1) AND remote IN (0, 1)
    AND document_number <> '' AND surname <> ''
), 0) ORDER BY rowid LIMIT 1
"""

# The national list's own rules (identify.voters.validate_national_row), over the staged rows:
# a home station and district; the district elected by a contest of the package unless the voter
# lives abroad; the residence's contest, when given, the one electing the home district. The
# contests' districts are a small temporary table (temp.package_district: contest -> ОИК code).
_INVALID_HOME_SQL = """
SELECT v.rowid FROM voter v JOIN temp.staged_home h ON h.rowid = v.rowid WHERE NOT coalesce((
    h.pin IS v.pin AND h.home_station <> '' AND h.home_district <> ''
    AND (v.overseas = 1 OR h.home_district IN (SELECT district FROM temp.package_district))
    AND (v.district IS NULL OR (SELECT district FROM temp.package_district d WHERE d.contest = v.district)
         IS h.home_district)
), 0) ORDER BY v.rowid LIMIT 1
"""


def _template_rows(path: Path, validate: Callable[[bytes], None] | None):
    """templates.csv rows as (pin, finger, record); any fault is a PackageError naming file and line.

    The file is ASCII by format (base64 and digits): a byte outside it is named with its
    exact line (each line is decoded on its own), never a UnicodeDecodeError traceback.
    """
    def ascii_lines(f):
        for n, raw in enumerate(f, start=1):
            try:
                yield raw.decode("ascii")
            except UnicodeDecodeError as e:
                raise PackageError(f"{path.name}:{n}: not ASCII (byte 0x{raw[e.start]:02X}"
                                   f" at column {e.start + 1})") from None

    with open(path, "rb") as f:
        reader = csv.reader(ascii_lines(f))
        try:
            header = next(reader, None)
            if tuple(header or ()) != ("pin", "finger", "iso_base64"):
                raise PackageError(f"{path}:1: header must be pin,finger,iso_base64")
            for line, row in enumerate(reader, start=2):
                try:
                    pin, finger, b = row
                    rec = base64.b64decode(b, validate=True)
                    if validate:
                        validate(rec)
                    yield pin, int(finger), rec
                except Exception as e:   # any malformed row: name it
                    raise PackageError(f"{path.name}:{line}: corrupted template: {e}") from e
        except csv.Error as e:
            raise PackageError(f"{path.name}:{reader.line_num}: not a CSV row: {e}") from e


def _template_validator() -> Callable[[bytes], None]:
    return lambda rec: (decode(rec), None)[1]


def _find_duplicate(path: Path) -> str:
    seen: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            if line == 1 or not row:
                continue
            if row[0] in seen:
                return f"{path.name}:{line}: duplicate PIN {row[0]} (first at line {seen[row[0]]})"
            seen[row[0]] = line
    return f"{path.name}: duplicate rows"


def import_voters(conn: sqlite3.Connection, pkg: Package, *, progress: Progress | None = None,
                  batch: int = 50_000) -> tuple[int, int]:
    """Replace the voter list and templates in ``conn`` with the package's, in ONE transaction."""
    election = pkg.election
    contests = frozenset(c.id for c in election.contests if c.territorial)
    national = election.station.remote_site
    columns = NATIONAL_COLUMNS if national else VOTER_COLUMNS
    districts = election.districts
    total = pkg.voter_rows
    voters_path = pkg.file("voters.csv")

    def check_row(row: list[str], where: str) -> None:
        if national:
            validate_national_row(row, districts, where)
        else:
            validate_row(row, contests, where)

    conn.execute("PRAGMA cache_size=-262144")
    with atomic(conn):
        conn.execute("DELETE FROM template")
        conn.execute("DELETE FROM voter_home")
        conn.execute("DELETE FROM voter")
        conn.execute("DROP INDEX IF EXISTS voter_document")
        conn.execute("DROP INDEX IF EXISTS voter_surname")
        rows = _raw_voter_rows(voters_path, columns)
        done = 0
        # Raw text goes in as read (the hot path stays in C); empty optional fields become NULL.
        values = ",".join("NULLIF(?, '')" if c in ("district", "registered_since") else "?" for c in VOTER_COLUMNS)
        if national:
            # The home columns go to a staging table in the same order (rowid = the voter's rowid),
            # checked in SQL with the rest, then copied to voter_home keyed by PIN.
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS staged_home(pin TEXT, home_station TEXT,"
                         " home_district TEXT)")
            conn.execute("DELETE FROM temp.staged_home")
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS package_district(contest TEXT PRIMARY KEY,"
                         " district TEXT NOT NULL)")
            conn.execute("DELETE FROM temp.package_district")
            conn.executemany("INSERT INTO temp.package_district VALUES (?, ?)", sorted(districts.items()))
            # One statement per row inserts into both: a view with an INSTEAD OF trigger would cost
            # more than two executemany over the same chunk.
            sql = (f"INSERT INTO voter({','.join(VOTER_COLUMNS)}) VALUES ({values})",
                   "INSERT INTO temp.staged_home(pin, home_station, home_district) VALUES (?, ?, ?)")
        else:
            sql = (f"INSERT INTO voter({','.join(VOTER_COLUMNS)}) VALUES ({values})",)
        width, n_voter = len(columns), len(VOTER_COLUMNS)
        while True:
            chunk = list(islice(rows, batch))
            if not chunk:
                break
            if any(len(row) != width for row in chunk):    # the wrong number of columns: named
                for i, row in enumerate(chunk):
                    if len(row) != width:
                        check_row(row, f"{voters_path.name}:{done + i + 2}")
            try:
                if national:
                    conn.executemany(sql[0], [r[:n_voter] for r in chunk])
                    conn.executemany(sql[1], [(r[0], r[n_voter], r[n_voter + 1]) for r in chunk])
                else:
                    conn.executemany(sql[0], chunk)
            except sqlite3.IntegrityError as e:
                raise VoterListError(_find_duplicate(voters_path)) from e
            except sqlite3.ProgrammingError as e:
                raise VoterListError(f"{voters_path.name}: {e}") from e
            done += len(chunk)
            if progress:
                progress(done, total)
        bad = conn.execute(_INVALID_ROW_SQL, (json.dumps(sorted(contests)),)).fetchone()
        if bad is None and national:
            bad = conn.execute(_INVALID_HOME_SQL).fetchone()
        if bad:
            line = bad[0] + 1      # rowids follow insertion order from 1 in the emptied table; +1 for the header
            check_row(_row_at(voters_path, line), f"{voters_path.name}:{line}")
            raise VoterListError(f"{voters_path.name}:{line}: invalid row")
        if done != total:
            raise PackageError(f"voters.csv has {done} rows, the manifest says {total}")
        if national:
            conn.execute("INSERT INTO voter_home(pin, home_station, home_district)"
                         " SELECT pin, home_station, home_district FROM temp.staged_home ORDER BY pin")
            conn.execute("DELETE FROM temp.staged_home")
        for stmt in VOTER_INDEXES.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        n_t = 0
        try:
            tmpl = _template_rows(pkg.file("templates.csv"), _template_validator())
            while True:
                chunk = list(islice(tmpl, batch))
                if not chunk:
                    break
                conn.executemany("INSERT INTO template(pin, finger, record) VALUES (?,?,?)", chunk)
                n_t += len(chunk)
        except sqlite3.IntegrityError as e:
            raise PackageError(f"templates.csv: a template names a PIN not on the list or repeats a finger: {e}") from e
        conn.execute("INSERT INTO voter_list(id, election_id, package_version, manifest_sha256, voters, templates)"
                     " VALUES (1,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET election_id=excluded.election_id,"
                     " package_version=excluded.package_version, manifest_sha256=excluded.manifest_sha256,"
                     " voters=excluded.voters, templates=excluded.templates",
                     (pkg.election.id, pkg.election.package_version, pkg.hash, done, n_t))
    return done, n_t


LOADABLE_STATES = (polls.PollsState.PROVISIONED, polls.PollsState.TEST_MODE, polls.PollsState.ZERO_REPORT)


def load_package(paths: Paths, pkg_dir: str | os.PathLike, *, clock=None,
                 progress: Progress | None = None) -> Package:
    """Verify and import a package onto this device; refuse rollback; all or nothing."""
    clock = clock or SystemClock()
    paths.ensure()
    sconn = open_station_db(paths.station_db)
    try:
        record(sconn, "package-load-init", actor="technician", clock=clock, dir=str(pkg_dir))
        try:
            # Copy first, then verify the copy and import from it: the bytes imported are the bytes
            # verified, whatever the source medium serves on a second read.
            staged = _stage_copy(Path(pkg_dir), paths.package_dir)
            pkg = read_package(staged, pinned_cec_key(paths))
            _check_certificate(paths, pkg)
            _check_rollback(sconn, pkg)
            state = polls.current(sconn)
            if state not in LOADABLE_STATES:
                raise PackageError(f"polls are {state}: a package can be loaded only before polls open")
            iconn = open_identify_db(paths.identify_db)
            try:
                voters, templates = import_voters(iconn, pkg, progress=progress)
            finally:
                iconn.close()
            _swap_in(staged, paths.package_dir)
        except OSError as e:
            e = PackageError(f"cannot copy the package into {paths.state_dir}: {e}")
            record(sconn, "package-load-refused", "refused", actor="technician", clock=clock,
                   dir=str(pkg_dir), reason=str(e))
            raise e from None
        except (PackageError, VerificationError) as e:
            record(sconn, "package-load-refused", "refused", actor="technician", clock=clock,
                   dir=str(pkg_dir), reason=str(e))
            raise
        with atomic(sconn):
            sconn.execute("UPDATE package SET current = 0")
            sconn.execute("INSERT OR REPLACE INTO package(election_id, package_version, manifest_sha256, station_id,"
                          " loaded_at, current) VALUES (?,?,?,?,?,1)",
                          (pkg.election.id, pkg.election.package_version, pkg.hash, pkg.election.station.id,
                           iso(clock.now())))
            record(sconn, "package-load-complete", actor="technician", clock=clock, election=pkg.election.id,
                   version=pkg.election.package_version, sha256=pkg.hash, voters=voters, templates=templates)
        # The installed copy is the one verified above, renamed into place: no need to hash it again.
        return replace(pkg, dir=paths.package_dir)
    finally:
        sconn.close()


def _check_certificate(paths: Paths, pkg: Package) -> None:
    """An enrolled device takes only the package of the station and election it is certified for
    (each role's certificate, where installed)."""
    for files in paths.roles.values():
        if not files.cert.exists():
            continue
        signed = json.loads(files.cert.read_text()).get("signed", {})
        want = (signed.get("station_id"), signed.get("election_id"))
        got = (pkg.election.station.id, pkg.election.id)
        if want != got:
            raise PackageError(f"this device is certified for station {want[0]} in {want[1]};"
                               f" the package is for station {got[0]} in {got[1]}: refused")


def _check_rollback(sconn: sqlite3.Connection, pkg: Package) -> None:
    row = sconn.execute("SELECT package_version, manifest_sha256 FROM package WHERE election_id = ?"
                        " ORDER BY package_version DESC LIMIT 1", (pkg.election.id,)).fetchone()
    if row is None:
        return
    version, sha = row
    if pkg.election.package_version < version:
        raise PackageError(f"package version {pkg.election.package_version} is older than the loaded"
                           f" version {version}: rollback refused")
    if pkg.election.package_version == version and pkg.hash != sha:
        raise PackageError(f"a different package with the same version {version} is already loaded: refused")


def _stage_copy(src: Path, target: Path) -> Path:
    """A private copy of the package beside ``target`` (``package.new``), replacing any leftover."""
    staged = target.with_name(target.name + ".new")
    if staged.is_dir() and not staged.is_symlink():
        shutil.rmtree(staged)
    elif staged.exists() or staged.is_symlink():
        staged.unlink()
    if not (src / "manifest.json").is_file():
        raise PackageError(f"{src / 'manifest.json'}: missing (not an election package?)")
    shutil.copytree(src, staged, symlinks=True)
    return staged


def _swap_in(staged: Path, target: Path) -> None:
    """Make the verified, imported copy the current one: rename, never a half-written tree."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(staged, target)
    if old.exists():
        shutil.rmtree(old)


