"""The identification summary's counts, handed from the identify role to the count role through station.db.

On the appliance the two roles run as different Unix users and the count role
cannot even see identify.db (systemd ``InaccessiblePaths=``, secrecy of the
vote: ARCHITECTURE.md invariant 2). Its results protocol still needs how many
voters were identified (the ``ballots<=identified`` relation) and how many
ballots were issued on a provisional claim (issue #14: counted apart on the
summary and the protocol). So at the close, when the identify role queues its
``identification-summary`` envelope, it also writes the summary's **counts**
into station.db, which both roles share: ``publish`` in the same call, one row
(the latest summary), nothing of any voter. The count role reads them with
``published``.

``counts(body)`` is the one reading of a summary body both sides use:
``{"voters_on_list", "identified"}`` and, when any ballot was issued on a
provisional claim, ``provisional`` = its four counters.

Example::

    publish(station_conn, summary_body, clock=clock)      # identify role, at the close
    published(station_conn)   # {"voters_on_list": 300, "identified": 186}
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from base.clock import SystemClock, iso
from base.sqlite import atomic

PROVISIONAL_FIELDS = ("issued", "granted_later", "refused_later", "unanswered")


def counts(body: dict[str, Any]) -> dict[str, Any]:
    """The counts of an ``identification-summary`` body the protocol uses (module docstring)."""
    out: dict[str, Any] = {"voters_on_list": int(body["voters_on_list"]), "identified": int(body["identified"])}
    provisional = body.get("provisional")
    if isinstance(provisional, dict) and provisional.get("issued"):
        out["provisional"] = {k: provisional.get(k) for k in PROVISIONAL_FIELDS}
    return out


def publish(conn: sqlite3.Connection, body: dict[str, Any], *, clock=None) -> dict[str, Any]:
    """Write the summary's counts into station.db (the latest replaces the one before)."""
    c = counts(body)
    with atomic(conn):
        conn.execute("INSERT INTO identify_summary(id, counts, published_at) VALUES (1, ?, ?)"
                     " ON CONFLICT(id) DO UPDATE SET counts = excluded.counts, published_at = excluded.published_at",
                     (json.dumps(c, sort_keys=True), iso((clock or SystemClock()).now())))
    return c


def published(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The counts the identify role published at the close, or None (not closed yet, or an older file)."""
    try:
        row = conn.execute("SELECT counts FROM identify_summary WHERE id = 1").fetchone()
    except sqlite3.OperationalError:        # a station.db opened read-only before its migration
        return None
    return json.loads(row[0]) if row else None
