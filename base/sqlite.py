"""SQLite files of the station: durable, migrated forward, refused when unknown.

Every file is opened the same way (ARCHITECTURE.md, invariant 1; FIELD-NOTES
"SQLite durability"): WAL journal, ``synchronous=FULL`` (a committed
transaction survives power loss), foreign keys on, a busy timeout so two
processes wait for each other instead of failing.

Migrations are forward-only and named. Each file kind has its own ordered list
of ``Migration`` (e.g. ``station.db.MIGRATIONS``); ``open_db`` applies
the missing ones in one transaction each and refuses to open a file that has
applied a migration this software does not know (a newer schema: running an
older binary on it could corrupt it).

Example::

    conn = open_db(paths.station_db, MIGRATIONS)
    with atomic(conn):
        conn.execute("INSERT ...")
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from base.errors import DatabaseError, UnknownSchemaError

BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Migration:
    """One named, forward-only schema step: SQL text or a function of the connection."""

    name: str
    apply: str | Callable[[sqlite3.Connection], None]


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a SQLite file with the station's durability settings (no migrations)."""
    path = Path(path)
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                   timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, isolation_level=None,
                                   timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
    except sqlite3.Error as e:
        raise DatabaseError(f"cannot open {path}: {e}") from e
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if not readonly:
        mode = _switch_to_wal(conn)
        if mode.lower() != "wal":
            raise DatabaseError(f"{path}: cannot switch to WAL (journal_mode={mode})")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """``PRAGMA journal_mode=WAL``, waiting out other openers as the busy timeout would.

    SQLite answers the switch with SQLITE_BUSY at once, without the busy handler, while
    another connection is switching or migrating the same fresh file (several role
    processes starting together); retry with backoff until ``BUSY_TIMEOUT_MS``.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            return conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as e:
            busy = getattr(e, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() >= deadline:
                conn.close()
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


@contextlib.contextmanager
def atomic(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One transaction: all of the block commits, or none of it.

    The outermost level takes the write lock at once (``BEGIN IMMEDIATE``), so
    two writers never both read-then-write the same row; nested levels use
    savepoints and roll back only their own part.
    """
    if conn.in_transaction:
        # Savepoint names may repeat: ROLLBACK TO / RELEASE act on the innermost one of that name.
        conn.execute("SAVEPOINT uchastok_nested")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK TO uchastok_nested")
            conn.execute("RELEASE uchastok_nested")
            raise
        conn.execute("RELEASE uchastok_nested")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ("
        " name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"
    )
    return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration], *, where: str = "") -> list[str]:
    """Apply the missing migrations in order; return the names applied now."""
    names = [m.name for m in migrations]
    if len(set(names)) != len(names):
        raise DatabaseError(f"duplicate migration names in {names}")
    applied = applied_migrations(conn)
    unknown = [n for n in applied if n not in names]
    if unknown:
        raise UnknownSchemaError(
            f"{where or 'database'} has migrations this software does not know: {', '.join(unknown)}"
            " (written by a newer version? refusing to open it)"
        )
    if applied != names[: len(applied)]:
        raise UnknownSchemaError(f"{where or 'database'}: migrations applied out of order: {applied}")
    done = []
    for m in migrations[len(applied):]:
        with atomic(conn):
            # Re-read under the write lock: another process may have applied it meanwhile.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (m.name,)).fetchone():
                continue
            if callable(m.apply):
                m.apply(conn)
            else:
                for stmt in _statements(m.apply):
                    conn.execute(stmt)
            conn.execute("INSERT INTO _migrations(name) VALUES (?)", (m.name,))
        done.append(m.name)
    return done


def _statements(sql: str) -> list[str]:
    """Split a script into complete statements (semicolons inside strings are respected)."""
    out, buf = [], ""
    for ch in sql:
        buf += ch
        if ch == ";" and sqlite3.complete_statement(buf):
            if buf.strip(" \n\t;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out


def open_db(path: str | Path, migrations: Sequence[Migration], *, readonly: bool = False) -> sqlite3.Connection:
    """Open ``path``, apply missing migrations (unless read-only), refuse unknown schemas."""
    conn = connect(path, readonly=readonly)
    if readonly:
        applied = [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")] \
            if _has_table(conn, "_migrations") else []
        names = [m.name for m in migrations]
        unknown = [n for n in applied if n not in names]
        if unknown:
            conn.close()
            raise UnknownSchemaError(f"{path} has unknown migrations: {', '.join(unknown)}")
        return conn
    try:
        migrate(conn, migrations, where=str(path))
    except Exception:
        conn.close()
        raise
    return conn


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None
