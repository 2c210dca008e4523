"""Sync benchmark: bytes per receipt, backlog drain, a results protocol over 2G, receiver speed.

    .venv/bin/python bench/bench_sync.py            # 5,000 receipts
    .venv/bin/python bench/bench_sync.py --quick    # 1,000 receipts, fewer repeats

Figures (issue "Performance"):
1. bytes on the wire per receipt in batches (aim <= 300 B amortised): gzip
   request bodies, and all HTTP bytes both ways (heads, bodies, acks) counted
   by a pass-through proxy; TCP/IP headers are not included.
2. time to drain a backlog of N receipts over loopback (no proxy).
3. time to deliver a results protocol over the 2G profile (aim < 30 s): over
   two network namespaces (tbf 40 kbit/s + nftables 5% drop each way, HTTPS
   with a pinned CA) when root/ip/tc/nft allow; always also through the
   in-process throttling proxy (40 kbit/s, 5% of 512-byte chunks delayed 1 s),
   labelled as such.
4. receiver verified-and-stored envelopes/s (in-process ``handle_batch`` on
   gzip batches of 500, and over HTTP) and its ratio to bare Ed25519
   verification of the same envelopes in the same run (aim >= 0.3).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "support"))

from sync_netns import NetnsLink, unavailable  # noqa: E402
from sync_tls import make_pki  # noqa: E402
from sync_world import Central, Station, full_protocol_body  # noqa: E402

from base.sqlite import atomic  # noqa: E402
from central.service import Receiver  # noqa: E402
from central.storage import Storage  # noqa: E402
from simulation.faultproxy import FaultPlan, FaultProxy  # noqa: E402
from sync import signing  # noqa: E402
from sync.envelope import encode_batch, make_batch, signing_bytes  # noqa: E402
from sync.uploader import Uploader  # noqa: E402


def world(tmp: Path, name: str):
    authority, ack = signing.generate_key(), signing.generate_key()
    st = Station(tmp / f"{name}-st", authority)
    st.install_trust(ack.public_key(), authority.public_key())
    return authority, ack, st


def uploader(st, url, ack, **kw):
    return Uploader(list(st.outboxes.values()), url, ack.public_key(), certificate=st.cert,
                    rng=random.Random(1), **kw)


def bench_wire(tmp: Path, n: int) -> dict:
    out = {}
    for batch in (200, 500):
        authority, ack, st = world(tmp, f"wire{batch}")
        st.add_receipts(n)
        central = Central(tmp / f"wire{batch}.db", ack, authority.public_key())
        with FaultProxy(("127.0.0.1", central.port), FaultPlan()) as proxy, \
                uploader(st, proxy.url, ack, batch_size=batch) as up:
            up.drain()
            assert st.depth() == 0
            out[f"batch {batch}"] = {
                "gzip body B/receipt": round(up.bytes_sent / n, 1),
                "HTTP up B/receipt": round(proxy.bytes_up / n, 1),
                "HTTP up+down B/receipt": round((proxy.bytes_up + proxy.bytes_down) / n, 1),
                "requests": up.requests_made}
        central.close()
        st.close()
    return out


def bench_enqueue(tmp: Path, n: int) -> dict:
    """Outbox enqueue as the station does it: one transaction (fsync) per receipt, and batched."""
    authority, ack, st = world(tmp, "enqueue")
    k = min(n, 1000)
    t = time.perf_counter()
    st.add_receipts(k, per_tx=1)
    single = k / (time.perf_counter() - t)
    t = time.perf_counter()
    st.add_receipts(k, start=k, per_tx=500)
    batched = k / (time.perf_counter() - t)
    st.close()
    return {"receipts/s, one transaction each": round(single),
            "receipts/s, 500 per transaction": round(batched)}


def bench_drain(tmp: Path, n: int) -> dict:
    out = {}
    for batch in (200, 500):
        authority, ack, st = world(tmp, f"drain{batch}")
        st.add_receipts(n)
        raw = sum(len(d[0]) for d in st.conns["identify"].execute("SELECT envelope FROM outbox"))
        central = Central(tmp / f"drain{batch}.db", ack, authority.public_key())
        with uploader(st, central.url, ack, batch_size=batch) as up:
            t = time.perf_counter()
            up.drain()
            dt = time.perf_counter() - t
        assert st.depth() == 0 and central.receiver.storage.envelope_count() == n
        out[f"batch {batch}"] = {"seconds": round(dt, 2), "receipts/s": round(n / dt),
                                 "canonical envelope B/receipt": round(raw / n, 1)}
        central.close()
        st.close()
    return out


def add_protocol(st, seed: int) -> None:
    with atomic(st.conns["count"]):
        st.outboxes["count"].enqueue("results-protocol", full_protocol_body(st.station_id, seed))


def bench_2g_proxy(tmp: Path, repeats: int) -> dict:
    authority, ack, st = world(tmp, "g2proxy")
    central = Central(tmp / "g2proxy.db", ack, authority.public_key())
    times, sizes = [], []
    plan = FaultPlan(rate_bps=5000, chunk_loss=0.05, rto_s=1.0, seed=5)
    with FaultProxy(("127.0.0.1", central.port), plan) as proxy:
        for i in range(repeats):
            add_protocol(st, i)
            with uploader(st, proxy.url, ack, deadline=60.0) as up:
                t = time.perf_counter()
                up.drain()
                times.append(time.perf_counter() - t)
                sizes.append(up.bytes_sent)
            assert st.depth() == 0
        retrans = proxy.stats.get("retransmit", 0)
    central.close()
    st.close()
    return {"profile": "in-process proxy: 40 kbit/s each way, 5% of 512-byte chunks delayed 1 s",
            "seconds": [round(t, 2) for t in times], "median s": round(statistics.median(times), 2),
            "gzip request B": sizes[0], "chunk retransmits": retrans}


def bench_2g_netns(tmp: Path, repeats: int) -> dict:

    reason = unavailable()
    if reason:
        return {"skipped": reason}
    authority, ack, st = world(tmp, "g2netns")
    signing.save_private_key(ack, tmp / "g2-ack.key")
    signing.save_public_key(authority.public_key(), tmp / "g2-prov.pub")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    times, out = [], {}
    with NetnsLink(rate_kbit=40, loss_pct=5) as link:
        pki = make_pki(tmp / "g2pki", ips=(link.ip_b,))
        rx = link.popen("b", [sys.executable, "-m", "central", "--db", str(tmp / "g2.db"),
                              "--host", link.ip_b, "--port", "8700", "--key", str(tmp / "g2-ack.key"),
                              "--trust", str(tmp / "g2-prov.pub"), "--tls-cert", str(pki["cert"]),
                              "--tls-key", str(pki["key"])],
                        env=env, stdout=subprocess.PIPE, text=True)
        rx.stdout.readline()
        for i in range(repeats):
            add_protocol(st, i)
            p = link.popen("a", [sys.executable, "-m", "sync.uploader", "--home", str(st.home),
                                 "--url", f"https://{link.ip_b}:8700", "--ca", str(pki["ca"]),
                                 "--once", "--deadline", "60", "--max-backoff", "5"],
                           env=env, stdout=subprocess.PIPE, text=True)
            res = json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1])
            assert res["left"] == 0, res
            times.append(res["seconds"])
            out["gzip request B"] = res["bytes_sent"]
        out["profile"] = "netns: " + "; ".join(link.shaping) + "; HTTPS, new TLS session per run"
    st.close()
    out.update({"seconds": times, "median s": round(statistics.median(times), 2)})
    return out


def bench_receiver(tmp: Path, n: int, repeats: int) -> dict:
    authority, ack, st = world(tmp, "rx")
    st.add_receipts(n)
    envs = [p.envelope for p in st.outboxes["identify"].pending(n)]
    batches = [encode_batch(make_batch(st.device_id, "identify", envs[i:i + 500], st.cert))
               for i in range(0, n, 500)]
    pub = st.key.public_key()
    items = [(signing.unb64(e["signature"]), signing_bytes(e)) for e in envs]
    rx_rates, bare_rates = [], []
    for r in range(repeats):
        t = time.perf_counter()
        for s, d in items:
            signing.verify(pub, s, d)
        bare_rates.append(n / (time.perf_counter() - t))
        rx = Receiver(Storage(tmp / f"rx{r}.db"), ack, authority.public_key())
        t = time.perf_counter()
        for b in batches:
            assert rx.handle_batch(b, "gzip").status == 200
        rx_rates.append(n / (time.perf_counter() - t))
        assert rx.storage.envelope_count() == n
        rx.storage.close()
    # the same over HTTP on loopback (uploader-side gzip included)
    http_db = tmp / "rx-http.db"
    central = Central(http_db, ack, authority.public_key())
    with uploader(st, central.url, ack, batch_size=500) as up:
        t = time.perf_counter()
        up.drain()
        http_rate = n / (time.perf_counter() - t)
    central.close()
    st.close()
    rx_best, bare_best = max(rx_rates), max(bare_rates)
    return {"verified+stored env/s (in-process, batches of 500)": round(rx_best),
            "bare Ed25519 verify/s": round(bare_best),
            "ratio": round(rx_best / bare_best, 3),
            "ratio per repeat": [round(a / b, 3) for a, b in zip(rx_rates, bare_rates, strict=True)],
            "end-to-end over HTTP loopback env/s": round(http_rate)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1,000 receipts, fewer repeats")
    ap.add_argument("-n", type=int, help="receipts (default 5000, --quick 1000)")
    ap.add_argument("--no-netns", action="store_true")
    args = ap.parse_args()
    n = args.n or (1000 if args.quick else 5000)
    repeats = 2 if args.quick else 3
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        report = {"receipts": n, "machine": f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"}
        for name, fn in [("0. outbox enqueue", lambda: bench_enqueue(tmp, n)),
                         ("1. wire bytes per receipt", lambda: bench_wire(tmp, n)),
                         ("2. drain backlog over loopback", lambda: bench_drain(tmp, n)),
                         ("3a. results protocol over 2G (netns)",
                          lambda: {"skipped": "--no-netns"} if args.no_netns
                          else bench_2g_netns(tmp, repeats)),
                         ("3b. results protocol over 2G (in-process proxy)",
                          lambda: bench_2g_proxy(tmp, repeats)),
                         ("4. receiver throughput", lambda: bench_receiver(tmp, n, repeats))]:
            t = time.perf_counter()
            report[name] = fn()
            print(f"{name} ({time.perf_counter() - t:.1f} s)", json.dumps(report[name], indent=1),
                  flush=True)
    print(json.dumps(report, ensure_ascii=False))


if __name__ == "__main__":
    main()
