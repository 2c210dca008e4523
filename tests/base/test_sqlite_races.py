"""Forward-only migrations when several processes open one fresh file at once (base/sqlite.py)."""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import sqlite3

from station.db import MIGRATIONS, open_station_db


def _open_fresh(db):
    open_station_db(db).close()
    return True


def test_several_processes_migrating_one_fresh_file(tmp_path):
    """Each migration is applied once, in order, whoever wins the race (a review regression)."""
    db = tmp_path / "base.sqlite"
    ctx = multiprocessing.get_context("fork")
    with cf.ProcessPoolExecutor(4, mp_context=ctx) as pool:
        assert all(pool.map(_open_fresh, [db] * 4))

    names = [r[0] for r in sqlite3.connect(db).execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [m.name for m in MIGRATIONS]
