"""Rate limits, operator tokens and reads of the central API (central/api.py) on a running server."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading

import pytest
import requests
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from sync_world import OPERATOR, OPERATOR_TOKEN, Central, Station, receipt_body

from central.api import (
    ApiConfig,
    Bucket,
    OperatorsError,
    RateBuckets,
    _Views,
    is_operator,
    load_operators,
    token_hash,
)
from central.server import serve
from sync import signing
from sync.envelope import ZERO_HASH, encode_batch, envelope_hash, make_batch
from sync.uploader import Uploader

OPERATORS = frozenset({token_hash(OPERATOR_TOKEN)})


def post(central, batch) -> requests.Response:
    return requests.post(central.url + "/v1/batches", data=encode_batch(batch), timeout=30,
                         headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})


def chain(st, n: int) -> list[dict]:
    envs, prev = [], ZERO_HASH
    for seq in range(1, n + 1):
        env = st.signer.seal("identify", seq, prev, "identification-receipt", receipt_body(seq)).envelope
        envs.append(env)
        prev = envelope_hash(env)
    return envs


# --- per device -----------------------------------------------------------------------------

def test_a_device_past_its_budget_gets_429_and_nothing_is_stored(tmp_path, authority, ack_key):
    st = Station(tmp_path / "st", authority)
    central = Central(tmp_path / "c.db", ack_key, authority.public_key(),
                      config=ApiConfig(read_cache=0, device_batches=Bucket(3, 0.0001)))
    try:
        e = chain(st, 4)
        assert post(central, make_batch(st.device_id, "identify", [e[0]], st.cert)).status_code == 200
        # Anyone can name the device: forged batches (junk) and replays (duplicates) cost it nothing.
        forged = [dict(e[1], seq=s, prev="ab" * 32) for s in range(2, 12)]
        for _ in range(5):
            r = post(central, make_batch(st.device_id, "identify", forged, None))
            assert r.status_code == 200
            assert {x["reason"].split(":")[0] for x in r.json()["signed"]["results"]} == {"bad-signature"}
            assert post(central, make_batch(st.device_id, "identify", [e[0]], None)).status_code == 200
        for env in e[1:3]:
            assert post(central, make_batch(st.device_id, "identify", [env], None)).status_code == 200
        r = post(central, make_batch(st.device_id, "identify", [e[3]], None))
        assert r.status_code == 429 and r.json()["error"] == "rate-limited"
        assert int(r.headers["Retry-After"]) >= 1
        assert central.receiver.storage.envelope_count() == 3          # seq 4 was not taken
        other = Station(tmp_path / "other", authority, station_id="st-0043")
        try:   # another device is not held back by this one's budget
            r = post(central, make_batch(other.device_id, "identify", chain(other, 1), other.cert))
            assert r.status_code == 200
        finally:
            other.close()
    finally:
        central.close()
        st.close()


def test_a_station_catching_up_stays_far_inside_the_device_budget(tmp_path, authority, ack_key):
    """What the uploader sends after hours offline: 3,000 receipts and a protocol, no 429."""
    st = Station(tmp_path / "st", authority)
    central = Central(tmp_path / "c.db", ack_key, authority.public_key(),
                      config=ApiConfig(read_cache=0, operators=OPERATORS))
    try:
        st.add_receipts(3000)
        st.add_protocol(3000)
        with Uploader(list(st.outboxes.values()), central.url, ack_key.public_key(),
                      certificate=st.cert, rng=random.Random(1), sleep=lambda s: None) as up:
            up.drain()
            requests_made = up.requests_made
            failures = up.state.consecutive_failures
        assert st.depth() == 0 and failures == 0
        assert central.receiver.storage.envelope_count() == 3002
        print(f"catch-up of 3,002 envelopes: {requests_made} batches")
        assert requests_made <= ApiConfig().device_batches.burst / 4   # 17 of 120
    finally:
        central.close()
        st.close()


# --- per client address ---------------------------------------------------------------------

def test_gets_per_address_are_limited_except_for_operators(tmp_path, authority, ack_key):
    central = Central(tmp_path / "c.db", ack_key, authority.public_key(),
                      config=ApiConfig(read_cache=0, gets=Bucket(5, 0.0001), operators=OPERATORS))
    try:
        codes = [requests.get(central.url + "/v1/stations", timeout=5).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        r = requests.get(central.url + "/v1/health", timeout=5)
        assert r.status_code == 429 and r.json()["error"] == "rate-limited"
        assert int(r.headers["Retry-After"]) >= 1
        assert requests.get(central.url + "/v1/anomalies", headers=OPERATOR, timeout=5).status_code == 200
        bad = {"Authorization": "Bearer not-a-token"}
        assert requests.get(central.url + "/v1/anomalies", headers=bad, timeout=5).status_code == 429
        # Uploads are not GETs: a station behind the same address still gets its ack.
        r = requests.post(central.url + "/v1/batches", data=b"{}", timeout=5)
        assert r.status_code == 400
    finally:
        central.close()


# --- PINs only to operators -----------------------------------------------------------------

def test_pins_are_shown_to_operators_only(tmp_path, authority, ack_key):
    a = Station(tmp_path / "a", authority, station_id="st-0042")
    b = Station(tmp_path / "b", authority, station_id="st-0043")
    central = Central(tmp_path / "c.db", ack_key, authority.public_key(),
                      config=ApiConfig(read_cache=0, operators=OPERATORS))
    try:
        pin = receipt_body(1)["pin"]
        for st in (a, b):   # the same voter identified at two stations
            assert post(central, make_batch(st.device_id, "identify", chain(st, 1), st.cert)).status_code == 200
        public = requests.get(central.url + "/v1/anomalies", timeout=5)
        assert public.status_code == 200 and pin not in public.text
        assert public.json()["double_identifications"] == 1
        op = requests.get(central.url + "/v1/anomalies", headers=OPERATOR, timeout=5)
        assert op.status_code == 200
        (d,) = op.json()["double_identification"]
        assert d["pin"] == pin and sorted(d["stations"]) == ["st-0042", "st-0043"]
        for wrong in ("Bearer nope", "Bearer " + token_hash(OPERATOR_TOKEN), "Basic " + OPERATOR_TOKEN,
                      "Bearer"):
            r = requests.get(central.url + "/v1/anomalies", headers={"Authorization": wrong}, timeout=5)
            assert r.status_code == 401 and pin not in r.text, wrong
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        for path in ("/v1/turnout", "/v1/results?level=uik", "/v1/stations", "/v1/remote-voting",
                     "/v1/streams", "/v1/health", "/openapi.json"):
            assert pin not in requests.get(central.url + path, timeout=5).text, path
    finally:
        central.close()
        a.close()
        b.close()


def test_operators_file(tmp_path):
    f = tmp_path / "operators.txt"
    f.write_text(f"# duty desk\n{token_hash('t1')}  # desk 1\n\n{token_hash('t2').upper()}\n")
    ops = load_operators(f)
    assert ops == {token_hash("t1"), token_hash("t2")}
    assert is_operator("Bearer t1", ops) is True and is_operator("bearer  t2 ", ops) is True
    assert is_operator("Bearer t3", ops) is False and is_operator(None, ops) is None
    assert is_operator("Bearer t1", frozenset()) is False
    f.write_text("t1\n")   # a token instead of its hash
    with pytest.raises(OperatorsError, match=":1: expected the SHA-256"):
        load_operators(f)
    with pytest.raises(OperatorsError, match="cannot read"):
        load_operators(tmp_path / "missing.txt")


# --- buckets and shared reads ---------------------------------------------------------------

def test_rate_buckets():
    b = RateBuckets(Bucket(2, 0.5))
    assert b.take("x", 0) and b.take("x", 0) and not b.take("x", 0)
    assert b.retry_after("x", 0) == 2 and b.take("x", 2.0)
    assert b.ready("y", 0)
    b.charge("y", 0)
    b.charge("y", 0)
    b.charge("y", 0)                                  # spent after the fact: below zero
    assert not b.ready("y", 0) and b.retry_after("y", 0) == 4
    small = RateBuckets(Bucket(1, 1), max_keys=2)
    for k in "abc":
        small.take(k, 0)
    assert small.ready("a", 0)                        # forgotten (the oldest), so full again


def test_a_view_is_computed_once_however_many_ask():
    calls = []

    async def main():
        views = _Views(60.0)

        async def compute():
            calls.append(1)
            await asyncio.sleep(0.05)
            return len(calls)

        got = await asyncio.gather(*(views.get(("v",), compute) for _ in range(20)))
        again = await views.get(("v",), compute)

        async def fails():
            raise ValueError("unknown level")

        with pytest.raises(ValueError):
            await views.get(("bad",), fails)
        return got, again, views

    got, again, views = asyncio.run(main())
    assert got == [1] * 20 and again == 1 and len(calls) == 1
    assert ("bad",) not in views._entries             # errors are not kept


def test_many_clients_connecting_at_once_are_all_answered(tmp_path, authority, ack_key):
    """The listen backlog (2048) holds a crowd: no connection is reset (the old server's was 5)."""
    central = Central(tmp_path / "c.db", ack_key, authority.public_key(),
                      config=ApiConfig(read_cache=0, gets=None))
    n = 200
    go = threading.Barrier(n)
    answers: list[bytes | str] = [b""] * n

    def client(i):
        try:
            go.wait()
            with socket.create_connection(("127.0.0.1", central.port), timeout=30) as s:
                s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                got = b""
                while chunk := s.recv(4096):
                    got += chunk
                answers[i] = got
        except OSError as e:
            answers[i] = f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        errors = [a for a in answers if not isinstance(a, bytes) or not a.startswith(b"HTTP/1.1 200")]
        assert errors == []
        assert json.loads(answers[0].split(b"\r\n\r\n", 1)[1])["ok"] is True
    finally:
        central.close()


def test_extra_routes_are_served_beside_the_api_under_its_limits(tmp_path, authority, ack_key, capsys):
    """``serve(routes_for=...)``: the portal's hook, made from the worker's own receiver."""
    signing.save_private_key(ack_key, tmp_path / "ack.key")
    signing.save_public_key(authority.public_key(), tmp_path / "prov.pub")
    made = []

    def routes_for(receiver):
        made.append(receiver)
        return [Route("/hello", lambda request: PlainTextResponse(f"{receiver.storage.envelope_count()}"))]

    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=serve, args=(tmp_path / "c.db", "127.0.0.1", 0, tmp_path / "ack.key",
                                                  tmp_path / "prov.pub"),
                              kwargs={"ready": ready, "stop": stop, "routes_for": routes_for,
                                      "config": ApiConfig(gets=Bucket(3, 0.0001))}, daemon=True)
    thread.start()
    try:
        assert ready.wait(30)
        url = json.loads(capsys.readouterr().out.splitlines()[0])["listening"]
        assert len(made) == 1
        assert requests.get(url + "/nowhere", timeout=5).json() == {"error": "not-found"}
        assert [requests.get(url + "/hello", timeout=5).text for _ in range(2)] == ["0"] * 2
        assert requests.get(url + "/hello", timeout=5).status_code == 429     # the same GET budget
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
