"""Shared end-of-run checks: every envelope stored exactly once, acked, chains whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from base.paths import Paths


def station_envelopes(var: Path) -> dict[tuple[str, int], tuple[str, bool]]:
    out = {}
    for stream, db in Paths.from_state_dir(var).role_dbs.items():
        conn = sqlite3.connect(db)
        for seq, h, acked in conn.execute("SELECT seq, hash, acked_at IS NOT NULL FROM outbox"
                                          " WHERE stream=?", (stream,)):
            out[(stream, seq)] = (h, bool(acked))
        conn.close()
    return out


def assert_exactly_once(var: Path, central_db: Path, device: str) -> int:
    mine = station_envelopes(var)
    conn = sqlite3.connect(central_db)
    rows = conn.execute("SELECT stream, seq, hash FROM envelopes WHERE device=?", (device,)).fetchall()
    heads = {s: (c, m) for s, c, m in conn.execute(
        "SELECT stream, contiguous_seq, max_seq FROM streams WHERE device=?", (device,))}
    conn.close()
    theirs = {(s, q): h for s, q, h in rows}
    assert len(rows) == len(theirs)  # keyed by (device, stream, seq): never twice
    assert set(theirs) == set(mine), "envelope sets differ"
    assert all(theirs[k] == mine[k][0] for k in mine), "hash differs"
    assert all(acked for _, acked in mine.values()), "not every envelope acked"
    for stream in {s for s, _ in mine}:
        n = max(q for s, q in mine if s == stream)
        assert heads[stream] == (n, n)
    return len(rows)
