"""``count.db``: the count role's file: tallies, sheet records, returned-sheet counters, protocols, its audit log.

Guarantees (ARCHITECTURE.md invariants 1 and 2; issue "Counting" item 6;
docs/secrecy.md says what each one defends against):

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
- **No order in the file.** Sheet records carry no timestamp, no rowid and no
  place that follows the scan order. The sheet table is a deck of *slots*
  dealt before a sheet is counted: records of one fixed size under 16 random
  bytes (``os.urandom``) in a ``WITHOUT ROWID`` table, empty (mode ``none``)
  until a sheet fills one chosen at random. Filling is a same-size update, so
  SQLite rewrites the record where it lies: a record's page and its place in
  the page were fixed when the deck was dealt, not when its sheet was scanned.
  When the deck runs out, or a reading is longer than a slot, it is dealt
  again, twice as large, into a new table: every record moves to a fresh slot
  at random and the old pages are zeroed. Every counter (tally lines,
  returned sheets) exists from the start at zero and is stored as
  ``FIXED + n``, a 6-byte integer at every value, so an increment rewrites its
  cell in place as well: no cell is inserted or moves when a count first
  reaches 1, 2 or 128 (the order of those cells would tell which line was
  voted first).
- **No history in the files.** A write-ahead log frame holds a copy of each
  page a transaction changed, the tally page and a sheet page per sheet, in
  scan order; handed back to the file system it would stay on the disk until
  reused. So the log is never truncated or deleted while it holds such a
  frame: ``forget_order`` (after every sheet, returned ones too) checkpoints
  the log into the file with RESTART (the next writer starts again at the
  log's first frame), then *overwrites every frame the log file holds*, in
  place, with one transaction that rewrites as many pages of random bytes
  (the ``log_pad`` table), and only then empties the log (TRUNCATE). Pages of
  the file itself are overwritten in place by checkpoints; ``secure_delete``
  zeroes every freed cell and page; ``journal_size_limit=-1`` keeps SQLite
  from truncating the log on its own; ``temp_store=MEMORY`` keeps sorts and
  statement journals off the disk. There is no VACUUM (it would write a copy
  of the file through a temporary database and a log as large as the file)
  and no file is renamed. The wal-index (``-shm``) holds page numbers only,
  and after the pad only the pad's. This holds where the file system
  overwrites a file's blocks in place (ext4 with ``data=ordered``, the
  appliance's); a flash translation layer keeps old pages underneath, which
  only encryption of the state partition answers (docs/secrecy.md).
- **Returned sheets are counted, not timed.** ``count_returned`` adds one to
  a counter per (mode, reason); nothing per returned sheet goes to the audit
  log or the journal. ``audit_returns`` records the counters as one
  aggregate (``sheet-returns-counted``); the daemon calls it once polls are
  closed.
- **Modes.** Every tally line, slot and counter has a ``mode``: ``real``
  (polls open) or ``test`` (L&A, polls in test mode). They never mix; the
  zero report and the results protocol read ``real`` only; ``clear_test``
  empties ``test``.

Example::

    store = CountStore.open(paths.count_db, election)
    store.record_sheet(reading, mode="real", pending_digest=digest)
    store.tally("real").contest("district-07").valid
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
from pathlib import Path

from base.sqlite import BUSY_TIMEOUT_MS, Migration, atomic, open_db
from count.ballots.reading import REJECTIONS, ContestOutcome, SheetReading, box_id
from count.ballots.rules import MAX_MARGINAL_ENUMERATED
from count.polls_relay import RELAY_MIGRATION
from count.tally import Tally, add_reading, reading_lines
from station.election import Contest, Election
from station.errors import CountingError
from station.events import AUDIT_MIGRATION, record
from sync.outbox import OUTBOX_SCHEMA

MODES = ("real", "test")
EMPTY = "none"                  # the mode of a slot no sheet fills yet
# Counters are stored as FIXED + n: always SQLite's 6-byte integer (2^31 <= v < 2^47), so their
# cells keep one size and an increment never moves one (module docstring, "No order").
FIXED = 1 << 32
DEFAULT_SLOTS = 256             # the first deck; each new deal doubles it
SLOT_ROUND = 32                 # slot sizes are multiples of this
WAL_HEADER = 32                 # bytes before the first frame of a -wal file
WAL_FRAME_HEADER = 24           # bytes before each frame's page

SHEET_TABLE = """
CREATE TABLE {name} (
    id    BLOB PRIMARY KEY CHECK (length(id) = 16),
    mode  TEXT NOT NULL CHECK (mode IN ('none', 'real', 'test')),
    body  BLOB NOT NULL
) WITHOUT ROWID"""

TALLY_TABLE = """
CREATE TABLE {name} (
    mode     TEXT NOT NULL CHECK (mode IN ('real', 'test')),
    contest  TEXT NOT NULL,
    line     TEXT NOT NULL,
    fixed_n  INTEGER NOT NULL CHECK (fixed_n >= 4294967296),
    PRIMARY KEY (mode, contest, line)
) WITHOUT ROWID"""

RETURNED_TABLE = """
CREATE TABLE returned (
    mode     TEXT NOT NULL CHECK (mode IN ('real', 'test')),
    reason   TEXT NOT NULL,
    fixed_n  INTEGER NOT NULL CHECK (fixed_n >= 4294967296),
    PRIMARY KEY (mode, reason)
) WITHOUT ROWID"""

# Pages of random bytes that overwrite the log's frames (``forget_order``): one row per page.
PAD_TABLE = "CREATE TABLE log_pad (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)"


def _slots_and_fixed_counters(conn: sqlite3.Connection) -> None:
    """count-v2: sheet records into slots, counters fixed-width, returned-sheet counters, the log pad.

    Records keep their content (unpadded here: ``CountStore.open`` deals them into
    equal slots); the fresh ids are random like the old ones.
    """
    conn.execute(SHEET_TABLE.format(name="sheet_v2"))
    for mode, style, outcomes in conn.execute("SELECT mode, ballot_style, outcomes FROM sheet").fetchall():
        conn.execute("INSERT INTO sheet_v2(id, mode, body) VALUES (?, ?, ?)",
                     (os.urandom(16), mode, encode_record(style, json.loads(outcomes))))
    conn.execute("DROP TABLE sheet")
    conn.execute("ALTER TABLE sheet_v2 RENAME TO sheet")
    conn.execute(TALLY_TABLE.format(name="tally_v2"))
    conn.execute("INSERT INTO tally_v2(mode, contest, line, fixed_n) SELECT mode, contest, line, n + ?"
                 " FROM tally", (FIXED,))
    conn.execute("DROP TABLE tally")
    conn.execute("ALTER TABLE tally_v2 RENAME TO tally")
    conn.execute(RETURNED_TABLE)
    conn.execute(PAD_TABLE)


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
    Migration("count-v2", _slots_and_fixed_counters),
]


# --- sheet records: encoding and slot size (pure) ----------------------------

def encode_record(ballot_style: str, outcomes: list[dict]) -> bytes:
    """A sheet record's bytes: its style and outcomes, canonical JSON (padded to the slot by the store)."""
    return json.dumps({"ballot_style": ballot_style, "outcomes": outcomes}, ensure_ascii=False,
                      sort_keys=True, separators=(",", ":")).encode()


