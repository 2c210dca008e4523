"""HTTPS uploads verify the receiver against the pinned CA bundle, and only against it."""

from __future__ import annotations

import random
import threading

from sync_tls import make_pki
from sync_world import Station

from central.server import make_server, tls_context
from central.service import Receiver
from central.storage import Storage
from sync.uploader import Uploader


def test_pinned_ca(tmp_path, authority, ack_key):
    pki = make_pki(tmp_path / "pki")
    other = make_pki(tmp_path / "other")
    rx = Receiver(Storage(tmp_path / "c.db"), ack_key, authority.public_key())
    server = make_server(rx, "127.0.0.1", 0, tls=tls_context(pki["cert"], pki["key"]))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}"
    st = Station(tmp_path / "st", authority)
    st.add_receipts(30)
    try:
        with Uploader(list(st.outboxes.values()), url, ack_key.public_key(), certificate=st.cert,
                      ca=other["ca"], rng=random.Random(1)) as up:
            r = up.send_once()
        assert r.delivered == 0 and "SSL" in r.error
        with Uploader(list(st.outboxes.values()), url, ack_key.public_key(), certificate=st.cert,
                      ca=pki["ca"], rng=random.Random(1)) as up:
            up.drain()
        assert st.depth() == 0 and rx.storage.envelope_count() == 30
    finally:
        server.shutdown()
        server.server_close()
        st.close()
