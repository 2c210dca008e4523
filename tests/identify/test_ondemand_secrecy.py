"""Secrecy of ballots printed on demand: nothing joins a voter's receipt to a sheet or a print record.

docs/remote-voting.md "Ballots printed on demand" argues it as docs/secrecy.md does for the
ballot box: the attacker holds the identification receipts (who, when, receipt number, which
contests) and everything the printing leaves (identify.db, the printer's job list, every
printed sheet, the count role's reading of it). The tests show:

- every sheet of a style is the same pixels and every job of a style the same bytes and
  attributes, so a sheet or a job says its style and nothing else;
- two days with the same voters identified in a different order, at different times, leave
  byte-identical print records: the records are a function of how many ballots of each style
  were printed, issued and voided, not of who came when, so they cannot be joined to a receipt
  (beyond its style, which the receipt already says);
- the records' tables have no column that could hold a time, a receipt number, a PIN or an
  order, and the audit log gets nothing per ballot.
"""

from __future__ import annotations

import hashlib
import random
import sqlite3

import pytest
from PIL import Image

from count.ballots.interpret import interpret_file
from drivers.docprinter import ipp
from drivers.docprinter.ipp_printer import IppPrinter
from drivers.docprinter.simulator import DocPrinterSimulator
from identify.ondemand import OnDemandBallots, PrintState
from identify.store import open_identify_db

D, P = "bs-district-07", "bs-party-list"
# The day's voters: (receipt number, local time, PIN, styles) as the receipts say them,
# and what happened to their ballots (a voter who left before taking one; a jam).
VOTERS = [
    (1, "08:05", "10101199000001", [D, P], "issue"),
    (2, "08:17", "20202198500002", [D, P], "issue"),
    (3, "09:40", "10303197000003", [D, P], "left"),
    (4, "10:02", "20404196000004", [P], "issue"),
    (5, "11:30", "10505195000005", [D, P], "jam"),
    (6, "12:45", "20606199900006", [D, P], "issue"),
]


def run_day(root, election, order: list[int]) -> dict:
    """Issue ballots to the voters in ``order``; return everything the printing left."""
    conn = open_identify_db(root / "identify.db")
    with DocPrinterSimulator(root / "paper") as sim, IppPrinter(sim.uri, poll_s=0.01) as printer:
        ballots = OnDemandBallots(conn, election, printer)
        for i in order:
            _, _, _, styles, fate = VOTERS[i]
            if fate == "jam":
                sim.preset = "jam-next-job"
                [first, *rest] = ballots.print_ballots(styles)
                assert first.state is PrintState.VOIDED
                sim.clear()
                results = ballots.print_ballots(styles)
            else:
                results = ballots.print_ballots(styles)
            assert all(r.state is PrintState.ON_PAPER for r in results)
            for style in styles:
                if fate == "left":
                    ballots.void(style, "voter-left")
                else:
                    ballots.issue(style)
        jobs = [r for r in sim.requests if r.code == ipp.OP_PRINT_JOB]
        sheets = [(p.png, p.jammed) for p in sim.printed]
    audit = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    records = {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
               for t in ("ondemand_ballots", "ondemand_voids")}
    pages = conn.execute("SELECT * FROM dbstat WHERE name LIKE 'ondemand%'").fetchall() \
        if _has_dbstat(conn) else None
    conn.close()
    return {"jobs": jobs, "sheets": sheets, "audit": audit,
            "records": {t: [tuple(r) for r in rows] for t, rows in records.items()},
            "pages": [tuple(r) for r in pages] if pages is not None else None}


def _has_dbstat(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1 FROM dbstat LIMIT 1")
        return True
    except sqlite3.OperationalError:
        return False


@pytest.fixture(scope="module")
def two_days(tmp_path_factory, election):
    order = list(range(len(VOTERS)))
    shuffled = order[:]
    random.Random(5).shuffle(shuffled)
    assert shuffled != order
    return (run_day(tmp_path_factory.mktemp("day1"), election, order),
            run_day(tmp_path_factory.mktemp("day2"), election, shuffled))


def _digest(path) -> str:
    return hashlib.sha256(Image.open(path).tobytes()).hexdigest()


def test_every_sheet_of_a_style_is_the_same_pixels(two_days, election):
    day1, day2 = two_days
    by_style: dict[str, set[str]] = {}
    for png, jammed in day1["sheets"] + day2["sheets"]:
        if jammed:
            continue
        style = interpret_file(png, election).ballot_style
        by_style.setdefault(style, set()).add(_digest(png))
    assert {s: len(d) for s, d in by_style.items()} == {D: 1, P: 1}


def test_every_job_of_a_style_is_the_same_bytes_and_attributes(two_days):
    jobs = two_days[0]["jobs"] + two_days[1]["jobs"]
    kinds = {(tuple((a.name, tuple(a.all)) for g in j.groups for a in g.attributes
                    if a.name != "printer-uri"), hashlib.sha256(j.data).hexdigest())
             for j in jobs}
    assert len(kinds) == 2                                    # one per style, whoever it was for
    for attributes, _ in kinds:
        names = dict(attributes)
        assert names["job-name"] == ("ballot",) and names["requesting-user-name"] == ("uchastok",)
        assert not any(n.startswith(("time", "date", "job-originating")) for n in names)


def test_the_records_do_not_depend_on_who_came_when(two_days):
    day1, day2 = two_days
    assert day1["records"] == day2["records"]
    if day1["pages"] is not None:
        assert day1["pages"] == day2["pages"]                 # the same pages, the same bytes used
    printed = {r[0]: r[1:] for r in day1["records"]["ondemand_ballots"]}
    # D: 5 voters + 1 reprint after the jam; P: 6 voters + 0 (the jam stopped at D, before P)
    assert printed == {D: (6, 4, 2, 0), P: (6, 5, 1, 0)}   # printed, issued, voided, pending


def test_no_column_can_hold_a_time_a_receipt_a_pin_or_an_order(tmp_path):
    conn = open_identify_db(tmp_path / "identify.db")
    columns = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
               for t in ("ondemand_ballots", "ondemand_voids")}
    assert columns == {"ondemand_ballots": ["style", "printed", "issued", "voided", "pending"],
                       "ondemand_voids": ["style", "reason", "sheets"]}
    for table in columns:
        with pytest.raises(sqlite3.OperationalError, match="rowid"):
            conn.execute(f"SELECT rowid FROM {table}")       # WITHOUT ROWID: no insertion order
    conn.close()


def test_nothing_is_logged_per_ballot(two_days):
    """A log line has a time: 13 ballots printed, 3 voided, and not one audit record."""
    assert two_days[0]["audit"] == two_days[1]["audit"] == 0
