"""Polls events to the central server: station.db's history, relayed exactly once.

The polls state lives in station.db, which has no outbox (the streams are the
roles' files), and a transaction never spans two files (ARCHITECTURE.md
invariant 1). So the polls history is the durable source, and the count role
relays it: for each history row not yet relayed, ONE count.db transaction
enqueues its ``polls-event`` envelope and records the row's ``seq`` in
``polls_relayed``. A crash before the commit relays the row again later; after
it, never again — exactly once, in history order.

Example::

    relay_polls_events(station_conn, store.conn, outbox)   # -> number relayed now
"""

from __future__ import annotations

import sqlite3

from base.sqlite import Migration, atomic

RELAY_MIGRATION = Migration("polls-relay-v1", """
CREATE TABLE polls_relayed (history_seq INTEGER PRIMARY KEY);
""")

# action -> the event name the central server shows
EVENT_FOR_ACTION = {
    "enter-test-mode": "test-mode", "print-zero-report": "zero-report-printed", "open": "opened",
    "pause": "paused", "resume": "resumed", "close": "closed", "reopen": "reopened",
    "sign-protocol": "protocol-signed",
}


def relay_polls_events(station_conn: sqlite3.Connection, count_conn: sqlite3.Connection, outbox) -> int:
    """Enqueue every polls transition not relayed yet; return how many were relayed now."""
    last = count_conn.execute("SELECT coalesce(max(history_seq), 0) FROM polls_relayed").fetchone()[0]
    rows = station_conn.execute("SELECT seq, from_state, action, to_state, at, reason FROM polls_history"
                                " WHERE seq > ? ORDER BY seq", (last,)).fetchall()
    n = 0
    for seq, from_state, action, to_state, at, reason in rows:
        with atomic(count_conn):
            # Re-checked under the write lock: another process may have relayed it meanwhile.
            if count_conn.execute("SELECT 1 FROM polls_relayed WHERE history_seq = ?", (seq,)).fetchone():
                continue
            body = {"event": EVENT_FOR_ACTION.get(action, action), "at": at, "from_state": from_state,
                    "to_state": to_state, "history_seq": seq}
            if reason:
                body["reason"] = reason
            outbox.enqueue("polls-event", body)
            count_conn.execute("INSERT INTO polls_relayed(history_seq) VALUES (?)", (seq,))
        n += 1
    return n