def decode_record(body: bytes) -> tuple[str, list[dict]]:
    d = json.loads(bytes(body).rstrip(b"\0"))
    return d["ballot_style"], d["outcomes"]


def _rounded(n: int) -> int:
    return -(-n // SLOT_ROUND) * SLOT_ROUND


def _longest_outcome(contest: Contest) -> dict:
    """An outcome at least as long as any accepted reading of ``contest`` encodes to."""
    options = contest.options() + ["x" * 12]
    numbers = [contest.number_boxes or 99, 999]
    boxes = sorted((box_id(contest.id, o) for o in options + numbers), key=len, reverse=True)
    return ContestOutcome(contest.id, "invalid", "x" * 32, max(options, key=len), max(numbers), max(numbers),
                          tuple(boxes[:1] * MAX_MARGINAL_ENUMERATED)).to_json()


def slot_bytes(election: Election) -> int:
    """The slot size for ``election``: its longest possible record, rounded up.

    A longer record than this (a future reason code, say) is not refused: the deck
    is dealt again with larger slots (``CountStore.record_sheet``).
    """
    return _rounded(max(len(encode_record(s.id, [_longest_outcome(election.contest(c)) for c in s.contests]))
                        for s in election.ballot_styles))


def storage_encrypted(path: str | Path, *, sys_root: str | Path = "/sys") -> bool | None:
    """Whether ``path`` lies on a dm-crypt device (any layer of its block device stack).

    None when that cannot be told (no block device behind it, such as tmpfs; no sysfs).
    The count role warns at start when count.db is on a plain device: on flash, only
    encryption covers the pages the flash translation layer keeps (docs/secrecy.md).
    """
    dev = os.stat(path).st_dev
    block = Path(sys_root) / "dev" / "block" / f"{os.major(dev)}:{os.minor(dev)}"
    if os.major(dev) == 0 or not block.exists():
        return None
    todo, seen = [block.resolve()], set()
    while todo:
        d = todo.pop()
        if d in seen:
            continue
        seen.add(d)
        uuid = d / "dm" / "uuid"
        if uuid.exists() and uuid.read_text().startswith("CRYPT-"):
            return True
        if (d / "slaves").is_dir():
            todo += [x.resolve() for x in (d / "slaves").iterdir()]
    return False


class CountStore:
    """count.db for one election; constructed on an open connection (or ``open``)."""

    def __init__(self, conn: sqlite3.Connection, election: Election, *, clock=None):
        self.conn = conn
        self.election = election
        self.clock = clock

    @classmethod
    def open(cls, path: str | Path, election: Election, *, clock=None,
             slots: int | None = None) -> CountStore:
        """Open (and migrate) count.db; make every counter and a deck of ``slots`` (``DEFAULT_SLOTS``) if missing.

        Also overwrites whatever log a crash left (``forget_order``).
        """
        conn = open_db(path, MIGRATIONS)
        conn.execute("PRAGMA secure_delete=ON")        # freed cells and pages are zeroed, not left behind
        conn.execute("PRAGMA journal_size_limit=-1")   # the log is emptied only after it is overwritten
        conn.execute("PRAGMA temp_store=MEMORY")       # no temporary file ever holds a row
        store = cls(conn, election, clock=clock)
        try:
            store._prepare(slots or DEFAULT_SLOTS)
            store.forget_order()
        except BaseException:
            conn.close()
            raise
        return store

    def __repr__(self) -> str:
        return f"CountStore({self.election.id}, {self.election.station.id})"

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.forget_order()
            except sqlite3.Error:
                pass
            self.conn.close()
            self.conn = None

    def __enter__(self) -> CountStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _prepare(self, slots: int) -> None:
        """Every counter of this election at zero and a deck of equal slots, before any sheet."""
        want = {(m, ct.contest, line) for m in MODES for ct in Tally.empty(self.election).contests
                for line, _ in ct.lines()}
        with atomic(self.conn):
            have = {tuple(r[:3]): r[3] for r in self.conn.execute("SELECT mode, contest, line, fixed_n FROM tally")}
            # Zero lines of another election (a device provisioned again) would not fit this one.
            self.conn.executemany("DELETE FROM tally WHERE mode = ? AND contest = ? AND line = ?",
                                  [k for k, v in have.items() if k not in want and v == FIXED])
            self.conn.executemany("INSERT INTO tally(mode, contest, line, fixed_n) VALUES (?, ?, ?, ?)",
                                  [(*k, FIXED) for k in sorted(want - set(have))])
            self.conn.executemany("INSERT OR IGNORE INTO returned(mode, reason, fixed_n) VALUES (?, ?, ?)",
                                  [(m, r, FIXED) for m in MODES for r in REJECTIONS])
            lo, hi, n = self.conn.execute("SELECT min(length(body)), max(length(body)), count(*) FROM sheet"
                                          ).fetchone()
            size = slot_bytes(self.election)
            if n == 0 or lo != hi or lo < size:
                self._deal(max(slots, 2 * n), max(size, _rounded(hi or 0)))

    # --- the log: no history ----------------------------------------------------

    def forget_order(self, wait_s: float = 0.5) -> bool:
        """Overwrite every frame of the write-ahead log in place, then empty it (module docstring).

        A reader (``count status``, the screens) can hold the log for a moment: each
        checkpoint waits for it up to ``wait_s``; returns False if it stayed busy. Nothing
        is lost then: the frames stay in the log file, never freed, and the next call
        overwrites them all.
        """
        if not self._checkpoint("RESTART", wait_s):
            return False
        frames = self._log_frames()
        if frames:
            try:
                self._pad_log(frames)
            except sqlite3.OperationalError:
                return False            # busy past the busy timeout: the next call pads
        return self._checkpoint("TRUNCATE", wait_s)

    def compact(self) -> bool:
        """At the protocol's signing: the log overwritten and emptied, waiting longer for readers.

        Nothing else is needed: the file's layout never followed the scan order
        (module docstring), so it is not rewritten (no VACUUM). False if a reader held
        the log all along: its frames stay in it, never freed, until ``close``.
        """
        return self.forget_order(wait_s=10)

    def _checkpoint(self, mode: str, wait_s: float) -> bool:
        """One checkpoint; RESTART and TRUNCATE wait for readers through the busy handler, here
        for ``wait_s`` only (the connection's own timeout is for writers)."""
        self.conn.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
        try:
            return not self.conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0]
        finally:
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    @property
    def path(self) -> Path:
        """The database file."""
        return Path(next(r[2] for r in self.conn.execute("PRAGMA database_list") if r[1] == "main"))

    def _log_file(self) -> Path:
        return self.path.with_name(self.path.name + "-wal")

    def _log_frames(self) -> int:
        """How many frames the log file can hold (its size, torn tail included)."""
        try:
            size = self._log_file().stat().st_size
        except FileNotFoundError:
            return 0
        page = self.conn.execute("PRAGMA page_size").fetchone()[0]
        return max(0, math.ceil((size - WAL_HEADER) / (page + WAL_FRAME_HEADER)))

    def _pad_log(self, frames: int) -> None:
        """One transaction that changes ``frames`` pages of random bytes: right after a RESTART
        checkpoint it writes the log from its first frame, over every frame it held."""
        page = self.conn.execute("PRAGMA page_size").fetchone()[0]
        size = page * 3 // 4            # one row per page: two never fit together, and no overflow page
        with atomic(self.conn):
            have = self.conn.execute("SELECT count(*) FROM log_pad").fetchone()[0]
            self.conn.executemany("UPDATE log_pad SET pad = ? WHERE id = ?",
                                  [(os.urandom(size), i) for i in range(1, min(have, frames) + 1)])
            self.conn.executemany("INSERT INTO log_pad(id, pad) VALUES (?, ?)",
                                  [(i, os.urandom(size)) for i in range(have + 1, frames + 1)])

    # --- sheets ------------------------------------------------------------

    def record_sheet(self, reading: SheetReading, *, mode: str, pending_digest: str | None = None) -> None:
        """Count one accepted sheet: tally increments + sheet record (+ pending accept), one transaction.

        Raises CountingError (nothing written) for a reading the tally cannot take.
        """
        if mode not in MODES:
            raise CountingError(f"unknown count mode {mode!r}")
        delta = reading_lines(self.election, reading)
        body = encode_record(reading.ballot_style, [o.to_json() for o in reading.outcomes])
        with atomic(self.conn):
            for contest, lines in delta.items():
                for line, n in lines.items():
                    cur = self.conn.execute(
                        "UPDATE tally SET fixed_n = fixed_n + ? WHERE mode = ? AND contest = ? AND line = ?",
                        (n, mode, contest, line))
                    if cur.rowcount != 1:
                        raise CountingError(f"{contest}: count.db has no tally line {line!r}")
            if not self._fill(mode, body):
                lo, n = self.conn.execute("SELECT min(length(body)), count(*) FROM sheet").fetchone()
                self._deal(2 * n, max(lo, _rounded(len(body))))
                if not self._fill(mode, body):
                    raise CountingError("no empty slot after a new deal")
            if pending_digest is not None:
                self.conn.execute("INSERT INTO pending_accept(id, digest) VALUES (1, ?)"
                                  " ON CONFLICT(id) DO UPDATE SET digest = excluded.digest",
                                  (pending_digest,))
        if pending_digest is None:
            self.forget_order()         # else after the accept, in clear_pending

    def _fill(self, mode: str, body: bytes) -> bool:
        """Put ``body`` into an empty slot drawn uniformly; False if none is empty or it is too long.

        Uniformly, not "the next empty one after a random key": that would fill runs of
        neighbouring slots in key order, and key order is the order of cells in pages the deal
        rebuilt, so records counted later would tend to lie lower in their page.
        """
        size = self.conn.execute("SELECT length(body) FROM sheet LIMIT 1").fetchone()
        if size is None or len(body) > size[0]:
            return False
        empty = self.conn.execute("SELECT count(*) FROM sheet WHERE mode = 'none'").fetchone()[0]
        if empty == 0:
            return False
        pick = int.from_bytes(os.urandom(8), "big") % empty      # bias below 2^-40 at any deck size
        row = self.conn.execute("SELECT id FROM sheet WHERE mode = 'none' ORDER BY id LIMIT 1 OFFSET ?",
                                (pick,)).fetchone()
        self.conn.execute("UPDATE sheet SET mode = ?, body = ? WHERE id = ?",
                          (mode, body.ljust(size[0], b"\0"), row[0]))
        return True

    def _deal(self, slots: int, size: int) -> None:
        """A new deck of ``slots`` empty slots of ``size`` bytes, every record moved to a random one.

        Inside the caller's transaction. The old table's pages are zeroed as they are
        freed (secure_delete); the new slots are made in the order of their random keys'
        drawing, each record in one drawn uniformly, so no page of the new deck says which
        records were there before or in what order they came.
        """
        records = self.conn.execute("SELECT mode, body FROM sheet WHERE mode != 'none'").fetchall()
        slots = max(slots, 2 * len(records), 1)
        if any(len(bytes(b).rstrip(b"\0")) > size for _, b in records):
            raise CountingError("a record does not fit the new deck")   # cannot happen: sizes only grow
        # Each record goes to a slot drawn uniformly, like a sheet filling one (``_fill``).
        where = dict(zip(random.SystemRandom().sample(range(slots), len(records)), records, strict=True))
        empty = (EMPTY, bytes(size))
        self.conn.execute("DROP TABLE sheet")
        self.conn.execute(SHEET_TABLE.format(name="sheet"))
        self.conn.executemany("INSERT INTO sheet(id, mode, body) VALUES (?, ?, ?)",
                              [(os.urandom(16), m, bytes(b).rstrip(b"\0").ljust(size, b"\0"))
                               for m, b in (where.get(i, empty) for i in range(slots))])

    def pending(self) -> str | None:
        """The digest of a counted sheet whose accept was not confirmed, if any."""
        row = self.conn.execute("SELECT digest FROM pending_accept WHERE id = 1").fetchone()
        return row[0] if row else None

    def clear_pending(self) -> None:
        self.conn.execute("DELETE FROM pending_accept")
        self.forget_order()

    # --- returned sheets: counted, not timed -------------------------------------

    def count_returned(self, reason: str, mode: str) -> None:
        """One more returned sheet for ``reason``: a counter, no record of the sheet itself."""
        if mode not in MODES:
            raise CountingError(f"unknown count mode {mode!r}")
        with atomic(self.conn):
            self.conn.execute("INSERT INTO returned(mode, reason, fixed_n) VALUES (?, ?, ?)"
                              " ON CONFLICT(mode, reason) DO UPDATE SET fixed_n = fixed_n + 1",
                              (mode, reason, FIXED + 1))
        self.forget_order()

    def returned(self, mode: str = "real") -> dict[str, int]:
        """Returned sheets per reason (reasons with none left out)."""
        return {r: n for r, n in self.conn.execute(
            "SELECT reason, fixed_n - ? FROM returned WHERE mode = ? ORDER BY reason", (FIXED, mode)) if n}

    def returned_total(self, mode: str | None = None) -> int:
        """Returned sheets in ``mode`` (both modes when None)."""
        modes = MODES if mode is None else (mode,)
        return sum(sum(self.returned(m).values()) for m in modes)

    def audit_returns(self, *, actor: str = "system") -> bool:
        """Record the returned-sheet counters as one ``sheet-returns-counted`` aggregate.

        Only when they changed since the last such record (the daemon calls it at every
        turn once polls are closed). Returns True when a record was written.
        """
        if not self._returns_changed():
            return False
        with atomic(self.conn):
            if not self._returns_changed():     # again under the write lock
                return False
            record(self.conn, "sheet-returns-counted", actor=actor, clock=self.clock,
                   returned={m: self.returned(m) for m in MODES})
        return True

    def _returns_changed(self) -> bool:
        counts = {m: self.returned(m) for m in MODES}
        last = self.conn.execute("SELECT details FROM audit_log WHERE event = 'sheet-returns-counted'"
                                 " ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:
            return any(counts.values())
        return json.loads(last[0]).get("returned") != counts

    # --- tallies -----------------------------------------------------------

    def tally(self, mode: str = "real") -> Tally:
        rows = self.conn.execute("SELECT contest, line, fixed_n - ? FROM tally WHERE mode = ?",
                                 (FIXED, mode)).fetchall()
        return Tally.empty(self.election).with_lines((r[0], r[1], r[2]) for r in rows)

    def sheet_count(self, mode: str = "real") -> int:
        return self.conn.execute("SELECT count(*) FROM sheet WHERE mode = ?", (mode,)).fetchone()[0]

    def recount(self, mode: str = "real") -> Tally:
        """The tally recomputed from the stored sheet records (audit: must equal ``tally``)."""

        t = Tally.empty(self.election)
        for (body,) in self.conn.execute("SELECT body FROM sheet WHERE mode = ? ORDER BY id", (mode,)):
            style, outcomes = decode_record(body)
            outs = tuple(ContestOutcome(**{**o, "marginal": tuple(o["marginal"])}) for o in outcomes)
            reading = SheetReading.accepted_with(outs, election=self.election.id,
                                                 station=self.election.station.id, ballot_style=style)
            t = add_reading(t, reading)
        return t

    def clear_test(self, *, actor: str = "system") -> int:
        """Empty the test-mode (L&A) tally, slots and returned counters; audited. Returns the sheets removed."""
        with atomic(self.conn):
            n = self.sheet_count("test")
            size = self.conn.execute("SELECT length(body) FROM sheet LIMIT 1").fetchone()[0]
            self.conn.execute("UPDATE tally SET fixed_n = ? WHERE mode = 'test'", (FIXED,))
            self.conn.execute("UPDATE returned SET fixed_n = ? WHERE mode = 'test'", (FIXED,))
            self.conn.execute("UPDATE sheet SET mode = 'none', body = ? WHERE mode = 'test'", (bytes(size),))
            record(self.conn, "test-tally-cleared", actor=actor, clock=self.clock, sheets=n)
        self.forget_order()
        return n
