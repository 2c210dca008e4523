"""Hostile input against the running server (issue 13, "Bad input"): a clear status, nothing changed.

Each case talks HTTP to the uvicorn server of central/server.py on loopback, on
SQLite and on PostgreSQL (``central_db``), and compares the database's row
counts before and after: no stored envelope,
receipt, protocol, stream or device row appears for input that is refused. Junk
and signed evidence are counted where docs/protocol.md section 7 says so.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import http.client
import json
import socket
import sqlite3
import threading
import zlib

import psycopg
import pytest
import requests
from sync_world import Central, Station, receipt_body

from central.api import ApiConfig
from central.server import Limits
from sync import signing
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.envelope import (
    MAX_BATCH_BYTES,
    ZERO_HASH,
    DeviceSigner,
    encode_batch,
    envelope_hash,
    make_batch,
)

# Rows that refused input may add: evidence, junk counters, and SQLite's id counter for them.
EVIDENCE_AND_JUNK = {"anomalies", "junk", "sqlite_sequence"}


def counts(central) -> dict[str, int]:
    """Rows per table of the receiver's database, read on a connection of its own."""
    storage = central.receiver.storage
    if storage.dialect == "sqlite":
        with contextlib.closing(sqlite3.connect(f"file:{storage.path}?mode=ro", uri=True)) as c:
            names = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            return {n: c.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    with psycopg.connect(storage.url) as c:
        names = [r[0] for r in c.execute("SELECT table_name FROM information_schema.tables"
                                         " WHERE table_schema = 'public'")]
        return {n: c.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def data(central) -> dict[str, int]:
    """Every table's row count but evidence and junk: what refused input must never change."""
    return {k: v for k, v in counts(central).items() if k not in EVIDENCE_AND_JUNK}


def counted(central) -> int:
    """Voters counted as identified (receipts that made it into the aggregation)."""
    return sum(central.receiver.storage.identified_by_station().values())


def raw(port: int, request: bytes, *, timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """Send ``request`` as is; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        resp = http.client.HTTPResponse(s)
        resp.begin()
        return resp.status, dict(resp.getheaders()), resp.read()


def post(central, body: bytes, headers: dict | None = None) -> requests.Response:
    return requests.post(central.url + "/v1/batches", data=body, timeout=30,
                         headers={"Content-Type": "application/json", **(headers or {})})


def sealed(st, seq, prev, body=None, stream="identify", kind="identification-receipt"):
    return st.signer.seal(stream, seq, prev, kind, body or receipt_body(seq)).envelope


@pytest.fixture
def world(tmp_path, authority, ack_key, central_db):
    """A station whose seq 1 is stored (so it is enrolled) and a server on loopback."""
    st = Station(tmp_path / "st", authority)
    central = Central(central_db, ack_key, authority.public_key())
    first = sealed(st, 1, ZERO_HASH)
    r = post(central, encode_batch(make_batch(st.device_id, "identify", [first], st.cert)),
             {"Content-Encoding": "gzip"})
    assert r.status_code == 200
    yield st, central, first
    central.close()
    st.close()


def test_malformed_json_is_a_400(world):
    st, central, _ = world
    before = counts(central)
    for body in (b'{"type": "uchastok-batch", ', b"\x00\x01", b"[]", b'{"type":"uchastok-batch"}'):
        r = post(central, body)
        assert r.status_code == 400 and r.json()["error"] == "malformed", body
    after = counts(central)
    assert after["junk"] == before["junk"] + 1                     # one counter: client, code
    assert {k: v for k, v in after.items() if k != "junk"} == \
        {k: v for k, v in before.items() if k != "junk"}


def test_a_100_mb_content_length_is_refused_before_the_body(world):
    st, central, _ = world
    before = data(central)
    status, _, body = raw(central.port, b"POST /v1/batches HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 104857600\r\n\r\n")
    assert status == 413 and json.loads(body)["error"] == "too-large"
    assert "104857600" in json.loads(body)["detail"]
    assert data(central) == before


def test_a_chunked_body_without_length_is_cut_at_the_limit(world):
    st, central, _ = world
    before = data(central)
    chunk = b"x" * 65536
    frame = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent = [0]
    with socket.create_connection(("127.0.0.1", central.port), timeout=30) as s:
        s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")

        def blast():   # up to 100 MB, as fast as the server reads it
            try:
                while sent[0] < 100 * 2**20:
                    s.sendall(frame)
                    sent[0] += len(chunk)
            except OSError:
                pass

        writer = threading.Thread(target=blast, daemon=True)
        writer.start()
        resp = http.client.HTTPResponse(s)
        resp.begin()
        body = json.loads(resp.read())
        writer.join(30)
    assert resp.status == 413 and body == {"error": "too-large",
                                           "detail": f"body exceeds {MAX_BATCH_BYTES} bytes"}
    assert data(central) == before
    assert requests.get(central.url + "/v1/health", timeout=5).status_code == 200


def _bomb(n: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * 2**20
    return b"".join(z.compress(block) for _ in range(n // len(block))) + z.flush()


def test_a_gzip_bomb_stops_at_the_limit(world):
    st, central, _ = world
    before = data(central)
    bomb = _bomb(100 * 2**20)
    assert len(bomb) < 200_000                 # 100 MB of zeros in 100 KB
    r = post(central, bomb, {"Content-Encoding": "gzip"})
    assert r.status_code == 413 and r.json() == {
        "error": "too-large", "detail": f"decompressed batch exceeds {MAX_BATCH_BYTES} bytes"}
    assert data(central) == before


def test_trailing_bytes_after_the_gzip_member_are_refused(world):
    st, central, _ = world
    before = data(central)
    good = encode_batch(make_batch(st.device_id, "identify", [sealed(st, 2, envelope_hash(world[2]))], st.cert))
    r = post(central, good + b"junk", {"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "after the gzip data" in r.json()["detail"]
    assert data(central) == before


@pytest.mark.parametrize("where", ["batch-version", "envelope-body"])
def test_5000_digit_integers_are_a_400(world, where):
    st, central, first = world
    before = data(central)
    text = json.dumps(make_batch(st.device_id, "identify", [sealed(st, 2, envelope_hash(first))], st.cert),
                      separators=(",", ":")).encode()
    digits = b"7" * 5000
    text = text.replace(b'"version":1', b'"version":' + digits, 1) if where == "batch-version" \
        else text.replace(b'"table":"3"', b'"table":' + digits, 1)
    assert digits in text
    r = post(central, gzip.compress(text), {"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "digits" in r.json()["detail"]
    assert data(central) == before


def test_deep_nesting_is_a_400(world):
    st, central, _ = world
    before = data(central)
    deep = b'{"type":"uchastok-batch","version":1,"device":"d","stream":"identify","certificate":null,' \
           b'"envelopes":[' + b"[" * 200_000 + b"]" * 200_000 + b"]}"
    r = post(central, gzip.compress(deep), {"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "nested deeper" in r.json()["detail"]
    assert data(central) == before


def test_a_field_of_the_wrong_type_rejects_that_envelope_only(world):
    st, central, first = world
    e2 = sealed(st, 2, envelope_hash(first))
    e3 = sealed(st, 3, envelope_hash(e2))
    e4 = sealed(st, 4, envelope_hash(e3))
    before, voters = data(central), counted(central)
    bad = dict(e3, created_at=20251130)    # a number where a TIME belongs
    r = post(central, json.dumps(make_batch(st.device_id, "identify", [e2, bad, e4], st.cert)).encode())
    assert r.status_code == 200
    results = r.json()["signed"]["results"]
    assert [x["status"] for x in results] == ["stored", "rejected", "stored"]
    assert results[1]["reason"].startswith("malformed")
    assert data(central)["envelopes"] == before["envelopes"] + 2
    assert counted(central) == voters + 2
    (head,) = central.receiver.storage.streams()
    assert (head["contiguous_seq"], head["max_seq"]) == (2, 4)     # 3 is missing: a gap, not a 500


def test_a_signed_body_of_the_wrong_type_is_stored_as_evidence_not_counted(world):
    st, central, first = world
    before, voters = counts(central), counted(central)
    env = sealed(st, 2, envelope_hash(first), body=receipt_body(2) | {"pin": 21234567890123})   # a number
    r = post(central, json.dumps(make_batch(st.device_id, "identify", [env], st.cert)).encode())
    assert r.status_code == 200 and r.json()["signed"]["results"][0]["status"] == "stored"
    after = counts(central)
    assert counted(central) == voters                               # not counted
    assert after["envelopes"] == before["envelopes"] + 1            # kept: it is signed and chained
    assert after["anomalies"] == before["anomalies"] + 1
    an = central.receiver.storage.anomalies()
    assert an[0]["code"] == "bad-body" and "21234567890123" in an[0]["detail"]
    public = requests.get(central.url + "/v1/anomalies", timeout=5).json()
    assert "21234567890123" not in json.dumps(public)               # the public sees counts only
    assert [(e["code"], e["count"]) for e in public["evidence"]] == [("bad-body", 1)]


def test_forged_and_replayed_envelopes_change_nothing(world):
    st, central, first = world
    before = data(central)
    forged = dict(sealed(st, 2, envelope_hash(first)))
    forged["body"] = dict(forged["body"], pin="20101199000001")     # changed after signing
    replayed = dict(first, seq=5, prev="ab" * 32)                   # a signed envelope moved
    r = post(central, json.dumps(make_batch(st.device_id, "identify", [forged, replayed, first],
                                            None)).encode())
    assert r.status_code == 200
    res = r.json()["signed"]["results"]
    assert [x["status"] for x in res] == ["rejected", "rejected", "duplicate"]
    assert all(x["reason"].startswith("bad-signature") for x in res[:2])
    assert data(central) == before
    assert central.receiver.storage.anomalies() == []               # junk, not charged to the device


def test_a_kind_the_certificate_role_does_not_allow(world, authority):
    st, central, _ = world
    key = signing.generate_key()
    device = device_id_for(key.public_key())
    cert = issue_certificate(authority, device, key.public_key(), st.station_id, "kg-2025-parl",
                             dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                             dt.datetime(2025, 12, 31, tzinfo=dt.UTC), ("count",))
    central.receiver.enroll(cert)
    signer = DeviceSigner(key, device, cert_ref(cert), "kg-2025-parl", st.station_id, st.clock)
    before = counts(central)
    env = signer.seal("identify", 1, ZERO_HASH, "identification-receipt", receipt_body(1)).envelope
    r = post(central, json.dumps(make_batch(device, "identify", [env], cert)).encode())
    assert r.status_code == 200
    (res,) = r.json()["signed"]["results"]
    assert res["status"] == "rejected" and res["reason"].startswith("role-not-allowed")
    after = counts(central)
    assert {k: v for k, v in after.items() if k not in EVIDENCE_AND_JUNK} == \
        {k: v for k, v in before.items() if k not in EVIDENCE_AND_JUNK}
    assert after["anomalies"] == before["anomalies"] + 1           # signed evidence, against it
    (a,) = central.receiver.storage.anomalies()
    assert (a["code"], a["device"], a["station"]) == ("role-not-allowed", device, st.station_id)


# --- slow clients ---------------------------------------------------------------------------

@pytest.fixture
def quick(authority, ack_key, central_db):
    """A server whose deadlines are short: headers within 1 s, a body within 1 s."""
    central = Central(central_db, ack_key, authority.public_key(),
                      config=ApiConfig(read_cache=0, body_timeout=1.0),
                      limits=Limits(header_timeout=1.0))
    yield central
    central.close()


def _until_closed(s: socket.socket) -> bytes:
    """Everything the server sends until it closes (the socket's timeout bounds the wait)."""
    got = b""
    while chunk := s.recv(4096):
        got += chunk
    return got


def test_slow_headers_are_cut_and_others_are_served_meanwhile(quick):
    before = data(quick)
    slow = []
    for _ in range(30):
        s = socket.create_connection(("127.0.0.1", quick.port), timeout=15)
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")   # and then nothing
        slow.append(s)
    idle = socket.create_connection(("127.0.0.1", quick.port), timeout=15)   # sends nothing at all
    try:
        r = requests.get(quick.url + "/v1/health", timeout=5)
        assert r.status_code == 200                                  # served while they wait
        for s in slow:
            answer = _until_closed(s)
            assert answer.startswith(b"HTTP/1.1 408 ") and b'"request-timeout"' in answer
        assert _until_closed(idle) == b""                            # closed without a word
    finally:
        for s in [*slow, idle]:
            s.close()
    assert data(quick) == before


def test_a_slow_body_is_a_408(quick):
    before = data(quick)
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as s:
        s.sendall(b"POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"type\":")              # 8 of 1,000 bytes
        resp = http.client.HTTPResponse(s)
        resp.begin()
        assert resp.status == 408 and json.loads(resp.read())["error"] == "request-timeout"
        assert _until_closed(s) == b""
    assert data(quick) == before


def test_an_idle_keep_alive_connection_cannot_trickle_its_next_request(quick):
    with socket.create_connection(("127.0.0.1", quick.port), timeout=15) as s:
        s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = http.client.HTTPResponse(s)
        resp.begin()
        assert resp.status == 200 and json.loads(resp.read())["ok"] is True
        s.sendall(b"GET /v1/he")                                     # the next one, never finished
        assert _until_closed(s).startswith(b"HTTP/1.1 408 ")


def test_connections_per_client_are_capped(tmp_path, authority, ack_key):
    central = Central(tmp_path / "cap.db", ack_key, authority.public_key(),
                      limits=Limits(max_per_client=4))
    held = [socket.create_connection(("127.0.0.1", central.port), timeout=15) for _ in range(4)]
    try:
        for s in held:   # each is open and answers (so all four are counted)
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = http.client.HTTPResponse(s)
            resp.begin()
            assert resp.status == 200
            resp.read()
        status, headers, body = raw(central.port, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 503 and headers["Retry-After"] == "5" and json.loads(body)["error"] == "busy"
        held.pop().close()
        for _ in range(100):   # the server sees the close at its next loop turn
            status, _, _ = raw(central.port, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            if status == 200:
                break
        assert status == 200
    finally:
        for s in held:
            s.close()
        central.close()
