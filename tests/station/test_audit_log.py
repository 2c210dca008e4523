"""The hash-chained audit log names any edited, deleted or reordered record."""

from pathlib import Path

import pytest

from base.clock import FixedClock
from base.sqlite import open_db
from station import events
from station.errors import StationError


@pytest.fixture
def log(tmp_path):
    conn = open_db(tmp_path / "s.db", [events.AUDIT_MIGRATION])
    clock = FixedClock()
    for i in range(5):
        events.record(conn, "polls-transition", actor="member:1", clock=clock, step=i)
        clock.advance(60)
    return conn


def test_intact_chain_verifies(log):
    rep = events.verify_chain(log)
    assert rep.ok and rep.records == 5


@pytest.mark.parametrize("tamper, seq, words", [
    ("UPDATE audit_log SET actor='member:2' WHERE seq=3", 3, "edited"),
    ("UPDATE audit_log SET details='{}' WHERE seq=5", 5, "edited"),
    ("DELETE FROM audit_log WHERE seq=2", 2, "missing"),
    ("DELETE FROM audit_log WHERE seq=5", None, None),  # a truncated tail is caught by head comparison
    ("UPDATE audit_log SET seq=seq+10 WHERE seq IN (2); UPDATE audit_log SET seq=2 WHERE seq=4;"
     " UPDATE audit_log SET seq=4 WHERE seq=12", 2, "does not follow"),
], ids=["edit-actor", "edit-details", "delete-middle", "delete-last", "reorder"])
def test_tampering_is_named(log, tamper, seq, words):
    head_before = events.verify_chain(log).head
    log.executescript(tamper)
    rep = events.verify_chain(log)
    if seq is None:
        assert rep.ok and rep.head != head_before  # detectable against an exported head
        return
    assert not rep.ok
    assert rep.at_seq == seq
    assert words in rep.problem


def test_unknown_event_refused(log):
    with pytest.raises(StationError, match="not in the catalogue"):
        events.record(log, "no-such-event")


def test_catalogue_ids_are_kebab_case_and_typed():
    cat = events.catalogue()
    assert cat and all(e.type in events.EVENT_TYPES for e in cat.values())


def test_generated_docs_are_current():
    doc = Path(__file__).resolve().parents[2] / "docs" / "events.md"
    assert doc.read_text() == events.catalogue_markdown() + "\n", (
        "docs/events.md is stale: run `uchastok log catalogue --markdown > docs/events.md`")
