"""What the device knows about itself, for ``uchastok status`` and the commission's screen.

Reads only (read-only connections): election and station, voters on the list,
identifications so far, sheets read, polls state, each role's key fingerprint
and certificate, package hash, outbox depth and link state when those parts
are present, and the commission members whose PIN must be set again (set
before the 6-digit rule and the station's PIN key; station/polls.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from base.paths import ROLES, Paths
from provisioning.identity import identity, load_certificate
from station import polls
from station.db import open_station_db
from station.errors import StationError
from station.package import pinned_cec_key, read_election, voter_list_problem
from sync.uploader import link_status


def _count(path, sql: str) -> int | None:

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

    out: dict = {"home": str(paths.state_dir.parent) if paths.state_dir.name == "var" else str(paths.state_dir)}
    out["devices"], out["certificates"] = {}, {}
    for role in ROLES:
        try:
            ident = identity(paths, role)
            out["devices"][role] = {"id": ident.device_id, "key_fingerprint": ident.key_id}
        except StationError:
            out["devices"][role] = None
        cert = load_certificate(paths, role)
        out["certificates"][role] = (
            {"station": cert["signed"]["station_id"], "election": cert["signed"]["election_id"],
             "valid_until": cert["signed"]["not_after"]} if cert else None)
    out["package"] = None
    if paths.station_db.exists():
        conn = open_station_db(paths.station_db, readonly=True)
        try:
            row = conn.execute("SELECT election_id, package_version, manifest_sha256, station_id, loaded_at"
                               " FROM package WHERE current = 1").fetchone()
            if row:
                out["package"] = {"election": row[0], "version": row[1], "sha256": row[2], "station": row[3],
                                  "loaded_at": row[4]}
            out["polls"] = str(polls.current(conn))
            out["commission_pins_to_set_again"] = polls.members_to_set_again(conn)
        finally:
            conn.close()
    else:
        out["polls"] = str(polls.PollsState.PROVISIONED)
    if paths.package_manifest.exists():
        # Shown only after the manifest's signature verified against the pinned CEC key (invariant 3).
        try:
            e = read_election(paths.package_dir, pinned_cec_key(paths))
            out["election"] = {"id": e.id, "name": e.name.to_json(), "voting_day": e.voting_day.isoformat()}
            out["station"] = {"id": e.station.id, "number": e.station.number, "name": e.station.name.to_json()}
        except StationError as err:
            out.setdefault("errors", []).append(f"loaded package: {err}")
        problem = voter_list_problem(paths)
        if problem:
            out.setdefault("errors", []).append(problem)
    out["voters_on_list"] = _count(paths.identify_db, "SELECT count(*) FROM voter")
    out["voters_identified"] = _count(paths.identify_db, "SELECT count(*) FROM identification")
    out["sheets_read"] = _count(paths.count_db, "SELECT count(*) FROM sheet WHERE mode = 'real'")
    out["power"] = power_status()
    out["sync"] = _sync_status(paths)
    return out


def power_status(root: str = "/sys/class/power_supply") -> dict:
    """Mains or battery, and the charge, from the kernel's power-supply class (no battery: mains)."""

    base = Path(root)
    out = {"source": "mains", "battery_pct": None}
    if not base.is_dir():
        return out
    for dev in sorted(base.iterdir()):
        try:
            kind = (dev / "type").read_text().strip()
            if kind == "Battery" and (dev / "capacity").exists():
                out["battery_pct"] = int((dev / "capacity").read_text().strip())
                if (dev / "status").read_text().strip() == "Discharging":
                    out["source"] = "battery"
            elif kind == "Mains" and (dev / "online").read_text().strip() == "0":
                out["source"] = "battery"
        except (OSError, ValueError):
            continue
    return out


def sync_line(sync: dict | None) -> str:
    """One line for people: link state and what waits to be sent."""
    if not sync:
        return "not started"
    link = sync.get("link") or {}
    queues = sync.get("queues") or {}
    waiting = ", ".join(f"{k} {v.get('depth', 0)} waiting ({v.get('acked_seq', 0)} delivered)"
                        for k, v in sorted(queues.items()))
    if not link:
        state = "no upload yet"
    elif link.get("last_error") and link.get("consecutive_failures"):
        state = f"DOWN since {link.get('last_success') or 'start'}: {link['last_error']}"
    else:
        state = f"up, last delivery {link.get('last_success')}"
    return f"{state}; {waiting or 'no queue'}"


def _sync_status(paths: Paths) -> dict | None:
    try:
        return link_status(paths.state_dir)
    except Exception as e:
        return {"error": str(e)}
