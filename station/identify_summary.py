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

The row names the close of polls it counts (``close_seq``: the latest ``close``
in polls_history when it was written). ``published`` gives the counts only while
that close is still the latest: polls reopened by a technician and closed again
make the earlier close's counts no counts of this one, and the protocol then has
none (its relation is left out, not checked against stale figures) until the
identify role sends this close's summary. ``superseded`` says that a row is there
but of an earlier close (the count role then looks nowhere else).

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


def _last_close(conn: sqlite3.Connection) -> int | None:
    return conn.execute("SELECT max(seq) FROM polls_history WHERE action = 'close'").fetchone()[0]


def publish(conn: sqlite3.Connection, body: dict[str, Any], *, clock=None) -> dict[str, Any]:
    """Write the summary's counts into station.db for the latest close (the latest replaces the one before)."""
    c = counts(body)
    with atomic(conn):
        conn.execute("INSERT INTO identify_summary(id, counts, published_at, close_seq) VALUES (1, ?, ?, ?)"
                     " ON CONFLICT(id) DO UPDATE SET counts = excluded.counts,"
                     " published_at = excluded.published_at, close_seq = excluded.close_seq",
                     (json.dumps(c, sort_keys=True), iso((clock or SystemClock()).now()), _last_close(conn)))
    return c


def _row(conn: sqlite3.Connection) -> tuple[str, int | None, int | None] | None:
    try:
        row = conn.execute("SELECT counts, close_seq FROM identify_summary WHERE id = 1").fetchone()
    except sqlite3.OperationalError:        # a station.db opened read-only before its migrations
        return None
    return None if row is None else (row[0], row[1], _last_close(conn))


def for_latest_close(conn: sqlite3.Connection) -> tuple[dict[str, Any] | None, bool]:
    """(the counts published for the latest close of polls or None, whether a row of an earlier
    close is there instead): one read for the count role, which needs both."""
    row = _row(conn)
    if row is None:
        return None, False
    if row[1] is None or row[1] != row[2]:
        return None, row[1] != row[2]
    return json.loads(row[0]), False


def published(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The counts the identify role published for the latest close of polls, or None (none for
    this close yet: not closed, not sent since the last close, or an older file)."""
    return for_latest_close(conn)[0]


def superseded(conn: sqlite3.Connection) -> bool:
    """A summary's counts are here, but of an earlier close than the latest (module docstring)."""
    return for_latest_close(conn)[1]
