"""What the device knows about itself, for ``uchastok status`` and the commission's screen.

Reads only (read-only connections): election and station, voters on the list,
identifications so far, sheets read, polls state, key fingerprint, package
hash, outbox depth and link state when those parts are present.
"""

from __future__ import annotations

import json

from station import polls
from station.paths import Paths


def _count(path, sql: str) -> int | None:
    import sqlite3

    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def device_status(paths: Paths) -> dict:
    from provisioning.identity import identity, load_certificate
    from station.errors import StationError
    from station.stationdb import open_station_db

    out: dict = {"home": str(paths.state_dir.parent) if paths.state_dir.name == "var" else str(paths.state_dir)}
    try:
        ident = identity(paths)
        out["device"] = {"id": ident.device_id, "key_fingerprint": ident.key_id}
    except StationError:
        out["device"] = None
    cert = load_certificate(paths)
    out["certificate"] = ({"station": cert["signed"]["station_id"], "election": cert["signed"]["election_id"],
                           "valid_until": cert["signed"]["not_after"]} if cert else None)
    out["package"] = None
    if paths.station_db.exists():
        conn = open_station_db(paths.station_db)
        try:
            row = conn.execute("SELECT election_id, package_version, manifest_sha256, station_id, loaded_at"
                               " FROM package WHERE current = 1").fetchone()
            if row:
                out["package"] = {"election": row[0], "version": row[1], "sha256": row[2], "station": row[3],
                                  "loaded_at": row[4]}
            out["polls"] = str(polls.current(conn))
        finally:
            conn.close()
    else:
        out["polls"] = str(polls.PollsState.PROVISIONED)
    mpath = paths.package_dir / "manifest.json"
    if mpath.exists():
        m = json.loads(mpath.read_bytes())
        out["election"] = {"id": m["election"]["id"], "name": m["election"]["name"],
                           "voting_day": m["election"]["voting_day"]}
        out["station"] = {"id": m["station"]["id"], "number": m["station"]["number"], "name": m["station"]["name"]}
    out["voters_on_list"] = _count(paths.identify_db, "SELECT count(*) FROM voter")
    out["voters_identified"] = _count(paths.identify_db, "SELECT count(*) FROM identification")
    out["sync"] = _sync_status(paths)
    for extra in _EXTRA_SECTIONS:
        try:
            out.update(extra(paths))
        except Exception as e:  # a broken part must not hide the rest of the status
            out.setdefault("errors", []).append(f"{extra.__module__}: {e}")
    return out


def _sync_status(paths: Paths) -> dict | None:
    try:
        from sync.uploader import link_status
    except ImportError:
        return None
    try:
        return link_status(paths.state_dir)
    except Exception as e:
        return {"error": str(e)}


# Other roles add sections (e.g. the count role's sheets read) by appending a function of Paths -> dict.
_EXTRA_SECTIONS: list = []


def add_section(fn) -> None:
    _EXTRA_SECTIONS.append(fn)
