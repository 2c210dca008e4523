"""Benchmark: time to print one ballot on demand in the simulated A4 printer.

One ballot = render the style's sheet (count/ballots/layout.py ``render_sheet``, A4 at
300 dpi) + encode it as PWG raster + the IPP round trip through the real driver on a
socket (Get-Printer-Attributes, Print-Job with the raster, Get-Job-Attributes until the job
completed) + the simulator's own work (decode the raster, write the page as PNG).
``--ballots`` ballots (50) alternate between the election's styles. Figures, p50/p95:

  cold     every ballot rendered and encoded afresh (what one ballot costs on its own);
  warm     identify/ondemand.py ``OnDemandBallots.print_ballots`` as the site runs it: the
           style's raster encoded once and kept, plus the two counter transactions in
           identify.db (synchronous=FULL);
  parts    render, encode, the IPP round trip, and the simulator's decode and PNG write
           measured alone on the same pages.

Context, not measured: an office A4 laser of 30 pages a minute takes 2 s a page, and
about 8-10 s for its first page from standby; the pipeline's share is the rest.

Run:  .venv/bin/python bench/bench_ondemand.py             (50 ballots)
      .venv/bin/python bench/bench_ondemand.py --ballots 10
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from count.ballots.layout import render_sheet  # noqa: E402
from drivers.docprinter.base import A4  # noqa: E402
from drivers.docprinter.ipp_printer import IppPrinter  # noqa: E402
from drivers.docprinter.raster import RasterPage, decode_pages, encode_pages  # noqa: E402
from drivers.docprinter.simulator import DocPrinterSimulator  # noqa: E402
from identify.ondemand import DPI, OnDemandBallots, PrintState  # noqa: E402
from identify.store import open_identify_db  # noqa: E402
from simulation.election import demo_manifest  # noqa: E402
from station.election import Election  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def line(name: str, ms: list[float]) -> str:
    return (f"  {name:<34} p50 {statistics.median(ms):7.1f} ms   p95 {pct(ms, 95):7.1f} ms"
            f"   max {max(ms):7.1f} ms   (n={len(ms)})")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ballots", type=int, default=50)
    parser.add_argument("--poll-ms", type=float, default=50.0,
                        help="the driver's Get-Job-Attributes interval (the product's default)")
    args = parser.parse_args(argv)
    election = Election.from_manifest(demo_manifest(1))
    styles = [s.id for s in election.ballot_styles]
    order = [styles[i % len(styles)] for i in range(args.ballots)]
    parts: dict[str, list[float]] = {k: [] for k in ("render", "encode", "ipp", "decode", "png")}
    cold, warm = [], []

    with tempfile.TemporaryDirectory(prefix="bench-ondemand-") as tmp:
        root = Path(tmp)
        with DocPrinterSimulator(root / "paper") as sim, \
                IppPrinter(sim.uri, poll_s=args.poll_ms / 1000) as printer:
            printer.capabilities()
            for style in order:
                t0 = time.perf_counter()
                sheet = render_sheet(election, style, DPI)
                t1 = time.perf_counter()
                data = encode_pages([RasterPage(sheet, DPI)], media=A4)
                t2 = time.perf_counter()
                result = printer.print_raster(data, media=A4, job_name="ballot")
                t3 = time.perf_counter()
                assert result.printed, result
                parts["render"].append((t1 - t0) * 1000)
                parts["encode"].append((t2 - t1) * 1000)
                parts["ipp"].append((t3 - t2) * 1000)
                cold.append((t3 - t0) * 1000)
                # The simulator's share of the round trip, on the same bytes.
                t4 = time.perf_counter()
                [(_, page)] = decode_pages(data)
                t5 = time.perf_counter()
                page.save(root / "alone.png", format="PNG", compress_level=1)
                t6 = time.perf_counter()
                parts["decode"].append((t5 - t4) * 1000)
                parts["png"].append((t6 - t5) * 1000)
            raster_kb = len(data) / 1024

        conn = open_identify_db(root / "identify.db")
        with DocPrinterSimulator(root / "paper2") as sim, \
                IppPrinter(sim.uri, poll_s=args.poll_ms / 1000) as printer:
            ballots = OnDemandBallots(conn, election, printer)
            ballots.print_ballots([styles[0]])             # capabilities read, first raster kept
            ballots.issue(styles[0])
            for style in order:
                t0 = time.perf_counter()
                [printed] = ballots.print_ballots([style])
                warm.append((time.perf_counter() - t0) * 1000)
                assert printed.state is PrintState.ON_PAPER
                ballots.issue(style)
            counts = ballots.counters()
        conn.close()

    print(f"bench_ondemand: {args.ballots} ballots, styles {', '.join(styles)}, A4 at {DPI} dpi "
          f"({sheet.width} x {sheet.height} px), PWG raster sgray_8 of {raster_kb:.0f} KiB, "
          f"driver polling every {args.poll_ms:g} ms")
    print(line("cold: render+encode+IPP+simulator", cold))
    print(line("warm: OnDemandBallots.print_ballots", warm))
    print("parts:")
    print(line("render_sheet (300 dpi)", parts["render"]))
    print(line("PWG raster encode", parts["encode"]))
    print(line("IPP round trip (incl. simulator)", parts["ipp"]))
    print(line("  simulator: raster decode", parts["decode"]))
    print(line("  simulator: PNG write", parts["png"]))
    total = {s: (c.printed, c.issued, c.voided) for s, c in counts.items()}
    print(f"counters after the warm run (printed, issued, voided): {total}")


if __name__ == "__main__":
    main()
