"""The uploader reaches each role's outbox only through the role's socket (station/outbox_service.py).

A station with one key per role (base/paths.py, provisioning/identity.py): each
stream is signed by its own role's key, the uploader holds no key and opens no
role file, and the role verifies every ack itself before a row moves.
"""

from __future__ import annotations

import json
import random

import pytest
from sync_checks import station_envelopes
from sync_roles import RoleStation, Services
from sync_world import Central

from base.paths import Paths
from base.sqlite import atomic
from sync import signing
from sync.envelope import ZERO_HASH, sign_ack
from sync.errors import OutboxUnavailable, SyncError, VerificationError
from sync.outbox_socket import OutboxClient
from sync.uploader import Uploader, open_station


@pytest.fixture
def station(tmp_path, authority, ack_key):
    st = RoleStation(tmp_path / "st", authority, ack_key)
    yield st
    st.close()


@pytest.fixture
def central(tmp_path, authority, ack_key):
    c = Central(tmp_path / "central.db", ack_key, authority.public_key())
    yield c
    c.close()


def test_uploader_drains_both_roles_through_their_sockets(station, central, tmp_path):
    station.add(40)
    services = Services(station.paths)
    try:
        outboxes, certificates, ack_pub = open_station(station.paths)
        assert [type(o) for o in outboxes] == [OutboxClient, OutboxClient]
        assert (certificates, ack_pub) == ({}, None)   # neither the certificates' files nor the ack key needed
        with Uploader(outboxes, central.url, ack_pub, state_path=station.paths.link_state,
                      rng=random.Random(1), sleep=lambda s: None) as up:
            assert up.drain() == 41
    finally:
        services.close()
    assert station.depth() == 0
    mine = station_envelopes(station.paths.state_dir)
    assert len(mine) == 41 and all(acked for _, acked in mine.values())
    stored = central.receiver.storage._q("SELECT device, stream, count(*) FROM envelopes GROUP BY 1, 2")
    # Each stream is signed by its role's key, and the receiver enrolled one device per role.
    assert sorted(stored) == sorted([(station.device_ids["identify"], "identify", 40),
                                     (station.device_ids["count"], "count", 1)])
    roles = dict(central.receiver.storage._q("SELECT device_id, roles FROM devices"))
    assert {d: json.loads(r) for d, r in roles.items()} == {station.device_ids["identify"]: ["identify"],
                                                           station.device_ids["count"]: ["count"]}


def test_a_forged_ack_moves_nothing(station, tmp_path):
    station.add(3)
    services = Services(station.paths)
    box = OutboxClient(station.paths.role("identify").outbox_socket, "identify")
    try:
        pending = box.pending(10)
        forged = sign_ack(signing.generate_key(), box.device_id, "identify", 3, pending[-1].hash,
                          [{"seq": p.seq, "hash": p.hash, "status": "stored", "reason": None} for p in pending],
                          "2025-11-30T08:00:01Z")
        with pytest.raises(VerificationError, match="identify outbox"):
            box.acknowledge(forged, None)
        assert box.depth() == 3
    finally:
        box.close()
        services.close()
    assert station.outboxes["identify"].depth() == 3


@pytest.mark.parametrize(("request_", "match"), [
    ({"op": "drop-everything"}, "unknown request"),
    ({"op": "pending", "limit": 0}, "limit"),
    ({"op": "pending", "limit": "all"}, "limit"),
    ({"op": "ack", "ack": "yes"}, "outbox"),
    ({"op": "heartbeat", "body": {"power": "mains", "battery_pct": None, "disk_free_mb": 5,
                                  "queue_depth": 0, "note": "sign me"}}, "only power"),
    ({"op": "heartbeat", "body": {"power": "nuclear", "battery_pct": None, "disk_free_mb": 5,
                                  "queue_depth": 0}}, "mains or battery"),
    ({"op": "heartbeat", "body": {"power": "mains", "battery_pct": 250, "disk_free_mb": 5,
                                  "queue_depth": 0}}, "battery_pct"),
], ids=["unknown-op", "limit-zero", "limit-text", "ack-not-a-document", "heartbeat-extra-field",
        "heartbeat-bad-power", "heartbeat-battery-range"])
def test_bad_requests_get_a_clear_refusal_and_change_nothing(station, request_, match):
    station.add(2)
    services = Services(station.paths)
    box = OutboxClient(station.paths.role("count").outbox_socket, "count")
    try:
        before = box.status()
        with pytest.raises(SyncError, match=match):
            box.call(request_)
        assert box.status() == before        # still connected, nothing moved
    finally:
        box.close()
        services.close()


