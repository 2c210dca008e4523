"""No history of sheets in count.db's write-ahead log (ARCHITECTURE.md invariant 2; count/store.py "No history").

Scan order follows the order voters were identified, so any per-sheet history
in scan order would link a voter to a ballot. A log frame holds a copy of the
tally page and of a sheet page per sheet: the store overwrites every frame of
the log in place before the log is emptied, so what the file system gets back
when the log shrinks is random bytes. These tests watch each TRUNCATE
checkpoint and read the log it is about to free; the raw-disk attack is
tests/count/test_count_carving.py.
"""

import sqlite3

import pytest
from countkit import reading

from count.store import CountStore


def wal(path):
    return path.with_name(path.name + "-wal")


@pytest.fixture
def freed(monkeypatch):
    """The bytes of the log at every TRUNCATE checkpoint, just before SQLite empties it."""
    seen: list[bytes] = []
    checkpoint = CountStore._checkpoint

    def watched(self, mode, wait_s):
        if mode == "TRUNCATE":
            log = self._log_file()
            seen.append(log.read_bytes() if log.exists() else b"")
        return checkpoint(self, mode, wait_s)
    monkeypatch.setattr(CountStore, "_checkpoint", watched)
    return seen


def _tally_or_sheet(data: bytes, election) -> bool:
    """Any tally line or sheet record of mode 'real' in ``data`` (their records hold 'real' + contest or style)."""
    return any(b"real" + c.id.encode() in data for c in election.contests) or \
        any(b"real" + s.id.encode() in data for s in election.ballot_styles) or b'"ballot_style"' in data


def test_the_log_is_overwritten_before_it_is_emptied(tmp_path, election, freed):
    db = tmp_path / "count.db"
    store = CountStore.open(db, election)
    choices = [c.id for c in election.contest("district-07").candidates if not c.withdrawn]
    for i in range(30):
        store.record_sheet(reading("district-07", choice=choices[i % len(choices)]), mode="real",
                           pending_digest=f"{i:064x}")
        assert wal(db).stat().st_size > 0           # the sheet's frames, until the accept
        store.clear_pending()                       # the sheet dropped into the box
        assert wal(db).stat().st_size == 0, f"the log kept frames after sheet {i + 1}"
    for _ in range(5):                              # feeders without a held sheet
        store.record_sheet(reading("party-list", choice="against-all"), mode="real")
        assert wal(db).stat().st_size == 0
    store.count_returned("marginal-needs-review", "real")
    assert wal(db).stat().st_size == 0
    assert store.sheet_count("real") == 35
    store.close()
    assert len(freed) >= 36 and any(freed)
    leaked = [i for i, data in enumerate(freed) if _tally_or_sheet(data, election)]
    assert leaked == [], f"the log held a tally or sheet page when it was emptied (checkpoints {leaked})"


def test_without_the_pad_the_log_would_free_the_tally(tmp_path, election, freed, monkeypatch):
    """The watch above sees what it should: skip the overwrite, and the freed log holds tally pages."""
    monkeypatch.setattr(CountStore, "_pad_log", lambda self, frames: None)
    store = CountStore.open(tmp_path / "count.db", election)
    store.record_sheet(reading("district-07", choice="c-01"), mode="real")
    store.close()
    assert any(_tally_or_sheet(data, election) for data in freed)


def test_a_busy_reader_keeps_the_frames_in_the_log_never_freed(tmp_path, election, freed):
    """A reader holding the log: no checkpoint can restart it, so nothing is emptied until it lets go."""
    db = tmp_path / "count.db"
    store = CountStore.open(db, election)
    reader = sqlite3.connect(db, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM tally").fetchone()      # holds a snapshot
    store.record_sheet(reading("district-07", choice="c-02"), mode="real")
    size = wal(db).stat().st_size
    assert size > 0 and not store.forget_order(wait_s=0.05)
    assert wal(db).stat().st_size >= size                       # kept, not truncated
    reader.execute("COMMIT")
    reader.close()
    assert store.forget_order()
    assert wal(db).stat().st_size == 0
    store.close()
    assert not any(_tally_or_sheet(data, election) for data in freed)


def test_closing_leaves_no_log_and_no_old_deck(tmp_path, election):
    """No VACUUM is needed: closing empties the log; a new deal leaves nothing of the old deck."""
    db = tmp_path / "count.db"
    store = CountStore.open(db, election, slots=16)
    decks = []
    for _ in range(40):                             # two new deals: at the 17th and the 33rd sheet
        ids = {bytes(i) for (i,) in store.conn.execute("SELECT id FROM sheet")}
        if not decks or ids != decks[-1]:
            decks.append(ids)
        store.record_sheet(reading("party-list", choice="against-all"), mode="real")
    final = {bytes(i) for (i,) in store.conn.execute("SELECT id FROM sheet")}
    store.close()
    assert not wal(db).exists() or wal(db).stat().st_size == 0
    assert len(decks) == 3 and len(final) == 64
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sheet WHERE mode = 'real'").fetchone()[0] == 40
    conn.close()
    data = db.read_bytes()
    assert all(i in data for i in final)
    old = [i for deck in decks[:-1] for i in deck if i in data]
    assert old == [], "a slot of an old deck is still in the file"
