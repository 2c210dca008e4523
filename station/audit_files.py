"""Verify the audit chain of every SQLite file of the station."""

from __future__ import annotations

from base.paths import Paths
from base.sqlite import connect
from station.events import verify_chain


def verify_all(paths: Paths) -> list[dict]:
    out = []
    for p in (paths.station_db, paths.identify_db, paths.count_db):
        if not p.exists():
            continue
        conn = connect(p, readonly=True)
        try:
            rep = verify_chain(conn)
        finally:
            conn.close()
        out.append({"file": str(p), "ok": rep.ok, "records": rep.records, "problem": rep.problem,
                    "at_seq": rep.at_seq, "head": rep.head})
    return out
