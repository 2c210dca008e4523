"""Ballots printed on demand at a remote-voting site, and their accounting.

At a remote-voting site (DOMAIN.md "Remote voting") the identification device
prints, after the voter is identified, the ballot of each contest of the voter's
home district. ``OnDemandBallots(conn, election, printer)`` does it:

- ``print_ballots(styles)``: the caller gives the ballot styles (which ones a
  voter gets is decided elsewhere). All are checked first: known to the
  election, one contest each, no style twice, at least one; a bad list raises
  ``OnDemandError`` and changes nothing. Each sheet is
  ``count.ballots.layout.render_sheet`` at 300 dpi on A4, so the count role reads
  it like any other (style code and checksum in the QR), sent to the document
  printer (drivers/docprinter) as one IPP job of one PWG raster page. The raster of
  a style is rendered once and kept: every ballot of a style is the same bytes.
- One ballot at a time, the counters of identify.db (``ondemand_ballots``)
  move in two transactions: before the job is sent, ``printed`` and
  ``pending`` go up (a crash after the sheet came out cannot leave it
  uncounted); after, by the job's outcome:

  ===============================  =========================================
  PRINTED, or pages came out       ``ON_PAPER``: pending until handed over
  jam (stopped or aborted)         ``VOIDED``: the jammed sheet is voided
                                   (reason ``printer-jam``), a new one is
                                   printed on the next request
  not sent, refused, or stopped    ``NOT_PRINTED``: the intent is undone
  before any page                  (printed and pending back down)
  unknown (link lost, no answer)   ``UNCERTAIN``: stays pending; the member
                                   looks in the tray
  ===============================  =========================================

  The first ballot that is not ``ON_PAPER`` ends the request: the styles after
  it are ``NOT_PRINTED`` without being tried.
- ``issue(style)``: a pending sheet handed to the voter. ``void(style,
  reason)``: a pending sheet not taken (``VOID_REASONS``: the voter left, a
  misprint, one found after an interruption) goes into the void envelope with a
  count per style and reason (``ondemand_voids``). ``withdraw(style)``: after
  ``UNCERTAIN``, no sheet came out: printed and pending back down. A call with
  nothing pending for that style raises ``OnDemandError``.

So for every style ``printed = issued + voided + pending`` (a CHECK of the
table), and once nothing is pending ``printed = issued + voided``. ``pending()``
at start says what an interruption left for the commission to settle.

Owed sheets: ``owe(conn, election, contests)``, called in the identification's own
transaction, records that an accepted voter is owed one sheet of each style;
printing one moves the debt into ``pending`` in the same transaction as
``printed`` (a sheet that did not come out, or jammed, is owed again).
``owed()`` at start says which sheets a crash between the identification and
the printer left unprinted; ``forgive`` drops a debt when the voter left.

Secrecy (docs/remote-voting.md "Ballots printed on demand"; ARCHITECTURE.md
invariant 2): the sheet carries the election, the style, the site and a
checksum, nothing of the voter or of the order of issue, and every sheet of a
style is pixel for pixel the same. The records are counters per style and per
void reason: no time, no receipt number, no PIN, no row per ballot, every row
created at zero before the first ballot. Nothing is logged per ballot (a log
line has a time); ``record_totals`` writes the counters to the audit log once,
at the close of polls (``ondemand-ballots-counted``).

Example::

    ballots = OnDemandBallots(conn, election, IppPrinter(uri))
    for p in ballots.print_ballots(["bs-district-07"]):
        if p.state is PrintState.ON_PAPER:
            ballots.issue(p.style)            # handed to the voter
"""

from __future__ import annotations

import enum
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from base.sqlite import atomic
from count.ballots.layout import render_sheet, sheet_geometry
from drivers.docprinter.base import A4, DocPrinterStatus, DocumentPrinter, JobOutcome, JobResult
from drivers.docprinter.raster import RasterPage, encode_pages
from identify.eligibility import ballot_styles
from station.election import Election
from station.errors import IdentificationError, PackageError
from station.events import record

DPI = 300
JOB_NAME = "ballot"          # the same for every job: the printer's job list names no voter
VOID_REASONS = ("printer-jam", "voter-left", "misprint", "interrupted")


class OnDemandError(IdentificationError):
    """Raised when a ballot cannot be printed or accounted as asked (bad styles, nothing pending)."""


class PrintState(enum.Enum):
    ON_PAPER = "on-paper"
    VOIDED = "voided"
    NOT_PRINTED = "not-printed"
    UNCERTAIN = "uncertain"


@dataclass(frozen=True)
class BallotPrint:
    style: str
    state: PrintState
    result: JobResult | None = None
    detail: str = ""


