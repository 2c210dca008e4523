"""The receiver's storage: every SQL statement of the central side, in one place.

SQLite by default (WAL, synchronous=FULL). The statements are plain SQL
(``INSERT ... ON CONFLICT DO NOTHING``, no ``INSERT OR REPLACE``, no rowid
tricks, ``?`` placeholders translated in one spot), so a PostgreSQL backend is
this module again with another driver: the service and aggregation logic only
call the methods below.

Tables: ``devices`` (enrolled certificates), ``envelopes`` (keyed by device,
stream, seq: idempotent), ``streams`` (highest contiguous seq and its hash),
``anomalies`` (signed evidence only: rejections after the device's signature
verified, bodies the aggregation cannot read), ``junk`` (unauthenticated
input: one counter per client and code, so it never grows with the flood and
never displaces evidence), ``stations`` (the registered station list with its
Region/ОИК/ТИК), and per-kind projections for aggregation: ``receipts``,
``protocols``, ``summaries``, ``heartbeats``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from base.sqlite import atomic

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS devices (
        cert_ref TEXT PRIMARY KEY, device_id TEXT NOT NULL, station_id TEXT NOT NULL,
        election_id TEXT NOT NULL, public_key TEXT NOT NULL, roles TEXT NOT NULL,
        not_before TEXT NOT NULL, not_after TEXT NOT NULL, certificate TEXT NOT NULL,
        enrolled_at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS devices_by_id ON devices (device_id)",
    """CREATE TABLE IF NOT EXISTS envelopes (
        device TEXT NOT NULL, stream TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL,
        prev TEXT NOT NULL, kind TEXT NOT NULL, station TEXT NOT NULL, election TEXT NOT NULL,
        created_at TEXT NOT NULL, received_at TEXT NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (device, stream, seq))""",
    """CREATE TABLE IF NOT EXISTS streams (
        device TEXT NOT NULL, stream TEXT NOT NULL, station TEXT NOT NULL,
        contiguous_seq BIGINT NOT NULL, contiguous_hash TEXT NOT NULL, max_seq BIGINT NOT NULL,
        stored BIGINT NOT NULL, last_received_at TEXT NOT NULL, PRIMARY KEY (device, stream))""",
    """CREATE TABLE IF NOT EXISTS anomalies (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, code TEXT NOT NULL, device TEXT,
        stream TEXT, seq BIGINT, station TEXT, detail TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS junk (
        client TEXT NOT NULL, code TEXT NOT NULL, events BIGINT NOT NULL, first_at TEXT NOT NULL,
        last_at TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (client, code))""",
    """CREATE TABLE IF NOT EXISTS stations (
        id TEXT PRIMARY KEY, number INTEGER, name TEXT, region_code TEXT, region_name TEXT,
        oik_code TEXT, oik_name TEXT, tik_code TEXT, tik_name TEXT, voters_on_list INTEGER)""",
    """CREATE TABLE IF NOT EXISTS receipts (
        device TEXT NOT NULL, seq BIGINT NOT NULL, station TEXT NOT NULL, pin TEXT NOT NULL,
        receipt TEXT NOT NULL, method TEXT NOT NULL, identified_at TEXT NOT NULL,
        PRIMARY KEY (device, seq))""",
    "CREATE INDEX IF NOT EXISTS receipts_by_pin ON receipts (pin, station)",
    "CREATE INDEX IF NOT EXISTS receipts_by_station ON receipts (station, identified_at)",
    """CREATE TABLE IF NOT EXISTS protocols (
        device TEXT NOT NULL, seq BIGINT NOT NULL, station TEXT NOT NULL,
        closed_at TEXT NOT NULL, test_mode INTEGER NOT NULL, body TEXT NOT NULL,
        hash TEXT NOT NULL, PRIMARY KEY (device, seq))""",
    """CREATE TABLE IF NOT EXISTS summaries (
        device TEXT NOT NULL, seq BIGINT NOT NULL, station TEXT NOT NULL,
        voters_on_list INTEGER NOT NULL, identified INTEGER NOT NULL, at TEXT NOT NULL,
        PRIMARY KEY (device, seq))""",
    """CREATE TABLE IF NOT EXISTS heartbeats (
        device TEXT PRIMARY KEY, seq BIGINT NOT NULL, station TEXT NOT NULL, body TEXT NOT NULL,
        received_at TEXT NOT NULL)""",
]


class Storage:
    """One SQLite database behind a lock; every method is one small transaction or query."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                    timeout=10.0)
        self.conn.execute("PRAGMA busy_timeout=10000")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.lock = threading.RLock()
        with self.transaction():
            for stmt in SCHEMA:
                self.conn.execute(stmt)

    def __repr__(self) -> str:
        return f"Storage({str(self.path)!r})"

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction under the lock (base/sqlite.py ``atomic``: the write lock at once)."""
        with self.lock, atomic(self.conn):
            yield

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    # --- devices --------------------------------------------------------------------------------

    def enroll(self, ref: str, device_id: str, station_id: str, election_id: str,
               public_key: str, roles: Sequence[str], not_before: str, not_after: str,
               certificate: dict, at: str) -> bool:
        with self.transaction():
            return self.conn.execute(
                "INSERT INTO devices (cert_ref, device_id, station_id, election_id, public_key,"
                " roles, not_before, not_after, certificate, enrolled_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (cert_ref) DO NOTHING",
                (ref, device_id, station_id, election_id, public_key, json.dumps(list(roles)),
                 not_before, not_after, json.dumps(certificate, separators=(",", ":")), at),
            ).rowcount == 1

    def certificates_of(self, device_id: str) -> list[dict]:
        return [json.loads(r[0]) for r in
                self._q("SELECT certificate FROM devices WHERE device_id=?", (device_id,))]

    def device_count(self) -> int:
        return self._q("SELECT count(*) FROM devices")[0][0]

    # --- envelopes (call inside transaction()) --------------------------------------------------

    def window(self, device: str, stream: str, lo: int, hi: int) -> dict[int, tuple[str, str]]:
        """seq -> (hash, prev) of stored envelopes with lo <= seq <= hi."""
        return {r[0]: (r[1], r[2]) for r in self.conn.execute(
            "SELECT seq, hash, prev FROM envelopes WHERE device=? AND stream=? AND seq BETWEEN ? AND ?",
            (device, stream, lo, hi))}

    def insert_envelope(self, env: dict, h: str, data: bytes, received_at: str) -> None:
        self.conn.execute(
            "INSERT INTO envelopes (device, stream, seq, hash, prev, kind, station, election,"
            " created_at, received_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (env["device"], env["stream"], env["seq"], h, env["prev"], env["kind"], env["station"],
             env["election"], env["created_at"], received_at, data))

    def advance_stream(self, device: str, stream: str, station: str, stored_now: int,
                       max_seq: int, at: str, zero_hash: str) -> tuple[int, str]:
        """Update the stream's counters and highest contiguous seq; return (seq, hash)."""
        row = self.conn.execute("SELECT contiguous_seq, contiguous_hash FROM streams"
                                " WHERE device=? AND stream=?", (device, stream)).fetchone()
        if row is None:
            self.conn.execute(
                "INSERT INTO streams (device, stream, station, contiguous_seq, contiguous_hash,"
                " max_seq, stored, last_received_at) VALUES (?, ?, ?, 0, ?, 0, 0, ?)",
                (device, stream, station, zero_hash, at))
            cs, ch = 0, zero_hash
        else:
            cs, ch = row
        for seq, h in self.conn.execute(
                "SELECT seq, hash FROM envelopes WHERE device=? AND stream=? AND seq>?"
                " ORDER BY seq", (device, stream, cs)):
            if seq != cs + 1:
                break
            cs, ch = seq, h
        self.conn.execute(
            "UPDATE streams SET contiguous_seq=?, contiguous_hash=?,"
            " max_seq=CASE WHEN max_seq > ? THEN max_seq ELSE ? END, stored=stored+?,"
            " last_received_at=? WHERE device=? AND stream=?",
            (cs, ch, max_seq, max_seq, stored_now, at, device, stream))
        return cs, ch

    def stream_head(self, device: str, stream: str) -> tuple[int, str] | None:
        rows = self._q("SELECT contiguous_seq, contiguous_hash FROM streams WHERE device=? AND stream=?",
                       (device, stream))
        return (rows[0][0], rows[0][1]) if rows else None

    def add_receipt(self, env: dict, body: dict) -> None:
        self.conn.execute(
            "INSERT INTO receipts (device, seq, station, pin, receipt, method, identified_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING",
            (env["device"], env["seq"], env["station"], body["pin"], body["receipt"], body["method"],
             body["identified_at"]))

    def add_protocol(self, env: dict, body: dict, h: str) -> None:
        self.conn.execute(
            "INSERT INTO protocols (device, seq, station, closed_at, test_mode, body, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING",
            (env["device"], env["seq"], env["station"], body["closed_at"],
             1 if body.get("test_mode") else 0, json.dumps(body, ensure_ascii=False), h))

    def add_summary(self, env: dict, body: dict) -> None:
        self.conn.execute(
            "INSERT INTO summaries (device, seq, station, voters_on_list, identified, at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device, seq) DO NOTHING",
            (env["device"], env["seq"], env["station"], body["voters_on_list"], body["identified"],
             body["at"]))

    def set_heartbeat(self, env: dict, body: dict, at: str) -> None:
        self.conn.execute(
            "INSERT INTO heartbeats (device, seq, station, body, received_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (device) DO UPDATE SET seq=excluded.seq, body=excluded.body,"
            " received_at=excluded.received_at WHERE excluded.seq > heartbeats.seq",
            (env["device"], env["seq"], env["station"], json.dumps(body), at))

    def add_anomaly(self, at: str, code: str, detail: str, device: str | None = None,
                    stream: str | None = None, seq: int | None = None,
                    station: str | None = None) -> None:
        """Record an anomaly; inside or outside a transaction."""
        args = (at, code, device, stream, seq, station, detail[:1000])
        sql = ("INSERT INTO anomalies (at, code, device, stream, seq, station, detail)"
               " VALUES (?, ?, ?, ?, ?, ?, ?)")
        with self.transaction():  # inside another: a savepoint of it
            self.conn.execute(sql, args)

    def count_junk(self, client: str, counts: dict[str, int], detail: str, at: str) -> None:
        """Add ``counts`` (code -> events) of unauthenticated input to ``client``'s counters."""
        with self.transaction():
            for code, n in sorted(counts.items()):
                self.conn.execute(
                    "INSERT INTO junk (client, code, events, first_at, last_at, detail)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (client, code) DO UPDATE SET"
                    " events=junk.events+excluded.events, last_at=excluded.last_at,"
                    " detail=excluded.detail", (client, code, n, at, at, detail[:300]))

    # --- stations -------------------------------------------------------------------------------

    def register_stations(self, stations: Sequence[dict]) -> int:
        with self.transaction():
            for s in stations:
                self.conn.execute(
                    "INSERT INTO stations (id, number, name, region_code, region_name, oik_code,"
                    " oik_name, tik_code, tik_name, voters_on_list)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                    " number=excluded.number, name=excluded.name,"
                    " region_code=excluded.region_code, region_name=excluded.region_name,"
                    " oik_code=excluded.oik_code, oik_name=excluded.oik_name,"
                    " tik_code=excluded.tik_code, tik_name=excluded.tik_name,"
                    " voters_on_list=excluded.voters_on_list",
                    (s["id"], s.get("number"), s.get("name"), s["region"]["code"],
                     s["region"].get("name"), s["oik"]["code"], s["oik"].get("name"),
                     s["tik"]["code"], s["tik"].get("name"), s.get("voters_on_list")))
        return len(stations)

    def station_ids(self) -> set[str]:
        return {r[0] for r in self._q("SELECT id FROM stations")}

    def stations(self) -> list[dict]:
        cols = ["id", "number", "name", "region_code", "region_name", "oik_code", "oik_name",
                "tik_code", "tik_name", "voters_on_list"]
        return [dict(zip(cols, r, strict=True)) for r in
                self._q(f"SELECT {', '.join(cols)} FROM stations ORDER BY id")]

    # --- reads for aggregation ------------------------------------------------------------------

    def envelope_count(self) -> int:
        return self._q("SELECT count(*) FROM envelopes")[0][0]

    def envelope_keys(self) -> list[tuple[str, str, int, str]]:
        return [tuple(r) for r in self._q("SELECT device, stream, seq, hash FROM envelopes")]

    def receipts_by_station_time(self, bucket_chars: int) -> list[tuple[str, str, int]]:
        """(station, time bucket text, count), buckets as ISO prefixes (13 chars = hour)."""
        return [tuple(r) for r in self._q(
            "SELECT station, substr(identified_at, 1, ?) AS b, count(DISTINCT pin) FROM receipts"
            " GROUP BY station, b ORDER BY station, b", (bucket_chars,))]

    def identified_by_station(self) -> dict[str, int]:
        return {r[0]: r[1] for r in
                self._q("SELECT station, count(DISTINCT pin) FROM receipts GROUP BY station")}

    def latest_summaries(self) -> dict[str, tuple[int, int, str]]:
        rows = self._q(
            "SELECT s.station, s.voters_on_list, s.identified, s.at FROM summaries s"
            " JOIN (SELECT station, max(at) AS at FROM summaries GROUP BY station) m"
            " ON s.station = m.station AND s.at = m.at")
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def latest_protocols(self, include_test: bool = False) -> dict[str, dict]:
        rows = self._q(
            "SELECT p.station, p.body, p.device, p.seq, p.hash, p.closed_at FROM protocols p"
            " WHERE p.test_mode = 0 OR ?"
            " ORDER BY p.station, p.closed_at, p.seq", (1 if include_test else 0,))
        out: dict[str, dict] = {}
        for station, body, device, seq, h, _closed in rows:
            out[station] = {"body": json.loads(body), "device": device, "seq": seq, "hash": h}
        return out

    def double_identifications(self) -> list[tuple[str, str, int]]:
        """(pin, comma-joined stations, receipts) for PINs identified at two or more stations."""
        return [tuple(r) for r in self._q(
            "SELECT pin, group_concat(DISTINCT station), count(*) FROM receipts GROUP BY pin"
            " HAVING count(DISTINCT station) > 1 ORDER BY pin")]

    def anomalies(self, limit: int = 1000) -> list[dict]:
        cols = ["id", "at", "code", "device", "stream", "seq", "station", "detail"]
        return [dict(zip(cols, r, strict=True)) for r in self._q(
            f"SELECT {', '.join(cols)} FROM anomalies ORDER BY id DESC LIMIT ?", (limit,))]

    def anomaly_counts(self) -> list[dict]:
        """Signed evidence per (code, device, station): every one, however many rows the list cuts."""
        cols = ["code", "device", "station", "count", "first_at", "last_at"]
        return [dict(zip(cols, r, strict=True)) for r in self._q(
            "SELECT code, device, station, count(*), min(at), max(at) FROM anomalies"
            " GROUP BY code, device, station ORDER BY code, device, station")]

    def junk(self, limit: int = 100) -> list[dict]:
        """Unauthenticated input counters, the most active clients first."""
        cols = ["client", "code", "events", "first_at", "last_at", "detail"]
        return [dict(zip(cols, r, strict=True)) for r in self._q(
            f"SELECT {', '.join(cols)} FROM junk ORDER BY events DESC, client, code LIMIT ?", (limit,))]

    def junk_total(self) -> int:
        return self._q("SELECT coalesce(sum(events), 0) FROM junk")[0][0]

    def streams(self) -> list[dict]:
        cols = ["device", "stream", "station", "contiguous_seq", "contiguous_hash", "max_seq",
                "stored", "last_received_at"]
        return [dict(zip(cols, r, strict=True)) for r in
                self._q(f"SELECT {', '.join(cols)} FROM streams ORDER BY device, stream")]

    def missing_seqs(self, device: str, stream: str, after: int, limit: int = 50) -> list[int]:
        seqs = [r[0] for r in self._q(
            "SELECT seq FROM envelopes WHERE device=? AND stream=? AND seq>? ORDER BY seq",
            (device, stream, after))]
        out, expect = [], after + 1
        for s in seqs:
            while expect < s and len(out) < limit:
                out.append(expect)
                expect += 1
            expect = s + 1
        return out

    def reporting_stations(self) -> set[str]:
        return {r[0] for r in self._q("SELECT DISTINCT station FROM streams")}
