"""Backup and restore of the central store (docs/operations.md "Central database"): what is
restored serves the same figures, and every aggregate rebuilt from the stored envelopes (the
truth) equals the one kept at write time."""

from __future__ import annotations

import sqlite3
import subprocess
from urllib.parse import urlparse

import pytest
from sync_world import Station, station_entry
from test_aggregate import deliver

from central import aggregate
from central.service import Receiver
from central.storage import Storage


def _figures(storage: Storage) -> dict:
    return {"results": aggregate.results(storage, "uik"), "turnout": aggregate.turnout(storage),
            "stations": aggregate.stations(storage),
            "doubles": storage.double_identifications(), "envelopes": storage.envelope_count()}


@pytest.fixture
def filled(tmp_path, central_db, authority, ack_key):
    rx = Receiver(Storage(central_db), ack_key, authority.public_key())
    rx.register_stations([station_entry("st-0041", 41), station_entry("st-0042", 42)])
    a, b = Station(tmp_path / "a", authority, "st-0041"), Station(tmp_path / "b", authority, "st-0042")
    a.add_receipts(120)
    b.add_receipts(30)          # 30 of the same PINs: double identifications
    a.add_protocol(120)
    deliver(rx, a)
    deliver(rx, b)
    yield rx
    a.close()
    b.close()
    rx.storage.close()


def test_rebuilt_aggregates_equal_the_ones_kept_at_write_time(filled):
    before = _figures(filled.storage)
    assert filled.rebuild_projections() == 120 + 2 + 30
    assert _figures(filled.storage) == before


def test_sqlite_online_backup_restores(filled, tmp_path):
    if filled.storage.dialect != "sqlite":
        pytest.skip("the SQLite path")
    dest = sqlite3.connect(tmp_path / "backup.db")
    filled.storage.conn.backup(dest)            # online: the receiver keeps serving meanwhile
    dest.close()
    restored = Storage(tmp_path / "backup.db")
    assert _figures(restored) == _figures(filled.storage)
    restored.close()


@pytest.mark.postgres
def test_pg_dump_and_pg_restore(filled, postgres_server):
    if filled.storage.dialect != "postgres":
        pytest.skip("the PostgreSQL path")
    dump = postgres_server.root / "central.dump"
    src = urlparse(filled.storage.url).path.lstrip("/")
    pg = postgres_server
    subprocess.run([*pg.as_user, str(pg.bindir / "pg_dump"), "-h", str(pg.sock), "-p", str(pg.port),
                    "-U", pg.user, "-Fc", "-f", str(dump), src], check=True, timeout=120)
    name = pg.create_database()
    try:
        subprocess.run([*pg.as_user, str(pg.bindir / "pg_restore"), "-h", str(pg.sock), "-p",
                        str(pg.port), "-U", pg.user, "-d", name, "--no-owner", str(dump)],
                       check=True, timeout=120)
        restored = Storage(pg.url(name))
        assert _figures(restored) == _figures(filled.storage)
        restored.close()
    finally:
        pg.drop_database(name)
