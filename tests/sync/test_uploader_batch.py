"""The uploader ships exactly ``encode_batch``'s bytes: one encoder, the one docs/protocol.md describes."""

from __future__ import annotations

import gzip

import pytest
from sync_world import Station

from sync import signing
from sync.canonical import parse
from sync.envelope import decompress, encode_batch, make_batch, parse_batch
from sync.uploader import Uploader


@pytest.fixture
def station(tmp_path, authority):
    st = Station(tmp_path / "st", authority)
    yield st
    st.close()


class Captured(Exception):
    pass


@pytest.mark.parametrize("compress", [True, False], ids=["gzip", "identity"])
@pytest.mark.parametrize("certificate", [True, False], ids=["with-cert", "no-cert"])
@pytest.mark.parametrize("stream", ["identify", "count"])
def test_uploader_ships_encode_batch_of_the_same_envelopes(station, stream, compress, certificate):
    station.add_receipts(7)
    station.add_protocol(7)
    cert = station.cert if certificate else None
    outbox = station.outboxes[stream]
    shipped: list[bytes] = []

    def post(body: bytes):
        shipped.append(body)
        raise Captured  # the link is not under test: stop at the request body

    with Uploader([outbox], "http://127.0.0.1:9", signing.generate_key().public_key(),
                  certificate=cert, compress=compress, sleep=lambda s: None) as up:
        up._post = post  # type: ignore[method-assign]
        with pytest.raises(Captured):
            up.send_once()
    envs = [parse(p.data) for p in outbox.pending(500)]
    assert shipped == [encode_batch(make_batch(station.device_id, stream, envs, cert), compress=compress)]
    batch = parse_batch(decompress(shipped[0], "gzip" if compress else None))
    assert batch["envelopes"] == envs


def test_batch_body_is_encode_batch(station):
    station.add_receipts(3)
    ob = station.outboxes["identify"]
    pending = ob.pending(10)
    with Uploader([ob], "http://127.0.0.1:9", signing.generate_key().public_key(),
                  certificate=station.cert) as up:
        body = up.batch_body(ob, pending)
    expected = encode_batch(make_batch(station.device_id, "identify",
                                       [p.envelope for p in pending], station.cert))
    assert body == expected
    # the envelopes travel as their stored canonical bytes
    raw = gzip.decompress(body)
    assert all(p.data in raw for p in pending)
