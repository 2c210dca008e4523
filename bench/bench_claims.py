"""Online claims benchmark: the round trip a voter waits for, and what the centre grants per second.

    .venv/bin/python bench/bench_claims.py            # 200 round trips a profile, 250 sites x 40 claims
    .venv/bin/python bench/bench_claims.py --quick    # 60 round trips, 250 sites x 8 claims, SQLite only

Figures (issue #14 "Performance"):

1. claim round trip p50/p95: identify/claims.py ``send_claim`` (the canonical claim posted to
   ``POST /v1/claims``, the answer read, parsed and verified with the ack key), each claim a
   new voter (a grant: one row inserted at the centre), the centre being ``python -m central``
   on SQLite. Profiles:
   - loopback (HTTP, no shaping);
   - the in-process fault proxy (bench/bench_sync.py's 2G: 40 kbit/s each way, 5% of 512-byte
     chunks delayed 1 s; "3G": 384 kbit/s, 1% of chunks delayed 0.5 s, 100 ms added to each
     request): HTTP, labelled as such;
   - two network namespaces when root/ip/tc/nft allow (bench_sync's 2G: 40 kbit/s + 5% loss
     each way; 3G: 384 kbit/s + 1% loss; netem adds 150 ms each way where the kernel has it),
     HTTPS with the pinned CA as on the appliance;
   each with the connection kept alive between claims (``warm``: the client's steady state)
   and with a new connection (and TLS handshake) per claim (``cold``: the first claim after
   the link came back). Aim: p95 <= 1 s on 3G.
2. claims granted per second at the centre with 250 remote-voting sites claiming at once
   (each site its own keep-alive connection from its own loopback address, pre-signed
   claims of distinct voters), on SQLite and on PostgreSQL (started here from Debian's
   binaries, fsync on), the server with 2 workers; latency p50/p95 under that load; every
   answer's decision counted (all must be granted).

The clients run on the same 2-core machine as the server: figures are a floor.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "support"))

from fixtures_postgres import running_postgres  # noqa: E402
from sync_netns import NetnsLink, unavailable  # noqa: E402
from sync_tls import make_pki  # noqa: E402
from sync_world import receipt_pin, station_entry  # noqa: E402

from central.service import Receiver  # noqa: E402
from central.storage import Storage  # noqa: E402
from identify.claims import ClaimLink, send_claim  # noqa: E402
from simulation.faultproxy import PRESETS, Fault, FaultPlan, FaultProxy  # noqa: E402
from sync import signing  # noqa: E402
from sync.canonical import canonical  # noqa: E402
from sync.certificate import cert_ref, device_id_for, issue_certificate  # noqa: E402
from sync.claims import make_claim  # noqa: E402

ELECTION = "kg-2025-parliament"
PROFILES = {
    "2G (proxy)": PRESETS["2g"],
    "3G (proxy)": FaultPlan({Fault.DELAY: 1.0}, delay_s=0.1, rate_bps=48_000, chunk_loss=0.01, rto_s=0.5),
}
NETNS = {"2G (netns, HTTPS)": (40, 5), "3G (netns, HTTPS)": (384, 1)}


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def figures(times: list[float]) -> dict:
    return {"n": len(times), "p50_ms": round(1000 * pct(times, 50), 1), "p95_ms": round(1000 * pct(times, 95), 1),
            "max_ms": round(1000 * max(times), 1) if times else None}


# --- the world -----------------------------------------------------------------------------------

class Site:
    """A remote-voting site's identify device: key, certificate, and claims of its voters pre-signed."""

    def __init__(self, authority, n: int):
        self.id = f"RV-{n:03d}"
        self.n = n
        self.key = signing.generate_key()
        self.device_id = device_id_for(self.key.public_key())
        now = dt.datetime.now(dt.UTC)
        self.cert = issue_certificate(authority, self.device_id, self.key.public_key(), self.id, ELECTION,
                                      now - dt.timedelta(days=1), now + dt.timedelta(days=30))
        self.ref = cert_ref(self.cert)

    def claims(self, count: int, start: int = 0) -> list[dict]:
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return [make_claim(self.key, self.ref, election=ELECTION, station=self.id, device=self.device_id,
                           pin=self.pin(i), receipt=f"R-{i + 1:06d}", at=at) for i in range(start, start + count)]

    def pin(self, i: int) -> str:
        return receipt_pin(i, self.n)


def prepare(db: str, authority, ack, sites: list[Site], voters_per_site: int) -> None:
    rx = Receiver(Storage(db), ack, authority.public_key())
    try:
        for s in sites:
            rx.enroll(s.cert)
        rx.register_stations([{**station_entry(s.id, 900 + s.n), "kind": "remote-site", "district": "OIK-09",
                               "oik": {"code": "OIK-09", "name": "OIK-09"}} for s in sites]
                             + [{**station_entry("UIK-0001", 1), "district": "OIK-01",
                                 "oik": {"code": "OIK-01", "name": "OIK-01"}}])
        rx.storage.register_national_voters((s.pin(i), "UIK-0001", "OIK-01")
                                            for s in sites for i in range(voters_per_site))
    finally:
        rx.storage.close()


