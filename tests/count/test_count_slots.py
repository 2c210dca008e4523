"""The deck of slots (count/store.py "No order in the file"): dealt before any sheet, dealt again when it runs out.

A sheet fills an empty slot in place; a new deal (the deck full, or a reading
longer than a slot) moves every record into a fresh, larger deck; an old file
(sheet records inserted one by one, counters stored as they came) is dealt on
its first open. Through all of it the tally equals the recount of the records.
"""

from __future__ import annotations

import json
import os
from collections import Counter

from countkit import reading

from base.sqlite import open_db
from count.store import FIXED, MIGRATIONS, CountStore, decode_record, encode_record, slot_bytes
from count.tally import fold


def _bodies(store, mode="real") -> Counter:
    return Counter(json.dumps(decode_record(b), sort_keys=True)
                   for (b,) in store.conn.execute("SELECT body FROM sheet WHERE mode = ?", (mode,)))


def _deck(store) -> tuple[int, set[int]]:
    n = store.conn.execute("SELECT count(*) FROM sheet").fetchone()[0]
    sizes = {s for (s,) in store.conn.execute("SELECT DISTINCT length(body) FROM sheet")}
    return n, sizes


def test_the_deck_is_dealt_at_open_every_slot_one_size(tmp_path, election):
    store = CountStore.open(tmp_path / "count.db", election, slots=40)
    assert _deck(store) == (40, {slot_bytes(election)})
    assert store.sheet_count("real") == 0 and store.tally("real").is_zero()
    # Every counter exists already, at zero (stored as FIXED + 0).
    assert tuple(store.conn.execute("SELECT min(fixed_n), max(fixed_n) FROM tally").fetchone()) == (FIXED, FIXED)
    store.close()


def test_a_full_deck_is_dealt_again_twice_as_large_and_nothing_is_lost(tmp_path, election):
    store = CountStore.open(tmp_path / "count.db", election, slots=8)
    rs = [reading("district-07", choice=c) for c in ("c-01", "c-02", "c-03", "against-all")] * 5
    rs += [reading("party-list", choice="p-02", preference=1)] * 3
    for r in rs[:8]:
        store.record_sheet(r, mode="real")
    before = _bodies(store)
    store.record_sheet(rs[8], mode="real")             # the ninth: no empty slot left
    n, sizes = _deck(store)
    assert n == 16 and len(sizes) == 1
    assert _bodies(store) - before == Counter({json.dumps(decode_record(_body(store, rs[8])), sort_keys=True): 1})
    for r in rs[9:]:
        store.record_sheet(r, mode="real")
    assert store.sheet_count("real") == len(rs) and _deck(store)[0] == 32
    assert store.tally("real") == fold(election, rs) == store.recount("real")
    store.close()


def _body(store, r) -> bytes:
    return encode_record(r.ballot_style, [o.to_json() for o in r.outcomes])


def test_a_reading_longer_than_a_slot_deals_larger_slots(tmp_path, election):
    store = CountStore.open(tmp_path / "count.db", election, slots=8)
    store.record_sheet(reading("district-07", choice="c-01"), mode="real")
    (size,) = _deck(store)[1]
    long = reading("party-list", choice="p-01", marginal=tuple(f"party-list/#{n}" for n in range(1, 55)))
    assert len(_body(store, long)) > size
    store.record_sheet(long, mode="real")
    n, sizes = _deck(store)
    assert len(sizes) == 1 and sizes.pop() >= len(_body(store, long)) and n >= 8
    assert store.recount("real") == store.tally("real") and store.sheet_count("real") == 2
    store.close()


def test_test_sheets_are_cleared_in_place(tmp_path, election):
    store = CountStore.open(tmp_path / "count.db", election, slots=8)
    for c in ("c-01", "c-02", "c-03"):
        store.record_sheet(reading("district-07", choice=c), mode="test")
    store.record_sheet(reading("district-07", choice="c-01"), mode="real")
    ids = {bytes(i) for (i,) in store.conn.execute("SELECT id FROM sheet")}
    assert store.clear_test() == 3
    assert {bytes(i) for (i,) in store.conn.execute("SELECT id FROM sheet")} == ids    # same slots, emptied
    assert store.sheet_count("test") == 0 and store.sheet_count("real") == 1 and store.tally("test").is_zero()
    store.close()


def test_an_old_file_is_dealt_on_its_first_open(tmp_path, election):
    """count.db of count-v1 (records inserted one by one, counters as they came): migrated, then dealt."""
    db = tmp_path / "count.db"
    conn = open_db(db, MIGRATIONS[:-1])
    rs = [reading("district-07", choice="c-02"), reading("district-07", choice="c-03"),
          reading("party-list", choice="p-01", preference=2)]
    tally = fold(election, rs)
    for ct in tally.contests:
        for line, n in ct.lines():
            if n:
                conn.execute("INSERT INTO tally(mode, contest, line, n) VALUES ('real', ?, ?, ?)",
                             (ct.contest, line, n))
    for r in rs:
        conn.execute("INSERT INTO sheet(id, mode, ballot_style, outcomes) VALUES (?, 'real', ?, ?)",
                     (os.urandom(16), r.ballot_style, json.dumps([o.to_json() for o in r.outcomes])))
    conn.close()
    store = CountStore.open(db, election, slots=8)
    assert store.tally("real") == tally == store.recount("real")
    n, sizes = _deck(store)
    assert n == 8 and len(sizes) == 1 and store.sheet_count("real") == 3
    store.record_sheet(rs[0], mode="real")
    assert store.tally("real") == fold(election, rs + rs[:1])
    store.close()
