"""``count.db``: the count role's file: tallies, sheet records, protocols, its audit log.

Guarantees (ARCHITECTURE.md invariants 1 and 2; issue "Counting" item 6):

- **One transaction per sheet.** ``record_sheet`` adds the sheet's increments
  to the tally and stores its interpretation (the ``SheetReading`` outcomes) in
  one ``BEGIN IMMEDIATE`` transaction: both or neither survive a crash.
- **Commit, then accept.** The daemon commits first and only then tells the
  scanner to drop the sheet into the box. A sheet in the box is therefore
  always counted. A crash after the commit but before the accept would leave a
  counted sheet in the scanner, to be fed again on restart; so the same
  transaction records a *pending accept* (the digest of the image the scanner
  delivered). On restart, a sheet whose image has that digest is the one in
  flight: it is accepted without being counted again, and only then is the
  marker cleared; any other sheet means the accept had happened, and the
  marker is cleared. (Two scans of different paper are never byte-identical.)
  Paper itself cannot be identified, so this marker is the only link, and it
  lives only between commit and accept.
- **Secrecy.** Sheet records carry no timestamp and no order that follows the
  scan order: the key is 16 random bytes (``os.urandom``) in a ``WITHOUT
  ROWID`` table, so storage order is random; there is no AUTOINCREMENT, no
  rowid. Nothing about voters is in this file, and no per-sheet content goes
  to the audit log. The write-ahead log would otherwise keep a copy of the
  tally page per sheet, in scan order, until a checkpoint (and scan order
  follows the order voters were identified): so ``forget_order`` truncates it
  after every sheet, ``secure_delete`` zeroes freed content, and ``compact``
  (at the protocol's signing and at close) rewrites the file in key order, so
  no page keeps rows in the order they were inserted.
- **Modes.** Every tally row and sheet record has a ``mode``: ``real`` (polls
  open) or ``test`` (L&A, polls in test mode). They never mix; the zero report
  and the results protocol read ``real`` only; ``clear_test`` empties ``test``.

Example::

    store = CountStore.open(paths.count_db, election)
    store.record_sheet(reading, mode="real", pending_digest=digest)
    store.tally("real").contest("district-07").valid
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

from base.sqlite import Migration, atomic, open_db
from count.ballots.reading import ContestOutcome, SheetReading
from count.polls_relay import RELAY_MIGRATION
from count.tally import Tally, add_reading, reading_lines
from station.election import Election
from station.errors import CountingError
from station.events import AUDIT_MIGRATION, record
from sync.outbox import OUTBOX_SCHEMA

MODES = ("real", "test")

MIGRATIONS = [
    AUDIT_MIGRATION,
    Migration("count-v1", """