def start_centre(tmp: Path, db: str, authority, ack, *, workers: int = 1, host: str = "127.0.0.1",
                 tls: dict | None = None, popen=subprocess.Popen) -> tuple[subprocess.Popen, str]:
    key, trust = tmp / "ack.key", tmp / "provisioning.pub"
    signing.save_private_key(ack, key)
    signing.save_public_key(authority.public_key(), trust)
    cmd = [sys.executable, "-m", "central", "--db", db, "--host", host, "--port", "0" if not tls else "8700",
           "--workers", str(workers), "--key", str(key), "--trust", str(trust), "--no-portal"]
    if tls:
        cmd += ["--tls-cert", str(tls["cert"]), "--tls-key", str(tls["key"])]
    log = open(tmp / f"centre-{time.time_ns()}.log", "w")
    proc = popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True,
                 env=dict(os.environ, PYTHONPATH=str(REPO)))
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the centre did not start: {Path(log.name).read_text()[-2000:]}")
    return proc, json.loads(line)["listening"].rstrip("/")


# --- 1. round trips --------------------------------------------------------------------------------

def round_trips(url: str, docs: list[dict], ack_pub, *, ca: str | None = None, cold: bool = False) -> list[float]:
    link = ClaimLink(url, ca=ca)
    times = []
    try:
        for doc in docs:
            if cold:
                link.session.close()          # a new connection (and TLS handshake) for this claim
            t = time.perf_counter()
            answer_doc, answer = send_claim(link, doc, ack_pub, 30.0)
            times.append(time.perf_counter() - t)
            if answer_doc is None or answer["decision"] != "granted":
                raise RuntimeError(f"claim not granted: {answer}")
    finally:
        link.close()
    return times