def test_heartbeats_are_the_roles_and_rate_limited(station):
    services = Services(station.paths, clock=station.clock)
    box = OutboxClient(station.paths.role("count").outbox_socket, "count")
    body = {"power": "battery", "battery_pct": 40, "disk_free_mb": 123456789, "queue_depth": 7,
            "clock": "1999-01-01T00:00:00Z"}
    try:
        assert box.enqueue_heartbeat(body).seq == 1
        with pytest.raises(SyncError, match="one heartbeat per 60 s"):
            box.enqueue_heartbeat(body)
        (p,) = box.pending(10)
    finally:
        box.close()
        services.close()
    sealed = p.envelope
    assert sealed["kind"] == "heartbeat" and sealed["device"] == station.device_ids["count"]
    assert sealed["body"]["clock"] == "2025-11-30T08:00:00Z"    # the role's clock, not the uploader's
    assert sealed["body"]["disk_free_mb"] != 123456789          # the role's disk, which the uploader cannot see
    assert sealed["body"]["queue_depth"] == 7 and sealed["body"]["power"] == "battery"


def test_no_heartbeat_while_the_outbox_fills(station):
    with atomic(station.conns["count"]):
        for i in range(8):
            station.outboxes["count"].enqueue("polls-event", {"event": "opened", "at": f"2025-11-30T08:0{i}:00Z"})
    services = Services(station.paths, roles=("count",), cap=10)     # 8 of 10: the warning level
    box = OutboxClient(station.paths.role("count").outbox_socket, "count")
    try:
        with pytest.raises(SyncError, match="filling"):
            box.enqueue_heartbeat({"power": "mains", "battery_pct": None, "disk_free_mb": 1, "queue_depth": 8})
    finally:
        box.close()
        services.close()
    assert station.outboxes["count"].depth() == 8


def test_a_stopped_role_service_holds_back_only_its_stream(station, central):
    station.add(5)
    services = Services(station.paths, roles=("count",))
    station.paths.role("identify").outbox_socket.touch()      # a socket nobody serves (service stopped)
    try:
        outboxes, _, ack_pub = open_station(station.paths)
        with Uploader(outboxes, central.url, ack_pub, rng=random.Random(1), sleep=lambda s: None) as up:
            delivered = up.drain(max_attempts=5, max_wait=0)
            assert delivered == 1 and up.state.queues["identify"].get("error")
    finally:
        services.close()
    assert station.outboxes["count"].depth() == 0 and station.outboxes["identify"].depth() == 5


def test_a_role_not_provisioned_yet_is_unavailable(tmp_path, authority, ack_key):
    paths = Paths.from_env(tmp_path / "blank").ensure()
    services = Services(paths, roles=("identify",))
    box = OutboxClient(paths.role("identify").outbox_socket, "identify")
    try:
        with pytest.raises(OutboxUnavailable, match="does not exist yet"):
            box.depth()
    finally:
        box.close()
        services.close()


def test_a_client_for_the_wrong_stream_is_refused(station):
    services = Services(station.paths)
    box = OutboxClient(station.paths.role("count").outbox_socket, "identify")
    try:
        with pytest.raises(OutboxUnavailable, match="serves stream 'count'"):
            box.depth()
    finally:
        box.close()
        services.close()


def test_envelopes_keep_their_exact_bytes_over_the_socket(station):
    station.add(3)
    services = Services(station.paths)
    box = OutboxClient(station.paths.role("identify").outbox_socket, "identify")
    try:
        remote = box.pending(10)
    finally:
        box.close()
        services.close()
    assert remote == station.outboxes["identify"].pending(10)
    assert remote[0].envelope["prev"] == ZERO_HASH


def test_without_sockets_the_uploader_opens_each_role_file_with_that_roles_certificate(station, central):
    """A single-user home (the demo): no service runs, the role files are opened directly."""
    station.add(4)
    outboxes, certificates, ack_pub = open_station(station.paths)
    assert [o.device_id for o in outboxes] == [station.device_ids["identify"], station.device_ids["count"]]
    assert {s: c["signed"]["roles"] for s, c in certificates.items()} == {"identify": ["identify"],
                                                                         "count": ["count"]}
    try:
        with Uploader(outboxes, central.url, ack_pub, certificates=certificates, rng=random.Random(1),
                      sleep=lambda s: None) as up:
            assert up.drain() == 5
    finally:
        for o in outboxes:
            o.conn.close()
    stored = central.receiver.storage._q("SELECT device, stream, count(*) FROM envelopes GROUP BY 1, 2")
    assert sorted(stored) == sorted([(station.device_ids["identify"], "identify", 4),
                                     (station.device_ids["count"], "count", 1)])
