"""The zero report: proof, before polls open, that the real tally is empty.

``print_zero_report`` (issue "Counting" item 5; ARCHITECTURE.md invariant 6):

1. polls must be in test mode (the L&A test just ran; polls.py);
2. no voter may be identified yet: where this device holds identify.db the
   caller counts its identifications (``identified``; count/role.py reads the
   file read-only, a count only) and any at all refuses the report with
   PollsError (audited ``zero-report-refused``): the receipts are the control
   of the ballots in the box (DOMAIN.md "Identification at the station"), so
   both start from zero;
3. the real tally is read from count.db (never the test-mode tally) and
   ``counters_zero`` computed from it: every counter of every contest, every
   option and every preference line at zero; if any counter is not zero the
   report is refused (audited ``zero-report-refused`` in count.db) and polls
   stay in test mode;
4. the report is printed (receipt printer when one is given; otherwise the
   simulated printer's PNG + PDF in ``out_dir``), Kyrgyz and Russian;
5. only after a successful print the polls action ``print-zero-report`` is
   applied with ``counters_zero=True`` (station.db), then
   ``zero-report-printed`` is audited in count.db.

A crash between 4 and 5 leaves polls in test mode: the commission prints the
report again (a second paper copy, no harm). A printer out of paper makes the
call return ``printed=False`` with polls unchanged.

Example::

    rep = print_zero_report(store, station_conn, election, out_dir=paths.output_dir, clock=clock)
    rep.counters_zero, rep.files
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from base.clock import SystemClock, iso
from count.paper import save_a4, save_receipt, zero_report_document
from count.store import CountStore
from count.tally import Tally
from station import polls
from station.election import Election
from station.errors import PollsError
from station.events import record
from station.polls import PollsState


@dataclass(frozen=True)
class ZeroReport:
    counters_zero: bool
    printed: bool
    state: str
    files: tuple[str, ...] = ()
    nonzero: tuple[str, ...] = ()
    detail: str = ""
    tally: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"counters_zero": self.counters_zero, "printed": self.printed, "state": self.state,
                "files": list(self.files), "nonzero": list(self.nonzero), "detail": self.detail,
                "tally": self.tally}


def nonzero_counters(tally: Tally) -> list[str]:
    """``contest/line`` of every counter that is not zero (empty list: the report may print)."""
    return [f"{ct.contest}/{line}" for ct in tally.contests for line, n in ct.lines() if n]


def print_zero_report(store: CountStore, station_conn: sqlite3.Connection, election: Election, *,
                      printer=None, out_dir: str | Path | None = None, clock=None,
                      actor: str = "system", device_id: str | None = None,
                      identified: int | None = None) -> ZeroReport:
    """Print the zero report from the real tally and move polls to zero-report-printed.

    ``identified``: the identifications identify.db records, where this device holds it
    (None: the identify role is on another device).
    """
    clock = clock or SystemClock()
    state = polls.current(station_conn)
    if state != PollsState.TEST_MODE:
        record(store.conn, "zero-report-refused", "refused", actor=actor, clock=clock,
               reason=f"polls are {state}")
        raise PollsError(f"the zero report is printed in test mode, after the L&A test; polls are {state}")
    if identified:
        record(store.conn, "zero-report-refused", "refused", actor=actor, clock=clock,
               reason="voters identified", identified=identified)
        raise PollsError(f"identify.db already records {identified} identified voter(s): the zero report"
                         " must show that no voter is identified yet, so polls cannot open")
    tally = store.tally("real")
    nonzero = nonzero_counters(tally)
    if nonzero:
        record(store.conn, "zero-report-refused", "refused", actor=actor, clock=clock,
               reason="counters not zero", counters=len(nonzero))
        return ZeroReport(False, False, str(state), nonzero=tuple(nonzero),
                          detail="the real tally is not empty: polls cannot open", tally=tally.to_json())
    at = iso(clock.now())
    doc = zero_report_document(election, tally, at=at, device_id=device_id)
    files: list[str] = []
    if printer is not None:
        result = printer.print_document(doc)
        if not result.printed:
            return ZeroReport(True, False, str(state), detail=f"printer: {result.status.value} {result.detail}",
                              tally=tally.to_json())
    if out_dir is not None:
        out = Path(out_dir)
        stamp = at.replace(":", "").replace("-", "")
        files.append(str(save_receipt(doc, out / f"zero-report-{stamp}.png")))
        files += [str(p) for p in save_a4(doc, out / f"zero-report-{stamp}-a4")]
    new = polls.apply(station_conn, "print-zero-report", actor=actor, clock=clock, counters_zero=True)
    record(store.conn, "zero-report-printed", actor=actor, clock=clock,
           contests=len(tally.contests), test_sheets=store.sheet_count("test"))
    return ZeroReport(True, True, str(new), tuple(files), tally=tally.to_json())