CREATE TABLE tally (
    mode    TEXT NOT NULL CHECK (mode IN ('real', 'test')),
    contest TEXT NOT NULL,
    line    TEXT NOT NULL,
    n       INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (mode, contest, line)
) WITHOUT ROWID;
CREATE TABLE sheet (
    id           BLOB PRIMARY KEY CHECK (length(id) = 16),
    mode         TEXT NOT NULL CHECK (mode IN ('real', 'test')),
    ballot_style TEXT NOT NULL,
    outcomes     TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE pending_accept (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    digest TEXT NOT NULL
);
CREATE TABLE protocol (
    revision   INTEGER PRIMARY KEY,
    tally_hash TEXT NOT NULL,
    body       TEXT NOT NULL,
    hash       TEXT NOT NULL,
    document   TEXT NOT NULL,
    outbox_seq INTEGER,
    signed_at  TEXT NOT NULL
);
"""),
    Migration("outbox-v1", OUTBOX_SCHEMA),    # stream "count": results protocols (sync/outbox.py)
    RELAY_MIGRATION,                          # polls events relayed from station.db (count/polls_relay.py)
]


class CountStore:
    """count.db for one election; constructed on an open connection (or ``open``)."""

    def __init__(self, conn: sqlite3.Connection, election: Election, *, clock=None):
        self.conn = conn
        self.election = election
        self.clock = clock

    @classmethod
    def open(cls, path: str | Path, election: Election, *, clock=None) -> CountStore:
        conn = open_db(path, MIGRATIONS)
        conn.execute("PRAGMA secure_delete=ON")       # freed cells are zeroed, not left behind
        conn.execute("PRAGMA journal_size_limit=0")   # the -wal file never keeps old frames past a reset
        return cls(conn, election, clock=clock)

    def __repr__(self) -> str:
        return f"CountStore({self.election.id}, {self.election.station.id})"

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.compact()
            except sqlite3.Error:
                pass
            self.conn.close()
            self.conn = None

    def forget_order(self, attempts: int = 50) -> bool:
        """Checkpoint and truncate the write-ahead log, so it holds no history of sheets.

        A reader (the uploader, ``count status``) can hold the log for a moment: retried; returns
        False if it stayed busy (the next sheet's call truncates it then).
        """
        for _ in range(attempts):
            busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if not busy:
                return True
            time.sleep(0.01)
        return False

    def compact(self) -> None:
        """Rewrite the file in key order (VACUUM) and truncate the log: no insertion order survives."""
        self.conn.execute("VACUUM")
        self.forget_order()

    def __enter__(self) -> CountStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sheets ------------------------------------------------------------

    def record_sheet(self, reading: SheetReading, *, mode: str, pending_digest: str | None = None) -> None:
        """Count one accepted sheet: tally increments + sheet record (+ pending accept), one transaction.

        Raises CountingError (nothing written) for a reading the tally cannot take.
        """
        if mode not in MODES:
            raise CountingError(f"unknown count mode {mode!r}")
        delta = reading_lines(self.election, reading)
        outcomes = json.dumps([o.to_json() for o in reading.outcomes], ensure_ascii=False,
                              sort_keys=True, separators=(",", ":"))
        with atomic(self.conn):
            for contest, lines in delta.items():
                self.conn.executemany(
                    "INSERT INTO tally(mode, contest, line, n) VALUES (?,?,?,?)"
                    " ON CONFLICT(mode, contest, line) DO UPDATE SET n = n + excluded.n",
                    [(mode, contest, line, n) for line, n in lines.items()])
            self.conn.execute("INSERT INTO sheet(id, mode, ballot_style, outcomes) VALUES (?,?,?,?)",
                              (os.urandom(16), mode, reading.ballot_style, outcomes))
            if pending_digest is not None:
                self.conn.execute("INSERT INTO pending_accept(id, digest) VALUES (1, ?)"
                                  " ON CONFLICT(id) DO UPDATE SET digest = excluded.digest",
                                  (pending_digest,))
        if pending_digest is None:
            self.forget_order()         # else after the accept, in clear_pending

    def pending(self) -> str | None:
        """The digest of a counted sheet whose accept was not confirmed, if any."""
        row = self.conn.execute("SELECT digest FROM pending_accept WHERE id = 1").fetchone()
        return row[0] if row else None

    def clear_pending(self) -> None:
        self.conn.execute("DELETE FROM pending_accept")
        self.forget_order()

    # --- tallies -----------------------------------------------------------

    def tally(self, mode: str = "real") -> Tally:
        rows = self.conn.execute("SELECT contest, line, n FROM tally WHERE mode = ?", (mode,)).fetchall()
        return Tally.empty(self.election).with_lines((r[0], r[1], r[2]) for r in rows)

    def sheet_count(self, mode: str = "real") -> int:
        return self.conn.execute("SELECT count(*) FROM sheet WHERE mode = ?", (mode,)).fetchone()[0]

    def recount(self, mode: str = "real") -> Tally:
        """The tally recomputed from the stored sheet records (audit: must equal ``tally``)."""

        t = Tally.empty(self.election)
        for style, outcomes in self.conn.execute(
                "SELECT ballot_style, outcomes FROM sheet WHERE mode = ? ORDER BY id", (mode,)):
            outs = tuple(ContestOutcome(**{**o, "marginal": tuple(o["marginal"])})
                         for o in json.loads(outcomes))
            reading = SheetReading.accepted_with(outs, election=self.election.id,
                                                 station=self.election.station.id, ballot_style=style)
            t = add_reading(t, reading)
        return t

    def clear_test(self, *, actor: str = "system") -> int:
        """Empty the test-mode (L&A) tally and sheets; audited. Returns the sheets removed."""
        with atomic(self.conn):
            n = self.sheet_count("test")
            self.conn.execute("DELETE FROM tally WHERE mode = 'test'")
            self.conn.execute("DELETE FROM sheet WHERE mode = 'test'")
            record(self.conn, "test-tally-cleared", actor=actor, clock=self.clock, sheets=n)
        return n
