"""Canonical JSON parse raises EnvelopeError and nothing else (audit finding 8), and its callers stay up.

Deep nesting (RecursionError inside json) and integers over 4,300 digits (ValueError inside
int) used to escape ``sync.canonical.parse``: the receiver answered HTTP 500 to a 150-byte
gzip body, the uploader's ``send_once`` raised on such an answer, ``verify_export`` on such a
file. Both limits are now explicit, checked before the standard library trips.
"""

from __future__ import annotations

import gzip
import http.server
import json
import threading

import pytest
from sync_world import Central, Station

from sync import signing
from sync.canonical import MAX_DEPTH, MAX_INT_DIGITS, canonical, parse
from sync.envelope import encode_batch, make_batch
from sync.errors import EnvelopeError, SyncError
from sync.export import make_export, verify_export
from sync.uploader import Uploader

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("data,words", [
    (DEEP, "nested deeper"),
    (b"[" * 100_000, "nested deeper"),                          # unbalanced too
    (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "nested deeper"),
    (b"[" + b"9" * 5000 + b"]", f"at most {MAX_INT_DIGITS}"),   # int() refuses > 4,300 digits
    (b"-" + b"9" * (MAX_INT_DIGITS + 1), f"at most {MAX_INT_DIGITS}"),
    (b'"\\' * 100_000, "malformed JSON"),                       # unterminated string, linear scan
], ids=["deep", "deep-unbalanced", "deep-objects", "5000-digits", "33-digits", "escapes"])
def test_parse_refuses_with_envelope_error(data, words):
    with pytest.raises(EnvelopeError, match=words):
        parse(data)


def test_parse_takes_the_limits_themselves():
    deepest = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert canonical(parse(deepest)) == deepest
    assert parse(b"-" + b"9" * MAX_INT_DIGITS) == -int("9" * MAX_INT_DIGITS)
    # Brackets inside strings are text, not nesting.
    assert parse(b'["' + b"[" * 1000 + b'"]') == ["[" * 1000]


@pytest.mark.parametrize("doc", [{"n": 2**60}, {"s": "\ud800"}, "deep"], ids=["int-domain", "surrogate", "deep"])
def test_canonical_refuses_with_envelope_error(doc):
    if doc == "deep":
        doc = []
        for _ in range(MAX_DEPTH + 1):
            doc = [doc]
    with pytest.raises(EnvelopeError):
        canonical(doc)


# --- the receiver ---------------------------------------------------------------------------

@pytest.fixture
def world(tmp_path, authority, ack_key):
    st = Station(tmp_path / "st", authority)
    central = Central(tmp_path / "central.db", ack_key, authority.public_key())
    yield st, central
    central.close()
    st.close()


def test_a_tiny_gzip_of_deep_json_is_a_400_and_the_receiver_goes_on(world):
    st, central = world
    st.add_receipts(1)
    env = st.outboxes["identify"].pending(1)[0].envelope
    text = json.dumps(make_batch(st.device_id, "identify", [env], st.cert), separators=(",", ":")).encode()
    hostile = gzip.compress(text.replace(b'"envelopes":[', b'"envelopes":[' + DEEP + b",", 1))
    assert len(gzip.compress(DEEP)) < 400      # the nesting itself costs the sender almost nothing
    reply = central.receiver.handle_batch(hostile, "gzip")
    assert reply.status == 400 and reply.body["error"] == "malformed"
    assert "nested deeper" in reply.body["detail"]
    huge_int = gzip.compress(text.replace(b'"version":1', b'"version":' + b"1" * 5000, 1))
    reply = central.receiver.handle_batch(huge_int, "gzip")
    assert reply.status == 400 and "digits" in reply.body["detail"]
    # The same station's batch, sent as the uploader sends it, is stored.
    reply = central.receiver.handle_batch(encode_batch(make_batch(st.device_id, "identify", [env], st.cert)),
                                          "gzip")
    assert reply.status == 200 and reply.body["signed"]["results"][0]["status"] == "stored"


# --- the uploader ---------------------------------------------------------------------------

class _Answer(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_POST(self):  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def answering():
    """A loopback server that answers every POST with 200 and ``set(body)``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def set_body(body: bytes) -> str:
        _Answer.body = body
        return f"http://127.0.0.1:{server.server_address[1]}/v1/batches"

    yield set_body
    server.shutdown()
    server.server_close()


def _signed_looking(ack_key, signed: bytes) -> bytes:
    signer = json.dumps(signing.key_id(ack_key.public_key())).encode()
    return b'{"signed":' + signed + b',"signer":' + signer + b',"signature":"' + b"A" * 86 + b'=="}'


@pytest.mark.parametrize("answer", ["deep", "5000-digits", "signed-int-out-of-domain", "signed-surrogate"])
def test_send_once_never_raises_on_any_answer(tmp_path, authority, ack_key, answering, answer):
    st = Station(tmp_path / "st", authority)
    try:
        st.add_receipts(3)
        body = {"deep": DEEP, "5000-digits": b'{"n":' + b"7" * 5000 + b"}",
                "signed-int-out-of-domain": _signed_looking(ack_key, b'{"n":' + b"9" * 20 + b"}"),
                "signed-surrogate": _signed_looking(ack_key, b'{"s":"\\ud800"}')}[answer]
        with Uploader([st.outboxes["identify"]], answering(body), ack_key.public_key(),
                      certificate=st.cert, sleep=lambda s: None) as up:
            result = up.send_once()
        assert result.delivered == 0 and result.error
        assert st.outboxes["identify"].depth() == 3      # nothing acknowledged, nothing lost
    finally:
        st.close()


# --- verify_export --------------------------------------------------------------------------

def test_verify_export_reports_or_raises_sync_errors_only(tmp_path, authority):
    st = Station(tmp_path / "st", authority)
    try:
        st.add_receipts(2)
        envs = [p.envelope for p in st.outboxes["identify"].pending(2)]
        deep: list = []
        for _ in range(MAX_DEPTH + 5):
            deep = [deep]
        envs[1] = dict(envs[1], body={"deep": deep, "n": 2**60})
        report = verify_export(make_export(st.cert, envs), authority.public_key())
        assert [e["ok"] for e in report.envelopes] == [True, False] and not report.ok
        bad_cert = dict(st.cert, signed=dict(st.cert["signed"], n=2**60))
        with pytest.raises(SyncError):
            verify_export(make_export(bad_cert, envs), authority.public_key())
    finally:
        st.close()
