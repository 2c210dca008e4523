"""The station's SQLite files, for the technician: audit chains verified, and an inspection of each.

``verify_all`` checks the hash-chained audit log of every state file
(``station.db``, ``identify.db``, ``count.db``) that exists on this device.
``inspect_all`` reports, per file, what a technician checks before sealing
the device or after a power cut: size, journal mode, the result of SQLite's
``PRAGMA quick_check``, the migrations applied and each table's row count.
It opens every file read-only (through sqlite-utils, whose table and schema
introspection this is) and shows counts only: no voter, no sheet, no time.

Example::

    for f in inspect_all(Paths.from_env("/tmp/st1")):
        print(f["file"], f["check"], f["tables"])
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from base.paths import Paths
from base.sqlite import connect
from station.events import verify_chain


def _state_files(paths: Paths):
    return [p for p in (paths.station_db, paths.identify_db, paths.count_db) if p.exists()]


def verify_all(paths: Paths) -> list[dict]:
    out = []
    for p in _state_files(paths):
        conn = connect(p, readonly=True)
        try:
            rep = verify_chain(conn)
        finally:
            conn.close()
        out.append({"file": str(p), "ok": rep.ok, "records": rep.records, "problem": rep.problem,
                    "at_seq": rep.at_seq, "head": rep.head})
    return out


def inspect_all(paths: Paths) -> list[dict[str, Any]]:
    """Size, journal mode, quick_check, migrations and row counts of each state file."""
    out = []
    for p in _state_files(paths):
        conn = connect(p, readonly=True)
        try:
            db = sqlite_utils.Database(conn)
            names = db.table_names()
            migrations = ([r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
                          if "_migrations" in names else [])
            out.append({
                "file": str(p),
                "bytes": p.stat().st_size,
                "journal_mode": db.journal_mode,
                "check": conn.execute("PRAGMA quick_check").fetchone()[0],
                "migrations": migrations,
                "tables": {t: db.table(t).count for t in names if not t.startswith(("_", "sqlite_"))},
            })
        finally:
            conn.close()
    return out
