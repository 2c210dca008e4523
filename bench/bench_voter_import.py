"""Voter-list import and PIN lookup (issue "Foundation", Performance).

Builds a signed national-size package (4,300,000 synthetic voters, templates
omitted) and a 5,000-voter station package with templates, then measures:

- verification (signature + SHA-256 of every file) and import rows/s;
- the ratio of our import (CSV parse + row validation + insert + indexes, one
  transaction) to a bare ``sqlite3.executemany`` of the same, already-parsed
  rows into the same schema in the same run (aim >= 0.5);
- PIN lookup p50/p99 over 100,000 random lookups (aim p99 < 1 ms).

Usage: python bench/bench_voter_import.py [--voters 4300000] [--station 5000] [--lookups 100000]
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from identify.store import MIGRATIONS, open_identify_db  # noqa: E402
from identify.voters import VOTER_COLUMNS, by_pin  # noqa: E402
from provisioning.package import build_package, import_voters
from simulation.authority import load_or_create_key  # noqa: E402
from simulation.election import demo_manifest, demo_voters, enrolled_templates  # noqa: E402
from station.package import read_package  # noqa: E402
from sync import signing  # noqa: E402


def progress(label):
    last = [0.0]

    def cb(done, total):
        now = time.monotonic()
        if now - last[0] > 2 or done >= total:
            last[0] = now
            print(f"  {label}: {done:,}/{total:,} ({100 * done / max(total, 1):.0f}%)", file=sys.stderr, flush=True)
    return cb


def bench_national(root: Path, n: int, lookups: int) -> None:
    key = load_or_create_key(root / "cec.key")
    print(f"== national list: {n:,} voters (templates omitted)")
    t = time.perf_counter()
    pkg = build_package(root / "national", demo_manifest(1), demo_voters(1, n), key)
    print(f"build (generate + write + sign): {time.perf_counter() - t:.1f} s")

    t = time.perf_counter()
    pkg = read_package(pkg.dir, signing.public_key(key))
    t_verify = time.perf_counter() - t
    print(f"verify (signature + SHA-256 of {(pkg.dir / 'voters.csv').stat().st_size / 1e6:.0f} MB): {t_verify:.2f} s")

    conn = open_identify_db(root / "ours.db")
    t = time.perf_counter()
    voters, _ = import_voters(conn, pkg, progress=progress("import"))
    t_ours = time.perf_counter() - t

    with open(pkg.dir / "voters.csv", newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        rows = [(a, b, c, d, e, f_, g, h or None, i or None, int(j), int(k)) for a, b, c, d, e, f_, g, h, i, j, k in r]
    base = open_identify_db(root / "bare.db", migrations=MIGRATIONS)
    sql = f"INSERT INTO voter({','.join(VOTER_COLUMNS)}) VALUES ({','.join('?' * len(VOTER_COLUMNS))})"
    base.execute("PRAGMA cache_size=-262144")
    t = time.perf_counter()
    base.execute("BEGIN")
    base.executemany(sql, rows)
    base.execute("COMMIT")
    t_bare = time.perf_counter() - t
    del rows
    print(f"import: {voters:,} rows in {t_ours:.1f} s = {voters / t_ours:,.0f} rows/s"
          f" (parse + validate + insert + indexes, one transaction)")
    print(f"bare sqlite3.executemany of the parsed rows, same schema: {t_bare:.1f} s = {voters / t_bare:,.0f} rows/s")
    print(f"ratio ours/bare: {t_bare / t_ours:.2f} (aim >= 0.5)")

    rng = random.Random(5)
    pins = [r[0] for r in conn.execute("SELECT pin FROM voter ORDER BY random() LIMIT ?", (lookups,))]
    rng.shuffle(pins)
    times = []
    for p in pins:
        t = time.perf_counter_ns()
        v = by_pin(conn, p)
        times.append((time.perf_counter_ns() - t) / 1e6)
        assert v is not None
    times.sort()
    p50, p99 = statistics.median(times), times[int(len(times) * 0.99)]
    print(f"PIN lookup over {len(times):,} random PINs: p50 {p50:.3f} ms, p99 {p99:.3f} ms (aim p99 < 1 ms)")
    conn.close()
    base.close()


def bench_station(root: Path, n: int) -> None:
    key = load_or_create_key(root / "cec.key")
    print(f"== station list: {n:,} voters with templates")
    rows = list(demo_voters(2, n))
    # Import speed does not depend on template content: enrol 50 fingers, reuse their records.
    pool = [rec for r in rows[:50] for _, _, rec in enrolled_templates(2, r[0])]
    tmpl = [(r[0], k, pool[(i * 2 + k) % len(pool)]) for i, r in enumerate(rows) for k in (0, 1)]
    pkg = build_package(root / "station", demo_manifest(2), rows, key, templates=tmpl)
    t = time.perf_counter()
    pkg = read_package(pkg.dir, signing.public_key(key))
    t_verify = time.perf_counter() - t
    conn = open_identify_db(root / "station.db")
    t = time.perf_counter()
    voters, templates = import_voters(conn, pkg)
    t_imp = time.perf_counter() - t
    print(f"verify {t_verify * 1000:.0f} ms; import {voters:,} voters + {templates:,} templates"
          f" (each decoded and checked) in {t_imp:.2f} s = {voters / t_imp:,.0f} voters/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voters", type=int, default=4_300_000)
    ap.add_argument("--station", type=int, default=5_000)
    ap.add_argument("--lookups", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="100,000 voters, 1,000 station voters")
    a = ap.parse_args()
    if a.quick:
        a.voters, a.station, a.lookups = 100_000, 1_000, 20_000
    with tempfile.TemporaryDirectory() as d:
        bench_national(Path(d), a.voters, min(a.lookups, a.voters))
        bench_station(Path(d), a.station)


if __name__ == "__main__":
    main()
