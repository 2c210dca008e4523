"""The worked example of docs/protocol.md, computed by the reference code.

Run ``.venv/bin/python tests/sync/sync_example.py`` to print every block;
tests/sync/test_protocol_doc.py checks that the document shows exactly these.
Keys are the RFC 8032 section 7.1 test secrets 1-3, so anyone can re-derive them.
"""

from __future__ import annotations

import datetime as dt

from base.clock import FixedClock
from sync import signing
from sync.canonical import canonical
from sync.certificate import cert_ref, device_id_for, issue_certificate
from sync.envelope import ZERO_HASH, DeviceSigner, sign_ack

DEVICE_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
AUTHORITY_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"
ACK_SEED = "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7"


def build() -> dict[str, str]:
    dev = signing.private_from_seed(bytes.fromhex(DEVICE_SEED))
    auth = signing.private_from_seed(bytes.fromhex(AUTHORITY_SEED))
    ackk = signing.private_from_seed(bytes.fromhex(ACK_SEED))
    device_id = device_id_for(dev.public_key())
    cert = issue_certificate(auth, device_id, dev.public_key(), "st-0042", "kg-2025-parl",
                             dt.datetime(2025, 11, 1, tzinfo=dt.UTC),
                             dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC),
                             ("identify", "count"))
    ref = cert_ref(cert)
    clock = FixedClock("2025-11-30T02:00:05+00:00")
    signer = DeviceSigner(dev, device_id, ref, "kg-2025-parl", "st-0042", clock)
    e1 = signer.seal("count", 1, ZERO_HASH, "polls-event",
                     {"event": "opened", "at": "2025-11-30T02:00:05Z"})
    clock.advance(60)
    e2 = signer.seal("count", 2, e1.hash, "heartbeat",
                     {"power": "mains", "battery_pct": None, "disk_free_mb": 5120,
                      "queue_depth": 1, "clock": "2025-11-30T02:01:05Z"})
    unsigned1 = canonical({k: v for k, v in e1.envelope.items() if k != "signature"})
    results = [{"seq": 1, "hash": e1.hash, "status": "stored", "reason": None},
               {"seq": 2, "hash": e2.hash, "status": "stored", "reason": None}]
    ack = sign_ack(ackk, device_id, "count", 2, e2.hash, results,
                   "2025-11-30T02:01:07Z")
    return {
        "device-public": signing.public_bytes(dev.public_key()).hex(),
        "authority-public": signing.public_bytes(auth.public_key()).hex(),
        "ack-public": signing.public_bytes(ackk.public_key()).hex(),
        "certificate": canonical(cert).decode(),
        "cert-ref": ref,
        "envelope1-unsigned": unsigned1.decode(),
        "envelope1-signature-hex": signing.unb64(e1.envelope["signature"]).hex(),
        "envelope1": e1.data.decode(),
        "envelope1-hash": e1.hash,
        "envelope2": e2.data.decode(),
        "envelope2-hash": e2.hash,
        "ack": canonical(ack).decode(),
    }


if __name__ == "__main__":
    for k, v in build().items():
        print(f"<!-- example: {k} -->\n```text\n{v}\n```\n")
