"""A small world for sync tests: a provisioned station with outboxes and a central receiver.

Used by the tests and by bench/bench_sync.py. Files follow the station layout
(base/paths.py: ``home/var/identify/identify.db``, ``home/var/identify/device.key``,
``home/etc/identify-cert.json``, the same for count, ``home/var/package/trust/*.pub``)
so ``uchastok-sync --home`` and ``uchastok-outbox --home`` work on it. One key signs
both streams here (a certificate for both roles, installed as each role's): the
per-role keys of a provisioned device are tested in tests/sync/test_outbox_socket.py.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from pathlib import Path

from base.clock import FixedClock
from base.paths import Paths
from base.sqlite import Migration, atomic, open_db
from central.api import ApiConfig, token_hash
from central.server import Limits, make_server
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.envelope import DeviceSigner
from sync.outbox import OUTBOX_SCHEMA, Outbox

ELECTION = "kg-2025-parl"
ROLE_MIGRATIONS = [Migration("outbox-v1", OUTBOX_SCHEMA)]


def receipt_pin(i: int, station_no: int = 42) -> str:
    """A valid PIN (sync/pin.py), one per (station_no, i): sex 2, a real birth date, a serial."""
    born = dt.date(1950, 1, 1) + dt.timedelta(days=station_no * 64 + i // 100_000)
    return f"2{born:%d%m%Y}{i % 100_000:05d}"


def receipt_body(i: int, station_no: int = 42) -> dict:
    return {"receipt": f"R-{i:06d}", "pin": receipt_pin(i, station_no), "method": "card+finger",
            "manual_reason": None, "identified_at": f"2025-11-30T{8 + (i // 600) % 12:02d}:"
            f"{(i // 10) % 60:02d}:{i % 60:02d}Z", "ballots": ["district-07", "party-list"],
            "table": str(1 + i % 3)}


def protocol_body(station: str, identified: int, on_list: int = 2000) -> dict:
    read = min(identified, 900)
    return {"election": ELECTION, "station": station, "closed_at": "2025-11-30T20:30:00Z",
            "voters_on_list": on_list, "voters_identified": identified,
            "contests": [
                {"contest": "district-07", "kind": "candidate", "ballots_read": read,
                 "valid": read - 10, "invalid": 6, "blank": 4, "marginal_sheets": 2,
                 "votes": {"cand-1": (read - 10) // 2, "cand-2": (read - 10) - (read - 10) // 2 - 5,
                           "against-all": 5}, "preferences": {}},
                {"contest": "party-list", "kind": "party-list", "ballots_read": read,
                 "valid": read - 8, "invalid": 8, "blank": 0, "marginal_sheets": 0,
                 "votes": {f"party-{k}": (read - 8) // 4 for k in range(1, 4)}
                 | {"against-all": (read - 8) - 3 * ((read - 8) // 4)},
                 "preferences": {"party-1": {str(n): n for n in range(1, 20)}}}],
            "control": [{"relation": "ballots<=identified", "ok": True, "detail": ""}],
            "test_mode": False}


def station_entry(sid: str, n: int) -> dict:
    return {"id": sid, "number": n, "name": {"ky": sid, "ru": sid},
            "region": {"code": f"R{n % 2}", "name": {"ky": "r", "ru": f"Region {n % 2}"}},
            "oik": {"code": f"OIK-{n % 4}", "name": {"ky": "o", "ru": f"OIK {n % 4}"}},
            "tik": {"code": f"TIK-{n % 8}", "name": {"ky": "t", "ru": f"TIK {n % 8}"}},
            "voters_on_list": 2000}


class Station:
    """A provisioned station home with identify.db and count.db outboxes."""

    def __init__(self, home: Path, authority, station_id: str = "st-0042",
                 election: str = ELECTION, cap: int = 100_000):
        self.home = Path(home)
        self.var, self.etc = self.home / "var", self.home / "etc"
        self.station_id = station_id
        self.key = signing.generate_key()
        self.device_id = device_id_for(self.key.public_key())
        self.cert = issue_certificate(authority, self.device_id, self.key.public_key(), station_id,
                                      election, dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                                      dt.datetime(2025, 12, 31, tzinfo=dt.UTC))
        self.clock = FixedClock("2025-11-30T08:00:00+00:00")
        self.signer = DeviceSigner(self.key, self.device_id, cert_ref(self.cert), election,
                                   station_id, self.clock)
        self.paths = Paths.from_env(self.home).ensure()
        for files in self.paths.roles.values():
            signing.save_private_key(self.key, files.key)
            files.cert.write_text(json.dumps(self.cert))
        self.conns = {s: open_db(f.db, ROLE_MIGRATIONS) for s, f in self.paths.roles.items()}
        self.outboxes = {s: Outbox(c, self.signer, s, cap=cap) for s, c in self.conns.items()}

    def install_trust(self, ack_pub, authority_pub) -> None:
        trust = self.var / "package" / "trust"
        trust.mkdir(parents=True, exist_ok=True)
        signing.save_public_key(ack_pub, trust / "ack-server.pub")
        signing.save_public_key(authority_pub, trust / "provisioning.pub")

    def add_receipts(self, n: int, start: int = 0, per_tx: int = 500) -> None:
        ob, conn = self.outboxes["identify"], self.conns["identify"]
        for lo in range(start, start + n, per_tx):
            with atomic(conn):
                for i in range(lo, min(lo + per_tx, start + n)):
                    ob.enqueue("identification-receipt", receipt_body(i))

    def add_protocol(self, identified: int) -> None:
        with atomic(self.conns["count"]):
            self.outboxes["count"].enqueue("polls-event", {"event": "closed",
                                                           "at": "2025-11-30T20:00:00Z"})
            self.outboxes["count"].enqueue("results-protocol",
                                           protocol_body(self.station_id, identified))

    def depth(self) -> int:
        return sum(o.depth() for o in self.outboxes.values())

    def close(self) -> None:
        for c in self.conns.values():
            c.close()


# The test receiver's operator token: GET /v1/anomalies with OPERATOR headers sees PINs and texts.
OPERATOR_TOKEN = "test-operator-token"
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


class Central:
    """A receiver on loopback in a thread (central/server.py's uvicorn server, one worker).

    Views are computed afresh for each GET (``read_cache=0``): tests read right after
    they upload; ``OPERATOR_TOKEN`` is its operator. ``config`` replaces the whole
    ``ApiConfig`` (limits, operators).
    """

    def __init__(self, db: Path, ack_key, authority_pub, election: str | None = ELECTION, *,
                 config: ApiConfig | None = None, limits: Limits | None = None):
        self.receiver = Receiver(Storage(db), ack_key, authority_pub, election_id=election)
        config = config or ApiConfig(read_cache=0, operators=frozenset({token_hash(OPERATOR_TOKEN)}))
        self.server = make_server(self.receiver, "127.0.0.1", 0, config=config, limits=limits)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.receiver.storage.close()


def full_protocol_body(station: str, rng_seed: int = 1, parties: int = 20, candidates: int = 15,
                       numbers: int = 54) -> dict:
    """A results protocol at realistic size: 15 candidates, 20 party lists x 54 preference numbers."""

    rng = random.Random(rng_seed)
    identified, read = 1400, 1390

    def split(total, keys):
        cuts = sorted(rng.randint(0, total) for _ in range(len(keys) - 1))
        return {k: b - a for k, a, b in zip(keys, [0, *cuts], [*cuts, total], strict=True)}

    cand = split(read - 20, [f"cand-{i:02d}" for i in range(1, candidates + 1)] + ["against-all"])
    party = split(read - 25, [f"party-{i:02d}" for i in range(1, parties + 1)] + ["against-all"])
    prefs = {p: {str(n): rng.randint(0, 40) for n in range(1, numbers + 1)}
             for p in party if p != "against-all"}
    return {"election": ELECTION, "station": station, "closed_at": "2025-11-30T20:40:00Z",
            "voters_on_list": 2000, "voters_identified": identified,
            "contests": [
                {"contest": "district-07", "kind": "candidate", "ballots_read": read,
                 "valid": read - 20, "invalid": 12, "blank": 8, "marginal_sheets": 3, "votes": cand,
                 "preferences": {}},
                {"contest": "party-list", "kind": "party-list", "ballots_read": read,
                 "valid": read - 25, "invalid": 20, "blank": 5, "marginal_sheets": 1, "votes": party,
                 "preferences": prefs}],
            "control": [{"relation": "ballots<=identified", "ok": True,
                         "detail": f"{read} <= {identified}"}],
            "test_mode": False}
