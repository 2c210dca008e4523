"""Helpers shared by the count tests (and bench/bench_count.py): readings and a station home."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from base.paths import Paths
from count.ballots.reading import ContestOutcome, SheetReading
from provisioning.package import build_package, load_package
from station import polls
from station.db import open_station_db
from sync import signing
from sync.certificate import device_id_for, issue_certificate

ELECTION = "kg-2026-parl"
STATION = "uik-1021"
STYLE = {"district-07": "bs-district-07", "party-list": "bs-party-list"}


def reading(contest: str, status: str = "valid", choice: str | None = None, *,
            reason: str | None = None, preference: int | None = None,
            preference_ignored: int | None = None, marginal: tuple[str, ...] = (),
            election: str = ELECTION, station: str = STATION,
            style: str | None = None) -> SheetReading:
    if status != "valid" and reason is None:
        reason = "no-mark" if status == "blank" else "overvote"
    o = ContestOutcome(contest, status, reason, choice, preference, preference_ignored, marginal)
    return SheetReading.accepted_with((o,), election=election, station=station,
                                      ballot_style=style or STYLE[contest])


def make_home(root: Path, manifest: dict, *, state: str | None = "open") -> Paths:
    """A provisioned station directory: package manifest, device key, polls driven to ``state``."""

    paths = Paths.from_env(root).ensure()
    cec = signing.private_from_seed(bytes(range(2, 34)))
    signing.save_public_key(signing.public_key(cec), paths.cec_pub)
    build_package(root / "package-src", manifest, [], cec)
    load_package(paths, root / "package-src")
    key = signing.private_from_seed(DEVICE_SEED)
    signing.save_private_key(key, paths.role("count").key)
    authority = signing.private_from_seed(bytes(range(1, 33)))
    now = dt.datetime(2026, 11, 29, tzinfo=dt.UTC)
    cert = issue_certificate(authority, device_id_for(signing.public_key(key)), signing.public_key(key),
                             manifest["station"]["id"], manifest["election"]["id"],
                             now - dt.timedelta(days=30), now + dt.timedelta(days=30))
    paths.role("count").cert.write_text(json.dumps(cert))
    conn = open_station_db(paths.station_db)
    steps = {"provisioned": [], "test-mode": ["enter-test-mode"],
             "zero-report-printed": ["enter-test-mode", "print-zero-report"],
             "open": ["enter-test-mode", "print-zero-report", "open"],
             "closed": ["enter-test-mode", "print-zero-report", "open", "close"]}[state or "provisioned"]
    for a in steps:
        polls.apply(conn, a, counters_zero=True if a == "print-zero-report" else None)
    conn.close()
    return paths


DEVICE_SEED = bytes(range(32))


def device_public():
    return signing.public_key(signing.private_from_seed(DEVICE_SEED))


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1))
