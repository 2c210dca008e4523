"""Central server benchmark: a simulated national day against the real server, on PostgreSQL and SQLite.

    .venv/bin/python bench/bench_central.py                  # 2,513 stations, receipts at scale 0.02
    .venv/bin/python bench/bench_central.py --quick          # 300 stations, scale 0.01 (a smoke run)
    .venv/bin/python bench/bench_central.py --national       # scale 1: 4.3 M receipts signed and sent

Both backends in the same run, each behind ``python -m central`` (uvicorn, pre-forked workers)
on loopback; PostgreSQL is started here from Debian's binaries with fsync on (durable). Figures
(issue #13 "Performance"):

1. envelopes verified and stored per second with 50 concurrent stations, and with 250 stations
   connecting at once (each its own connection); the ratio of the first to bare Ed25519
   verification of the same envelopes on the same number of cores (aim >= 0.5); connection
   resets and errors (aim 0);
2. p50/p99 upload latency while 10 clients poll the portal and the JSON API (aim p99 < 1 s);
3. time from a protocol's arrival to its station showing as verified (aim < 60 s);
4. page p95 of the portal (national, a Region, a station) and of /v1/results, first with the
   day's receipts stored, then after filling the store to ``--fill`` receipt rows (4.3 M with
   --national: rows of the real size written straight into the tables, unsigned, to measure
   reads at national size without signing 4.3 M envelopes first; aim < 200 ms);
5. bytes stored per receipt (database size growth over the day's intake / envelopes).

The clients run in this process (threads, keep-alive connections), on the same 2-core machine
as the server: the figures are a floor for a server with cores of its own.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import queue
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

from central.storage import Storage  # noqa: E402
from simulation.national import NationalDay  # noqa: E402
from sync import signing  # noqa: E402
from sync.canonical import parse  # noqa: E402
from sync.envelope import canonical_pair, decompress, parse_batch  # noqa: E402

NATIONAL_RECEIPTS = 4_300_000


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


class Client:
    """One keep-alive HTTP connection to the server, from its own loopback address (127.0.0.0/8 is
    all local), so that per-address limits see separate clients as the real ones would be."""

    def __init__(self, port: int, source: str | None = None):
        self.port = port
        self.source = source
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes]:
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(
                    "127.0.0.1", self.port, timeout=60,
                    source_address=(self.source, 0) if self.source else None)
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError) as e:
                self.close()          # a keep-alive connection the server closed: once more
                if attempt:
                    raise e
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def post(client: Client, batch: bytes) -> tuple[int, float]:
    t = time.perf_counter()
    status, _ = client.request("POST", "/v1/batches", batch, {"Content-Type": "application/json",
                                                            "Content-Encoding": "gzip"})
    return status, time.perf_counter() - t


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.envelopes = 0
        self.statuses: dict[int, int] = {}
        self.resets = 0
        self.errors: list[str] = []

    def add(self, status: int, seconds: float, n: int) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.envelopes += n

    def fail(self, e: Exception) -> None:
        with self.lock:
            if isinstance(e, ConnectionResetError):
                self.resets += 1
            else:
                self.errors.append(f"{type(e).__name__}: {e}"[:120])


def upload(port: int, stations: list, batches: dict, threads: int, tally: Tally, pace: float = 0.0) -> float:
    """``threads`` stations at a time, each sending its batches in order (one per ``pace`` seconds
    at most: 0 is as fast as the server answers); seconds taken."""
    work: queue.Queue = queue.Queue()
    for s in stations:
        work.put(s)

    def run(k):
        c = Client(port, f"127.0.{1 + k // 250}.{1 + k % 250}")
        while True:
            try:
                s = work.get_nowait()
            except queue.Empty:
                break
            for _stream, batch, n in batches[s.id]:
                try:
                    status, dt_ = post(c, batch)
                    tally.add(status, dt_, n)
                except OSError as e:
                    tally.fail(e)
                    c.close()
                    dt_ = 0.0
                if pace:
                    time.sleep(max(0.0, pace - dt_))
        c.close()
    t = time.perf_counter()
    ts = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return time.perf_counter() - t


def burst(port: int, stations: list, batches: dict, tally: Tally) -> float:
    """Every station opens its own connection at the same instant and sends its first batch."""
    barrier = threading.Barrier(len(stations))

    def run(k, s):
        c = Client(port, f"127.0.{1 + k // 250}.{1 + k % 250}")
        barrier.wait()
        try:
            for _stream, batch, n in batches[s.id]:
                status, dt_ = post(c, batch)
                tally.add(status, dt_, n)
        except OSError as e:
            tally.fail(e)
        finally:
            c.close()
    t = time.perf_counter()
    ts = [threading.Thread(target=run, args=(k, s)) for k, s in enumerate(stations)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    return time.perf_counter() - t


def pages(day: NationalDay) -> dict[str, str]:
    st = day.stations[0]
    return {"portal national": "/ru/", "portal region": f"/ru/region/{st.region[0]}",
            "portal station": f"/ru/station/{st.id}", "api results": "/v1/results?level=region",
            "api turnout": "/v1/turnout?bucket=hour"}


def page_times(port: int, paths: dict[str, str], n: int) -> dict[str, dict]:
    """p50/p95 of each page over ``n`` requests, paced under the per-address budget (20/s)."""
    out = {}
    for k, (name, path) in enumerate(paths.items()):
        c = Client(port, f"127.2.0.{1 + k}")
        times, status = [], None
        for _ in range(n):
            t = time.perf_counter()
            status, _ = c.request("GET", path)
            times.append(time.perf_counter() - t)
            time.sleep(max(0.0, 0.06 - (time.perf_counter() - t)))
        c.close()
        out[name] = {"status": status, "p50_ms": round(pct(times, 50) * 1000, 1),
                     "p95_ms": round(pct(times, 95) * 1000, 1)}
    return out


def fill(storage: Storage, rows: int, data_bytes: int) -> float:
    """Write ``rows`` receipt-shaped rows (envelope + voter) straight into the store; seconds."""
    t = time.perf_counter()
    blob = b"x" * data_bytes
    step = 20_000
    done = 0
    while done < rows:
        n = min(step, rows - done)
        env_rows = [(f"dev-fill-{(done + i) // 2000:05d}", "identify", (done + i) % 2000 + 1, f"{done + i:064x}",
                     "0" * 64, "identification-receipt", "UIK-FILL", "fill", "2025-11-30T08:00:00Z",
                     "2025-11-30T08:00:00Z", blob) for i in range(n)]
        voter_rows = [(f"F{done + i:013d}", "UIK-FILL", "dev-fill", done + i, f"R-{i}", "card+finger",
                       "2025-11-30T08:00:00Z") for i in range(n)]
        with storage.transaction():
            cur = storage.conn.cursor()
            ph = "%s" if storage.dialect == "postgres" else "?"
            cur.executemany("INSERT INTO envelopes (device, stream, seq, hash, prev, kind, station, election,"
                            " created_at, received_at, data) VALUES (" + ", ".join([ph] * 11) + ")", env_rows)
            cur.executemany("INSERT INTO voters (pin, station, device, seq, receipt, method, identified_at)"
                            " VALUES (" + ", ".join([ph] * 7) + ")", voter_rows)
        done += n
    return time.perf_counter() - t


def start_receiver(tmp: Path, db: str, workers: int, authority_pub, ack, stations_file: Path):
    key, trust = tmp / "ack.key", tmp / "provisioning.pub"
    signing.save_private_key(ack, key)
    signing.save_public_key(authority_pub, trust)
    log = open(tmp / f"receiver-{os.getpid()}-{time.time_ns()}.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "central", "--db", db, "--port", "0",
                             "--workers", str(workers), "--key", str(key), "--trust", str(trust),
                             "--stations", str(stations_file)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=log, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"receiver did not start: {(tmp / log.name).read_text()[-2000:]}")
    url = json.loads(line)["listening"]
    return proc, int(url.rsplit(":", 1)[1]), log


def run_backend(name: str, db: str, day: NationalDay, batches: dict, args, tmp: Path,
                bare_rate: float, backlog: NationalDay, backlog_batches: dict) -> dict:
    ack = signing.generate_key()
    stations_file = tmp / "stations.json"
    stations_file.write_text(json.dumps(day.station_list() + backlog.station_list(), ensure_ascii=False))
    storage = Storage(db)
    size0 = storage.size_report()["bytes"]
    proc, port, log = start_receiver(tmp, db, args.workers, day.authority.public_key(), ack, stations_file)
    out: dict = {"backend": name}
    try:
        n = len(day.stations)
        reserved = day.stations[-1]
        rest = day.stations[:-1]
        a, b = int(n * 0.5), int(n * 0.5) + min(250, int(n * 0.2))
        first, burst_set, polled = rest[:a], rest[a:b], rest[b:]

        t1 = Tally()
        secs = upload(port, first, batches, 50, t1)
        out["intake_50"] = {"stations": len(first), "envelopes": t1.envelopes, "seconds": round(secs, 2),
                            "per_s": round(t1.envelopes / secs), "ratio_to_bare_verify":
                            round(t1.envelopes / secs / (bare_rate * min(args.workers, os.cpu_count() or 1)), 3),
                            "p50_ms": round(pct(t1.latencies, 50) * 1000), "p99_ms":
                            round(pct(t1.latencies, 99) * 1000), "statuses": t1.statuses,
                            "resets": t1.resets, "errors": t1.errors[:3]}

        t0_ = Tally()
        secs = upload(port, backlog.stations, backlog_batches, len(backlog.stations), t0_)
        cores = min(args.workers, os.cpu_count() or 1)
        out["catch_up_full_batches"] = {
            "stations": len(backlog.stations), "envelopes": t0_.envelopes, "per_s": round(t0_.envelopes / secs),
            "ratio_to_bare_verify": round(t0_.envelopes / secs / (bare_rate * cores), 3),
            "p99_ms": round(pct(t0_.latencies, 99) * 1000), "statuses": t0_.statuses, "resets": t0_.resets}

        t2 = Tally()
        secs = burst(port, burst_set, batches, t2)
        out["burst"] = {"stations_at_once": len(burst_set), "envelopes": t2.envelopes,
                        "per_s": round(t2.envelopes / secs), "statuses": t2.statuses, "resets": t2.resets,
                        "errors": t2.errors[:3], "p99_ms": round(pct(t2.latencies, 99) * 1000)}

        stop = threading.Event()
        poll_lat: list[float] = []
        poll_status: dict[int, int] = {}
        paths = list(pages(day).values())

        def poller(k):
            c = Client(port, f"127.1.0.{1 + k}")
            i = k
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    status, _ = c.request("GET", paths[i % len(paths)])
                except OSError:
                    c.close()
                    continue
                poll_lat.append(time.perf_counter() - t)
                poll_status[status] = poll_status.get(status, 0) + 1
                i += 1
                time.sleep(max(0.0, 0.1 - (time.perf_counter() - t)))    # 10 pages a second each
            c.close()
        pollers = [threading.Thread(target=poller, args=(k,)) for k in range(10)]
        for p in pollers:
            p.start()
        # Live stations, paced: each of 50 sends a batch a second (20 times the national peak of
        # ~50 receipts/s), so the latency is the server's, not a queue of a saturating client.
        t3 = Tally()
        secs = upload(port, polled, batches, 50, t3, pace=1.0)
        stop.set()
        for p in pollers:
            p.join()
        out["intake_while_polled"] = {"stations": len(polled), "per_s": round(t3.envelopes / max(secs, 1e-9)),
                                      "upload_p50_ms": round(pct(t3.latencies, 50) * 1000),
                                      "upload_p99_ms": round(pct(t3.latencies, 99) * 1000),
                                      "polls": len(poll_lat), "poll_p95_ms": round(pct(poll_lat, 95) * 1000),
                                      "poll_statuses": poll_status, "resets": t3.resets,
                                      "statuses": t3.statuses}

        c = Client(port)
        for _stream, batch, _n in batches[reserved.id]:
            if _stream == "identify":
                post(c, batch)
        t0 = time.perf_counter()
        for _stream, batch, _n in batches[reserved.id]:
            if _stream == "count":
                post(c, batch)
        seen = None
        while time.perf_counter() - t0 < 120:
            status, body = c.request("GET", f"/ru/station/{reserved.id}")
            if status == 200 and (b'data-status="verified"' in body):
                seen = time.perf_counter() - t0
                break
            status, body = c.request("GET", "/v1/stations")
            if status == 200 and any(v["station"] == reserved.id for v in json.loads(body)["verified"]):
                seen = time.perf_counter() - t0
                break
            time.sleep(0.2)
        c.close()
        out["protocol_to_portal_s"] = None if seen is None else round(seen, 2)

        size1 = storage.size_report()["bytes"]
        stored = storage.envelope_count()
        out["stored_envelopes"] = stored
        out["bytes_per_envelope"] = round((size1 - size0) / max(1, stored))
        out["pages_day"] = page_times(port, pages(day), args.page_repeats)
        if args.fill:
            already = day.receipts
            secs = fill(storage, max(0, args.fill - already), 600)
            out["fill"] = {"rows": max(0, args.fill - already), "seconds": round(secs, 1)}
            out["pages_filled"] = page_times(port, pages(day), args.page_repeats)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        storage.close()
        errors = [line for line in Path(log.name).read_text(errors="replace").splitlines()
                  if "Error" in line or "Traceback" in line or "failed" in line]
        if errors:
            out["receiver_log_errors"] = errors[-20:]     # kept before the temporary folder goes
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stations", type=int, default=2513)
    ap.add_argument("--scale", type=float, default=0.02)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fill", type=int, default=500_000, help="receipt rows in the store for the read test")
    ap.add_argument("--page-repeats", type=int, default=100)
    ap.add_argument("--backlog-stations", type=int, default=12, help="stations catching up, batches of 500")
    ap.add_argument("--backends", default="postgres,sqlite")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--national", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.stations, args.scale, args.fill, args.page_repeats, args.backlog_stations = 300, 0.01, 0, 30, 4
    if args.national:
        args.stations, args.scale, args.fill = 2513, 1.0, NATIONAL_RECEIPTS

    t = time.perf_counter()
    day = NationalDay(stations=args.stations, scale=args.scale)
    batches = {s.id: list(day.batches(s)) for s in day.stations}
    gen = time.perf_counter() - t
    envelopes = sum(n for items in batches.values() for *_, n in items)
    # Stations catching up after hours offline: full-size lists at scale 1, batches of 500.
    backlog = NationalDay(stations=args.backlog_stations, scale=1.0, authority=day.authority, seed=7,
                          first_number=9001)
    backlog_batches = {s.id: list(backlog.batches(s)) for s in backlog.stations}
    print(json.dumps({"day": {"stations": len(day.stations), "scale": args.scale, "receipts": day.receipts,
                              "receipts_at_full_scale": NATIONAL_RECEIPTS, "envelopes": envelopes,
                              "signing_s": round(gen, 1), "workers": args.workers,
                              "cpus": os.cpu_count()}}), flush=True)
    # Bare verification: the same envelopes, canonical bytes + Ed25519, on one core.
    keys = {s.device_id: s.key.public_key() for s in day.stations}
    sample = []
    for items in batches.values():
        for _stream, batch, _n in items:
            sample += parse_batch(decompress(batch, "gzip"))["envelopes"]
        if len(sample) >= 3000:
            break
    t = time.perf_counter()
    for env in sample:
        signed, _ = canonical_pair(parse(json.dumps(env).encode()))
        signing.verify(keys[env["device"]], signing.unb64(env["signature"], "signature"), signed)
    bare = len(sample) / (time.perf_counter() - t)
    print(json.dumps({"bare_ed25519_verify_per_s_one_core": round(bare)}), flush=True)

    results = []
    for backend in args.backends.split(","):
        tmp = Path(tempfile.mkdtemp(prefix=f"bench-central-{backend}-"))
        try:
            with (running_postgres("bench-pg-", durable=True) if backend == "postgres"
                  else contextlib.nullcontext()) as pg:
                if backend == "postgres" and pg is None:
                    print(json.dumps({"backend": "postgres", "skipped": "PostgreSQL not installed"}))
                    continue
                db = pg.url(pg.create_database()) if pg is not None else str(tmp / "central.db")
                r = run_backend(backend, db, day, batches, args, tmp, bare, backlog, backlog_batches)
                results.append(r)
                print(json.dumps(r, ensure_ascii=False), flush=True)
        finally:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)
    print("\n== central server, one run ==")
    print(f"{'':38}" + "".join(f"{r['backend']:>14}" for r in results))
    rows = [("envelopes/s, catching up (500/batch)", lambda r: r["catch_up_full_batches"]["per_s"]),
            ("  ratio to bare verify (aim >=0.5)", lambda r: r["catch_up_full_batches"]["ratio_to_bare_verify"]),
            ("envelopes/s, 50 stations live", lambda r: r["intake_50"]["per_s"]),
            ("  ratio to bare verify", lambda r: r["intake_50"]["ratio_to_bare_verify"]),
            ("envelopes/s, burst", lambda r: r["burst"]["per_s"]),
            ("stations at once in the burst", lambda r: r["burst"]["stations_at_once"]),
            ("resets (aim 0)", lambda r: r["intake_50"]["resets"] + r["burst"]["resets"]
             + r["catch_up_full_batches"]["resets"]
             + r["intake_while_polled"]["resets"]),
            ("upload p99 ms, 10 pollers (<1000)", lambda r: r["intake_while_polled"]["upload_p99_ms"]),
            ("  p50 ms (50 stations, 1 batch/s each)", lambda r: r["intake_while_polled"]["upload_p50_ms"]),
            ("poll p95 ms", lambda r: r["intake_while_polled"]["poll_p95_ms"]),
            ("protocol -> portal s (<60)", lambda r: r["protocol_to_portal_s"]),
            ("bytes per envelope stored", lambda r: r["bytes_per_envelope"])]
    for key in ("pages_day", "pages_filled"):
        for page in pages(day):
            rows.append((f"{page} p95 ms ({'day' if key == 'pages_day' else 'filled'})",
                         lambda r, k=key, p=page: r.get(k, {}).get(p, {}).get("p95_ms")))
    for label, f in rows:
        print(f"{label:38}" + "".join(f"{f(r)!s:>14}" for r in results))


if __name__ == "__main__":
    main()