@dataclass(frozen=True)
class Counters:
    style: str
    printed: int
    issued: int
    voided: int
    pending: int
    voids: dict[str, int] = field(default_factory=dict)


def prepare(conn: sqlite3.Connection, election: Election) -> None:
    """Create every counter at zero (every style, every void reason) before the first ballot."""
    with atomic(conn):
        for style in sorted(s.id for s in election.ballot_styles):
            conn.execute("INSERT OR IGNORE INTO ondemand_ballots(style) VALUES (?)", (style,))
            for reason in VOID_REASONS:
                conn.execute("INSERT OR IGNORE INTO ondemand_voids(style, reason) VALUES (?, ?)",
                             (style, reason))
            conn.execute("INSERT OR IGNORE INTO ondemand_owed(style) VALUES (?)", (style,))


def owe(conn: sqlite3.Connection, election: Election, contests: Sequence[str]) -> None:
    """An accepted voter is owed one sheet of each style of ``contests`` (the outcome's ballots):
    in the caller's transaction (the identification's), so that a crash before the printer
    leaves the debt on record."""
    for style in ballot_styles(election, contests):
        if conn.execute("UPDATE ondemand_owed SET sheets = sheets + 1 WHERE style = ?", (style,)).rowcount != 1:
            raise OnDemandError(f"ballot style {style!r} has no counters")


def owed(conn: sqlite3.Connection) -> dict[str, int]:
    """Sheets accepted voters are owed that have not come out yet, per style."""
    return {row[0]: row[1] for row in conn.execute(
        "SELECT style, sheets FROM ondemand_owed WHERE sheets > 0 ORDER BY style")}


def forgive(conn: sqlite3.Connection, style: str) -> None:
    """The voter owed a sheet of ``style`` left without it: nothing is owed any more."""
    with atomic(conn):
        conn.execute("UPDATE ondemand_owed SET sheets = sheets - 1 WHERE style = ? AND sheets > 0", (style,))


def counters(conn: sqlite3.Connection) -> dict[str, Counters]:
    """The counters of every style."""
    voids: dict[str, dict[str, int]] = {}
    for row in conn.execute("SELECT style, reason, sheets FROM ondemand_voids"):
        voids.setdefault(row[0], {})[row[1]] = row[2]
    return {row[0]: Counters(row[0], row[1], row[2], row[3], row[4], voids.get(row[0], {}))
            for row in conn.execute("SELECT style, printed, issued, voided, pending "
                                    "FROM ondemand_ballots ORDER BY style")}


def pending(conn: sqlite3.Connection) -> dict[str, int]:
    """Styles with sheets printed but neither issued nor voided (after an interruption)."""
    return {row[0]: row[1] for row in conn.execute(
        "SELECT style, pending FROM ondemand_ballots WHERE pending > 0 ORDER BY style")}


def record_totals(conn: sqlite3.Connection, *, actor: str = "system", clock=None) -> int:
    """The counters as one audit record (``ondemand-ballots-counted``), at the close of polls."""
    debts = owed(conn)
    totals = {c.style: {"printed": c.printed, "issued": c.issued, "voided": c.voided,
                        "pending": c.pending, "voids": {r: n for r, n in c.voids.items() if n}}
                       | ({"owed": debts[c.style]} if c.style in debts else {})
              for c in counters(conn).values()}
    return record(conn, "ondemand-ballots-counted", actor=actor, clock=clock, styles=totals)


