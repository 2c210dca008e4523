"""End to end on loopback: outboxes drain through the uploader into the receiver, exactly once."""

from __future__ import annotations

import json
import random

import pytest
import requests
from sync_world import Central, Station, station_entry

from central import aggregate
from sync import signing
from sync.errors import SyncError
from sync.uploader import Uploader, link_status, main


@pytest.fixture
def world(tmp_path, authority, ack_key):
    st = Station(tmp_path / "st", authority)
    st.install_trust(ack_key.public_key(), authority.public_key())
    central = Central(tmp_path / "central.db", ack_key, authority.public_key())
    yield st, central
    central.close()
    st.close()


def uploader(st, central, ack_key, **kw):
    return Uploader(list(st.outboxes.values()), central.url, ack_key.public_key(),
                    certificate=st.cert, state_path=st.paths.link_state,
                    rng=random.Random(1), sleep=lambda s: None, **kw)


def test_drain_exactly_once_and_results_first(world, ack_key):
    st, central = world
    st.add_receipts(300)
    st.add_protocol(300)
    with uploader(st, central, ack_key, batch_size=100) as up:
        first = up.send_once()
        assert first.delivered == 2  # the count stream (results protocol) went first
        up.drain()
    assert st.depth() == 0
    storage = central.receiver.storage
    assert storage.envelope_count() == 302
    heads = {s["stream"]: s["contiguous_seq"] for s in storage.streams()}
    assert heads == {"identify": 300, "count": 2}
    res = aggregate.results(storage, "uik")
    assert res["stations_counted"] == 1 and not res["held"]
    status = link_status(st.var)
    assert status["queues"]["identify"]["depth"] == 0
    assert status["link"]["consecutive_failures"] == 0 and status["link"]["last_success"]


def test_resend_after_lost_state_is_idempotent(world, ack_key):
    st, central = world
    st.add_receipts(50)
    with uploader(st, central, ack_key) as up:
        up.drain()
    # the station forgets the acks (as if they were lost): everything is resent
    st.conns["identify"].execute("UPDATE outbox SET acked_at=NULL")
    st.conns["identify"].execute("UPDATE outbox_head SET pending=50")
    with uploader(st, central, ack_key) as up:
        up.drain()
    assert st.depth() == 0 and central.receiver.storage.envelope_count() == 50


def test_cli_once(world, ack_key):
    st, central = world
    st.add_receipts(20)
    rc = main(["--home", str(st.home), "--url", central.url, "--once"])
    assert rc == 0 and st.depth() == 0


def test_openapi_and_endpoints(world, ack_key):
    st, central = world
    st.add_receipts(5)
    with uploader(st, central, ack_key) as up:
        up.drain()
    api = requests.get(central.url + "/openapi.json", timeout=5).json()
    for path in api["paths"]:
        if "get" in api["paths"][path]:
            r = requests.get(central.url + path, timeout=5)
            assert r.status_code == 200, path
            json.dumps(r.json())
    assert requests.get(central.url + "/v1/results?level=nope", timeout=5).status_code == 400


def test_https_requires_pinned_ca_and_plain_http_only_on_loopback(world, ack_key):
    st, central = world
    with pytest.raises(SyncError):
        Uploader(list(st.outboxes.values()), "https://cec.example", ack_key.public_key())
    with pytest.raises(SyncError):
        Uploader(list(st.outboxes.values()), "http://cec.example", ack_key.public_key())


def test_wrong_ack_key_delivers_nothing(world, ack_key):
    st, central = world
    st.add_receipts(10)
    with Uploader(list(st.outboxes.values()), central.url, signing.generate_key().public_key(),
                  certificate=st.cert, sleep=lambda s: None) as up:
        r = up.send_once()
    assert r.delivered == 0 and "bad ack" in r.error and st.depth() == 10


def test_heartbeat_is_queued_and_delivered(world, ack_key):
    st, central = world
    with uploader(st, central, ack_key) as up:
        seq = up.heartbeat(disk_path=st.var)
        up.drain()
    assert seq == 1 and st.depth() == 0
    row = central.receiver.storage._q("SELECT body FROM heartbeats")[0][0]
    body = json.loads(row)
    assert body["power"] == "mains" and body["disk_free_mb"] > 0 and body["queue_depth"] == 0


def test_rejected_envelopes_stay_queued_and_do_not_spin(world, ack_key):
    st, central = world
    central.receiver.register_stations([station_entry("st-0001", 1)])  # ours is not on the list
    st.add_receipts(10)
    with uploader(st, central, ack_key) as up:
        assert up.drain() == 0
    assert st.depth() == 10 and st.outboxes["identify"].status().rejected == 10
    status = link_status(st.var)
    assert status["queues"]["identify"]["rejected"] == 10 and "wrong-station" in status["link"]["last_error"]
