"""On-demand ballot counters in the close-of-polls identification summary (issue #14 point 4:
"the count of ballots printed equals ballots issued plus voided", reported upstream).

identify/receipts.py: at a site that printed ballots on demand the summary body carries
``ondemand`` (per ballot style printed, issued, voided, pending, voids by reason: counters only,
no time, no row per ballot), its paper prints them per style, and ``enqueue_summary`` writes the
counters' audit record (``ondemand-ballots-counted``) in the summary's own transaction. A station
that printed none sends the summary it always sent. The printer is the simulated IPP printer
driven by the real driver (as tests/identify/test_ondemand.py).
"""

from __future__ import annotations

import json

import pytest

from base.clock import FixedClock
from base.sqlite import atomic
from drivers.docprinter.ipp_printer import IppPrinter
from drivers.docprinter.simulator import DocPrinterSimulator
from identify.ondemand import OnDemandBallots
from identify.receipts import enqueue_summary, summary_body, summary_document
from identify.store import open_identify_db
from sync import signing
from sync.device import DeviceSigner
from sync.errors import OutboxFullError
from sync.outbox import Outbox

D, P = "bs-district-07", "bs-party-list"
CLOCK = FixedClock("2026-11-29T14:00:00+00:00")


def outbox(conn, election, cap: int = 100_000) -> Outbox:
    signer = DeviceSigner(signing.generate_key(), "dev-x", "0" * 64, election.id, election.station.id, CLOCK)
    return Outbox(conn, signer, "identify", cap=cap)


def queued(conn) -> list[tuple[str, dict]]:
    return [(r[0], json.loads(bytes(r[1]))["body"])
            for r in conn.execute("SELECT kind, envelope FROM outbox ORDER BY seq")]


@pytest.fixture
def db(tmp_path):
    conn = open_identify_db(tmp_path / "identify.db")
    yield conn
    conn.close()


@pytest.fixture
def printed(db, election, tmp_path):
    """Three district ballots and one party-list ballot printed: two issued, one voided, one pending."""
    with DocPrinterSimulator(tmp_path / "paper") as sim, IppPrinter(sim.uri, poll_s=0.01) as printer:
        ballots = OnDemandBallots(db, election, printer)
        for styles in ([D, P], [D], [D]):
            assert all(p.state.value == "on-paper" for p in ballots.print_ballots(styles))
    ballots.issue(D)
    ballots.issue(P)
    ballots.void(D, "voter-left")
    return ballots


def audit(db, event):
    return [json.loads(r[0]) for r in db.execute("SELECT details FROM audit_log WHERE event = ?", (event,))]


def test_the_summary_carries_the_counters_per_style(printed, db):
    body = summary_body(db, clock=CLOCK)
    assert body["ondemand"][D] == {"printed": 3, "issued": 1, "voided": 1, "pending": 1,
                                   "voids": {"voter-left": 1}}
    assert body["ondemand"][P] == {"printed": 1, "issued": 1, "voided": 0, "pending": 0, "voids": {}}
    # counters only: no time, no receipt, no order of issue in the section
    assert set(body["ondemand"][D]) == {"printed", "issued", "voided", "pending", "voids"}


def test_enqueue_records_the_totals_once_in_the_summarys_transaction(printed, db, election):
    body = enqueue_summary(db, outbox(db, election), clock=CLOCK)
    assert queued(db) == [("identification-summary", body)]
    [totals] = audit(db, "ondemand-ballots-counted")
    assert totals["styles"][D] == body["ondemand"][D]


def test_a_summary_that_cannot_be_queued_records_no_totals(printed, db, election):
    full = outbox(db, election, cap=1)
    with atomic(db):
        full.enqueue("polls-event", {"event": "closed", "at": "2026-11-29T14:00:00Z"})
    with pytest.raises(OutboxFullError):
        enqueue_summary(db, full, clock=CLOCK)
    assert [k for k, _ in queued(db)] == ["polls-event"]
    assert audit(db, "ondemand-ballots-counted") == [] and audit(db, "identification-summary-sent") == []


def test_the_printed_summary_shows_printed_issued_voided_per_style(printed, db, election):
    doc = summary_document(election, summary_body(db, clock=CLOCK))
    lines = [getattr(b, "text", "") or f"{b.key}: {b.value}" for b in doc.blocks if hasattr(b, "text")
             or hasattr(b, "key")]
    joined = "\n".join(lines)
    assert "Бюллетени, напечатанные по запросу" in joined
    title = election.contest("district-07").title
    at = lines.index(f"{title.ky} / {title.ru}")
    assert lines[at + 1:at + 5] == ["  басылды / напечатано: 3", "  берилди / выдано: 1",
                                    "  жокко чыгарылды / погашено: 1", "  чечиле элек / не решено: 1"]


def test_a_station_that_printed_nothing_sends_the_summary_it_always_sent(db, election, tmp_path):
    with DocPrinterSimulator(tmp_path / "paper") as sim, IppPrinter(sim.uri, poll_s=0.01) as printer:
        OnDemandBallots(db, election, printer)            # counters at zero, nothing printed
    body = enqueue_summary(db, outbox(db, election), clock=CLOCK)
    assert set(body) == {"voters_on_list", "identified", "by_method", "manual_by_reason", "at"}
    assert audit(db, "ondemand-ballots-counted") == []
    assert "по запросу" not in str(summary_document(election, body).blocks)
