"""A station with one key per role and its outbox services (tests of the uploader's sockets).

``RoleStation``: a provisioned home (base/paths.py layout) where each role has
its own key, a certificate for that role only, and an outbox in its own file;
``Services``: both roles' outbox services (station/outbox_service.py) in
threads on the home's sockets.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

from sync_world import ROLE_MIGRATIONS, protocol_body, receipt_body

from base.clock import FixedClock
from base.paths import Paths
from base.sqlite import atomic, open_db
from station.outbox_service import OutboxService
from sync import signing
from sync.certificate import device_id_for, issue_certificate
from sync.device import load_device
from sync.outbox import Outbox

ELECTION = "kg-2025-parl"
STATION = "st-0042"


class RoleStation:
    """A provisioned home with a key, a certificate (for that role only) and an outbox per role."""

    def __init__(self, home, authority, ack_key):
        self.paths = Paths.from_env(home).ensure()
        self.clock = FixedClock("2025-11-30T08:00:00+00:00")
        self.conns, self.outboxes, self.device_ids = {}, {}, {}
        trust = self.paths.trust_dir
        trust.mkdir(parents=True)
        signing.save_public_key(ack_key.public_key(), self.paths.ack_pub)
        signing.save_public_key(authority.public_key(), self.paths.provisioning_pub)
        for role, files in self.paths.roles.items():
            key = signing.generate_key()
            self.device_ids[role] = device_id_for(key.public_key())
            cert = issue_certificate(authority, self.device_ids[role], key.public_key(), STATION, ELECTION,
                                     dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                                     dt.datetime(2025, 12, 31, tzinfo=dt.UTC), (role,))
            signing.save_private_key(key, files.key)
            files.cert.write_text(json.dumps(cert))
            self.conns[role] = open_db(files.db, ROLE_MIGRATIONS)
            device = load_device(files.key, files.cert, clock=self.clock)
            self.outboxes[role] = Outbox(self.conns[role], device.signer, role)

    def add(self, receipts: int) -> None:
        with atomic(self.conns["identify"]):
            for i in range(receipts):
                self.outboxes["identify"].enqueue("identification-receipt", receipt_body(i))
        with atomic(self.conns["count"]):
            self.outboxes["count"].enqueue("results-protocol", protocol_body(STATION, receipts))

    def depth(self) -> int:
        return sum(o.depth() for o in self.outboxes.values())

    def close(self) -> None:
        for c in self.conns.values():
            c.close()


class Services:
    """Both roles' outbox services, each in a thread, on the home's sockets."""

    def __init__(self, paths: Paths, roles=("identify", "count"), **kw):
        self.stop = threading.Event()
        self.services = {r: OutboxService(paths, r, **kw) for r in roles}
        self.threads = [threading.Thread(target=s.serve, args=(self.stop,), daemon=True)
                        for s in self.services.values()]
        for t in self.threads:
            t.start()
        for r in roles:
            sock = paths.role(r).outbox_socket
            for _ in range(500):
                if sock.exists():
                    break
                self.stop.wait(0.01)
            assert sock.exists(), f"{r} outbox service did not start"

    def close(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)
