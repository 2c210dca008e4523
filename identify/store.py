"""``identify.db``: the identify role's file (voter list, templates, identifications, outbox).

Nothing about votes ever lands here (ARCHITECTURE.md invariant 2). Of ballots,
only the counters of ballots printed on demand at a remote-voting site
(identify/ondemand.py): per ballot style, never a row per ballot, no time.
Further migrations (identifications, receipts, outbox) are appended by the
identification module, never inserted before existing ones.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from base.sqlite import Migration, open_db
from station.events import AUDIT_MIGRATION
from sync.outbox import OUTBOX_SCHEMA

VOTER_SCHEMA = """
CREATE TABLE voter (
    pin              TEXT PRIMARY KEY,
    document_number  TEXT NOT NULL,
    surname          TEXT NOT NULL,
    name             TEXT NOT NULL,
    patronymic       TEXT NOT NULL,
    birth_date       TEXT NOT NULL,
    sex              TEXT NOT NULL,
    district         TEXT,
    registered_since TEXT,
    overseas         INTEGER NOT NULL,
    remote           INTEGER NOT NULL
);
CREATE TABLE template (
    pin     TEXT NOT NULL REFERENCES voter(pin),
    finger  INTEGER NOT NULL,
    record  BLOB NOT NULL,
    PRIMARY KEY (pin, finger)
);
CREATE TABLE voter_list (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    election_id     TEXT NOT NULL,
    package_version INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    voters          INTEGER NOT NULL,
    templates       INTEGER NOT NULL
);
"""
# Created after a bulk import (cheaper than maintaining it row by row).
VOTER_INDEXES = "CREATE INDEX IF NOT EXISTS voter_document ON voter(document_number);" \
                "CREATE INDEX IF NOT EXISTS voter_surname ON voter(surname, name);"

# Identifications (identify/identifier.py): ``pin`` UNIQUE is the guarantee that a voter is
# identified at most once, whichever table asks; receipts are numbered gap-free; the print queue
# keeps a receipt until it is on paper.
IDENTIFICATION_SCHEMA = """
CREATE TABLE identification (
    seq             INTEGER PRIMARY KEY,
    pin             TEXT NOT NULL UNIQUE REFERENCES voter(pin),
    method          TEXT NOT NULL CHECK (method IN
                        ('card+finger', 'document+finger', 'finger-search', 'manual')),
    manual_reason   TEXT,
    member          TEXT,
    table_id        TEXT NOT NULL,
    identified_at   TEXT NOT NULL,
    ballots         TEXT NOT NULL,
    match_score     REAL,
    match_threshold REAL,
    match_fmr       REAL,
    CHECK ((method = 'manual') = (manual_reason IS NOT NULL))
);
CREATE TABLE receipt (
    number          INTEGER PRIMARY KEY CHECK (number > 0),
    identification  INTEGER NOT NULL UNIQUE REFERENCES identification(seq),
    code            TEXT NOT NULL,
    issued_at       TEXT NOT NULL
);
CREATE TABLE print_queue (
    receipt     INTEGER PRIMARY KEY REFERENCES receipt(number),
    queued_at   TEXT NOT NULL,
    printed_at  TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_status TEXT
);
CREATE INDEX print_queue_pending ON print_queue(receipt) WHERE printed_at IS NULL;
"""

# Ballots printed on demand (identify/ondemand.py): counters per style and per void reason,
# never a row per ballot and no time (docs/remote-voting.md, "Ballots printed on demand").
# Every row is created at zero for every style and void reason before the first ballot
# (ondemand.prepare), and the tables are keyed by style (WITHOUT ROWID), so neither a row's
# place nor its presence tells which style was printed first.
ONDEMAND_SCHEMA = """
CREATE TABLE ondemand_ballots (
    style    TEXT PRIMARY KEY,
    printed  INTEGER NOT NULL DEFAULT 0 CHECK (printed >= 0),
    issued   INTEGER NOT NULL DEFAULT 0 CHECK (issued >= 0),
    voided   INTEGER NOT NULL DEFAULT 0 CHECK (voided >= 0),
    pending  INTEGER NOT NULL DEFAULT 0 CHECK (pending >= 0),
    CHECK (printed = issued + voided + pending)
) WITHOUT ROWID;
CREATE TABLE ondemand_voids (
    style   TEXT NOT NULL REFERENCES ondemand_ballots(style),
    reason  TEXT NOT NULL,
    sheets  INTEGER NOT NULL DEFAULT 0 CHECK (sheets >= 0),
    PRIMARY KEY (style, reason)
) WITHOUT ROWID;
"""


MIGRATIONS = [
    AUDIT_MIGRATION,
    Migration("voter-list-v1", VOTER_SCHEMA + VOTER_INDEXES),
    Migration("identification-v1", IDENTIFICATION_SCHEMA),
    Migration("outbox-v1", OUTBOX_SCHEMA),
    Migration("ondemand-v1", ONDEMAND_SCHEMA),
    # A remote-voting site's national list (identify/voters.py NATIONAL_COLUMNS): each voter's home
    # station and district, beside the voter row (a regular station's list has none).
    Migration("voter-home-v1", "CREATE TABLE voter_home (pin TEXT PRIMARY KEY REFERENCES voter(pin),"
                               " home_station TEXT NOT NULL, home_district TEXT NOT NULL) WITHOUT ROWID;"),
]


def open_identify_db(path: str | Path, *, readonly: bool = False, migrations=None) -> sqlite3.Connection:
    return open_db(path, migrations or MIGRATIONS, readonly=readonly)
