"""Uploads over a real slow, lossy link (2G profile: 40 kbit/s, 5% loss each way) between netns.

Skipped with the reason where the machine does not permit it (not root, no ip/tc/nft).
Run: ``sudo .venv/bin/pytest -m netns tests/sync/test_netns_link.py -v`` (docs/protocol.md section 12).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sync_checks import assert_exactly_once
from sync_netns import NetnsLink, unavailable
from sync_tls import make_pki
from sync_world import Station

from sync import signing

pytestmark = pytest.mark.netns
REPO = Path(__file__).resolve().parents[2]
REASON = unavailable()


def start_receiver(link, tmp, pki, ack_key, authority, port=8700):
    signing.save_private_key(ack_key, tmp / "ack.key")
    signing.save_public_key(authority.public_key(), tmp / "prov.pub")
    p = link.popen("b", [sys.executable, "-m", "central", "--db", str(tmp / "central.db"),
                         "--host", link.ip_b, "--port", str(port), "--key", str(tmp / "ack.key"),
                         "--trust", str(tmp / "prov.pub"), "--tls-cert", str(pki["cert"]),
                         "--tls-key", str(pki["key"])],
                   env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert "listening" in line, line
    return f"https://{link.ip_b}:{port}"


def upload(link, st, url, ca, timeout=300):
    p = link.popen("a", [sys.executable, "-m", "sync.uploader", "--home", str(st.home), "--url", url,
                         "--ca", str(ca), "--once", "--deadline", "60", "--max-backoff", "5"],
                   env=dict(os.environ, PYTHONPATH=str(REPO)), stdout=subprocess.PIPE, text=True)
    out, _ = p.communicate(timeout=timeout)
    return p.returncode, json.loads(out.strip().splitlines()[-1])


@pytest.mark.skipif(REASON is not None, reason=f"2G link test: {REASON}")
def test_results_and_receipts_over_2g(tmp_path, authority, ack_key):
    with NetnsLink(rate_kbit=40, loss_pct=5) as link:
        pki = make_pki(tmp_path / "pki", ips=(link.ip_b,))
        st = Station(tmp_path / "st", authority)
        st.install_trust(ack_key.public_key(), authority.public_key())
        st.add_receipts(150)
        st.add_protocol(150)
        url = start_receiver(link, tmp_path, pki, ack_key, authority)
        rc, out = upload(link, st, url, pki["ca"])
        assert rc == 0 and out["left"] == 0, (out, link.shaping)
        assert assert_exactly_once(st.var, tmp_path / "central.db", st.device_id) == 152
        st.close()