class OnDemandBallots:
    def __init__(self, conn: sqlite3.Connection, election: Election, printer: DocumentPrinter,
                 *, dpi: int = DPI) -> None:
        self.conn = conn
        self.election = election
        self.printer = printer
        self.dpi = dpi
        self._rasters: dict[str, bytes] = {}
        # One request at a time: the printer prints one sheet at a time anyway.
        self._lock = threading.Lock()
        prepare(conn, election)

    def __repr__(self) -> str:
        return f"<OnDemandBallots {self.election.id} at {self.election.station.id} via {self.printer!r}>"

    # -- printing --------------------------------------------------------------------

    def raster(self, style: str) -> bytes:
        """The PWG raster of a style's sheet (rendered once, then the same bytes every time)."""
        data = self._rasters.get(style)
        if data is None:
            sheet = render_sheet(self.election, style, self.dpi)
            data = encode_pages([RasterPage(sheet, self.dpi)], media=A4)
            self._rasters[style] = data
        return data

    def check_styles(self, styles: Sequence[str]) -> list[str]:
        """The styles as given, or ``OnDemandError`` naming what is wrong."""
        if isinstance(styles, str):
            raise OnDemandError("styles must be a list of ballot style ids, not one string")
        styles = list(styles)
        if not styles:
            raise OnDemandError("no ballot style to print")
        seen: set[str] = set()
        for style in styles:
            if style in seen:
                raise OnDemandError(f"ballot style {style!r} asked twice: one ballot per contest")
            seen.add(style)
            try:
                sheet_geometry(self.election, style)
            except (PackageError, ValueError) as e:
                raise OnDemandError(f"ballot style {style!r}: {e}") from e
        return styles

    def print_ballots(self, styles: Sequence[str]) -> list[BallotPrint]:
        """Print one ballot of each style (see the module docstring for the states)."""
        styles = self.check_styles(styles)
        with self._lock:
            results: list[BallotPrint] = []
            for i, style in enumerate(styles):
                printed = self._print_one(style)
                results.append(printed)
                if printed.state is not PrintState.ON_PAPER:
                    results += [BallotPrint(s, PrintState.NOT_PRINTED,
                                            detail=f"not tried: the {style} ballot was "
                                                   f"{printed.state.value}")
                                for s in styles[i + 1:]]
                    break
            return results

    def _print_one(self, style: str) -> BallotPrint:
        data = self.raster(style)
        with atomic(self.conn):
            self._move(style, printed=+1, pending=+1)
            # the sheet a voter is owed (``owe``) is on its way: the debt moves to ``pending``
            took = self.conn.execute("UPDATE ondemand_owed SET sheets = sheets - 1"
                                     " WHERE style = ? AND sheets > 0", (style,)).rowcount == 1
        result = self.printer.print_raster(data, media=A4, job_name=JOB_NAME)
        state = _state_of(result)
        if state in (PrintState.NOT_PRINTED, PrintState.VOIDED):
            with atomic(self.conn):
                if state is PrintState.NOT_PRINTED:
                    self._move(style, printed=-1, pending=-1)
                else:
                    self._void(style, "printer-jam")
                if took:                       # no sheet reached the voter: still owed
                    self.conn.execute("UPDATE ondemand_owed SET sheets = sheets + 1 WHERE style = ?", (style,))
        return BallotPrint(style, state, result, result.detail)

    # -- after printing ----------------------------------------------------------------

    def issue(self, style: str) -> None:
        """A printed sheet was handed to the voter."""
        with atomic(self.conn):
            self._need_pending(style)
            self._move(style, pending=-1, issued=+1)

    def void(self, style: str, reason: str) -> None:
        """A printed sheet was not taken: it goes into the void envelope."""
        if reason not in VOID_REASONS:
            raise OnDemandError(f"void reason {reason!r}: one of {', '.join(VOID_REASONS)}")
        with atomic(self.conn):
            self._need_pending(style)
            self._void(style, reason)

    def withdraw(self, style: str) -> None:
        """After an uncertain job, no sheet came out: the print is undone."""
        with atomic(self.conn):
            self._need_pending(style)
            self._move(style, printed=-1, pending=-1)

    def counters(self) -> dict[str, Counters]:
        return counters(self.conn)

    def pending(self) -> dict[str, int]:
        return pending(self.conn)

    def owed(self) -> dict[str, int]:
        return owed(self.conn)

    # -- the counters ---------------------------------------------------------------------

    def _need_pending(self, style: str) -> None:
        row = self.conn.execute("SELECT pending FROM ondemand_ballots WHERE style = ?",
                                (style,)).fetchone()
        if row is None:
            raise OnDemandError(f"ballot style {style!r} is not one of this election's")
        if row[0] < 1:
            raise OnDemandError(f"no {style} ballot is waiting to be issued or voided")

    def _void(self, style: str, reason: str) -> None:
        self._move(style, pending=-1, voided=+1)
        self.conn.execute("UPDATE ondemand_voids SET sheets = sheets + 1 "
                          "WHERE style = ? AND reason = ?", (style, reason))

    def _move(self, style: str, **delta: int) -> None:
        sets = ", ".join(f"{column} = {column} + ?" for column in delta)
        cur = self.conn.execute(f"UPDATE ondemand_ballots SET {sets} WHERE style = ?",
                                (*delta.values(), style))
        if cur.rowcount != 1:
            raise OnDemandError(f"ballot style {style!r} has no counters")


def _state_of(result: JobResult) -> PrintState:
    jammed = result.status is DocPrinterStatus.MEDIA_JAM
    if result.outcome is JobOutcome.PRINTED:
        return PrintState.ON_PAPER
    if result.outcome in (JobOutcome.NOT_SENT, JobOutcome.REFUSED):
        return PrintState.NOT_PRINTED
    if result.outcome in (JobOutcome.STOPPED, JobOutcome.ABORTED):
        if jammed:
            return PrintState.VOIDED
        return PrintState.ON_PAPER if result.impressions >= 1 else PrintState.NOT_PRINTED
    return PrintState.UNCERTAIN