def client_main(args) -> None:
    """In the station's namespace: post the pre-signed claims of ``--claims``, print the times."""
    docs = json.loads(Path(args.claims).read_text())
    ack_pub = signing.load_public_key(args.ack)
    warm = round_trips(args.client, docs[: len(docs) // 2], ack_pub, ca=args.ca)
    cold = round_trips(args.client, docs[len(docs) // 2:], ack_pub, ca=args.ca, cold=True)
    print(json.dumps({"warm": warm, "cold": cold}), flush=True)


def bench_round_trips(tmp: Path, n: int) -> dict:
    authority, ack = signing.generate_key(), signing.generate_key()
    site = Site(authority, 1)
    per = 2 * n
    profiles = ["loopback", *PROFILES, *NETNS]
    db = str(tmp / "rt.db")
    prepare(db, authority, ack, [site], per * len(profiles))
    out: dict = {}
    start = 0
    proc, url = start_centre(tmp, db, authority, ack)
    try:
        for name in ["loopback", *PROFILES]:
            docs = site.claims(per, start)
            start += per
            if name == "loopback":
                warm = round_trips(url, docs[:n], ack.public_key())
                cold = round_trips(url, docs[n:], ack.public_key(), cold=True)
                out[name] = {"warm": figures(warm), "cold": figures(cold)}
            else:
                port = int(url.rsplit(":", 1)[1])
                with FaultProxy(("127.0.0.1", port), PROFILES[name]) as proxy:
                    warm = round_trips(proxy.url, docs[:n], ack.public_key())
                    cold = round_trips(proxy.url, docs[n:], ack.public_key(), cold=True)
                out[name] = {"warm": figures(warm), "cold": figures(cold)}
            print(json.dumps({name: out[name]}), flush=True)
    finally:
        proc.kill()
        proc.wait()
    reason = unavailable()
    for name, (kbit, loss) in NETNS.items():
        if reason:
            out[name] = {"skipped": reason}
            continue
        docs = site.claims(per, start)
        start += per
        claims_file = tmp / "claims.json"
        claims_file.write_text(json.dumps(docs))
        signing.save_public_key(ack.public_key(), tmp / "ack.pub")
        with NetnsLink(rate_kbit=kbit, loss_pct=loss) as link:
            pki = make_pki(tmp / f"pki-{kbit}", ips=(link.ip_b,))
            proc, _ = start_centre(tmp, db, authority, ack, host=link.ip_b, tls=pki,
                                   popen=lambda cmd, **kw: link.popen("b", cmd, **kw))
            try:
                c = link.popen("a", [sys.executable, str(Path(__file__).resolve()), "--client",
                                     f"https://{link.ip_b}:8700", "--ca", str(pki["ca"]), "--claims",
                                     str(claims_file), "--ack", str(tmp / "ack.pub")],
                               cwd=REPO, stdout=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
                res = json.loads(c.communicate(timeout=3600)[0].strip().splitlines()[-1])
            finally:
                proc.kill()
                proc.wait()
            out[name] = {"warm": figures(res["warm"]), "cold": figures(res["cold"]),
                         "shaping": "; ".join(link.shaping)}
        print(json.dumps({name: out[name]}), flush=True)
    body = len(canonical(site.claims(1)[0]))
    out["claim_bytes"] = body
    return out


# --- 2. throughput ---------------------------------------------------------------------------------

def post_all(port: int, source: str, bodies: list[bytes], tally: dict, lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))
    lat, decisions, errors = [], {}, []
    try:
        for body in bodies:
            t = time.perf_counter()
            try:
                conn.request("POST", "/v1/claims", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                errors.append(f"{type(e).__name__}: {e}"[:100])
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120, source_address=(source, 0))
                continue
            lat.append(time.perf_counter() - t)
            d = json.loads(data)["signed"]["decision"] if r.status == 200 else f"http-{r.status}"
            decisions[d] = decisions.get(d, 0) + 1
    finally:
        conn.close()
    with lock:
        tally["latencies"] += lat
        tally["errors"] += errors
        for k, v in decisions.items():
            tally["decisions"][k] = tally["decisions"].get(k, 0) + v


def bench_throughput(tmp: Path, backend: str, db: str, sites_n: int, per_site: int, workers: int) -> dict:
    authority, ack = signing.generate_key(), signing.generate_key()
    sites = [Site(authority, k) for k in range(1, sites_n + 1)]
    t = time.perf_counter()
    bodies = {s.id: [canonical(d) for d in s.claims(per_site)] for s in sites}
    sign_s = time.perf_counter() - t
    prepare(db, authority, ack, sites, per_site)
    proc, url = start_centre(tmp, db, authority, ack, workers=workers)
    port = int(url.rsplit(":", 1)[1])
    tally: dict = {"latencies": [], "errors": [], "decisions": {}}
    lock = threading.Lock()
    threads = [threading.Thread(target=post_all, args=(port, f"127.0.{1 + k // 250}.{1 + k % 250}",
                                                       bodies[s.id], tally, lock))
               for k, s in enumerate(sites)]
    try:
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        seconds = time.perf_counter() - t
    finally:
        proc.kill()
        proc.wait()
    granted = tally["decisions"].get("granted", 0)
    return {"backend": backend, "sites": sites_n, "claims": sites_n * per_site, "workers": workers,
            "seconds": round(seconds, 2), "granted_per_s": round(granted / seconds, 1),
            "decisions": tally["decisions"], "errors": len(tally["errors"]),
            "error_sample": tally["errors"][:3], "latency": figures(tally["latencies"]),
            "client_signing_s": round(sign_s, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--sites", type=int, default=250)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-round-trips", action="store_true")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--ca", help=argparse.SUPPRESS)
    ap.add_argument("--claims", help=argparse.SUPPRESS)
    ap.add_argument("--ack", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(args)
        return
    n = 60 if args.quick else 200
    per_site = 8 if args.quick else 40
    backends = ["sqlite"] if args.quick else args.backends.split(",")
    results: dict = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-claims-"))
    try:
        if not args.no_round_trips:
            results["round_trips"] = bench_round_trips(tmp, n)
        results["throughput"] = []
        for backend in backends:
            with (running_postgres("bench-claims-pg-", durable=True) if backend == "postgres"
                  else contextlib.nullcontext()) as pg:
                if backend == "postgres" and pg is None:
                    results["throughput"].append({"backend": "postgres", "skipped": "PostgreSQL not installed"})
                    continue
                db = pg.url(pg.create_database()) if pg is not None else str(tmp / "throughput.db")
                r = bench_throughput(tmp, backend, db, args.sites, per_site, args.workers)
                results["throughput"].append(r)
                print(json.dumps(r), flush=True)
    finally:
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
    print("\n== online claims ==")
    for name, r in results.get("round_trips", {}).items():
        if not isinstance(r, dict):
            continue
        if "skipped" in r:
            print(f"{name:<22} skipped: {r['skipped']}")
            continue
        print(f"{name:<22} warm p50 {r['warm']['p50_ms']:>7} ms  p95 {r['warm']['p95_ms']:>7} ms   "
              f"cold p50 {r['cold']['p50_ms']:>7} ms  p95 {r['cold']['p95_ms']:>7} ms")
    for r in results["throughput"]:
        if "skipped" in r:
            print(f"{r['backend']:<10} skipped: {r['skipped']}")
            continue
        print(f"{r['backend']:<10} {r['sites']} sites, {r['claims']} claims: {r['granted_per_s']} granted/s,"
              f" p50 {r['latency']['p50_ms']} ms, p95 {r['latency']['p95_ms']} ms, decisions {r['decisions']},"
              f" errors {r['errors']}")
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
