"""Uploads through the fault proxy: every envelope stored exactly once and acked, whatever the link does."""

from __future__ import annotations

import random

import pytest
from sync_checks import assert_exactly_once
from sync_world import Central, Station

from simulation.faultproxy import PRESETS, Fault, FaultPlan, FaultProxy
from sync.uploader import Uploader


@pytest.fixture
def world(tmp_path, authority, ack_key):
    st = Station(tmp_path / "st", authority)
    central = Central(tmp_path / "central.db", ack_key, authority.public_key())
    yield st, central, tmp_path / "central.db"
    central.close()
    st.close()


def drain_through(st, central, ack_key, plan, *, batch=50, seed=3, deadline=2.0):
    with FaultProxy(("127.0.0.1", central.port), plan) as proxy, Uploader(
            list(st.outboxes.values()), proxy.url, ack_key.public_key(), certificate=st.cert,
            rng=random.Random(seed), batch_size=batch, base_backoff=0.01, max_backoff=0.1,
            connect_timeout=1.0, read_timeout=2.0, deadline=deadline) as up:
        errors = []
        for _ in range(10_000):
            r = up.send_once()
            if r.idle:
                break
            if r.error:
                errors.append(r.error)
            if r.wait:
                up.sleep(r.wait)
        return dict(proxy.stats), errors


FAULTS = [f for f in Fault if f is not Fault.NONE]


@pytest.mark.parametrize("fault", FAULTS, ids=[f.value for f in FAULTS])
def test_each_fault_alone(world, ack_key, fault):
    st, central, db = world
    st.add_receipts(40)
    st.add_protocol(40)
    plan = FaultPlan({fault: 0.5}, seed=11, blackhole_s=3.0, trickle_s=0.05, retry_after="0")
    stats, errors = drain_through(st, central, ack_key, plan, batch=10, deadline=1.0)
    assert stats.get(fault.value, 0) > 0
    assert assert_exactly_once(st.var, db, st.device_id) == 42
    if fault in (Fault.BLACKHOLE, Fault.TRICKLE):
        assert any("deadline" in e or "Timeout" in e for e in errors), errors


def test_retry_after_is_honoured(world, ack_key):
    st, central, _ = world
    st.add_receipts(5)
    plan = FaultPlan({Fault.HTTP_429: 1.0}, retry_after="7")
    with FaultProxy(("127.0.0.1", central.port), plan) as proxy, Uploader(
            list(st.outboxes.values()), proxy.url, ack_key.public_key(), certificate=st.cert,
            rng=random.Random(1), base_backoff=0.01, max_backoff=0.1) as up:
        r = up.send_once()
    assert r.delivered == 0 and r.wait >= 7.0 and "429" in r.error


def test_backoff_grows_with_full_jitter(world, ack_key):
    st, central, _ = world
    st.add_receipts(1)
    with FaultProxy(("127.0.0.1", central.port), FaultPlan({Fault.HTTP_500: 1.0})) as proxy, \
            Uploader(list(st.outboxes.values()), proxy.url, ack_key.public_key(),
                     rng=random.Random(5), base_backoff=1.0, max_backoff=8.0) as up:
        waits = [up.send_once().wait for _ in range(8)]
    assert all(0 <= w <= min(8.0, 2 ** (i + 1)) for i, w in enumerate(waits))
    assert up.state.consecutive_failures == 8 and up.batch_size == 1


def run_chaos(world, ack_key, receipts):
    st, central, db = world
    st.add_receipts(receipts)
    st.add_protocol(receipts)
    plan = PRESETS["chaos"]
    plan = FaultPlan(dict(plan.faults), seed=2024, delay_s=0.05, retry_after="1")
    stats, _ = drain_through(st, central, ack_key, plan, batch=100)
    assert assert_exactly_once(st.var, db, st.device_id) == receipts + 2
    assert sum(v for k, v in stats.items() if k != "none") > 0
    return stats


def test_chaos_1000(world, ack_key):
    run_chaos(world, ack_key, 998)


@pytest.mark.slow
def test_chaos_5000(world, ack_key):
    run_chaos(world, ack_key, 4998)
