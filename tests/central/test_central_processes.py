"""Several receiver processes on one database: replays, forks and double identifications are
decided by the database (constraints and row locks), never by a lock inside one process.

Four processes, each its own ``Receiver`` and ``Storage`` on the same SQLite file or
PostgreSQL database, are released at once by a barrier and send the same batches in
different orders (replays), two different envelopes signed for one seq (a fork), and the
same PINs identified at two stations at the same moment.
"""

from __future__ import annotations

import multiprocessing
import random

import pytest
from sync_world import Station, receipt_body, station_entry

from base.sqlite import atomic
from central.service import Receiver
from central.storage import Storage
from sync import signing
from sync.envelope import encode_batch, make_batch

PROCESSES = 4


def _run(db, ack_key, authority_pub, barrier, batches, out):
    rx = Receiver(Storage(db), ack_key, authority_pub)
    barrier.wait(timeout=60)
    statuses = []
    for data in batches:
        reply = rx.handle_batch(data, "gzip", "127.0.0.1")
        statuses.append((reply.status, [r["status"] for r in reply.body.get("signed", {}).get("results", [])]))
    rx.storage.close()
    out.put(statuses)


def _race(db, ack_key, authority_pub, plans: list[list[bytes]]) -> list:
    ctx = multiprocessing.get_context("fork")
    barrier, out = ctx.Barrier(len(plans)), ctx.Queue()
    procs = [ctx.Process(target=_run, args=(db, ack_key, authority_pub, barrier, p, out))
             for p in plans]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    return results


def _batches(st: Station, stream: str, size: int) -> list[bytes]:
    pending = [p.envelope for p in st.outboxes[stream].pending(100_000)]
    return [encode_batch(make_batch(st.device_id, stream, pending[i:i + size], st.cert))
            for i in range(0, len(pending), size)]


@pytest.fixture
def world(tmp_path, central_db, authority, ack_key):
    rx = Receiver(Storage(central_db), ack_key, authority.public_key())
    rx.register_stations([station_entry("st-0042", 42), station_entry("st-0043", 43)])
    stations = [Station(tmp_path / "a", authority, "st-0042"), Station(tmp_path / "b", authority, "st-0043")]
    yield rx, stations
    for s in stations:
        s.close()
    rx.storage.close()


def test_replays_across_processes_store_each_envelope_once(world, central_db, ack_key, authority):
    rx, (st, _) = world
    st.add_receipts(300)
    batches = _batches(st, "identify", 40)
    plans = [random.Random(k).sample(batches, len(batches)) for k in range(PROCESSES)]
    results = _race(central_db, ack_key, authority.public_key(), plans)
    stored = sum(r.count("stored") for proc in results for _, r in proc)
    assert all(status == 200 for proc in results for status, _ in proc)
    assert stored == 300                          # each envelope stored by exactly one process
    assert rx.storage.envelope_count() == 300
    assert rx.storage.stream_head(st.device_id, "identify")[0] == 300
    assert rx.storage.identified_by_station() == {"st-0042": 300}
    assert rx.storage.anomaly_counts() == []


def test_a_fork_sent_to_two_processes_at_once_stores_one(world, central_db, ack_key, authority):
    rx, (st, _) = world
    st.add_receipts(5)
    first = _batches(st, "identify", 100)
    assert rx.handle_batch(first[0], "gzip").status == 200
    head = rx.storage.stream_head(st.device_id, "identify")
    twins = [st.signer.seal("identify", 6, head[1], "polls-event",
                            {"event": "paused", "at": f"2025-11-30T1{k}:00:00Z"}).envelope
             for k in range(PROCESSES)]
    plans = [[encode_batch(make_batch(st.device_id, "identify", [t], st.cert))] for t in twins]
    results = _race(central_db, ack_key, authority.public_key(), plans)
    outcomes = sorted(r[0] for proc in results for _, r in proc)
    assert outcomes == ["rejected"] * (PROCESSES - 1) + ["stored"]
    assert rx.storage.stream_head(st.device_id, "identify")[0] == 6
    forks = [a for a in rx.storage.anomaly_counts() if a["code"] == "fork"]
    assert sum(a["count"] for a in forks) == PROCESSES - 1


def test_one_pin_at_two_stations_at_once_is_a_double_identification(world, central_db, ack_key,
                                                                      authority):
    rx, (a, b) = world
    a.add_receipts(60)        # the same 60 PINs (sync_world.receipt_body) at st-0042 and st-0043
    b.add_receipts(60)
    plans = [_batches(a, "identify", 10), _batches(b, "identify", 10)]
    _race(central_db, ack_key, authority.public_key(), plans)
    doubles = rx.storage.double_identifications()
    assert len(doubles) == 60
    assert {tuple(stations) for _, stations, _ in doubles} == {("st-0042", "st-0043")}
    assert rx.storage.identified_by_station() == {"st-0042": 60, "st-0043": 60}


def test_a_replayed_batch_costs_no_signature_verification(world, mocker):
    rx, (st, _) = world
    st.add_receipts(50)
    (batch,) = _batches(st, "identify", 100)
    assert rx.handle_batch(batch, "gzip").status == 200
    verify = mocker.spy(signing, "verify")
    reply = rx.handle_batch(batch, "gzip")            # the same bytes again (a lost ack, or a replay)
    assert {r["status"] for r in reply.body["signed"]["results"]} == {"duplicate"}
    assert verify.call_count == 1                     # the batch's certificate only, no envelope


def test_one_pin_twice_in_a_batch_counts_once(world):
    rx, (st, other) = world
    with atomic(st.conns["identify"]):
        for i in (1, 2, 1):          # receipt_body(1) twice: the same PIN (a reprint's second receipt)
            st.outboxes["identify"].enqueue("identification-receipt", receipt_body(i))
    with atomic(other.conns["identify"]):
        other.outboxes["identify"].enqueue("identification-receipt", receipt_body(1))
    for s in (st, other):
        (batch,) = _batches(s, "identify", 100)
        assert rx.handle_batch(batch, "gzip").status == 200
    assert rx.storage.identified_by_station() == {"st-0042": 2, "st-0043": 1}
    assert [d[0] for d in rx.storage.double_identifications()] == [receipt_body(1)["pin"]]


def test_shared_pins_in_opposite_orders_never_fail_a_batch(world, central_db, ack_key, authority):
    rx, (a, b) = world
    a.add_receipts(200)
    with atomic(b.conns["identify"]):       # the same PINs, the other way round
        for i in reversed(range(200)):
            b.outboxes["identify"].enqueue("identification-receipt", receipt_body(i))
    results = _race(central_db, ack_key, authority.public_key(),
                    [_batches(a, "identify", 200), _batches(b, "identify", 200)])
    assert [status for proc in results for status, _ in proc] == [200, 200]
    assert len(rx.storage.double_identifications()) == 200
