"""Benchmark: a voter's card + finger to the committed identification, at station list sizes.

For each list size (1,700 voters: a typical station; 5,000: the largest), a demo
package is built and loaded into a fresh station home; ``--sample`` voters get
their enrolled templates (enrolling all 5,000 synthetic fingers would take minutes
and the 1:1 route reads only the voter's own templates). Each sampled voter then:

  card   the eMRTD chip emulator read through the real driver (DirectTransport):
         EF.CardAccess, BAC, secure messaging, EF.COM, DG1, DG2, EF.SOD, passive
         authentication against the package's document signers;
  ident  Identifier.check_card + by_card: PIN -> voter, minutiae extraction of the live image,
         1:1 MCC match against the voter's templates, eligibility, and the one
         transaction (identification, receipt, print queue, signed outbox envelope,
         audit record) committed with synchronous=FULL.

Excluded: the sensor's own capture (image upload over the UART) and printing
(after the commit). Figures: p50/p95 of card + ident, and of each part.

Run:  .venv/bin/python bench/bench_identify.py            (1,700 and 5,000 voters)
      .venv/bin/python bench/bench_identify.py --quick    (300 voters, 10 sampled)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from biometrics.extract import extract  # noqa: E402
from drivers.idcard.base import CardReader, DirectTransport  # noqa: E402
from identify.daemon import open_identifier  # noqa: E402
from identify.identifier import Matcher  # noqa: E402
from identify.voters import Voter  # noqa: E402
from simulation.authority import build_demo_package, document_signer, secrets_dir  # noqa: E402
from simulation.election import enrolled_templates  # noqa: E402
from simulation.table import finger_impression, provision_home, voter_card  # noqa: E402

SEED = 11


class TimedMatcher(Matcher):
    """The real matcher, with the time of its two steps kept (extraction; 1:1 comparison)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.times: dict[str, list[float]] = {"extract": [], "match": []}

    def extract(self, image):
        t = time.perf_counter()
        try:
            return super().extract(image)
        finally:
            self.times["extract"].append((time.perf_counter() - t) * 1000)

    def verify(self, probe, records):
        t = time.perf_counter()
        try:
            return super().verify(probe, records)
        finally:
            self.times["match"].append((time.perf_counter() - t) * 1000)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]


def run_size(n: int, sample: int, workdir: Path) -> dict:
    root = workdir / f"n{n}"
    key = workdir / "cec.key"
    t = time.perf_counter()
    pkg = build_demo_package(root / "pkg", voters=n, seed=SEED, signing_key=key, templates=False)
    home = provision_home(root / "st", pkg.dir, signing_key=key)
    setup_s = time.perf_counter() - t
    ident = open_identifier(home, pkg.election)
    ident.matcher = matcher = TimedMatcher()
    conn = ident.conn
    step = max(1, n // sample)
    chosen = [Voter.from_row(r) for r in conn.execute("SELECT * FROM voter ORDER BY rowid")][::step][:sample]
    conn.executemany("INSERT INTO template(pin, finger, record) VALUES (?,?,?)",
                     [row for v in chosen for row in enrolled_templates(SEED, v.pin)])
    trust = [(home.package_dir / "trust" / "document-signers.pem").read_bytes()]
    pki = document_signer(secrets_dir(pkg.dir))
    visits = []
    for v in chosen:                      # the card and the captured image exist before the timing
        image = next((img for i in range(2, 12) if extract(img := finger_impression(SEED, v.pin, i)).ok),
                     finger_impression(SEED, v.pin, 2))
        visits.append((v, voter_card(v, pki), image))
    card_ms, ident_ms, total_ms, accepted = [], [], [], 0
    for _v, card, image in visits:
        t0 = time.perf_counter()
        with CardReader(DirectTransport(card)) as reader:
            doc = reader.read_document(card.mrz.bac_key, trust)
        t1 = time.perf_counter()
        out = ident.check_card(doc) or ident.by_card(doc, image)     # as the daemon does
        t2 = time.perf_counter()
        accepted += out.accepted
        card_ms.append((t1 - t0) * 1000)
        ident_ms.append((t2 - t1) * 1000)
        total_ms.append((t2 - t0) * 1000)
    ident.close_connections()
    return {"voters": n, "sampled": len(visits), "accepted": accepted, "setup_s": setup_s,
            "total": (statistics.median(total_ms), pct(total_ms, 95), max(total_ms)),
            "card": (statistics.median(card_ms), pct(card_ms, 95)),
            "ident": (statistics.median(ident_ms), pct(ident_ms, 95)),
            "extract": (statistics.median(matcher.times["extract"]), pct(matcher.times["extract"], 95)),
            "match": (statistics.median(matcher.times["match"]), pct(matcher.times["match"], 95))}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="300 voters, 10 sampled")
    ap.add_argument("--sizes", type=int, nargs="*", default=[1700, 5000])
    ap.add_argument("--sample", type=int, default=40, help="voters timed per size")
    args = ap.parse_args(argv)
    sizes, sample = ([300], 10) if args.quick else (args.sizes, args.sample)
    with tempfile.TemporaryDirectory(prefix="bench-identify-") as tmp:
        print(f"{'voters':>7} {'timed':>5} {'ok':>4}  {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}"
              f"   card p50/p95   ident p50/p95   (extract p50/p95, match p50/p95)   setup s")
        for n in sizes:
            r = run_size(n, sample, Path(tmp))
            tot, card, idn = r["total"], r["card"], r["ident"]
            ex, ma = r["extract"], r["match"]
            print(f"{r['voters']:>7} {r['sampled']:>5} {r['accepted']:>4}  {tot[0]:>7.1f} {tot[1]:>7.1f} "
                  f"{tot[2]:>7.1f}   {card[0]:>5.1f}/{card[1]:<6.1f}   {idn[0]:>5.1f}/{idn[1]:<6.1f}   "
                  f"({ex[0]:.1f}/{ex[1]:.1f}, {ma[0]:.1f}/{ma[1]:.1f})   {r['setup_s']:>6.1f}", flush=True)
        print("aim: p95 < 300 ms (card + finger to committed identification, sensor capture excluded)")


if __name__ == "__main__":
    main()
