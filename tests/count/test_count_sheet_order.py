"""A mid-day copy of count.db does not tell the order sheets were counted in (ARCHITECTURE.md invariant 2).

Scan order follows the order voters were identified. SQLite fills a page's
content area from its end downwards, so records inserted one by one lie in
the page in the order they came (later ones lower), whatever their random
keys: among pairs of records on one page, the fraction lying in insertion
order measures what a copy of the file tells (0.5: nothing; plain inserts
under random keys gave 0.53-0.57 here, 0.63-0.65 in the audit's day), and so
does how often a page's newest record is its lowest (chance: about 1 / the
records per page; plain inserts: several times that). count/store.py deals the records' places
before any sheet (slots) and fills one at random per sheet, in place; its
counters exist from the start and never move either.
"""

from __future__ import annotations

import random
import shutil

import pytest
from countkit import reading
from sqlite_pages import PAGE, page_cells

import count.store
from count.store import CountStore

SHEETS = 1000


def _readings(n: int, seed: int):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(reading("district-07", choice=rng.choice(["c-01", "c-02", "c-03", "against-all"])))
        else:
            out.append(reading("party-list", choice=rng.choice(["p-01", "p-02", "p-03"]),
                               preference=rng.choice([None, 1, 2, 3])))
    return out


def _real_ids(store) -> set[bytes]:
    return {bytes(i) for (i,) in store.conn.execute("SELECT id FROM sheet WHERE mode = 'real'")}


def _pages(db: bytes, order: dict[bytes, int]) -> list[list[tuple[int, int]]]:
    """Per page of the file: (when counted, offset in the page) of each counted record on it."""
    out = []
    for k in range(1, len(db) // PAGE):
        cells = sorted((order[bytes(v[0])], off) for off, v in page_cells(db, k * PAGE)
                       if v and isinstance(v[0], bytes) and bytes(v[0]) in order)
        if len(cells) > 1:
            out.append(cells)
    return out


def ordered_fraction(db: bytes, order: dict[bytes, int]) -> tuple[float, int]:
    """Among pairs of counted records on one page: the fraction lying in the order they were counted."""
    ordered = pairs = 0
    for cells in _pages(db, order):
        for a in range(len(cells)):
            for b in range(a + 1, len(cells)):
                pairs += 1
                ordered += cells[b][1] < cells[a][1]      # counted later, lower in the page
    return (ordered / pairs if pairs else 0.5), pairs


def newest_lowest(db: bytes, order: dict[bytes, int]) -> tuple[float, float]:
    """How often a page's last counted record is its lowest one, and how often chance would say so."""
    pages = _pages(db, order)
    hits = sum(cells[-1][1] == min(off for _, off in cells) for cells in pages)
    return hits / len(pages), sum(1 / len(cells) for cells in pages) / len(pages)


@pytest.fixture
def seeded(monkeypatch):
    """os.urandom from a seeded generator: the measured fraction is the same at every run."""
    rng = random.Random(20261129)
    monkeypatch.setattr("count.store.os.urandom", rng.randbytes)


def test_a_mid_day_copy_keeps_no_insertion_order(tmp_path, election, seeded, monkeypatch):
    # One deck for the whole run (a new deal moves every record under a new id: tested elsewhere).
    monkeypatch.setattr(count.store, "DEFAULT_SLOTS", 1024, raising=False)
    store = CountStore.open(tmp_path / "count.db", election)
    store.conn.execute("PRAGMA synchronous=OFF")      # where cells lie does not depend on fsync: fast
    order: dict[bytes, int] = {}
    seen: set[bytes] = set()
    for i, r in enumerate(_readings(SHEETS, seed=4)):
        store.record_sheet(r, mode="real")
        (new,) = _real_ids(store) - seen
        seen.add(new)
        order[new] = i
    copy = tmp_path / "noon.db"
    shutil.copy(tmp_path / "count.db", copy)          # the file as a copy taken mid-day finds it
    fraction, pairs = ordered_fraction(copy.read_bytes(), order)
    lowest, chance = newest_lowest(copy.read_bytes(), order)
    store.close()
    print(f"\nwithin-page pairs in insertion order: {fraction:.3f} of {pairs} pairs ({SHEETS} sheets);"
          f" a page's newest record is its lowest: {lowest:.3f} of pages (chance {chance:.3f})")
    assert pairs > 1000
    assert abs(fraction - 0.5) < 0.04, f"{fraction:.3f} of within-page pairs lie in the order counted"
    assert lowest < chance + 0.10, f"the newest record is the lowest of its page in {lowest:.3f} of pages"


def test_counter_cells_never_move(tmp_path, election):
    """Every tally line is there at zero before the first sheet and is rewritten in place after."""
    db = tmp_path / "count.db"
    store = CountStore.open(db, election)
    store.conn.execute("PRAGMA synchronous=OFF")
    lines = [f"{ct.contest}{line}".encode() for ct in store.tally("real").contests for line, _ in ct.lines()]

    def places() -> dict[bytes, int]:
        data = db.read_bytes()
        return {line: data.find(b"real" + line) for line in lines}

    before = places()
    assert all(at > 0 for at in before.values()), "a tally line does not exist before the first sheet"
    for r in _readings(200, seed=5):
        store.record_sheet(r, mode="real")
    assert places() == before
    store.close()
