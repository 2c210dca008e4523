import sqlite3

import pytest

from base.sqlite import Migration, atomic, connect, open_db
from station.errors import UnknownSchemaError

M1 = Migration("one", "CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT); CREATE TABLE u (z TEXT);")
M2 = Migration("two", lambda c: c.execute("ALTER TABLE t ADD COLUMN w TEXT"))


def test_durability_settings(tmp_path):
    conn = open_db(tmp_path / "a.db", [M1])
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_migrations_forward_only_and_idempotent(tmp_path):
    p = tmp_path / "a.db"
    open_db(p, [M1]).close()
    conn = open_db(p, [M1, M2])
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations")] == ["one", "two"]
    conn.close()
    open_db(p, [M1, M2]).close()


def test_refuses_unknown_schema(tmp_path):
    p = tmp_path / "a.db"
    open_db(p, [M1, M2]).close()
    with pytest.raises(UnknownSchemaError, match="two"):
        open_db(p, [M1])


def test_atomic_rolls_back_everything(tmp_path):
    conn = open_db(tmp_path / "a.db", [M1])
    with pytest.raises(RuntimeError), atomic(conn):
        conn.execute("INSERT INTO t(y) VALUES ('a')")
        with atomic(conn):
            conn.execute("INSERT INTO u VALUES ('b')")
        raise RuntimeError
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM u").fetchone()[0] == 0


def test_nested_atomic_rolls_back_only_inner(tmp_path):
    conn = open_db(tmp_path / "a.db", [M1])
    with atomic(conn):
        conn.execute("INSERT INTO t(y) VALUES ('outer')")
        with pytest.raises(ValueError), atomic(conn):
            conn.execute("INSERT INTO t(y) VALUES ('inner')")
            raise ValueError
    assert [r[0] for r in conn.execute("SELECT y FROM t")] == ["outer"]


def test_failed_migration_applies_nothing(tmp_path):
    bad = Migration("bad", "CREATE TABLE v (a); CREATE TABLE v (a);")
    p = tmp_path / "a.db"
    with pytest.raises(sqlite3.OperationalError):
        open_db(p, [M1, bad])
    conn = connect(p)
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name='v'").fetchone()[0] == 0
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations")] == ["one"]
