"""A remote-voting site's package at national size, on the device and at the centre (issue #14, Performance).

On the device (docs/election-package.md "A remote-voting site's package"):

- build a site's package with the national list (4,300,000 voters by default,
  each with home station and home district over 2,513 stations and 30
  districts, every district's contest; templates omitted: the subset the CEC
  gives a site is small, and template import speed is bench_voter_import.py's);
- verify (signature + SHA-256 of every file) and load it: ``load_package``,
  the national list into ``voter`` and ``voter_home`` in one transaction,
  every row checked in SQL;
- lookup by PIN as the table does it after a card is read
  (``identify.voters.by_pin``: the voter and their home), p50/p99 over
  100,000 random PINs (aim p99 < 1 ms), and the whole decision of the site's
  table after it (eligibility at the site + the ballot styles to print).

At the centre (``--central``, SQLite): ``uchastok receiver
register-national-list`` of the site's voters.csv (checked whole, then one
transaction), then 27 sites' receipts (2,000 each, spread over the
districts) and the ``remote_voting`` view's time, which reads only the
write-time counters whatever the list's size.

Usage: python bench/bench_remote_site.py [--voters 4300000] [--lookups 100000] [--central] [--quick]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from base.paths import Paths  # noqa: E402
from central import aggregate  # noqa: E402
from central.national import register_national_list  # noqa: E402
from central.service import load_stations  # noqa: E402
from central.storage import Storage  # noqa: E402
from identify.eligibility import ballot_styles, decide  # noqa: E402
from identify.store import open_identify_db  # noqa: E402
from identify.voters import by_pin  # noqa: E402
from provisioning.identity import init_device  # noqa: E402
from provisioning.package import load_package  # noqa: E402
from simulation.authority import cec_pub_path  # noqa: E402
from simulation.national import NationalDay  # noqa: E402
from simulation.remote import build_remote_site_package, site_entry  # noqa: E402
from station.package import read_package  # noqa: E402
from sync import signing  # noqa: E402

SITES = 27


def progress(label):
    last = [0.0]

    def cb(*args):
        done, total = args[-2:]
        now = time.monotonic()
        if now - last[0] > 5 or done >= total:
            last[0] = now
            print(f"  {label}: {done:,}/{total:,}", file=sys.stderr, flush=True)
    return cb


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return statistics.median(times), times[int(len(times) * 0.99)]


def bench_device(root: Path, n: int, lookups: int):
    day = NationalDay(scale=0.0)          # the 2,513 stations and their districts (no receipts)
    stations = [(s.id, f"OIK-{s.oik:02d}") for s in day.stations]
    print(f"== remote-voting site, national list of {n:,} voters over {len(stations):,} stations"
          f" (templates omitted)")
    t = time.perf_counter()
    pkg = build_remote_site_package(root / "site", voters=n, stations=stations, template_pins=(),
                                    signing_key=root / "cec.key", secrets=root / "secrets",
                                    progress=progress("build"))
    print(f"build (generate + write + sign): {time.perf_counter() - t:.1f} s;"
          f" voters.csv {(pkg.dir / 'voters.csv').stat().st_size / 1e6:.0f} MB")
    cec = signing.load_public_key(cec_pub_path(pkg.dir))
    t = time.perf_counter()
    read_package(pkg.dir, cec)
    print(f"verify (signature + SHA-256 of every file): {time.perf_counter() - t:.1f} s")
    paths = Paths.from_env(root / "device").ensure()
    init_device(paths, cec_pub_path(pkg.dir))
    t = time.perf_counter()
    loaded = load_package(paths, pkg.dir, progress=progress("import"))
    t_load = time.perf_counter() - t
    print(f"load (copy + verify + import voter and voter_home, one transaction): {t_load:.1f} s"
          f" = {n / t_load:,.0f} voters/s; identify.db {paths.identify_db.stat().st_size / 1e6:.0f} MB")

    conn = open_identify_db(paths.identify_db)
    pins = [r[0] for r in conn.execute("SELECT pin FROM voter ORDER BY random() LIMIT ?", (lookups,))]
    random.Random(5).shuffle(pins)
    look, whole = [], []
    election = loaded.election
    for p in pins:
        t0 = time.perf_counter_ns()
        v = by_pin(conn, p)
        t1 = time.perf_counter_ns()
        ballot_styles(election, decide(v, election).contests)
        t2 = time.perf_counter_ns()
        assert v is not None and v.home_district
        look.append((t1 - t0) / 1e6)
        whole.append((t2 - t0) / 1e6)
    p50, p99 = percentiles(look)
    print(f"PIN lookup (voter + home) over {len(look):,} random PINs: p50 {p50:.3f} ms, p99 {p99:.3f} ms"
          " (aim p99 < 1 ms)")
    p50, p99 = percentiles(whole)
    print(f"lookup + eligibility at the site + ballot styles: p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    conn.close()
    return pkg, day


def bench_central(root: Path, pkg, day: NationalDay, per_site: int) -> None:
    print(f"== centre (SQLite): the national list, {SITES} sites x {per_site:,} voters")
    storage = Storage(root / "central.db")
    storage.register_stations(load_stations(day.station_list()))
    t = time.perf_counter()
    n = register_national_list(storage, pkg.dir / "voters.csv", progress=progress("register"))
    t_reg = time.perf_counter() - t
    print(f"register-national-list: {n:,} voters in {t_reg:.1f} s = {n / t_reg:,.0f}/s (checked whole first)")
    base = site_entry(pkg.manifest)
    sites = []
    for k in range(SITES):
        e = {**base, "id": f"RV-{9001 + k}", "number": 9001 + k}
        sites.append(e["id"])
        storage.register_stations(load_stations([e]))
    pins = [r[0] for r in storage._q("SELECT pin FROM national_voters ORDER BY random() LIMIT ?",
                                     (SITES * per_site,))]
    t = time.perf_counter()
    with storage.transaction():
        for i, pin in enumerate(pins):
            env = {"station": sites[i % SITES], "device": "d", "seq": i + 1}
            storage.add_receipt(env, {"pin": pin, "receipt": f"R-{i + 1:06d}", "method": "card+finger",
                                      "identified_at": "2025-11-30T06:00:00Z"})
    t_rx = time.perf_counter() - t
    print(f"{len(pins):,} receipts at the sites projected in {t_rx:.1f} s ({t_rx / len(pins) * 1e6:.0f} µs each,"
          " remote_votes counted at write time)")
    times = []
    for _ in range(20):
        t = time.perf_counter()
        v = aggregate.remote_voting(storage)
        times.append((time.perf_counter() - t) * 1000)
    assert v["identified"] == len(pins) and len(v["sites"]) == SITES
    print(f"remote_voting view ({len(v['by_home_district'])} home districts, {SITES} sites):"
          f" p50 {statistics.median(times):.1f} ms, max {max(times):.1f} ms"
          f" over {n:,} voters on the national list")
    storage.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voters", type=int, default=4_300_000)
    ap.add_argument("--lookups", type=int, default=100_000)
    ap.add_argument("--central", action="store_true", help="also the centre's national list and view")
    ap.add_argument("--per-site", type=int, default=2_000)
    ap.add_argument("--quick", action="store_true", help="100,000 voters, 20,000 lookups, 200 per site")
    a = ap.parse_args()
    if a.quick:
        a.voters, a.lookups, a.per_site = 100_000, 20_000, 200
    with tempfile.TemporaryDirectory() as d:
        pkg, day = bench_device(Path(d), a.voters, min(a.lookups, a.voters))
        if a.central:
            bench_central(Path(d), pkg, day, a.per_site)


if __name__ == "__main__":
    main()
