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

# Online claims (identify/claims.py; docs/remote-voting.md "Online claims", "Offline fallback"):
# one row per claim, keyed by the receipt number it reserves (the identification it allows takes
# that number; a refused claim's number is never issued, so receipt numbers are gap-free over
# receipts and claims together). ``document`` is the signed claim as last sent (re-sent as is
# after a crash: same receipt, same decision); ``answer`` the centre's signed answer once one
# verified. The CHECK is the rule "nothing issued without a granted answer or a provisional
# decision": an identification is tied to a claim only when the centre granted it, a member
# decided to issue provisionally, or the station does not wait for answers (a home station
# without a link, whose receipts are the later check: ``resend`` 0).
CLAIM_SCHEMA = """
CREATE TABLE claim (
    receipt         INTEGER PRIMARY KEY CHECK (receipt > 0),
    pin             TEXT NOT NULL,
    table_id        TEXT NOT NULL,
    claimed_at      TEXT NOT NULL,
    document        TEXT NOT NULL,
    resend          INTEGER NOT NULL CHECK (resend IN (0, 1)),
    decision        TEXT CHECK (decision IN ('granted', 'refused')),
    reason          TEXT,
    first_station   TEXT,
    first_at        TEXT,
    first_receipt   TEXT,
    answer          TEXT,
    answered_at     TEXT,
    provisional_member TEXT,
    identification  INTEGER UNIQUE REFERENCES identification(seq),
    sends           INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    CHECK ((decision IS NULL) = (answer IS NULL)),
    CHECK (identification IS NULL OR decision = 'granted' OR provisional_member IS NOT NULL
           OR (decision IS NULL AND resend = 0))
);
CREATE INDEX claim_by_pin ON claim(pin);
CREATE INDEX claim_unanswered ON claim(receipt) WHERE decision IS NULL AND resend = 1;
"""


MIGRATIONS = [
    AUDIT_MIGRATION,
    Migration("voter-list-v1", VOTER_SCHEMA + VOTER_INDEXES),
    Migration("identification-v1", IDENTIFICATION_SCHEMA),
    Migration("outbox-v1", OUTBOX_SCHEMA),
    Migration("ondemand-v1", ONDEMAND_SCHEMA),
    Migration("claims-v1", CLAIM_SCHEMA),
    # A remote-voting site's national list (identify/voters.py NATIONAL_COLUMNS): each voter's home
    # station and district, beside the voter row (a regular station's list has none).
    Migration("voter-home-v1", "CREATE TABLE voter_home (pin TEXT PRIMARY KEY REFERENCES voter(pin),"
                               " home_station TEXT NOT NULL, home_district TEXT NOT NULL) WITHOUT ROWID;"),
    # Ballots printed on demand that accepted voters are owed and that have not come out yet
    # (identify/ondemand.py ``owe``): raised in the identification's own transaction, lowered as
    # each sheet is printed, so a crash between the two leaves the debt, not a voter without
    # ballots. A counter per style, like the others: nothing of a voter, no time, no order.
    Migration("ondemand-owed-v1", "CREATE TABLE ondemand_owed (style TEXT PRIMARY KEY"
                                  " REFERENCES ondemand_ballots(style),"
                                  " sheets INTEGER NOT NULL DEFAULT 0 CHECK (sheets >= 0)) WITHOUT ROWID;"),
]


def open_identify_db(path: str | Path, *, readonly: bool = False, migrations=None) -> sqlite3.Connection:
    return open_db(path, migrations or MIGRATIONS, readonly=readonly)
