"""``station.db``: what the whole station shares (ARCHITECTURE.md "Files on the device").

Holds the loaded package's record (for rollback refusal), the polls state and
its history, the commission members' PIN hashes, the identification summary's
counts at the close (station/identify_summary.py), and its own audit log.
Voters live in ``identify.db``; tallies in ``count.db``; nothing here links them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from base.sqlite import Migration, open_db
from station.events import AUDIT_MIGRATION

MIGRATIONS = [
    AUDIT_MIGRATION,
    Migration("package-v1", """
CREATE TABLE package (
    election_id     TEXT NOT NULL,
    package_version INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    station_id      TEXT NOT NULL,
    loaded_at       TEXT NOT NULL,
    current         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (election_id, package_version)
);
"""),
    Migration("polls-v1", """
CREATE TABLE polls (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    state      TEXT NOT NULL,
    changed_at TEXT NOT NULL
);
CREATE TABLE polls_history (
    seq        INTEGER PRIMARY KEY,
    from_state TEXT NOT NULL,
    action     TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    at         TEXT NOT NULL,
    reason     TEXT
);
"""),
    Migration("commission-v1", """
CREATE TABLE commission_member (
    id       TEXT PRIMARY KEY,
    name     TEXT NOT NULL,
    role     TEXT NOT NULL DEFAULT 'member',
    pin_salt BLOB NOT NULL,
    pin_hash BLOB NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
"""),
    # The identification summary's counts at the close (station/identify_summary.py): the count
    # role's protocol reads them here, as it cannot read identify.db on the appliance.
    Migration("identify-summary-v1", """
CREATE TABLE identify_summary (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    counts       TEXT NOT NULL,
    published_at TEXT NOT NULL
);
"""),
    # The close of polls (polls_history.seq) the published summary counts: after a reopen and a
    # second close, the first close's counts are no counts of the second (station/identify_summary.py).
    Migration("identify-summary-close-v1", """
ALTER TABLE identify_summary ADD COLUMN close_seq INTEGER;
"""),
]


def open_station_db(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    return open_db(path, MIGRATIONS, readonly=readonly)
