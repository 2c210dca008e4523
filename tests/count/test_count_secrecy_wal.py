"""No order of sheets survives in count.db's files (ARCHITECTURE.md invariant 2).

Scan order follows the order voters were identified, so any per-sheet history
in scan order would link a voter to a ballot. The write-ahead log would keep a
copy of the tally page per sheet until a checkpoint: the store truncates it
after every sheet, and compacts the file (key order) when it closes.
"""

import sqlite3

from countkit import reading

from count.store import CountStore


def wal_size(path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def test_the_log_holds_no_sheet_history(tmp_path, election):
    db = tmp_path / "count.db"
    store = CountStore.open(db, election)
    choices = [c.id for c in election.contest("district-07").candidates if not c.withdrawn]
    for i in range(30):
        store.record_sheet(reading("district-07", choice=choices[i % len(choices)]), mode="real",
                           pending_digest=f"{i:064x}")
        store.clear_pending()                       # the sheet dropped into the box
        assert wal_size(db) == 0, f"the log kept history after sheet {i + 1}"
    for _ in range(5):                              # feeders without a held sheet
        store.record_sheet(reading("party-list", choice="against-all"), mode="real")
        assert wal_size(db) == 0
    assert store.sheet_count("real") == 35
    store.close()


def test_closing_compacts_the_file_and_empties_the_log(tmp_path, election):
    """VACUUM rebuilds every page from key order, so no page keeps rows as they were inserted."""
    db = tmp_path / "count.db"
    store = CountStore.open(db, election)
    for _ in range(200):
        store.record_sheet(reading("party-list", choice="against-all"), mode="real")
    store.close()

    assert wal_size(db) == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM sheet").fetchone()[0] == 200
    assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0
