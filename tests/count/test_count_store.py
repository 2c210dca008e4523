"""count.db: one transaction per sheet, secrecy of sheet records, test-mode separation."""

from __future__ import annotations

import json
import random
import sqlite3

import pytest
from countkit import reading

from count.store import CountStore, decode_record
from count.tally import fold
from station.errors import CountingError


def _readings(n: int, seed: int = 1):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(reading("district-07", choice=rng.choice(["c-01", "c-02", "c-03", "against-all"])))
        else:
            p = rng.choice(["p-01", "p-02", "p-03"])
            out.append(reading("party-list", choice=p, preference=rng.choice([None, 1, 2, 3]),
                               marginal=("party-list/#50",) if rng.random() < 0.1 else ()))
    return out


@pytest.fixture
def store(tmp_path, election):
    s = CountStore.open(tmp_path / "count.db", election)
    yield s
    s.close()


def test_store_equals_pure_fold(store, election):
    rs = _readings(60)
    for r in rs:
        store.record_sheet(r, mode="real")
    assert store.tally("real") == fold(election, rs)
    assert store.recount("real") == store.tally("real")
    assert store.sheet_count("real") == 60


def test_modes_never_mix(store, election):
    rs = _readings(10)
    for r in rs[:4]:
        store.record_sheet(r, mode="test")
    for r in rs[4:]:
        store.record_sheet(r, mode="real")
    assert store.tally("test") == fold(election, rs[:4])
    assert store.tally("real") == fold(election, rs[4:])
    assert store.clear_test() == 4
    assert store.tally("test").is_zero()
    assert store.tally("real") == fold(election, rs[4:])


def test_bad_reading_writes_nothing(store):
    store.record_sheet(reading("district-07", choice="c-01"), mode="real")
    before = store.tally("real")
    with pytest.raises(CountingError):
        store.record_sheet(reading("district-07", choice="c-99"), mode="real", pending_digest="d")
    with pytest.raises(CountingError):
        store.record_sheet(reading("district-07", choice="c-01"), mode="bogus")
    assert store.tally("real") == before and store.sheet_count() == 1 and store.pending() is None


def test_failure_inside_transaction_rolls_back(store, monkeypatch):
    store.record_sheet(reading("district-07", choice="c-01"), mode="real")
    before = store.tally("real")
    # A sheet record that violates the schema (an unknown mode) aborts the whole transaction.
    monkeypatch.setattr(CountStore, "_fill", lambda self, mode, body: bool(
        self.conn.execute("UPDATE sheet SET mode = 'bogus' WHERE mode = 'none'")))
    with pytest.raises(sqlite3.IntegrityError):
        store.record_sheet(reading("district-07", choice="c-02"), mode="real", pending_digest="x")
    assert store.tally("real") == before and store.sheet_count() == 1 and store.pending() is None


def test_sheet_records_are_secret(store):
    rs = _readings(40, seed=3)
    for r in rs:
        store.record_sheet(r, mode="real")
    cols = {r[1] for r in store.conn.execute("PRAGMA table_info(sheet)")}
    assert cols == {"id", "mode", "body"}     # no time, no sequence
    sql = store.conn.execute("SELECT sql FROM sqlite_master WHERE name='sheet'").fetchone()[0]
    assert "WITHOUT ROWID" in sql and "AUTOINCREMENT" not in sql.upper()
    # Every record has the size of its slot; storage order is the random key's order, not scan order.
    assert store.conn.execute("SELECT count(DISTINCT length(body)) FROM sheet").fetchone()[0] == 1
    stored = [decode_record(b)[1] for (b,) in store.conn.execute("SELECT body FROM sheet WHERE mode = 'real'")]
    ids = [i for (i,) in store.conn.execute("SELECT id FROM sheet WHERE mode = 'real'")]
    assert ids == sorted(ids) and len(set(ids)) == 40
    scanned = [[o.to_json() for o in r.outcomes] for r in rs]
    def key(o):
        return json.dumps(o, sort_keys=True)
    assert sorted(map(key, stored)) == sorted(map(key, scanned)) and stored != scanned
    # Nothing about voters anywhere in the file, no per-sheet audit records.
    tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not {t for t in tables if "voter" in t or "ident" in t or "receipt" in t}
    assert store.conn.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0


def test_pending_accept(store):
    store.record_sheet(reading("district-07", choice="c-01"), mode="real", pending_digest="abc")
    assert store.pending() == "abc"
    store.clear_pending()
    assert store.pending() is None
