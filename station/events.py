"""The event catalogue and the hash-chained audit log.

Catalogue: every audited action has a stable kebab-case id, a type and a
description, in ``station/event_catalogue/<area>.toml``; ``docs/events.md`` is
generated from it (``uchastok log catalogue --markdown``) and a test fails when
it is stale. Recording an id that is not in the catalogue raises.

Log: each SQLite file of the station (station.db, identify.db, count.db) has
its own ``audit_log`` table, appended to inside the caller's transaction, so an
action and its record commit together. Each record carries the SHA-256 of the
previous record (``prev``) and its own hash over its canonical content, so
``verify_chain`` detects any edited, deleted, inserted or reordered record and
names the first one that breaks.

Secrecy (ARCHITECTURE.md invariant 2): details must never link a voter to a
ballot; the count role logs no per-sheet content at all.

Example::

    with atomic(conn):
        record(conn, "polls-opened", actor="member:1", clock=clock)
    verify_chain(conn)   # -> ChainReport(ok=True, records=..)
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from base.clock import SaneClock, SystemClock, iso, parse_iso
from base.sqlite import Migration, atomic
from station.errors import AuditChainError, StationError

EVENT_TYPES = ("user-action", "system-action", "device-event", "sync")
OUTCOMES = ("success", "failure", "refused")
GENESIS = "0" * 64
_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

AUDIT_MIGRATION = Migration("audit-log-v1", """
CREATE TABLE audit_log (
    seq      INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    event    TEXT NOT NULL,
    type     TEXT NOT NULL,
    outcome  TEXT NOT NULL,
    actor    TEXT NOT NULL,
    details  TEXT NOT NULL,
    prev     TEXT NOT NULL,
    hash     TEXT NOT NULL
);
""")


@dataclass(frozen=True)
class EventSpec:
    id: str
    type: str
    description: str
    area: str


@cache
def catalogue() -> dict[str, EventSpec]:
    """All events of all areas, by id; validated once."""
    out: dict[str, EventSpec] = {}
    root = resources.files("station") / "event_catalogue"
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml"):
            continue
        area = entry.name[:-5]
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        for eid, spec in data.items():
            if not _ID.match(eid):
                raise StationError(f"event_catalogue/{entry.name}: id {eid!r} is not kebab-case")
            if eid in out:
                raise StationError(f"event_catalogue/{entry.name}: duplicate event id {eid!r}")
            if spec.get("type") not in EVENT_TYPES:
                raise StationError(f"event_catalogue/{entry.name}: {eid}: type must be one of {EVENT_TYPES}")
            if not spec.get("description"):
                raise StationError(f"event_catalogue/{entry.name}: {eid}: description missing")
            out[eid] = EventSpec(eid, spec["type"], spec["description"].strip(), area)
    return out


def catalogue_markdown() -> str:
    """The generated docs/events.md."""
    lines = ["# Audit events", "",
             "Generated from `station/event_catalogue/*.toml` by `uchastok log catalogue --markdown`;",
             "do not edit by hand. Outcomes: " + ", ".join(f"`{o}`" for o in OUTCOMES) + ".", ""]
    by_area: dict[str, list[EventSpec]] = {}
    for spec in catalogue().values():
        by_area.setdefault(spec.area, []).append(spec)
    for area in sorted(by_area):
        lines += [f"## {area}", "", "| id | type | description |", "|---|---|---|"]
        for s in sorted(by_area[area], key=lambda s: s.id):
            lines.append(f"| `{s.id}` | {s.type} | {s.description} |")
        lines.append("")
    return "\n".join(lines)


def _record_hash(prev: str, seq: int, at: str, event: str, type_: str, outcome: str,
                 actor: str, details: str) -> str:
    body = json.dumps([prev, seq, at, event, type_, outcome, actor, details],
                      ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def record(conn: sqlite3.Connection, event: str, outcome: str = "success", *,
           actor: str = "system", clock=None, **details: Any) -> int:
    """Append one event to this file's audit log; returns its sequence number.

    Call inside the caller's transaction (``atomic``) so the action and its
    record commit together; outside one it commits on its own.
    """
    spec = catalogue().get(event)
    if spec is None:
        raise StationError(f"event {event!r} is not in the catalogue (station/event_catalogue/)")
    if outcome not in OUTCOMES:
        raise StationError(f"outcome {outcome!r} is not one of {OUTCOMES}")
    at = iso((clock or SystemClock()).now())
    det = json.dumps(details, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    with atomic(conn):
        last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        h = _record_hash(prev, seq, at, event, spec.type, outcome, actor, det)
        conn.execute("INSERT INTO audit_log(seq, at, event, type, outcome, actor, details, prev, hash)"
                     " VALUES (?,?,?,?,?,?,?,?,?)", (seq, at, event, spec.type, outcome, actor, det, prev, h))
    return seq


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    records: int
    problem: str | None = None
    at_seq: int | None = None
    head: str | None = None


def verify_chain(conn: sqlite3.Connection) -> ChainReport:
    """Walk the whole log; report the first record that was edited, removed, inserted or moved."""
    prev, expected_seq, n = GENESIS, 1, 0
    for r in conn.execute("SELECT seq, at, event, type, outcome, actor, details, prev, hash"
                          " FROM audit_log ORDER BY seq"):
        seq = r[0]
        if seq != expected_seq:
            return ChainReport(False, n, f"record {expected_seq} is missing (next present is {seq})", expected_seq)
        if r[7] != prev:
            return ChainReport(False, n, f"record {seq} does not follow record {seq - 1}"
                               " (deleted, inserted or reordered records)", seq)
        if _record_hash(r[7], seq, r[1], r[2], r[3], r[4], r[5], r[6]) != r[8]:
            return ChainReport(False, n, f"record {seq} ({r[2]}) was edited: its hash does not match its content", seq)
        prev, expected_seq, n = r[8], seq + 1, n + 1
    return ChainReport(True, n, None, None, prev)


def require_chain(conn: sqlite3.Connection, where: str = "") -> ChainReport:
    rep = verify_chain(conn)
    if not rep.ok:
        raise AuditChainError(f"{where}: {rep.problem}" if where else rep.problem)
    return rep


def tail(conn: sqlite3.Connection, n: int = 20) -> list[dict]:
    rows = conn.execute("SELECT seq, at, event, type, outcome, actor, details FROM audit_log"
                        " ORDER BY seq DESC LIMIT ?", (n,)).fetchall()
    return [dict(seq=r[0], at=r[1], event=r[2], type=r[3], outcome=r[4], actor=r[5],
                 details=json.loads(r[6])) for r in reversed(rows)]


def clock_after_log(conn: sqlite3.Connection, clock=None) -> SaneClock:
    """A clock for a role's daemon that never goes back before the newest record of ``conn``'s log.

    Both roles run on it (``SaneClock``): a wall clock that jumps backwards (a dead RTC battery,
    a wrong NTP answer) is flagged, and no recorded time goes back before what the file holds.
    """
    last = conn.execute("SELECT max(at) FROM audit_log").fetchone()[0]
    return SaneClock(clock or SystemClock(), floor=parse_iso(last) if last else None)
